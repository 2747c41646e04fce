#ifndef NER_BENCH_LOAD_DOCUMENTS_H_
#define NER_BENCH_LOAD_DOCUMENTS_H_

// The texts the load generator sends, read from a file.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::bench {

enum class TextFormat {
  kLines,   // one document per line (blank lines skipped)
  kJsonl,   // one JSON object per line with a string field "text"
  kColumn,  // one character per line with its tag after whitespace, blank line between
            // sentences (People's Daily, Resume *.char.bmes)
};

// "lines", "jsonl", "column"; INVALID_ARGUMENT otherwise.
absl::StatusOr<TextFormat> ParseTextFormat(absl::string_view name);

// Reads the documents of `path`. With `min_chars` > 0, consecutive documents are joined until
// each holds at least that many code points (the last may hold fewer), e.g. to send ~100-character
// texts from a corpus of short sentences. NOT_FOUND for a missing file, INVALID_ARGUMENT (with
// the line number) for a malformed line or a file without any document.
absl::StatusOr<std::vector<std::string>> ReadDocuments(const std::string& path, TextFormat format,
                                                       int min_chars = 0);

// Code points of valid UTF-8 `text` (continuation bytes are not counted).
int64_t CountCodePoints(absl::string_view text);

}  // namespace ner::bench

#endif  // NER_BENCH_LOAD_DOCUMENTS_H_
