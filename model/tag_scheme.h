#ifndef NER_MODEL_TAG_SCHEME_H_
#define NER_MODEL_TAG_SCHEME_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// Sequence-labelling schemes. Tags are "O" or "<prefix>-<TYPE>":
//   kBio:   B (begin), I (inside)
//   kBioes: B, I, E (end), S (single)
//   kBmes:  B, M (middle), E, S  -- the Resume corpus' spelling of BIOES
enum class TagScheme { kBio, kBioes, kBmes };

// "bio", "bioes", "bmes" (case-insensitive; "iob2" = bio, "iobes" = bioes).
absl::StatusOr<TagScheme> ParseTagScheme(absl::string_view name);
absl::string_view TagSchemeName(TagScheme scheme);

// A typed span over positions of a tag sequence (characters or tokens), end exclusive:
// it covers positions [begin, end).
struct TagSpan {
  int32_t begin;
  int32_t end;
  std::string type;
  friend bool operator==(const TagSpan& a, const TagSpan& b) {
    return a.begin == b.begin && a.end == b.end && a.type == b.type;
  }
};

// The label set of a scheme over `types`: "O" first, then per type (in the given order) its
// prefixes in scheme order (B, I / B, I, E, S / B, M, E, S).
std::vector<std::string> LabelsFor(TagScheme scheme, const std::vector<std::string>& types);

// Checks that `tag` is "O" or a prefix of `scheme` followed by "-" and a non-empty type. The type
// may not contain ASCII whitespace or control characters: a char-per-line file could not hold it
// (a stray '\r' of a "\r\r\n" line end would otherwise become part of the type).
absl::Status ValidateTag(absl::string_view tag, TagScheme scheme);

// Infers the scheme from a tag sample: any M- -> kBmes, else any E-/S- -> kBioes, else kBio.
TagScheme DetectTagScheme(const std::vector<std::string>& tags);

// Encodes spans as `length` tags. Spans must lie in [0, length), be non-empty, have a type, and
// not overlap; otherwise INVALID_ARGUMENT.
absl::StatusOr<std::vector<std::string>> SpansToTags(int32_t length,
                                                     const std::vector<TagSpan>& spans,
                                                     TagScheme scheme);

// Decodes tags of any scheme into spans, leniently and exactly as conlleval does, so that
// metrics agree with it on invalid sequences: an orphan I-x/M-x/E-x (after O, after another type,
// or after E/S) starts an entity; a type change ends one; B/S always start one; E/S end one.
// M is read as I. Tags that are not "O" nor "<B|I|M|E|S>-TYPE" are read as O.
std::vector<TagSpan> TagsToSpans(const std::vector<std::string>& tags);

}  // namespace ner::model

#endif  // NER_MODEL_TAG_SCHEME_H_
