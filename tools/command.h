#ifndef NER_TOOLS_COMMAND_H_
#define NER_TOOLS_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

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

}  // namespace ner::tools

#endif  // NER_TOOLS_COMMAND_H_
