#include "model/mlm_checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/file_util.h"
#include "model/state_dict.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

constexpr char kConfigFile[] = "config.json";
constexpr char kVocabFile[] = "vocab.txt";
constexpr char kWeightsFile[] = "model.safetensors";
constexpr char kOptimizerFile[] = "optimizer.safetensors";

// The optimizer's state key of a parameter (as torch/optim/serialize.h spells it).
std::string StateKey(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

}  // namespace

std::string PretrainState::ToJson() const {
  nlohmann::json json = {
      {"format", "ner-mlm-pretraining"},
      {"step", step},
      {"epoch", epoch},
      {"epoch_position", epoch_position},
      {"schedule_steps", schedule_steps},
      {"warmup_steps", warmup_steps},
      {"tokens_seen", tokens_seen},
      {"train_seconds", train_seconds},
      {"seed", seed},
      {"max_len", max_len},
      {"num_sequences", num_sequences},
      {"num_tokens", num_tokens},
      {"validation_sequences", validation_sequences},
      {"masking",
       {{"mask_prob", masking.mask_prob},
        {"mask_token", masking.mask_token},
        {"random_token", masking.random_token},
        {"whole_word", masking.whole_word}}},
  };
  if (validation_loss) json["validation_loss"] = *validation_loss;
  if (validation_accuracy) json["validation_accuracy"] = *validation_accuracy;
  if (validation_step) json["validation_step"] = *validation_step;
  return json.dump(2);
}

absl::StatusOr<PretrainState> ParsePretrainState(absl::string_view text) {
  try {
    const nlohmann::json json = nlohmann::json::parse(text.begin(), text.end());
    PretrainState state;
    state.step = json.at("step").get<int64_t>();
    state.epoch = json.at("epoch").get<int64_t>();
    state.epoch_position = json.at("epoch_position").get<int64_t>();
    state.schedule_steps = json.at("schedule_steps").get<int64_t>();
    state.warmup_steps = json.at("warmup_steps").get<int64_t>();
    state.tokens_seen = json.at("tokens_seen").get<int64_t>();
    state.train_seconds = json.at("train_seconds").get<double>();
    state.seed = json.at("seed").get<uint64_t>();
    state.max_len = json.at("max_len").get<int32_t>();
    state.num_sequences = json.at("num_sequences").get<int64_t>();
    state.num_tokens = json.at("num_tokens").get<int64_t>();
    state.validation_sequences = json.at("validation_sequences").get<int64_t>();
    const nlohmann::json& masking = json.at("masking");
    state.masking.mask_prob = masking.at("mask_prob").get<double>();
    state.masking.mask_token = masking.at("mask_token").get<double>();
    state.masking.random_token = masking.at("random_token").get<double>();
    state.masking.whole_word = masking.at("whole_word").get<bool>();
    if (json.contains("validation_loss")) {
      state.validation_loss = json["validation_loss"].get<double>();
    }
    if (json.contains("validation_accuracy")) {
      state.validation_accuracy = json["validation_accuracy"].get<double>();
    }
    if (json.contains("validation_step")) {
      state.validation_step = json["validation_step"].get<int64_t>();
    }
    if (state.step < 0 || state.epoch < 0 || state.epoch_position < 0) {
      return absl::InvalidArgumentError("pretraining state has a negative position");
    }
    return state;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("bad pretraining state: ", e.what()));
  }
}

