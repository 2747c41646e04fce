#include "model/trainer_state.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "model/file_util.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kStateFile = "trainer_state.json";

json DevJson(const std::optional<DevScores>& dev) {
  if (!dev) return nullptr;
  return {{"precision", dev->precision}, {"recall", dev->recall}, {"f1", dev->f1}};
}

std::optional<DevScores> ParseDev(const json& in) {
  if (in.is_null()) return std::nullopt;
  return DevScores{in.at("precision").get<double>(), in.at("recall").get<double>(),
                   in.at("f1").get<double>()};
}

}  // namespace

std::string TrainerState::ToJson() const {
  json epochs = json::array();
  for (const EpochRecord& r : history) {
    epochs.push_back({{"epoch", r.epoch},
                      {"steps", r.steps},
                      {"train_loss", r.train_loss},
                      {"dev", DevJson(r.dev)},
                      {"seconds", r.seconds},
                      {"data_seconds", r.data_seconds},
                      {"step_seconds", r.step_seconds},
                      {"eval_seconds", r.eval_seconds},
                      {"characters", r.characters}});
  }
  json out = {
      {"format", "ner-trainer-state"},
      {"format_version", 1},
      {"config", json::parse(config.ToJson())},
      {"epochs_completed", epochs_completed},
      {"global_step", global_step},
      {"total_steps", total_steps},
      {"train_sequences", train_sequences},
      {"best_dev_f1", best_dev_f1 ? json(*best_dev_f1) : json(nullptr)},
      {"best_epoch", best_epoch},
      {"epochs_without_improvement", epochs_without_improvement},
      {"finished", finished},
      {"stop_reason", stop_reason},
      {"history", epochs},
      {"train_path", train_path},
      {"dev_path", dev_path},
      {"init_from", init_from},
  };
  return out.dump(2);
}

absl::StatusOr<TrainerState> ParseTrainerState(absl::string_view text) {
  const json in = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object() || in.value("format", "") != "ner-trainer-state") {
    return absl::InvalidArgumentError("not a ner-trainer-state JSON object");
  }
  if (in.value("format_version", 0) != 1) {
    return absl::InvalidArgumentError("unsupported trainer state format_version");
  }
  TrainerState state;
  try {
    absl::StatusOr<TrainConfig> config = ParseTrainConfig(in.at("config").dump());
    if (!config.ok()) return config.status();
    state.config = *config;
    state.epochs_completed = in.at("epochs_completed").get<int>();
    state.global_step = in.at("global_step").get<int64_t>();
    state.total_steps = in.at("total_steps").get<int64_t>();
    state.train_sequences = in.at("train_sequences").get<int64_t>();
    if (!in.at("best_dev_f1").is_null()) state.best_dev_f1 = in["best_dev_f1"].get<double>();
    state.best_epoch = in.at("best_epoch").get<int>();
    state.epochs_without_improvement = in.at("epochs_without_improvement").get<int>();
    state.finished = in.at("finished").get<bool>();
    state.stop_reason = in.at("stop_reason").get<std::string>();
    for (const json& r : in.at("history")) {
      EpochRecord record;
      record.epoch = r.at("epoch").get<int>();
      record.steps = r.at("steps").get<int64_t>();
      record.train_loss = r.at("train_loss").get<double>();
      record.dev = ParseDev(r.at("dev"));
      record.seconds = r.at("seconds").get<double>();
      record.data_seconds = r.value("data_seconds", 0.0);
      record.step_seconds = r.value("step_seconds", 0.0);
      record.eval_seconds = r.value("eval_seconds", 0.0);
      record.characters = r.value("characters", int64_t{0});
      state.history.push_back(record);
    }
    state.train_path = in.at("train_path").get<std::string>();
    state.dev_path = in.at("dev_path").get<std::string>();
    state.init_from = in.at("init_from").get<std::string>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("trainer state: ", e.what()));
  }
  return state;
}

absl::Status SaveTrainingSnapshot(const std::string& dir, const Checkpoint& checkpoint,
                                  const TensorMap& optimizer_state, const TrainerState& state) {
  absl::Status status = ReplaceDirectoryAtomically(dir, [&](const std::string& temp) {
    if (absl::Status s = SaveCheckpoint(temp, checkpoint); !s.ok()) return s;
    if (absl::Status s = SaveStateDict(temp + "/" + kOptimizerFile, optimizer_state,
                                       {{"format", "ner-adamw-state"}});
        !s.ok()) {
      return s;
    }
    return WriteFileAtomically(temp + "/" + kStateFile, state.ToJson());
  });
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat("saving snapshot '", dir, "': ", status.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<TrainingSnapshot> LoadTrainingSnapshot(const std::string& dir) {
  if (!fs::exists(fs::path(dir) / kStateFile)) {
    return absl::NotFoundError(
        absl::StrCat("no training snapshot in '", dir, "' (", kStateFile, " is missing)"));
  }
  absl::StatusOr<std::string> text = ReadFileToString(dir + "/" + kStateFile, 64 << 20);
  if (!text.ok()) return text.status();
  absl::StatusOr<TrainerState> state = ParseTrainerState(*text);
  if (!state.ok()) {
    return absl::Status(state.status().code(),
                        absl::StrCat(dir, "/", kStateFile, ": ", state.status().message()));
  }
  absl::StatusOr<Checkpoint> checkpoint = LoadCheckpoint(dir);
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<TensorMap> optimizer = LoadStateDict(dir + "/" + kOptimizerFile);
  if (!optimizer.ok()) return optimizer.status();
  return TrainingSnapshot{*std::move(checkpoint), *std::move(optimizer), *std::move(state)};
}

}  // namespace ner::model
