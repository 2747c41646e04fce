#include "model/mlm_model.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ner::model {
namespace {

// Head parameter (module path) -> checkpoint name.
constexpr std::pair<const char*, const char*> kHeadNames[] = {
    {"head.dense.weight", "cls.predictions.transform.dense.weight"},
    {"head.dense.bias", "cls.predictions.transform.dense.bias"},
    {"head.layer_norm.weight", "cls.predictions.transform.LayerNorm.weight"},
    {"head.layer_norm.bias", "cls.predictions.transform.LayerNorm.bias"},
    {"head.bias", "cls.predictions.bias"},
};

}  // namespace

MlmBatch MakeMlmBatch(const std::vector<MaskedSequence>& sequences, int32_t pad_id) {
  TORCH_CHECK(!sequences.empty(), "MakeMlmBatch: no sequences");
  size_t length = 0;
  for (const MaskedSequence& s : sequences) length = std::max(length, s.input_ids.size());
  TORCH_CHECK(length > 0, "MakeMlmBatch: all sequences are empty");
  const auto batch = static_cast<int64_t>(sequences.size());
  const auto width = static_cast<int64_t>(length);
  MlmBatch out;
  out.input_ids = torch::full({batch, width}, pad_id, torch::kInt64);
  out.attention_mask = torch::zeros({batch, width}, torch::kBool);
  out.labels = torch::full({batch, width}, kIgnoreLabel, torch::kInt64);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto mask = out.attention_mask.accessor<bool, 2>();
  auto labels = out.labels.accessor<int64_t, 2>();
  for (int64_t b = 0; b < batch; ++b) {
    const MaskedSequence& s = sequences[b];
    TORCH_CHECK(s.labels.size() == s.input_ids.size(), "MakeMlmBatch: labels/ids size mismatch");
    for (size_t t = 0; t < s.input_ids.size(); ++t) {
      ids[b][t] = s.input_ids[t];
      mask[b][t] = true;
      labels[b][t] = s.labels[t];
    }
    out.num_tokens += static_cast<int64_t>(s.input_ids.size());
  }
  return out;
}

MlmHeadImpl::MlmHeadImpl(const EncoderConfig& config) : activation_(config.hidden_act) {
  const int64_t h = config.hidden_size;
  dense_ = register_module("dense", torch::nn::Linear(h, h));
  layer_norm_ = register_module(
      "layer_norm",
      torch::nn::LayerNorm(torch::nn::LayerNormOptions({h}).eps(config.layer_norm_eps)));
  bias_ = register_parameter("bias", torch::zeros({config.vocab_size}));
  torch::NoGradGuard no_grad;
  dense_->weight.normal_(0.0, config.initializer_range);
  dense_->bias.zero_();
}

torch::Tensor MlmHeadImpl::Forward(const torch::Tensor& hidden,
                                   const torch::Tensor& word_embeddings) const {
  torch::Tensor x = torch::linear(hidden, dense_->weight, dense_->bias);
  x = activation_ == "relu" ? torch::relu(x)
                            : torch::gelu(x, activation_ == "gelu_new" ? "tanh" : "none");
  const auto& options = layer_norm_->options;
  x = torch::layer_norm(x, options.normalized_shape(), layer_norm_->weight, layer_norm_->bias,
                        options.eps());
  return torch::linear(x, word_embeddings, bias_);
}

MlmModelImpl::MlmModelImpl(const EncoderConfig& config) {
  encoder_ = register_module("encoder", TransformerEncoder(config));
  head_ = register_module("head", MlmHead(config));
}

torch::Tensor MlmModelImpl::WordEmbeddings() const {
  for (const auto& item : encoder_->named_parameters()) {
    if (item.key() == "embeddings.word_embeddings.weight") return item.value();
  }
  TORCH_CHECK(false, "MlmModel: the encoder has no word embeddings");
  return {};
}

MlmOutput MlmModelImpl::Forward(const MlmBatch& batch) const {
  const EncoderOutput encoded = encoder_->Forward(batch.input_ids, batch.attention_mask);
  const torch::Tensor targets = batch.labels != kIgnoreLabel;
  const torch::Tensor hidden = encoded.last_hidden_state().index({targets});  // [N, H]
  const torch::Tensor labels = batch.labels.index({targets});                 // [N]
  MlmOutput out;
  out.num_targets = labels.size(0);
  if (out.num_targets == 0) {
    out.loss = encoded.last_hidden_state().sum() * 0.0;  // Keeps the graph; no signal.
    return out;
  }
  const torch::Tensor logits = head_->Forward(hidden, WordEmbeddings());
  out.loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels);
  {
    torch::NoGradGuard no_grad;
    out.num_correct = (logits.argmax(-1) == labels).sum().item<int64_t>();
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> MlmModelImpl::NamedParameters() const {
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& item : named_parameters(/*recurse=*/true)) {
    std::string name = item.key();
    for (const auto& [ours, theirs] : kHeadNames) {
      if (name == ours) name = theirs;
    }
    named.emplace_back(std::move(name), item.value());
  }
  return named;
}

absl::Status MlmModelImpl::LoadWeights(const std::map<std::string, torch::Tensor>& weights) {
  // Check the head first so that a failure modifies nothing (the encoder checks its own part).
  std::map<std::string, torch::Tensor> head_params;
  for (const auto& item : head_->named_parameters()) head_params[item.key()] = item.value();
  std::vector<std::string> problems;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (destination, source)
  for (const auto& [ours, theirs] : kHeadNames) {
    const torch::Tensor& destination = head_params.at(std::string(ours).substr(5));  // "head."
    auto it = weights.find(theirs);
    if (it == weights.end()) {
      problems.push_back(absl::StrCat("missing ", theirs));
    } else if (!it->second.defined() || it->second.sizes() != destination.sizes()) {
      problems.push_back(absl::StrCat("wrong shape for ", theirs));
    } else {
      copies.emplace_back(destination, it->second);
    }
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the MLM head: ", absl::StrJoin(problems, "; ")));
  }
  std::map<std::string, torch::Tensor> encoder_weights;
  for (const auto& [name, tensor] : weights) {
    if (!absl::StartsWith(name, "cls.")) encoder_weights.emplace(name, tensor);
  }
  if (absl::Status s = encoder_->LoadWeights(encoder_weights); !s.ok()) return s;
  try {
    torch::NoGradGuard no_grad;
    for (auto& [destination, source] : copies) destination.copy_(source);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("copying MLM head weights failed: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

}  // namespace ner::model
