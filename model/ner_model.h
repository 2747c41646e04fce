#ifndef NER_MODEL_NER_MODEL_H_
#define NER_MODEL_NER_MODEL_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/bilstm.h"
#include "model/crf.h"
#include "model/dynamic_fusion.h"
#include "model/model_config.h"
#include "model/transformer_encoder.h"

namespace ner::model {

// A batch of token sequences as the model takes them: content tokens only (no [CLS]/[SEP]; the
// transformer variants add those themselves), right-padded.
struct TokenBatch {
  torch::Tensor token_ids;  // [B, T] int64
  torch::Tensor mask;       // [B, T] bool, each row a prefix of ones of length >= 1
};

// The NER network of the paper: encoder (NEZHA/BERT, or character embeddings for bilstm-crf,
// optionally with hashed character-bigram embeddings) -> [dynamic fusion of all layer outputs]
// -> dropout -> BiLSTM -> dropout -> linear emissions -> CRF.
//
// Thread safety: Emissions and Loss only read parameters (they are non-const because LibTorch's
// forward() methods are); concurrent calls are safe while no one modifies the module (training,
// to(), loading). One instance may be shared by inference workers under InferenceMode.
class NerModelImpl : public torch::nn::Module {
 public:
  // `config` must pass Validate() (throws c10::Error otherwise; CreateNerModel returns Status).
  // `cls_id`/`sep_id` are the vocabulary's [CLS]/[SEP] (transformer variants add them).
  NerModelImpl(const ModelConfig& config, int64_t cls_id, int64_t sep_id);

  const ModelConfig& config() const { return config_; }

  // [B, T, K] emission scores in float32 (or float64 when the head is float64), K = labels.
  torch::Tensor Emissions(const TokenBatch& batch);

  // Mean negative log-likelihood over the batch (the training loss). tags [B, T] int64 label ids.
  torch::Tensor Loss(const TokenBatch& batch, const torch::Tensor& tags);

  // The word/character embedding matrix [V, E] that adversarial training perturbs.
  torch::Tensor word_embeddings() const;

  // Encoder parameters (empty for bilstm-crf) vs. everything else, for the two learning rates.
  std::vector<torch::Tensor> EncoderParameters() const;
  std::vector<torch::Tensor> HeadParameters() const;

  // Runs the transformer in `dtype` (e.g. bfloat16 on CPU) while the head and CRF stay float32.
  // bfloat16 also makes the BiLSTM's inference step products bf16 where the CPU has AVX512-BF16
  // (BiLstmImpl::SetBf16Products; the bilstm-crf variant's only bf16 part).
  void SetEncoderDtype(torch::Dtype dtype);

  TransformerEncoder encoder() const { return encoder_; }
  DynamicFusion fusion() const { return fusion_; }
  Crf crf() const { return crf_; }

 private:
  ModelConfig config_;
  TransformerEncoder encoder_{nullptr};     // transformer variants
  torch::nn::Embedding char_embeddings_{nullptr};  // bilstm-crf
  torch::nn::Embedding bigram_embeddings_{nullptr};  // bilstm-crf with bigram_buckets > 0
  DynamicFusion fusion_{nullptr};           // transformer variants (disabled unless -df-)
  torch::nn::Dropout dropout_{nullptr};
  BiLstm bilstm_{nullptr};
  torch::nn::Linear emissions_{nullptr};
  Crf crf_{nullptr};
  int64_t cls_id_;
  int64_t sep_id_;
};
TORCH_MODULE(NerModel);

// Bucket ids [B, T] of each position's left (previous, this) and right (this, next) character
// bigrams for `ids` [B, T] under a prefix `mask` [B, T] (bool): the pair (a, b) of vocabulary
// ids, with -1 for "no character" before the first and after the last one, goes to bucket
// ((a + 1) * (vocab_size + 1) + (b + 1)) mod buckets. Padding positions get some bucket (the
// BiLSTM ignores them). Exposed for tests.
std::pair<torch::Tensor, torch::Tensor> BigramBuckets(const torch::Tensor& ids,
                                                      const torch::Tensor& mask,
                                                      int64_t vocab_size, int64_t buckets);

// Builds a freshly initialised model; `cls_id`/`sep_id` are the vocabulary's [CLS]/[SEP].
// INVALID_ARGUMENT when the config is invalid.
absl::StatusOr<NerModel> CreateNerModel(const ModelConfig& config, int64_t cls_id,
                                        int64_t sep_id);

}  // namespace ner::model

#endif  // NER_MODEL_NER_MODEL_H_
