#ifndef NER_MODEL_MLM_MODEL_H_
#define NER_MODEL_MLM_MODEL_H_

// The masked-language-model network used to pretrain an encoder: TransformerEncoder + BERT's MLM
// head (dense -> activation -> LayerNorm -> decoder tied to the word embeddings + bias).

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "model/encoder_config.h"
#include "model/mlm_masking.h"
#include "model/transformer_encoder.h"

namespace ner::model {

// Masked sequences as tensors, right-padded to the longest.
struct MlmBatch {
  torch::Tensor input_ids;       // [B, T] int64, padding = the vocabulary's [PAD]
  torch::Tensor attention_mask;  // [B, T] bool, true on real tokens
  torch::Tensor labels;          // [B, T] int64, the original id at targets, kIgnoreLabel else
  int64_t num_tokens = 0;        // Real (non-padding) tokens in the batch.
};

// Builds a CPU batch from non-empty `sequences`. Thread-safe.
MlmBatch MakeMlmBatch(const std::vector<MaskedSequence>& sequences, int32_t pad_id);

// BERT's prediction head. Parameter names: dense.{weight,bias}, layer_norm.{weight,bias}, bias.
// Thread safety: as TransformerEncoder.
class MlmHeadImpl : public torch::nn::Module {
 public:
  // Fresh weights as the encoder's: normal(0, initializer_range), LayerNorm 1/0, bias 0.
  explicit MlmHeadImpl(const EncoderConfig& config);

  // hidden [N, H] -> logits [N, V] = LayerNorm(act(dense(hidden))) @ word_embeddings^T + bias,
  // with `word_embeddings` [V, H] the encoder's table (tied: gradients flow into it).
  torch::Tensor Forward(const torch::Tensor& hidden, const torch::Tensor& word_embeddings) const;

 private:
  std::string activation_;
  torch::nn::Linear dense_{nullptr};
  torch::nn::LayerNorm layer_norm_{nullptr};
  torch::Tensor bias_;
};
TORCH_MODULE(MlmHead);

// What MlmModel::Forward returns.
struct MlmOutput {
  torch::Tensor loss;       // Scalar: mean cross-entropy over the targets (0 without targets).
  int64_t num_targets = 0;  // Positions with a label.
  int64_t num_correct = 0;  // Targets whose arg-max prediction is the label.
};

// Encoder + MLM head. The head runs on the target positions only ([N, V] logits, not [B, T, V]).
// Thread safety: as TransformerEncoder (Forward only reads parameters).
class MlmModelImpl : public torch::nn::Module {
 public:
  // `config` must pass Validate() (throws c10::Error otherwise).
  explicit MlmModelImpl(const EncoderConfig& config);

  // Runs the network on `batch` (on the model's device); records gradients unless disabled.
  // Dropout follows train()/eval(). Bad inputs throw c10::Error.
  MlmOutput Forward(const MlmBatch& batch) const;

  // Every parameter under its checkpoint name, aliasing the parameters (not detached, so usable
  // for optimizers): the encoder's NamedWeights() names (`encoder.…`) and the head under
  // HuggingFace's names `cls.predictions.transform.dense.{weight,bias}`,
  // `cls.predictions.transform.LayerNorm.{weight,bias}` and `cls.predictions.bias`.
  std::vector<std::pair<std::string, torch::Tensor>> NamedParameters() const;

  // Copies every weight from `weights` (names as NamedParameters(), or anything the encoder's
  // LoadWeights accepts for the encoder part). INVALID_ARGUMENT for a missing or wrong-shape
  // weight; nothing is modified then. Not thread-safe.
  absl::Status LoadWeights(const std::map<std::string, torch::Tensor>& weights);

  TransformerEncoder encoder() const { return encoder_; }
  MlmHead head() const { return head_; }

 private:
  torch::Tensor WordEmbeddings() const;

  TransformerEncoder encoder_{nullptr};
  MlmHead head_{nullptr};
};
TORCH_MODULE(MlmModel);

}  // namespace ner::model

#endif  // NER_MODEL_MLM_MODEL_H_
