#ifndef NER_CLIENT_CLI_COMMANDS_H_
#define NER_CLIENT_CLI_COMMANDS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/ner_client.h"
#include "google/protobuf/message.h"

// --json: machine-readable output (client_flags.cc).
ABSL_DECLARE_FLAG(bool, json);

namespace ner::client::cli {

// A `ner-client` subcommand. `args` are the positional arguments after the command word; flags
// are absl flags parsed once in main. A returned error is printed as one line and exits 1.
struct Command {
  const char* name;     // e.g. "bulk"
  const char* usage;    // e.g. "--input FILE|- --output FILE|-"
  const char* summary;  // one line
  absl::Status (*run)(const std::vector<std::string>& args);
};

absl::Status RunRecognize(const std::vector<std::string>& args);
absl::Status RunBulkCommand(const std::vector<std::string>& args);
absl::Status RunTrain(const std::vector<std::string>& args);
absl::Status RunJobs(const std::vector<std::string>& args);
absl::Status RunWatch(const std::vector<std::string>& args);
absl::Status RunCancel(const std::vector<std::string>& args);
absl::Status RunEvaluate(const std::vector<std::string>& args);
absl::Status RunModels(const std::vector<std::string>& args);
absl::Status RunLoad(const std::vector<std::string>& args);
// `ner-client unload NAME`.
absl::Status RunUnload(const std::vector<std::string>& args);

// The client the global flags describe (--address, --token_file, --tls_*, --timeout,
// --retries). `default_deadline` applies when --timeout is not given (nullopt = none: for
// calls that take as long as their work, like evaluate and load).
absl::StatusOr<std::unique_ptr<NerClient>> ClientFromFlags(
    std::optional<absl::Duration> default_deadline);

// The recognition options of --model, --types and --min_score.
v1::RecognizeOptions RecognizeOptionsFromFlags();

// A protobuf message as one line of JSON with the proto field names (snake_case).
std::string ToJson(const google::protobuf::Message& message);

// Exit status of a command that finished with per-item failures (bulk with error records): the
// failures were reported, the command itself worked.
inline constexpr int kExitPartialFailure = 3;

// Set by a command whose result is a failure it reported itself (see kExitPartialFailure).
void SetExitCode(int code);
int ExitCode();

}  // namespace ner::client::cli

#endif  // NER_CLIENT_CLI_COMMANDS_H_
