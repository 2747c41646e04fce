#ifndef NER_CLIENT_CLI_BULK_OUTPUT_H_
#define NER_CLIENT_CLI_BULK_OUTPUT_H_

#include <cstdint>
#include <istream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ner/v1/ner.pb.h"

namespace ner::client::cli {

// Output formats of `ner-client bulk`, one record per document (layouts in docs/client.md):
//   jsonl  one line: {"id", "text", "entities": [{"start", "end", "type", "text", "score",
//          "begin_byte", "end_byte"}]} (start/end in code points, as `ner predict` writes), or
//          {"id", "error": {"code": "INVALID_ARGUMENT", "message"}} for a failed document.
//   bio    `#doc <id as a JSON string>`, then one `CHAR TAG` line per code point (BIO tags;
//          line breaks, tabs and other control characters of the text written as a space),
//          then an empty line. A failed document: `#doc`, `#error <JSON {code, message}>`, "".
//   brat   `#doc <id>`, then the .ann lines of the document: `T<n>\t<TYPE> <start> <end>\t<text>`
//          and `#<n>\tAnnotatorNotes T<n>\tscore=<score>` (offsets in code points), then an empty
//          line. A failed document as in bio.
// A record is complete only with its final newline (jsonl) or empty line (bio, brat).
enum class OutputFormat { kJsonl, kBio, kBrat };

// "jsonl", "bio", "brat".
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view name);

// The record of a recognised document. Pure.
std::string FormatResultRecord(OutputFormat format, absl::string_view id, absl::string_view text,
                               const v1::DocumentResult& result);
// The record of a failed document. Pure.
std::string FormatErrorRecord(OutputFormat format, absl::string_view id, const absl::Status& error);

// What an existing output file holds, read back for resuming.
struct ExistingOutput {
  // Ids with a record (a result or an error).
  absl::flat_hash_set<std::string> ids;
  // Ids whose record is an error.
  absl::flat_hash_set<std::string> error_ids;
  // Byte ranges [begin, end) of the error records, in file order.
  std::vector<std::pair<uint64_t, uint64_t>> error_ranges;
  // Bytes of complete records from the start; anything after them is the unfinished tail of
  // an interrupted run (a partial last line or record) and is to be cut off.
  uint64_t valid_bytes = 0;
  // Bytes read.
  uint64_t total_bytes = 0;
  // Complete records.
  int64_t records = 0;
};

// Reads an output written in `format` from `in`. A malformed part followed by complete records
// is not a crash's tail: DATA_LOSS naming `origin` and the line, since appending to a file
// that is not ours would be wrong. Pure but for reading `in`.
absl::StatusOr<ExistingOutput> ScanOutput(OutputFormat format, std::istream& in,
                                          const std::string& origin);

}  // namespace ner::client::cli

#endif  // NER_CLIENT_CLI_BULK_OUTPUT_H_
