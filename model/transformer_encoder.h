#ifndef NER_MODEL_TRANSFORMER_ENCODER_H_
#define NER_MODEL_TRANSFORMER_ENCODER_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/encoder_config.h"
#include "model/relative_position.h"  // IWYU pragma: export

namespace ner::model {

// What TransformerEncoder::Forward returns.
struct EncoderOutput {
  // L + 1 tensors [B, T, H] in the encoder's dtype and device: hidden_states[0] is the embedding
  // output, hidden_states[l] the output of layer l. Values at padded positions are meaningless.
  std::vector<torch::Tensor> hidden_states;

  const torch::Tensor& embedding_output() const { return hidden_states.front(); }
  const torch::Tensor& last_hidden_state() const { return hidden_states.back(); }
};

class EncoderLayerImpl;  // One transformer layer; defined in transformer_encoder.cc.

// A NEZHA or BERT encoder (EncoderConfig::kind), post-LayerNorm like the published models:
// embeddings (word + token type, + absolute positions for BERT) -> LayerNorm -> dropout, then L
// layers of self-attention (NEZHA: with relative-position terms) -> dense -> dropout -> residual
// -> LayerNorm -> dense -> activation -> dense -> dropout -> residual -> LayerNorm.
//
// Built in float32 on the CPU with fresh weights (normal(0, initializer_range), LayerNorm 1/0);
// use LoadWeights for pretrained ones and .to() for another dtype or device: nothing but the
// mask constant assumes float32. Dropout is active only in training mode (train()/eval()).
//
// Thread safety: Forward and NamedWeights only read the parameters, so concurrent calls are safe
// while nobody modifies the module (training step, LoadWeights, .to(), train()/eval()).
class TransformerEncoderImpl : public torch::nn::Module {
 public:
  // `config` must pass Validate(); throws c10::Error otherwise (CreateTransformerEncoder returns
  // a Status instead).
  explicit TransformerEncoderImpl(const EncoderConfig& config);
  ~TransformerEncoderImpl() override;

  const EncoderConfig& config() const { return config_; }

  // Returns the most content tokens one sequence may hold, excluding [CLS] and [SEP]:
  // max_position_embeddings - 2. For BERT this is a hard limit (position table size). NEZHA has no
  // position table and Forward accepts any length, but it was pretrained on sequences of at most
  // max_position_embeddings, so callers should window at this size too.
  int64_t MaxTokens() const { return config_.max_position_embeddings - 2; }

  // Runs the encoder. input_ids [B, T] integer token ids in [0, vocab_size); attention_mask
  // [B, T] (bool, integer or float; nonzero = real token, 0 = padding, whose keys get the dtype's
  // lowest value added to the attention scores); token_type_ids [B, T] in [0, type_vocab_size),
  // undefined = all zeros. Inputs must be on the encoder's device; T >= 1, and for BERT
  // T <= max_position_embeddings. Bad shapes or values throw c10::Error. Records gradients unless
  // the caller holds a NoGradGuard / InferenceMode.
  EncoderOutput Forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& token_type_ids = torch::Tensor()) const;

  // Copies weights from a checkpoint's tensors (any float dtype/device; converted to the
  // encoder's). Accepted names, each optionally prefixed by `nezha.`, `bert.` or `module.`:
  //   HuggingFace NEZHA/BERT (`embeddings.word_embeddings.weight`,
  //   `encoder.layer.0.attention.self.query.weight`, `...attention.output.dense.bias`,
  //   `...attention.output.LayerNorm.weight`, `...intermediate.dense.weight`,
  //   `...output.dense.weight`, `...output.LayerNorm.bias`), the old `LayerNorm.gamma` /
  //   `LayerNorm.beta` spellings, and the names NamedWeights() exports.
  // Ignored (noted in `log`): relative_positions_encoding buffers, position_ids/token_type_ids
  // buffers, `pooler.*`, `cls.*`, `classifier.*`. Other names are noted in `log` as unexpected
  // (e.g. BERT position embeddings given to a NEZHA encoder). `log` may be null.
  // Returns INVALID_ARGUMENT listing every missing weight, every shape mismatch (name, checkpoint
  // shape, expected shape) and every name given twice; on error nothing is modified.
  // Not thread-safe: no concurrent Forward.
  absl::Status LoadWeights(const std::map<std::string, torch::Tensor>& state_dict,
                           std::vector<std::string>* unexpected_or_ignored_log = nullptr);

  // Returns every parameter under this project's canonical names, which LoadWeights reads back:
  // `encoder.embeddings.{word_embeddings,token_type_embeddings,position_embeddings}.weight`,
  // `encoder.embeddings.layer_norm.{weight,bias}` and
  // `encoder.layers.<l>.{query,key,value,attention_output,attention_layer_norm,intermediate,
  // output,output_layer_norm}.{weight,bias}`. The tensors alias the parameters (detached, no
  // copy); clone them to keep a snapshot.
  std::map<std::string, torch::Tensor> NamedWeights() const;

  // Returns the relative-position table [2R + 1, d] float32 on the CPU (undefined for BERT).
  const torch::Tensor& relative_position_table() const { return relative_table_; }

 private:
  torch::Tensor Embed(const torch::Tensor& input_ids, const torch::Tensor& token_type_ids) const;

  EncoderConfig config_;
  torch::nn::Embedding word_embeddings_{nullptr};
  torch::nn::Embedding token_type_embeddings_{nullptr};
  torch::nn::Embedding position_embeddings_{nullptr};  // BERT only.
  torch::nn::LayerNorm embeddings_layer_norm_{nullptr};
  std::vector<std::shared_ptr<EncoderLayerImpl>> layers_;  // Registered as "layers".
  // Derived, not a parameter or buffer (Module::to() would also cast integer buffers); cast to
  // the activations' dtype/device per Forward, which costs (2R + 1) * d elements.
  torch::Tensor relative_table_;
};
TORCH_MODULE(TransformerEncoder);

// Returns a fresh encoder, or INVALID_ARGUMENT when `config` fails Validate(). Thread-safe.
absl::StatusOr<TransformerEncoder> CreateTransformerEncoder(const EncoderConfig& config);

}  // namespace ner::model

#endif  // NER_MODEL_TRANSFORMER_ENCODER_H_
