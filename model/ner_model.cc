#include "model/ner_model.h"

#include <torch/torch.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "model/linear_cpu.h"

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

namespace {

// What the inference loops below (and lstm_cpu's) take: a defined float32 tensor on the CPU.
inline bool CpuFloat(const torch::Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat;
}

// Touches every cache line of `bytes` bytes at `p`.
inline void PrefetchRow(const float* p, int64_t bytes) {
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
  __builtin_prefetch(c + bytes - 1);
}

// The char embedding and both bigram embeddings of every position, looked up straight into their
// concatenation [B, T, Dc + 2 Db], for inference (no autograd) on float CPU tables. The bigram
// table (300K buckets by 50 in the default model, 60 MB) is far larger than the caches, so
// almost every lookup waits on memory: index_select copied the rows one after another, waiting on
// each, and the concatenation copied them all once more; here the rows a few positions ahead are
// prefetched while the current ones are copied, once.
torch::Tensor GatherCharsAndBigrams(const torch::Tensor& char_table,
                                    const torch::Tensor& bigram_table, const torch::Tensor& ids,
                                    const torch::Tensor& left, const torch::Tensor& right) {
  const int64_t b = ids.size(0), t = ids.size(1);
  const int64_t chars = char_table.size(0), buckets = bigram_table.size(0);
  const int64_t dc = char_table.size(1), db = bigram_table.size(1);
  const torch::Tensor id = ids.to(torch::kLong).contiguous();
  const torch::Tensor l = left.contiguous(), r = right.contiguous();
  const int64_t* id_p = id.data_ptr<int64_t>();
  const int64_t* l_p = l.data_ptr<int64_t>();
  const int64_t* r_p = r.data_ptr<int64_t>();
  const int64_t n = b * t;
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(id_p[i] >= 0 && id_p[i] < chars && l_p[i] >= 0 && l_p[i] < buckets &&
                    r_p[i] >= 0 && r_p[i] < buckets,
                "embedding index out of range at position ", i);
  }
  const torch::Tensor ct = char_table.contiguous(), bt = bigram_table.contiguous();
  const float* c_p = ct.data_ptr<float>();
  const float* b_p = bt.data_ptr<float>();
  torch::Tensor out = torch::empty({b, t, dc + 2 * db}, char_table.options());
  float* o = out.data_ptr<float>();
  const size_t c_bytes = sizeof(float) * static_cast<size_t>(dc);
  const size_t b_bytes = sizeof(float) * static_cast<size_t>(db);
  constexpr int64_t kAhead = 8;  // positions: enough misses in flight to cover the latency
  for (int64_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      PrefetchRow(c_p + id_p[i + kAhead] * dc, static_cast<int64_t>(c_bytes));
      PrefetchRow(b_p + l_p[i + kAhead] * db, static_cast<int64_t>(b_bytes));
      PrefetchRow(b_p + r_p[i + kAhead] * db, static_cast<int64_t>(b_bytes));
    }
    std::memcpy(o, c_p + id_p[i] * dc, c_bytes);
    std::memcpy(o + dc, b_p + l_p[i] * db, b_bytes);
    std::memcpy(o + dc + db, b_p + r_p[i] * db, b_bytes);
    o += dc + 2 * db;
  }
  return out;
}

}  // namespace

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
    if (bigram_embeddings_) {
      const auto [left, right] =
          BigramBuckets(ids, mask, config_.vocab_size, config_.bigram_buckets);
      const torch::Tensor& chars = char_embeddings_->weight;
      const torch::Tensor& bigrams = bigram_embeddings_->weight;
      if (!torch::GradMode::is_enabled() && CpuFloat(chars) && CpuFloat(bigrams)) {
        features = GatherCharsAndBigrams(chars, bigrams, ids, left, right);
      } else {
        features = torch::cat({char_embeddings_->forward(ids), bigram_embeddings_->forward(left),
                               bigram_embeddings_->forward(right)},
                              2);
      }
    } else {
      features = char_embeddings_->forward(ids);
    }
  }
  features = dropout_->forward(features);
  features = bilstm_->forward(features, mask);
  features = dropout_->forward(features);
  const torch::Tensor& weight = emissions_->weight;
  const torch::Tensor& bias = emissions_->bias;
  if (!torch::GradMode::is_enabled() && CpuFloat(features) && CpuFloat(weight) &&
      CpuFloat(bias)) {
    const torch::Tensor x = features.contiguous();
    const torch::Tensor w = weight.contiguous(), b = bias.contiguous();
    torch::Tensor out = torch::empty({x.size(0), x.size(1), w.size(0)}, x.options());
    linear_cpu::SmallLinear(x.data_ptr<float>(), x.size(0) * x.size(1), x.size(2),
                            w.data_ptr<float>(), b.data_ptr<float>(), w.size(0),
                            out.data_ptr<float>());
    return out;
  }
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
