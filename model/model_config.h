#ifndef NER_MODEL_MODEL_CONFIG_H_
#define NER_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/encoder_config.h"
#include "model/tag_scheme.h"

namespace ner::model {

// The model variants of the paper's Table 4.
enum class Variant {
  kBiLstmCrf,         // trainable character embeddings -> BiLSTM -> CRF
  kBertBiLstmCrf,     // BERT (absolute positions), last layer -> BiLSTM -> CRF
  kNezhaBiLstmCrf,    // NEZHA (relative positions), last layer -> BiLSTM -> CRF
  kNezhaDfBiLstmCrf,  // NEZHA, dynamic fusion of all layer outputs -> BiLSTM -> CRF
};

// "bilstm-crf", "bert-bilstm-crf", "nezha-bilstm-crf", "nezha-df-bilstm-crf".
absl::string_view VariantName(Variant variant);
absl::StatusOr<Variant> ParseVariant(absl::string_view name);
// True for the variants with a transformer encoder.
bool HasEncoder(Variant variant);

// Everything needed to rebuild a model, stored as a checkpoint's config.json.
struct ModelConfig {
  Variant variant = Variant::kNezhaDfBiLstmCrf;
  // The transformer (transformer variants only). Its vocab_size must equal the vocabulary's.
  std::optional<EncoderConfig> encoder;
  int64_t vocab_size = 21128;       // rows of the character embedding (bilstm-crf) = vocab size
  int64_t char_embedding_dim = 100;  // bilstm-crf only
  // Character-bigram features (bilstm-crf only): each position also gets the embeddings of its
  // left bigram (previous character, this one) and its right bigram (this one, next character),
  // hashed into `bigram_buckets` rows (0 = off; a prime spreads the pairs best). The hash is
  // computed inside the model from the token ids, so training and serving cannot disagree.
  int64_t bigram_buckets = 0;
  int64_t bigram_embedding_dim = 50;
  int64_t lstm_hidden = 128;         // per direction
  double head_dropout = 0.1;         // dropout on the BiLSTM input and output
  TagScheme scheme = TagScheme::kBio;
  std::vector<std::string> labels;  // "O" first, then LabelsFor(scheme, types)
  int32_t max_chars = 512;           // segmentation: characters per piece (the paper's 512)
  // Free-form JSON object describing how the model was made (data, metrics, date, code
  // version); stored and returned verbatim. Empty = {}.
  std::string provenance_json;

  // Entity types in label order ("PER", "LOC", ...).
  std::vector<std::string> EntityTypes() const;
  // Dynamic fusion on (nezha-df-bilstm-crf) or off (the others).
  bool dynamic_fusion() const { return variant == Variant::kNezhaDfBiLstmCrf; }
  // Most content tokens per sequence: the encoder's window (max_position_embeddings - 2) for
  // transformer variants, max_chars otherwise.
  int64_t MaxTokens() const;
  // Characters per segment: min(max_chars, MaxTokens()); a token covers at least one character.
  int32_t SegmentChars() const;

  // OK or INVALID_ARGUMENT naming the problem (encoder presence matches the variant, labels are
  // "O" + a valid label set of the scheme, sizes positive, vocab sizes agree).
  absl::Status Validate() const;
  std::string ToJson() const;
};

absl::StatusOr<ModelConfig> ParseModelConfig(absl::string_view json);

// A config for `variant` over `types` with the given encoder (ignored for bilstm-crf).
ModelConfig MakeModelConfig(Variant variant, const EncoderConfig& encoder, TagScheme scheme,
                            const std::vector<std::string>& types);

}  // namespace ner::model

#endif  // NER_MODEL_MODEL_CONFIG_H_
