#ifndef NER_MODEL_TRAIN_CONFIG_H_
#define NER_MODEL_TRAIN_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/adversarial.h"
#include "model/encoder_config.h"
#include "model/lr_schedule.h"
#include "model/model_config.h"
#include "model/tag_scheme.h"

namespace ner::model {

// Hyper-parameters of a training run. Defaults are the paper's Table 1. Stored in the run's
// trainer_state.json and in the saved model's provenance; read from a JSON file whose keys are
// the field names below (see ParseTrainConfig). Plain data.
struct TrainConfig {
  // --- Optimisation (AdamW, two learning rates) ---
  int epochs = 8;              // passes over the training data
  int batch_size = 16;         // sequences (segments) per optimizer step
  double encoder_lr = 5e-5;    // peak learning rate of the transformer encoder
  double head_lr = 1e-4;       // peak learning rate of everything else (fusion, BiLSTM, CRF,
                               // emissions, bilstm-crf's character embeddings)
  double weight_decay = 0.01;  // AdamW decoupled decay; never on biases and LayerNorm weights
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double warmup_fraction = 0.05;          // linear warm-up over this share of all steps
  LrDecay lr_decay = LrDecay::kPerEpoch;  // after warm-up; see lr_schedule.h
  double decay_rate = 0.5;                // the paper's decay_rate (per-epoch factor by default)
  double max_grad_norm = 1.0;             // global L2 gradient clipping
  uint64_t seed = 42;                     // batches, dropout and initialisation derive from it
  // Stop after this many optimizer steps in total (smoke runs); nullopt = all epochs. The LR
  // schedule then spans the shortened run.
  std::optional<int64_t> max_steps;
  // Stop when dev F1 has not improved for this many epochs; nullopt = never.
  std::optional<int> early_stopping_patience;
  // Length bucketing: sequences are shuffled, cut into pools of this many batches, sorted by
  // length inside each pool and batched, and the batches shuffled. 1 = no bucketing.
  int bucket_pool_batches = 50;
  int eval_batch_size = 32;  // pieces per batch when evaluating on dev

  // --- Adversarial training on the word embeddings ---
  AdversarialConfig adversarial;  // FGM with epsilon 1.0

  // --- Model (used to build a fresh model; a resumed run keeps its saved model) ---
  Variant variant = Variant::kNezhaDfBiLstmCrf;
  // Encoder shape without --init: nezha-tiny, nezha-base, bert-tiny or bert-base.
  std::string preset = "nezha-base";
  int64_t lstm_hidden = 128;  // per direction
  double head_dropout = 0.1;
  int64_t char_embedding_dim = 100;  // bilstm-crf only
  int64_t bigram_buckets = 0;        // bilstm-crf only: character-bigram features (0 = off)
  int64_t bigram_embedding_dim = 50;
  int32_t max_chars = 512;           // characters per training/inference segment
  // Tag scheme of the model's labels; nullopt = the training file's (BIO for JSONL data).
  std::optional<TagScheme> label_scheme;

  // OK or INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
  // Every field, as a JSON object with the field names as keys (nullopt -> null).
  std::string ToJson() const;
};

// Overrides the fields of `config` named in the JSON object `json` (other fields keep their
// values). Enums are given by name ("fgm", "epoch", "nezha-df-bilstm-crf", "bio"); optionals
// accept null. An unknown key, a wrong type or a bad name is INVALID_ARGUMENT naming the key.
// Does not call Validate().
absl::Status ApplyTrainConfigJson(absl::string_view json, TrainConfig* config);
// Defaults overridden by `json`, then validated.
absl::StatusOr<TrainConfig> ParseTrainConfig(absl::string_view json);

// The encoder shape of a preset name: "nezha-tiny", "nezha-base", "bert-base".
absl::StatusOr<EncoderConfig> EncoderPreset(absl::string_view name);

// The model config of a fresh model trained with `config` over entity `types` (sorted, as they
// appear in the data): its variant and head sizes, `encoder` (ignored for bilstm-crf; its
// vocab_size is set to `vocab_size`), the label scheme (config.label_scheme, else
// `data_scheme`) and labels. INVALID_ARGUMENT if the result does not validate.
absl::StatusOr<ModelConfig> ModelConfigForTraining(const TrainConfig& config,
                                                   const EncoderConfig& encoder,
                                                   TagScheme data_scheme,
                                                   const std::vector<std::string>& types,
                                                   int64_t vocab_size);

}  // namespace ner::model

#endif  // NER_MODEL_TRAIN_CONFIG_H_
