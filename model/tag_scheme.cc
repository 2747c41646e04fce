#include "model/tag_scheme.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

absl::string_view Prefixes(TagScheme scheme) {
  switch (scheme) {
    case TagScheme::kBio:
      return "BI";
    case TagScheme::kBioes:
      return "BIES";
    case TagScheme::kBmes:
      return "BMES";
  }
  return "";
}

// Splits a tag into (prefix, type); prefix 'O' for O and for anything malformed. M becomes I.
std::pair<char, absl::string_view> SplitTag(absl::string_view tag) {
  if (tag.size() < 3 || tag[1] != '-') return {'O', {}};
  char prefix = tag[0];
  if (prefix == 'M') prefix = 'I';
  if (prefix != 'B' && prefix != 'I' && prefix != 'E' && prefix != 'S') return {'O', {}};
  return {prefix, tag.substr(2)};
}

// conlleval's endOfChunk / startOfChunk, restricted to the B/I/E/S/O prefixes.
bool EndOfChunk(char prev, char cur, absl::string_view prev_type, absl::string_view type) {
  if (prev == 'E' || prev == 'S') return true;  // E and S always close a chunk.
  if ((prev == 'B' || prev == 'I') && (cur == 'B' || cur == 'S' || cur == 'O')) return true;
  return prev != 'O' && prev_type != type;
}

bool StartOfChunk(char prev, char cur, absl::string_view prev_type, absl::string_view type) {
  if (cur == 'B' || cur == 'S') return true;
  if ((cur == 'I' || cur == 'E') && (prev == 'O' || prev == 'E' || prev == 'S')) return true;
  return cur != 'O' && prev_type != type;
}

}  // namespace

absl::StatusOr<TagScheme> ParseTagScheme(absl::string_view name) {
  const std::string lower = absl::AsciiStrToLower(name);
  if (lower == "bio" || lower == "iob2") return TagScheme::kBio;
  if (lower == "bioes" || lower == "iobes") return TagScheme::kBioes;
  if (lower == "bmes") return TagScheme::kBmes;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown tag scheme '", name, "' (expected bio, bioes or bmes)"));
}

absl::string_view TagSchemeName(TagScheme scheme) {
  switch (scheme) {
    case TagScheme::kBio:
      return "bio";
    case TagScheme::kBioes:
      return "bioes";
    case TagScheme::kBmes:
      return "bmes";
  }
  return "?";
}

std::vector<std::string> LabelsFor(TagScheme scheme, const std::vector<std::string>& types) {
  std::vector<std::string> labels = {"O"};
  for (const std::string& type : types) {
    for (char prefix : Prefixes(scheme)) {
      labels.push_back(absl::StrCat(std::string(1, prefix), "-", type));
    }
  }
  return labels;
}

absl::Status ValidateTag(absl::string_view tag, TagScheme scheme) {
  if (tag == "O") return absl::OkStatus();
  if (tag.size() >= 3 && tag[1] == '-' && Prefixes(scheme).find(tag[0]) != absl::string_view::npos) {
    for (char c : tag.substr(2)) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
          absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "tag '", absl::CHexEscape(tag), "' has whitespace or a control character in its type"));
      }
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("tag '", tag, "' is not valid in the ",
                                                 TagSchemeName(scheme), " scheme"));
}

TagScheme DetectTagScheme(const std::vector<std::string>& tags) {
  bool has_es = false;
  for (const std::string& tag : tags) {
    if (tag.size() >= 2 && tag[1] == '-') {
      if (tag[0] == 'M') return TagScheme::kBmes;
      if (tag[0] == 'E' || tag[0] == 'S') has_es = true;
    }
  }
  return has_es ? TagScheme::kBioes : TagScheme::kBio;
}

absl::StatusOr<std::vector<std::string>> SpansToTags(int32_t length,
                                                     const std::vector<TagSpan>& spans,
                                                     TagScheme scheme) {
  std::vector<std::string> tags(std::max<int32_t>(length, 0), "O");
  std::vector<bool> used(tags.size(), false);
  const char inside = scheme == TagScheme::kBmes ? 'M' : 'I';
  const bool with_end = scheme != TagScheme::kBio;
  for (const TagSpan& span : spans) {
    if (span.begin < 0 || span.end > length || span.begin >= span.end || span.type.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("span [", span.begin, ", ", span.end, ") '",
                                                     span.type, "' is invalid for length ",
                                                     length));
    }
    for (int32_t i = span.begin; i < span.end; ++i) {
      if (used[i]) {
        return absl::InvalidArgumentError(absl::StrCat("span [", span.begin, ", ", span.end,
                                                       ") '", span.type, "' overlaps another"));
      }
      used[i] = true;
      char prefix = i == span.begin ? 'B' : inside;
      if (with_end) {
        if (span.end - span.begin == 1) {
          prefix = 'S';
        } else if (i == span.end - 1) {
          prefix = 'E';
        }
      }
      tags[i] = absl::StrCat(std::string(1, prefix), "-", span.type);
    }
  }
  return tags;
}

std::vector<TagSpan> TagsToSpans(const std::vector<std::string>& tags) {
  std::vector<TagSpan> spans;
  char prev = 'O';
  absl::string_view prev_type;
  int32_t open_begin = -1;
  const auto n = static_cast<int32_t>(tags.size());
  for (int32_t i = 0; i <= n; ++i) {
    auto [cur, type] = i < n ? SplitTag(tags[i]) : std::pair<char, absl::string_view>{'O', {}};
    if (open_begin >= 0 && EndOfChunk(prev, cur, prev_type, type)) {
      spans.push_back({open_begin, i, std::string(prev_type)});
      open_begin = -1;
    }
    if (StartOfChunk(prev, cur, prev_type, type)) open_begin = i;
    prev = cur;
    prev_type = type;
  }
  return spans;
}

}  // namespace ner::model
