// `ner-client bulk --input FILE|- --output FILE|-`: flags to a BulkConfig, signals to a stop
// flag; the work is in bulk_job.cc.

#include <signal.h>

#include <atomic>
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "client/cli/bulk_job.h"
#include "client/cli/commands.h"

ABSL_FLAG(std::string, input, "-",
          "bulk: documents, a .jsonl file ({\"id\", \"text\"} per line), a text file (one "
          "document per line) or - for stdin.");
ABSL_FLAG(std::string, input_format, "auto", "bulk: auto, jsonl or text.");
ABSL_FLAG(std::string, output, "-", "bulk: where to append the records; - = stdout.");
ABSL_FLAG(std::string, format, "jsonl", "bulk: output format, jsonl, bio or brat.");
ABSL_FLAG(int, max_in_flight, 64, "bulk: documents sent and not yet answered.");
ABSL_FLAG(int, docs_per_message, 16, "bulk: documents per stream message.");
ABSL_FLAG(bool, resume, true,
          "bulk: skip ids already in --output (and repair an unfinished last record); false = "
          "start the output over.");
ABSL_FLAG(bool, retry_errors, false,
          "bulk: with --resume, run the ids whose record is an error again.");
ABSL_FLAG(bool, progress, true, "bulk: progress on stderr.");

namespace ner::client::cli {
namespace {

std::atomic<bool> stop_requested{false};

void OnSignal(int) {
  stop_requested = true;
  // A second signal ends the process the default way.
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
}

}  // namespace

absl::Status RunBulkCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    return absl::InvalidArgumentError(
        "usage: ner-client bulk --input FILE|- --output FILE|- [--format jsonl|bio|brat]");
  }
  BulkConfig config;
  config.input = absl::GetFlag(FLAGS_input);
  config.output = absl::GetFlag(FLAGS_output);
  absl::StatusOr<InputFormat> input_format = ParseInputFormat(absl::GetFlag(FLAGS_input_format));
  if (!input_format.ok()) return input_format.status();
  config.input_format = *input_format;
  absl::StatusOr<OutputFormat> output_format = ParseOutputFormat(absl::GetFlag(FLAGS_format));
  if (!output_format.ok()) return output_format.status();
  config.output_format = *output_format;
  config.stream.recognize = RecognizeOptionsFromFlags();
  config.stream.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  config.stream.max_documents_per_message = absl::GetFlag(FLAGS_docs_per_message);
  config.stream.stop = &stop_requested;
  config.resume = absl::GetFlag(FLAGS_resume);
  config.retry_errors = absl::GetFlag(FLAGS_retry_errors);
  config.progress = absl::GetFlag(FLAGS_progress);
  if (config.input != "-" && config.input == config.output) {
    return absl::InvalidArgumentError("--input and --output are the same file");
  }

  absl::StatusOr<std::unique_ptr<NerClient>> client = ClientFromFlags(absl::Seconds(30));
  if (!client.ok()) return client.status();

  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  BulkSummary summary;
  const absl::Status status = RunBulk(**client, config, &summary);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);

  std::fprintf(stderr, "%s\n", FormatBulkSummary(summary).c_str());
  if (absl::IsCancelled(status) && stop_requested) {
    return absl::CancelledError(
        "interrupted; the records written are kept: run the same command again to resume");
  }
  if (!status.ok()) return status;
  if (summary.errors > 0) SetExitCode(kExitPartialFailure);
  return absl::OkStatus();
}

}  // namespace ner::client::cli
