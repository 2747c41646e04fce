#ifndef NER_CLIENT_CLI_BULK_JOB_H_
#define NER_CLIENT_CLI_BULK_JOB_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/cli/bulk_input.h"
#include "client/cli/bulk_output.h"
#include "client/ner_client.h"

namespace ner::client::cli {

// Counts of a run.
struct BulkSummary {
  int64_t documents_read = 0;  // documents (and malformed lines) read from the input
  int64_t already_done = 0;    // skipped: their id had a record in the output
  int64_t duplicate_ids = 0;   // skipped: their id came earlier in this input
  int64_t recognized = 0;      // records with entities written
  int64_t errors = 0;          // error records written (malformed lines included)
  int64_t characters = 0;      // code points of the recognised documents
  int64_t retries = 0;         // attempts beyond the first, over all documents
  std::map<std::string, int64_t> entities_by_type;
  std::map<std::string, int64_t> errors_by_code;
  // Bytes cut from the end of the output: an unfinished record of an interrupted run.
  uint64_t repaired_bytes = 0;
  // Error records removed for --retry_errors.
  int64_t errors_removed = 0;
  absl::Duration elapsed;
  std::string model;  // name@version of the last result
};

// What `ner-client bulk` does, as plain data (bulk_command.cc fills it from flags).
struct BulkConfig {
  // Input file, or "-" for stdin.
  std::string input = "-";
  InputFormat input_format = InputFormat::kAuto;
  // Output file, or "-" for stdout (no resuming then).
  std::string output = "-";
  OutputFormat output_format = OutputFormat::kJsonl;
  // Streaming: options, documents in flight, documents per message.
  BulkOptions stream;
  // Skip ids that already have a record in the output (files only). Off = start over: an
  // existing output is truncated.
  bool resume = true;
  // With resume: also run again the ids whose record is an error (their records are removed
  // from the output first).
  bool retry_errors = false;
  // Draw a progress bar on stderr when it is a terminal (else a line every 30 s).
  bool progress = true;
  // Called after every record written, with the counts so far; may be empty. For embedding and
  // tests (e.g. to set BulkOptions::stop after some results).
  std::function<void(const BulkSummary&)> on_record;
};

// Runs the job. Output records are appended and flushed one by one, so a crash loses at most
// the documents in flight; the output is fsync'ed about once a second and at the end. Fills
// `summary` in any case; returns OK when every input line has its record (per-document errors
// included), else the error that stopped the run: the input or output failed, the stream
// failed for good, or CANCELLED when `stream.stop` was set (the records written so far stay and
// a rerun resumes after them).
absl::Status RunBulk(NerClient& client, const BulkConfig& config, BulkSummary* summary);

// The summary lines printed at the end, e.g.
//   "3000 documents: 2990 recognised, 10 errors (INVALID_ARGUMENT 10), 0 skipped ...". Pure.
std::string FormatBulkSummary(const BulkSummary& summary);

}  // namespace ner::client::cli

#endif  // NER_CLIENT_CLI_BULK_JOB_H_
