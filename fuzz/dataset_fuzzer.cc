// Fuzzes the dataset readers (char-per-line and JSONL) and what consumes their documents.
//
// The first input byte picks the ReadOptions (format auto / char-per-line / JSONL, scheme
// detected / BIO / BIOES / BMES) and the SplitLongDocuments length; the rest is the file. Seeds
// start with '0' (auto format, detected scheme, pieces of at most 8 characters). Checks that:
//   - a parse fails only with INVALID_ARGUMENT, and every document it gives validates;
//   - documents written as JSONL read back the same; char-per-line ones, too, when they can be
//     written as char-per-line (no line breaks in the text);
//   - SplitLongDocuments cuts each document into valid pieces that concatenate to it, keeping
//     every entity character;
//   - ComputeStats counts what was read.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/fuzz_util.h"
#include "model/dataset.h"
#include "model/entity.h"
#include "model/tag_scheme.h"
#include "model/utf8.h"

namespace ner::fuzz {
namespace {

bool SameDocuments(const std::vector<model::Document>& a, const std::vector<model::Document>& b,
                   bool compare_ids) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((compare_ids && a[i].id != b[i].id) || a[i].text != b[i].text ||
        a[i].entities != b[i].entities) {
      return false;
    }
  }
  return true;
}

int64_t EntityChars(const model::Document& doc) {
  int64_t chars = 0;
  for (const model::EntitySpan& e : doc.entities) chars += e.end_char - e.begin_char;
  return chars;
}

void CheckSplit(const model::Document& doc, int32_t max_chars) {
  int64_t split_entities = 0;
  const std::vector<model::Document> pieces =
      model::SplitLongDocuments({doc}, max_chars, &split_entities);
  std::string text;
  int64_t entity_chars = 0;
  for (const model::Document& piece : pieces) {
    FUZZ_CHECK(model::ValidateDocument(piece).ok());
    FUZZ_CHECK(pieces.size() == 1 || model::CountCodePoints(piece.text) <= max_chars);
    text += piece.text;
    entity_chars += EntityChars(piece);
  }
  FUZZ_CHECK(text == doc.text);
  FUZZ_CHECK(entity_chars == EntityChars(doc));
  FUZZ_CHECK(split_entities >= 0 && split_entities <= static_cast<int64_t>(doc.entities.size()));
}

void FuzzDataset(absl::string_view bytes) {
  if (bytes.empty()) return;
  const auto selector = static_cast<uint8_t>(bytes[0]);
  model::ReadOptions options;
  options.format = static_cast<model::DataFormat>(selector % 3);
  if ((selector / 3) % 4 != 0)
    options.scheme = static_cast<model::TagScheme>((selector / 3) % 4 - 1);
  const int32_t max_chars = 2 + selector % 7;

  const absl::StatusOr<model::Dataset> dataset =
      model::ParseDataset(bytes.substr(1), "fuzz", options);
  if (!dataset.ok()) {
    FUZZ_CHECK(dataset.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  const std::vector<model::Document>& documents = dataset->documents;
  for (const model::Document& doc : documents) {
    FUZZ_CHECK(model::ValidateDocument(doc).ok());
    CheckSplit(doc, max_chars);
  }

  model::ReadOptions jsonl;
  jsonl.format = model::DataFormat::kJsonl;
  const absl::StatusOr<model::Dataset> from_jsonl =
      model::ParseDataset(model::ToJsonl(documents), "jsonl", jsonl);
  FUZZ_CHECK(from_jsonl.ok() && SameDocuments(from_jsonl->documents, documents, true));

  if (dataset->scheme) {  // A char-per-line source.
    const absl::StatusOr<std::string> written = model::ToCharPerLine(documents, *dataset->scheme);
    if (written.ok()) {  // Fails only for a '\r' in a text.
      model::ReadOptions char_per_line;
      char_per_line.format = model::DataFormat::kCharPerLine;
      char_per_line.scheme = dataset->scheme;
      const absl::StatusOr<model::Dataset> reread =
          model::ParseDataset(*written, "char-per-line", char_per_line);
      // Ids are line numbers, which change.
      FUZZ_CHECK(reread.ok() && SameDocuments(reread->documents, documents, false));
    }
  }

  const model::DatasetStats stats = model::ComputeStats(documents);
  FUZZ_CHECK(stats.documents == static_cast<int64_t>(documents.size()));
  int64_t by_type = 0;
  for (const auto& [type, count] : stats.entities_by_type) by_type += count;
  FUZZ_CHECK(by_type == stats.entities);
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzDataset(ner::fuzz::Bytes(data, size));
  return 0;
}
