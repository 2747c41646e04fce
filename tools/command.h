#ifndef NER_TOOLS_COMMAND_H_
#define NER_TOOLS_COMMAND_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/recognizer.h"

namespace ner::tools {

// A `ner` subcommand. `args` are the positional arguments after the command words; flags are
// absl flags parsed once in main. A returned error is printed as one line and exits non-zero.
struct Command {
  const char* words;    // e.g. "data stats"
  const char* usage;    // e.g. "FILE..."
  const char* summary;  // one line
  absl::Status (*run)(const std::vector<std::string>& args);
};

absl::Status RunDataStats(const std::vector<std::string>& args);
absl::Status RunTrain(const std::vector<std::string>& args);
absl::Status RunEvaluate(const std::vector<std::string>& args);
absl::Status RunPredict(const std::vector<std::string>& args);
absl::Status RunPretrain(const std::vector<std::string>& args);
absl::Status RunEmbed(const std::vector<std::string>& args);
absl::Status RunConvert(const std::vector<std::string>& args);

// Loads the checkpoint named by --model on --device with the encoder in --dtype (shared by
// `ner evaluate` and `ner predict`; defined in evaluate_command.cc).
absl::StatusOr<std::unique_ptr<model::Recognizer>> RecognizerFromFlags();

}  // namespace ner::tools

#endif  // NER_TOOLS_COMMAND_H_
