#include "model/trainer_optimizer.h"

#include <torch/torch.h>

#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

// LibTorch keys optimizer state by the parameter's TensorImpl address, printed.
std::string StateKey(const torch::Tensor& p) {
  return c10::guts::to_string(p.unsafeGetTensorImpl());
}

}  // namespace

bool DecaysWeight(absl::string_view name) {
  return !absl::StrContains(name, "bias") && !absl::StrContains(name, "layer_norm");
}

TrainingOptimizer::TrainingOptimizer(NerModel model, const TrainConfig& config)
    : model_(std::move(model)) {
  // Groups: encoder+decay, encoder-no-decay, head+decay, head-no-decay; empty ones left out.
  struct Group {
    double lr;
    double weight_decay;
    std::vector<std::pair<std::string, torch::Tensor>> params;
  };
  Group groups[4] = {{config.encoder_lr, config.weight_decay, {}},
                     {config.encoder_lr, 0.0, {}},
                     {config.head_lr, config.weight_decay, {}},
                     {config.head_lr, 0.0, {}}};
  for (const auto& item : model_->named_parameters()) {
    if (!item.value().requires_grad()) continue;
    const bool encoder = absl::StartsWith(item.key(), "encoder.");
    const int index = (encoder ? 0 : 2) + (DecaysWeight(item.key()) ? 0 : 1);
    groups[index].params.emplace_back(item.key(), item.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  for (Group& group : groups) {
    if (group.params.empty()) continue;
    std::vector<torch::Tensor> tensors;
    for (auto& [name, tensor] : group.params) {
      names_.push_back(name);
      parameters_.push_back(tensor);
      tensors.push_back(tensor);
    }
    auto options = std::make_unique<torch::optim::AdamWOptions>(group.lr);
    options->betas(std::make_tuple(config.adam_beta1, config.adam_beta2))
        .eps(config.adam_epsilon)
        .weight_decay(group.weight_decay);
    param_groups.emplace_back(std::move(tensors), std::move(options));
    peak_lr_.push_back(group.lr);
  }
  torch::optim::AdamWOptions defaults(config.head_lr);
  defaults.betas(std::make_tuple(config.adam_beta1, config.adam_beta2))
      .eps(config.adam_epsilon)
      .weight_decay(config.weight_decay);
  adamw_ = std::make_unique<torch::optim::AdamW>(std::move(param_groups), defaults);
}

void TrainingOptimizer::SetLrFactor(double factor) {
  auto& groups = adamw_->param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    static_cast<torch::optim::AdamWOptions&>(groups[g].options()).lr(peak_lr_[g] * factor);
  }
}

double TrainingOptimizer::head_lr() const {
  // The last group is always a head group (the CRF is always there).
  const auto& groups = adamw_->param_groups();
  return static_cast<const torch::optim::AdamWOptions&>(groups.back().options()).lr();
}

void TrainingOptimizer::ZeroGrad() {
  for (torch::Tensor& p : parameters_) p.mutable_grad().reset();
}

void TrainingOptimizer::Step(double max_norm) {
  torch::nn::utils::clip_grad_norm_(parameters_, max_norm);
  adamw_->step();
}

TensorMap TrainingOptimizer::State() const {
  TensorMap out;
  const auto& state = adamw_->state();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto it = state.find(StateKey(parameters_[i]));
    if (it == state.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
    out[names_[i] + ".exp_avg"] = s.exp_avg().detach().to(torch::kCPU).clone();
    out[names_[i] + ".exp_avg_sq"] = s.exp_avg_sq().detach().to(torch::kCPU).clone();
    out[names_[i] + ".step"] = torch::full({1}, s.step(), torch::kInt64);
  }
  return out;
}

absl::Status TrainingOptimizer::LoadState(const TensorMap& state) {
  size_t used = 0;
  auto& own = adamw_->state();
  std::vector<std::pair<std::string, std::unique_ptr<torch::optim::AdamWParamState>>> restored;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    const std::string& name = names_[i];
    auto avg = state.find(name + ".exp_avg");
    auto avg_sq = state.find(name + ".exp_avg_sq");
    auto step = state.find(name + ".step");
    const int present = (avg != state.end()) + (avg_sq != state.end()) + (step != state.end());
    if (present == 0) continue;
    if (present != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state of '", name, "' is incomplete"));
    }
    const torch::Tensor& p = parameters_[i];
    if (avg->second.sizes() != p.sizes() || avg_sq->second.sizes() != p.sizes() ||
        step->second.numel() != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("optimizer state of '", name, "' does not match the parameter's shape"));
    }
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->step(step->second.to(torch::kInt64).item<int64_t>());
    s->exp_avg(avg->second.to(p.options()).clone());
    s->exp_avg_sq(avg_sq->second.to(p.options()).clone());
    restored.emplace_back(StateKey(p), std::move(s));
    used += 3;
  }
  if (used != state.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("optimizer state has ", state.size() - used,
                     " tensors for parameters this model does not have"));
  }
  own.clear();
  for (auto& [key, s] : restored) own[key] = std::move(s);
  return absl::OkStatus();
}

}  // namespace ner::model
