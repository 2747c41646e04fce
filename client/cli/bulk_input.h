#ifndef NER_CLIENT_CLI_BULK_INPUT_H_
#define NER_CLIENT_CLI_BULK_INPUT_H_

#include <cstdint>
#include <deque>
#include <fstream>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::client::cli {

// Input of `ner-client bulk`:
//   jsonl  one JSON object per line with a "text" string and an optional "id" (a string, or a
//          number written as such); blank lines are skipped; no id = the line number.
//   text   one document per line, the id is the line number (1-based); empty lines are empty
//          documents. A trailing "\r" is dropped.
enum class InputFormat { kAuto, kJsonl, kText };

// "auto", "jsonl", "text".
absl::StatusOr<InputFormat> ParseInputFormat(absl::string_view name);

// One line of input: a document, or why the line is not one (`error` non-OK).
struct InputDocument {
  int64_t line = 0;  // 1-based
  std::string id;
  std::string text;
  absl::Status error;
};

// Parses line `line_number` (without its "\n") of a `format` input (jsonl or text); nullopt for
// a line to skip (blank JSONL). Pure.
std::optional<InputDocument> ParseInputLine(absl::string_view line, int64_t line_number,
                                            InputFormat format);

// Reads documents one at a time from a file or stdin ("-"), without holding the input in
// memory. Not thread-safe.
class InputReader {
 public:
  // kAuto: ".jsonl" -> jsonl, ".txt" -> text, else jsonl when the first non-blank line starts
  // with "{". NOT_FOUND / PERMISSION_DENIED when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<InputReader>> Open(const std::string& path,
                                                           InputFormat format);

  // The next document (possibly one whose line is malformed: see InputDocument::error), or
  // nullopt at the end. INTERNAL on a read error.
  absl::StatusOr<std::optional<InputDocument>> Next();

  InputFormat format() const { return format_; }
  // Size of a regular file; nullopt for stdin and pipes.
  std::optional<uint64_t> total_bytes() const { return total_bytes_; }
  // Lines of a regular file (counted when opened); nullopt for stdin and pipes.
  std::optional<int64_t> total_lines() const { return total_lines_; }
  // Bytes consumed so far.
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  InputReader() = default;
  bool ReadLine(std::string* line);

  std::string origin_;
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_ = nullptr;
  InputFormat format_ = InputFormat::kText;
  // Lines read while detecting the format, with whether a newline ended them.
  std::deque<std::pair<std::string, bool>> peeked_;
  int64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
  std::optional<uint64_t> total_bytes_;
  std::optional<int64_t> total_lines_;
};

}  // namespace ner::client::cli

#endif  // NER_CLIENT_CLI_BULK_INPUT_H_
