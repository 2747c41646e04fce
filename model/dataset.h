#ifndef NER_MODEL_DATASET_H_
#define NER_MODEL_DATASET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/entity.h"
#include "model/tag_scheme.h"

namespace ner::model {

// On-disk formats of labelled data.
//   kCharPerLine: one "char TAG" per line (the tag after the last space or tab), a blank line
//                 between sentences; BIO, BIOES or BMES tags (Resume *.char.bmes, People's Daily).
//   kJsonl:       one JSON object per line:
//                 {"id": "...", "text": "...", "entities": [{"start": 0, "end": 2, "type": "PER"}]}
//                 with code-point offsets, end exclusive; "id" optional (defaults to the line
//                 number), "entities" optional (unlabelled text).
enum class DataFormat { kAuto, kCharPerLine, kJsonl };

struct ReadOptions {
  // kAuto: JSONL when the first non-blank line starts with '{', else char-per-line.
  DataFormat format = DataFormat::kAuto;
  // Tag scheme of char-per-line files; nullopt detects it from the tags (see DetectTagScheme).
  std::optional<TagScheme> scheme;
};

// A loaded dataset: documents in file order, and the scheme of a char-per-line source.
struct Dataset {
  std::vector<Document> documents;
  std::optional<TagScheme> scheme;
  // Entities of a char-per-line source that begin with an I-/M-/E- tag instead of B-/S- (an
  // invalid sequence read the conlleval way). Published corpus statistics count B-/S- tags, so
  // they equal the number of entities minus these.
  int64_t orphan_entities = 0;
};

// Reads a dataset file. Every malformed line is an INVALID_ARGUMENT error naming "file:line" and
// the problem (invalid UTF-8, a line without a tag, a tag the scheme does not have, an entity
// outside its text, overlapping entities, bad JSON). Invalid tag *sequences* (an orphan I-x) are
// not errors: they decode the way conlleval reads them (see TagsToSpans). Documents get ids
// "<line of first char>" (char-per-line) unless the JSONL gives one.
absl::StatusOr<Dataset> ReadDataset(const std::string& path, const ReadOptions& options = {});
// Same over in-memory contents; `origin` names the source in errors.
absl::StatusOr<Dataset> ParseDataset(absl::string_view contents, absl::string_view origin,
                                     const ReadOptions& options = {});

// Writes documents as JSONL / char-per-line (with `scheme`), atomically (temp file + rename).
absl::Status WriteJsonl(const std::string& path, const std::vector<Document>& documents);
absl::Status WriteCharPerLine(const std::string& path, const std::vector<Document>& documents,
                              TagScheme scheme);
std::string ToJsonl(const std::vector<Document>& documents);
absl::StatusOr<std::string> ToCharPerLine(const std::vector<Document>& documents, TagScheme scheme);

// Checks a document: valid UTF-8 text, entities inside it, non-empty, typed, not overlapping.
absl::Status ValidateDocument(const Document& document);

// Splits documents longer than `max_chars` code points into pieces with SegmentText. A piece
// keeps the entities inside it, shifted to piece offsets; an entity crossing a cut (only possible
// on a hard cut) is split into the parts on each side, and counted in *split_entities when given.
// Piece ids are "<id>#<n>"; documents that fit are returned unchanged.
std::vector<Document> SplitLongDocuments(const std::vector<Document>& documents, int32_t max_chars,
                                         int64_t* split_entities = nullptr);

// Corpus statistics for `ner data stats`.
struct DatasetStats {
  int64_t documents = 0;
  int64_t characters = 0;  // code points
  int64_t entities = 0;
  int64_t max_document_chars = 0;
  std::vector<std::pair<std::string, int64_t>> entities_by_type;  // sorted by type
};
DatasetStats ComputeStats(const std::vector<Document>& documents);

}  // namespace ner::model

#endif  // NER_MODEL_DATASET_H_