absl::Status SavePretraining(const std::string& dir, const MlmModel& model,
                             const torch::optim::AdamW& optimizer, const Vocab& vocab,
                             const PretrainState& state) {
  TensorMap weights;
  TensorMap moments;
  try {
    torch::NoGradGuard no_grad;
    const auto& optimizer_state = optimizer.state();
    for (const auto& [name, parameter] : model->NamedParameters()) {
      weights[name] = parameter.detach().to(torch::kCPU).contiguous();
      auto it = optimizer_state.find(StateKey(parameter));
      if (it == optimizer_state.end()) continue;
      const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      moments[absl::StrCat(name, ".exp_avg")] = adam.exp_avg().to(torch::kCPU).contiguous();
      moments[absl::StrCat(name, ".exp_avg_sq")] = adam.exp_avg_sq().to(torch::kCPU).contiguous();
      moments[absl::StrCat(name, ".step")] = torch::full({1}, adam.step(), torch::kInt64);
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("cannot copy weights for saving: ", e.what_without_backtrace()));
  }
  const EncoderConfig& config = model->encoder()->config();
  return ReplaceDirectoryAtomically(dir, [&](const std::string& temp) -> absl::Status {
    if (absl::Status s = WriteFileAtomically(absl::StrCat(temp, "/", kConfigFile), config.ToJson());
        !s.ok()) {
      return s;
    }
    if (absl::Status s =
            WriteFileAtomically(absl::StrCat(temp, "/", kVocabFile), vocab.Serialize());
        !s.ok()) {
      return s;
    }
    if (absl::Status s = SaveStateDict(
            absl::StrCat(temp, "/", kWeightsFile), weights,
            {{"format", "ner-pretrained-encoder"}, {"step", absl::StrCat(state.step)}});
        !s.ok()) {
      return s;
    }
    if (absl::Status s = SaveStateDict(absl::StrCat(temp, "/", kOptimizerFile), moments,
                                       {{"format", "ner-adamw-state"}});
        !s.ok()) {
      return s;
    }
    return WriteFileAtomically(absl::StrCat(temp, "/", kPretrainStateFile), state.ToJson());
  });
}

absl::StatusOr<PretrainState> RestorePretraining(const std::string& dir, MlmModel& model,
                                                 torch::optim::AdamW& optimizer) {
  auto context = [&dir](const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat("resuming from '", dir, "': ", s.message()));
  };
  absl::StatusOr<std::string> state_text =
      ReadFileToString(absl::StrCat(dir, "/", kPretrainStateFile), 1 << 20);
  if (!state_text.ok()) {
    return absl::NotFoundError(absl::StrCat("'", dir, "' holds no pretraining state (",
                                            state_text.status().message(), ")"));
  }
  absl::StatusOr<PretrainState> state = ParsePretrainState(*state_text);
  if (!state.ok()) return context(state.status());
  absl::StatusOr<TensorMap> weights = LoadStateDict(absl::StrCat(dir, "/", kWeightsFile));
  if (!weights.ok()) return context(weights.status());
  if (absl::Status s = model->LoadWeights(*weights); !s.ok()) return context(s);
  absl::StatusOr<TensorMap> moments = LoadStateDict(absl::StrCat(dir, "/", kOptimizerFile));
  if (!moments.ok()) return context(moments.status());
  try {
    torch::NoGradGuard no_grad;
    auto& optimizer_state = optimizer.state();
    for (const auto& [name, parameter] : model->NamedParameters()) {
      auto avg = moments->find(absl::StrCat(name, ".exp_avg"));
      auto avg_sq = moments->find(absl::StrCat(name, ".exp_avg_sq"));
      auto step = moments->find(absl::StrCat(name, ".step"));
      const int found =
          (avg != moments->end()) + (avg_sq != moments->end()) + (step != moments->end());
      if (found == 0) continue;  // Not stepped yet.
      if (found != 3 || avg->second.sizes() != parameter.sizes() ||
          avg_sq->second.sizes() != parameter.sizes() || step->second.numel() != 1) {
        return context(absl::InvalidArgumentError(
            absl::StrCat("optimizer state is incomplete or misshapen for ", name)));
      }
      auto adam = std::make_unique<torch::optim::AdamWParamState>();
      adam->step(step->second.to(torch::kInt64).item<int64_t>());
      adam->exp_avg(avg->second.to(parameter.options()));
      adam->exp_avg_sq(avg_sq->second.to(parameter.options()));
      optimizer_state[StateKey(parameter)] = std::move(adam);
    }
  } catch (const c10::Error& e) {
    return context(absl::InternalError(e.what_without_backtrace()));
  }
  return *state;
}

}  // namespace ner::model
