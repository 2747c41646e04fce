// The `ner` command-line tool. Wiring only: parse flags, set up the runtime, dispatch.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "model/log.h"
#include "model/runtime.h"
#include "tools/command.h"
#include "tools/common_flags.h"

namespace {

using ner::tools::Command;

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"data stats", "FILE...", "sentences, characters and entities per type",
       ner::tools::RunDataStats},
      {"train", "--train FILE --dev FILE --out DIR [--init DIR | --vocab FILE] [--resume]",
       "train a model (AdamW, warm-up + decay, adversarial training); keeps the best on dev",
       ner::tools::RunTrain},
      {"evaluate", "--model DIR FILE...", "entity-level precision, recall and F1 per type (--json)",
       ner::tools::RunEvaluate},
      {"predict", "--model DIR [TEXT... | --input FILE|-] [--output FILE|-]",
       "entities as JSONL with character and byte offsets and scores", ner::tools::RunPredict},
      {"pretrain",
       "--corpus DIR|FILES --vocab FILE --out DIR [--preset nezha-tiny | --encoder_config JSON] "
       "[--max_steps N] [--time_budget_minutes M] [--resume]",
       "MLM pretraining of an encoder on raw text; --out is loadable with --init",
       ner::tools::RunPretrain},
      {"embed",
       "--corpus DIR|FILES --vocab FILE --out DIR [--dim 100] [--bigram_dim 50] [--epochs 5]",
       "character and bigram vectors (skip-gram) for bilstm-crf: train --char_vectors, "
       "--bigram_vectors",
       ner::tools::RunEmbed},
      {"convert", "--model DIR --out DIR [--storage_dtype float16|bfloat16|float32]",
       "the same checkpoint with its weights stored in another dtype (float16: half the size)",
       ner::tools::RunConvert},
  };
  return commands;
}

std::string Usage() {
  std::string usage = "Chinese named-entity recognition.\n\nusage: ner COMMAND [FLAGS] ARGS\n\n";
  for (const Command& c : Commands()) {
    absl::StrAppend(&usage, "  ner ", c.words, " ", c.usage, "\n      ", c.summary, "\n");
  }
  absl::StrAppend(&usage, "\nRun `ner --helpfull` for all flags.");
  return usage;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(Usage());
  // A repeated flag keeps only its last value; for --config that silently drops whole files
  // (a run trained without half its recipe once did), so repeating it is an error.
  int configs = 0;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    for (const absl::string_view name : {"--config", "-config"}) {
      if (arg == name || absl::StartsWith(arg, absl::StrCat(name, "="))) ++configs;
    }
  }
  if (configs > 1) {
    std::fprintf(stderr,
                 "ner: --config given %d times, and only the last would count; list the files "
                 "once, comma-separated (--config=a.json,b.json: applied in order)\n",
                 configs);
    return 2;
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> words(positional.begin() + 1, positional.end());

  const Command* command = nullptr;
  size_t consumed = 0;
  for (const Command& c : Commands()) {
    std::vector<std::string> needed = absl::StrSplit(c.words, ' ');
    if (words.size() >= needed.size() && std::equal(needed.begin(), needed.end(), words.begin())) {
      command = &c;
      consumed = needed.size();
      break;
    }
  }
  if (command == nullptr) {
    std::fprintf(stderr, "%s\n", Usage().c_str());
    if (!words.empty()) {
      std::fprintf(stderr, "ner: unknown command '%s'\n", absl::StrJoin(words, " ").c_str());
    }
    return 2;
  }

  if (absl::Status s = ner::model::ConfigureRuntime(ner::tools::RuntimeOptionsFromFlags());
      !s.ok()) {
    std::fprintf(stderr, "ner: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  const ner::model::RuntimeInfo runtime = ner::model::GetRuntimeInfo();
  ner::LogInfo(ner::model::DescribeRuntime(runtime));
  if (runtime.slow_blas) ner::LogWarning("the reference BLAS is ~25x slower than OpenBLAS");

  const std::vector<std::string> args(words.begin() + consumed, words.end());
  if (absl::Status s = command->run(args); !s.ok()) {
    std::fprintf(stderr, "ner %s: %s\n", command->words, std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
