#ifndef NER_MODEL_ENCODER_CONFIG_H_
#define NER_MODEL_ENCODER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ner::model {

// Which transformer variant a config describes.
enum class EncoderKind {
  kNezha,  // Functional relative positions in attention, no absolute position embeddings.
  kBert,   // Learned absolute position embeddings, plain attention.
};

// Returns "nezha" or "bert" (the HuggingFace `model_type`). Thread-safe.
std::string_view EncoderKindName(EncoderKind kind);

// Hyper-parameters of a NEZHA or BERT encoder, with HuggingFace `config.json` field names.
// Plain data; defaults are those of the published Chinese base models (NezhaBasePreset()).
struct EncoderConfig {
  EncoderKind kind = EncoderKind::kNezha;     // From `model_type`, else `use_relative_position`.
  int64_t vocab_size = 21128;                 // Rows of the word embedding table.
  int64_t hidden_size = 768;                  // H: width of every hidden state.
  int64_t num_hidden_layers = 12;             // L: number of transformer layers.
  int64_t num_attention_heads = 12;           // Heads per layer; hidden_size % heads == 0.
  int64_t intermediate_size = 3072;           // Width of the feed-forward inner layer.
  std::string hidden_act = "gelu";            // "gelu" (exact erf), "gelu_new" (tanh) or "relu".
  double hidden_dropout_prob = 0.1;           // Dropout on embeddings and sub-layer outputs.
  double attention_probs_dropout_prob = 0.1;  // Dropout on attention probabilities.
  int64_t max_position_embeddings = 512;      // BERT: rows of the position table (hard limit on
                                              // T). NEZHA: the pretraining length (no hard limit).
  int64_t max_relative_position = 64;         // R (NEZHA only): distances are clipped to [-R, R].
  int64_t type_vocab_size = 2;                // Rows of the token-type (segment) embedding table.
  double layer_norm_eps = 1e-12;              // Epsilon of every LayerNorm.
  double initializer_range = 0.02;            // Std of the normal init of fresh weights.

  // Returns the per-head width hidden_size / num_attention_heads.
  int64_t HeadSize() const {
    return num_attention_heads > 0 ? hidden_size / num_attention_heads : 0;
  }

  // Returns OK or INVALID_ARGUMENT naming the first bad field: sizes positive, hidden_size
  // divisible by num_attention_heads, an even head size for NEZHA (sin/cos pairs), a known
  // activation, probabilities in [0, 1), layer_norm_eps > 0. Thread-safe.
  absl::Status Validate() const;

  // Returns the config as HuggingFace-style JSON (`model_type`, and for NEZHA
  // `use_relative_position: true`), which ParseEncoderConfig reads back unchanged. Thread-safe.
  std::string ToJson() const;
};

// Parses a HuggingFace `config.json` (NEZHA or BERT; the Huawei NEZHA release too). Missing
// fields keep the EncoderConfig defaults; unknown fields are ignored. The kind is NEZHA when
// `model_type` is "nezha", BERT when it is "bert" (or another BERT-like type) unless
// `use_relative_position` is true; without `model_type` it is NEZHA iff `use_relative_position`
// is true or `max_relative_position` is present. Returns INVALID_ARGUMENT for malformed JSON, a
// field of the wrong type, or a config that fails Validate(). Thread-safe.
absl::StatusOr<EncoderConfig> ParseEncoderConfig(std::string_view json);

// Reads and parses `path`: a config.json file, or a directory holding one. NOT_FOUND when the
// file is missing; otherwise as ParseEncoderConfig. Thread-safe.
absl::StatusOr<EncoderConfig> LoadEncoderConfig(const std::string& path);

// NEZHA-base (Chinese): 12 layers, H=768, 12 heads, FFN 3072, R=64, vocab 21128, type vocab 2,
// max positions 512.
EncoderConfig NezhaBasePreset();

// A small NEZHA for fast experiments: 4 layers, H=256, 4 heads, FFN 1024, R=64, vocab 21128.
EncoderConfig NezhaTinyPreset();

// BERT of nezha-tiny's size (absolute positions instead of relative ones), for comparisons.
EncoderConfig BertTinyPreset();

// BERT-base (Chinese): 12 layers, H=768, 12 heads, FFN 3072, vocab 21128, max positions 512.
EncoderConfig BertBasePreset();

}  // namespace ner::model

#endif  // NER_MODEL_ENCODER_CONFIG_H_
