// `ner data stats FILE...`: sentences, characters and entities per type of dataset files.

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/dataset.h"
#include "nlohmann/json.hpp"
#include "tools/command.h"
#include "tools/common_flags.h"

ABSL_FLAG(bool, json, false, "Print machine-readable JSON instead of a table.");

namespace ner::tools {

absl::Status RunDataStats(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("usage: ner data stats FILE...");
  absl::StatusOr<model::ReadOptions> options = DatasetReadOptionsFromFlags();
  if (!options.ok()) return options.status();
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& path : args) {
    absl::StatusOr<model::Dataset> dataset = model::ReadDataset(path, *options);
    if (!dataset.ok()) return dataset.status();
    const model::DatasetStats stats = model::ComputeStats(dataset->documents);
    const std::string scheme =
        dataset->scheme ? std::string(model::TagSchemeName(*dataset->scheme)) : "jsonl";
    if (absl::GetFlag(FLAGS_json)) {
      nlohmann::json by_type = nlohmann::json::object();
      for (const auto& [type, count] : stats.entities_by_type) by_type[type] = count;
      all.push_back({{"file", path},
                     {"format", scheme},
                     {"sentences", stats.documents},
                     {"characters", stats.characters},
                     {"entities", stats.entities},
                     {"orphan_entities", dataset->orphan_entities},
                     {"longest_sentence", stats.max_document_chars},
                     {"entities_by_type", by_type}});
      continue;
    }
    std::string out = absl::StrFormat(
        "%s (%s)\n  sentences %d  characters %d  longest %d\n  entities %d", path, scheme,
        stats.documents, stats.characters, stats.max_document_chars, stats.entities);
    if (dataset->orphan_entities > 0) {
      absl::StrAppend(&out, " (", stats.entities - dataset->orphan_entities,
                      " begin with B-/S-; ", dataset->orphan_entities,
                      " begin with an orphan I-/M-/E- tag, read as conlleval does)");
    }
    absl::StrAppend(&out, "\n ");
    for (const auto& [type, count] : stats.entities_by_type) {
      absl::StrAppend(&out, " ", type, " ", count);
    }
    absl::StrAppend(&out, "\n");
    std::fputs(out.c_str(), stdout);
  }
  if (absl::GetFlag(FLAGS_json)) std::puts(all.dump(2).c_str());
  return absl::OkStatus();
}

}  // namespace ner::tools
