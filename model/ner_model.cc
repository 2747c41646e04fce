#include "model/ner_model.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace ner::model {

NerModelImpl::NerModelImpl(const ModelConfig& config, int64_t cls_id, int64_t sep_id)
    : config_(config), cls_id_(cls_id), sep_id_(sep_id) {
  const absl::Status valid = config.Validate();
  TORCH_CHECK(valid.ok(), "invalid model config: ", std::string(valid.message()));
  int64_t features;
  if (HasEncoder(config.variant)) {
    encoder_ = register_module("encoder", TransformerEncoder(*config.encoder));
    fusion_ = register_module(
        "fusion", DynamicFusion(config.encoder->num_hidden_layers, config.dynamic_fusion()));
    features = config.encoder->hidden_size;
  } else {
    char_embeddings_ = register_module(
        "char_embeddings", torch::nn::Embedding(config.vocab_size, config.char_embedding_dim));
    features = config.char_embedding_dim;
    if (config.bigram_buckets > 0) {
      bigram_embeddings_ = register_module(
          "bigram_embeddings",
          torch::nn::Embedding(config.bigram_buckets, config.bigram_embedding_dim));
      features += 2 * config.bigram_embedding_dim;
    }
  }
  dropout_ = register_module("dropout", torch::nn::Dropout(config.head_dropout));
  bilstm_ = register_module("bilstm", BiLstm(features, config.lstm_hidden));
  const auto num_labels = static_cast<int64_t>(config.labels.size());
  emissions_ =
      register_module("emissions", torch::nn::Linear(2 * config.lstm_hidden, num_labels));
  crf_ = register_module("crf", Crf(static_cast<int64_t>(config.labels.size())));
}

torch::Tensor NerModelImpl::Emissions(const TokenBatch& batch) {
  TORCH_CHECK(batch.token_ids.dim() == 2 && batch.mask.sizes() == batch.token_ids.sizes(),
              "token_ids and mask must both be [B, T]");
  const torch::Tensor mask = batch.mask.to(torch::kBool);
  torch::Tensor features;
  if (encoder_) {
    // [CLS] tokens [SEP] padding: SEP goes right after each row's last real token.
    const int64_t b = batch.token_ids.size(0);
    const int64_t t = batch.token_ids.size(1);
    auto opts = batch.token_ids.options();
    torch::Tensor ids = torch::zeros({b, t + 2}, opts);
    ids.index_put_({torch::indexing::Slice(), 0}, cls_id_);
    ids.index_put_({torch::indexing::Slice(), torch::indexing::Slice(1, t + 1)},
                   batch.token_ids.masked_fill(mask.logical_not(), 0));
    const torch::Tensor lengths = mask.sum(1);
    ids.scatter_(1, (lengths + 1).unsqueeze(1), sep_id_);
    torch::Tensor attention = torch::zeros({b, t + 2}, mask.options());
    attention.index_put_({torch::indexing::Slice(), torch::indexing::Slice(1, t + 1)}, mask);
    attention.index_put_({torch::indexing::Slice(), 0}, true);
    attention.scatter_(1, (lengths + 1).unsqueeze(1), true);
    EncoderOutput out = encoder_->Forward(ids, attention);
    // Fusion over the L layer outputs (not the embedding output), on the content positions,
    // in float32 even when the encoder runs in bfloat16.
    std::vector<torch::Tensor> layers;
    layers.reserve(out.hidden_states.size() - 1);
    for (size_t l = 1; l < out.hidden_states.size(); ++l) {
      layers.push_back(out.hidden_states[l]
                           .index({torch::indexing::Slice(), torch::indexing::Slice(1, t + 1)})
                           .to(emissions_->weight.scalar_type()));
    }
    features = fusion_->forward(layers);
  } else {
    const torch::Tensor ids = batch.token_ids.masked_fill(mask.logical_not(), 0);
    features = char_embeddings_->forward(ids);
    if (bigram_embeddings_) {
      const auto [left, right] =
          BigramBuckets(ids, mask, config_.vocab_size, config_.bigram_buckets);
      features = torch::cat(
          {features, bigram_embeddings_->forward(left), bigram_embeddings_->forward(right)}, 2);
    }
  }
  features = dropout_->forward(features);
  features = bilstm_->forward(features, mask);
  features = dropout_->forward(features);
  return emissions_->forward(features);
}

std::pair<torch::Tensor, torch::Tensor> BigramBuckets(const torch::Tensor& ids,
                                                      const torch::Tensor& mask,
                                                      int64_t vocab_size, int64_t buckets) {
  using torch::indexing::Slice;
  const torch::Tensor a = ids.to(torch::kLong);
  const torch::Tensor none = torch::full({a.size(0), 1}, -1, a.options());
  // Previous character: -1 at t = 0. Next character: -1 where t + 1 is past the length.
  const torch::Tensor previous = torch::cat({none, a.index({Slice(), Slice(0, -1)})}, 1);
  const torch::Tensor next_valid =
      torch::cat({mask.index({Slice(), Slice(1, torch::indexing::None)}),
                  torch::zeros({a.size(0), 1}, mask.options())},
                 1)
          .to(torch::kBool);
  const torch::Tensor next =
      torch::cat({a.index({Slice(), Slice(1, torch::indexing::None)}), none}, 1)
          .masked_fill(next_valid.logical_not(), -1);
  auto bucket = [&](const torch::Tensor& first, const torch::Tensor& second) {
    return ((first + 1) * (vocab_size + 1) + (second + 1)).remainder(buckets);
  };
  return {bucket(previous, a), bucket(a, next)};
}

torch::Tensor NerModelImpl::Loss(const TokenBatch& batch, const torch::Tensor& tags) {
  return -crf_->LogLikelihood(Emissions(batch), tags, batch.mask.to(torch::kBool)).mean();
}

torch::Tensor NerModelImpl::word_embeddings() const {
  if (char_embeddings_) return char_embeddings_->weight;
  for (const auto& item : encoder_->named_parameters()) {
    if (item.key().find("word_embeddings") != std::string::npos) return item.value();
  }
  TORCH_CHECK(false, "encoder has no word_embeddings parameter");
}

std::vector<torch::Tensor> NerModelImpl::EncoderParameters() const {
  return encoder_ ? encoder_->parameters() : std::vector<torch::Tensor>{};
}

std::vector<torch::Tensor> NerModelImpl::HeadParameters() const {
  std::vector<torch::Tensor> head;
  for (const auto& item : named_parameters()) {
    if (item.key().rfind("encoder.", 0) != 0) head.push_back(item.value());
  }
  return head;
}

void NerModelImpl::SetEncoderDtype(torch::Dtype dtype) {
  if (encoder_) encoder_->to(dtype);
  bilstm_->SetBf16Products(dtype == torch::kBFloat16);
}

absl::StatusOr<NerModel> CreateNerModel(const ModelConfig& config, int64_t cls_id,
                                        int64_t sep_id) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  try {
    return NerModel(config, cls_id, sep_id);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("cannot build model: ", e.what_without_backtrace()));
  }
}

}  // namespace ner::model
