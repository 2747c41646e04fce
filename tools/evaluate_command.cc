// `ner evaluate --model DIR FILE...`: entity-level P/R/F1 of a checkpoint on labelled data.

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/checkpoint.h"
#include "model/dataset.h"
#include "model/device.h"
#include "model/evaluator.h"
#include "model/log.h"
#include "model/recognizer.h"
#include "nlohmann/json.hpp"
#include "tools/command.h"
#include "tools/common_flags.h"

ABSL_FLAG(std::string, model, "",
          "Checkpoint directory (config.json, vocab.txt, model.safetensors).");
ABSL_FLAG(std::optional<int>, eval_batch_size, std::nullopt,
          "Pieces per model batch; by default the eval_batch_size the model was trained with (so "
          "that the trainer's dev F1 is reproduced exactly), else 32.");
ABSL_DECLARE_FLAG(bool, json);
ABSL_DECLARE_FLAG(std::string, device);
ABSL_DECLARE_FLAG(std::string, dtype);

namespace ner::tools {

// Loads --model with --device and --dtype (shared with `ner predict`).
absl::StatusOr<std::unique_ptr<model::Recognizer>> RecognizerFromFlags() {
  const std::string dir = absl::GetFlag(FLAGS_model);
  if (dir.empty()) return absl::InvalidArgumentError("--model is required");
  model::LoadOptions options;
  absl::StatusOr<torch::Device> device = model::ParseDevice(absl::GetFlag(FLAGS_device));
  if (!device.ok()) return device.status();
  options.device = *device;
  absl::StatusOr<torch::Dtype> dtype = model::ParseDtype(absl::GetFlag(FLAGS_dtype), *device);
  if (!dtype.ok()) return dtype.status();
  options.encoder_dtype = *dtype;
  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(dir, options);
  if (!checkpoint.ok()) return checkpoint.status();
  return model::Recognizer::Create(
      std::make_shared<const model::Checkpoint>(*std::move(checkpoint)));
}

namespace {

// The batch size: the flag when given, else the one in the model's provenance, else the default.
int EvalBatchSize(const model::ModelConfig& config) {
  if (const std::optional<int> flag = absl::GetFlag(FLAGS_eval_batch_size)) return *flag;
  const nlohmann::json provenance =
      nlohmann::json::parse(config.provenance_json, nullptr, /*allow_exceptions=*/false);
  if (provenance.is_object() && provenance.contains("hyperparameters") &&
      provenance["hyperparameters"].is_object() &&
      provenance["hyperparameters"].value("eval_batch_size", 0) > 0) {
    return provenance["hyperparameters"]["eval_batch_size"].get<int>();
  }
  return model::EvaluationOptions().batch_pieces;
}

}  // namespace

absl::Status RunEvaluate(const std::vector<std::string>& args) {
  if (args.empty()) {
    return absl::InvalidArgumentError("usage: ner evaluate --model DIR FILE...");
  }
  absl::StatusOr<model::ReadOptions> read_options = DatasetReadOptionsFromFlags();
  if (!read_options.ok()) return read_options.status();
  absl::StatusOr<std::unique_ptr<model::Recognizer>> recognizer = RecognizerFromFlags();
  if (!recognizer.ok()) return recognizer.status();
  model::EvaluationOptions options;
  options.batch_pieces = EvalBatchSize((*recognizer)->checkpoint().config);
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& path : args) {
    absl::StatusOr<model::Dataset> dataset = model::ReadDataset(path, *read_options);
    if (!dataset.ok()) return dataset.status();
    absl::StatusOr<model::Evaluation> evaluation =
        model::Evaluate(**recognizer, dataset->documents, options);
    if (!evaluation.ok()) {
      return absl::Status(evaluation.status().code(),
                          absl::StrCat(path, ": ", evaluation.status().message()));
    }
    const double seconds = absl::ToDoubleSeconds(evaluation->elapsed);
    const double chars_per_second = seconds > 0 ? evaluation->characters / seconds : 0;
    if (absl::GetFlag(FLAGS_json)) {
      nlohmann::json entry = nlohmann::json::parse(evaluation->metrics.ToJson());
      entry["file"] = path;
      entry["characters"] = evaluation->characters;
      entry["seconds"] = seconds;
      all.push_back(entry);
      continue;
    }
    std::printf("%s: %lld documents, %lld characters, %.0f chars/s\n%s\n", path.c_str(),
                static_cast<long long>(evaluation->metrics.documents()),
                static_cast<long long>(evaluation->characters), chars_per_second,
                evaluation->metrics.FormatTable().c_str());
  }
  if (absl::GetFlag(FLAGS_json)) std::printf("%s\n", all.dump(2).c_str());
  return absl::OkStatus();
}

}  // namespace ner::tools
