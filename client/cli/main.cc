// `ner-client`: a command-line client of the NER service. Wiring only: parse flags, dispatch.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli/commands.h"
#include "client/status.h"

namespace {

using ner::client::cli::Command;

const std::vector<Command>& Commands() {
  namespace cli = ner::client::cli;
  static const std::vector<Command> commands = {
      {"recognize", "[--json] [--types PER,ORG] [--min_score S] TEXT... | -",
       "entities of a few texts, highlighted, with a table of offsets and scores",
       cli::RunRecognize},
      {"bulk", "--input FILE|- --output FILE|- [--format jsonl|bio|brat] [--max_in_flight N]",
       "stream a corpus through RecognizeStream; resumable, order-independent output",
       cli::RunBulkCommand},
      {"train", "--train PATH --dev PATH --output_model NAME [--variant V] [--epochs N] [--detach]",
       "start a training job on the server and follow it (bar, dev F1 per epoch)", cli::RunTrain},
      {"jobs", "[JOB] [--json]", "training jobs, newest first (or one job)", cli::RunJobs},
      {"watch", "JOB", "follow a running training job", cli::RunWatch},
      {"cancel", "JOB", "stop a training job at its next step", cli::RunCancel},
      {"evaluate", "--dataset PATH [--model NAME] [--json]",
       "per-type precision, recall and F1 of a model on a dataset of the server", cli::RunEvaluate},
      {"models", "[--json]", "loaded models (name, version, variant, dev F1, types)",
       cli::RunModels},
      {"load", "NAME PATH", "load a checkpoint (under the server's model root) as NAME",
       cli::RunLoad},
      {"unload", "NAME", "stop serving the model NAME (not the default model)", cli::RunUnload},
  };
  return commands;
}

std::string Usage() {
  std::string usage =
      "Client of the NER service.\n\nusage: ner-client [--address HOST:PORT] [--token_file F] "
      "[--tls_ca_file F] [--timeout 30s] [--retries 4] COMMAND [FLAGS] ARGS\n\n";
  for (const Command& c : Commands()) {
    absl::StrAppend(&usage, "  ner-client ", c.name, " ", c.usage, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(&usage,
                  "\nExit status: 0 done, 1 error, 2 usage, 3 bulk done with failed "
                  "documents.\nRun `ner-client --helpfull` for all flags; docs/client.md for "
                  "examples.");
  return usage;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(Usage());
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 2) {
    std::fprintf(stderr, "%s\n", Usage().c_str());
    return 2;
  }
  const std::string name = positional[1];
  const Command* command = nullptr;
  for (const Command& c : Commands()) {
    if (name == c.name) command = &c;
  }
  if (command == nullptr) {
    std::fprintf(stderr, "%s\nner-client: unknown command '%s'\n", Usage().c_str(), name.c_str());
    return 2;
  }
  const std::vector<std::string> args(positional.begin() + 2, positional.end());
  if (absl::Status s = command->run(args); !s.ok()) {
    std::fprintf(stderr, "ner-client %s: %s: %s\n", command->name,
                 ner::client::StatusCodeName(s.code()), std::string(s.message()).c_str());
    return absl::StartsWith(s.message(), "usage:") ? 2 : 1;
  }
  return ner::client::cli::ExitCode();
}
