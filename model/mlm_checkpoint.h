#ifndef NER_MODEL_MLM_CHECKPOINT_H_
#define NER_MODEL_MLM_CHECKPOINT_H_

// The output directory of MLM pretraining: a pretrained encoder that InitEncoderFromPretrained
// reads, plus what a run needs to resume.
//   config.json            EncoderConfig::ToJson() (HuggingFace style)
//   vocab.txt              the vocabulary
//   model.safetensors      encoder weights under NamedWeights() names (`encoder.…`) and the MLM
//                          head as `cls.predictions.*` (LoadWeights ignores those)
//   optimizer.safetensors  AdamW state per parameter: `<name>.exp_avg`, `<name>.exp_avg_sq` and
//                          `<name>.step` (int64 [1]), as TrainingOptimizer::State() names them
//   pretrain_state.json    PretrainState: step, data position, schedule, data fingerprint
// The directory is replaced as a whole (ReplaceDirectoryAtomically), so a reader or a resumed run
// never sees weights of one step with optimizer state of another.

#include <torch/optim/adamw.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/mlm_masking.h"
#include "model/mlm_model.h"
#include "model/vocab.h"

namespace ner::model {

inline constexpr char kPretrainStateFile[] = "pretrain_state.json";

// Where a pretraining run stands, beyond the weights. Plain data.
struct PretrainState {
  int64_t step = 0;            // Optimizer steps done.
  int64_t epoch = 0;           // Current pass over the training sequences (0-based).
  int64_t epoch_position = 0;  // Training sequences of `epoch` already consumed.
  int64_t schedule_steps = 0;  // The learning rate decays to 0 at this step.
  int64_t warmup_steps = 0;    // Linear warm-up length in steps.
  int64_t tokens_seen = 0;     // Real tokens in all training batches so far.
  double train_seconds = 0;    // Wall time of all runs so far.
  uint64_t seed = 0;           // Seeds the split, the epoch orders, the masks and dropout.
  // The data fingerprint: a resumed run must pack the same corpus the same way.
  int32_t max_len = 0;
  int64_t num_sequences = 0;
  int64_t num_tokens = 0;
  int64_t validation_sequences = 0;
  MaskingOptions masking;
  // The latest metrics on the validation sequences and the step they were measured at.
  std::optional<double> validation_loss;
  std::optional<double> validation_accuracy;
  std::optional<int64_t> validation_step;

  std::string ToJson() const;
};

// Parses pretrain_state.json. INVALID_ARGUMENT for malformed JSON or a missing/mistyped field.
absl::StatusOr<PretrainState> ParsePretrainState(absl::string_view json);

// Writes everything listed above to `dir` atomically. Tensors are copied to the CPU first.
// Not thread-safe with respect to training `model`.
absl::Status SavePretraining(const std::string& dir, const MlmModel& model,
                             const torch::optim::AdamW& optimizer, const Vocab& vocab,
                             const PretrainState& state);

// Loads the weights and optimizer moments of `dir` into `model` and `optimizer` (both built for
// the directory's config.json; parameters are matched by name) and returns its state.
// NOT_FOUND when `dir` has no pretrain_state.json; INVALID_ARGUMENT for mismatched weights or
// moments. On error `model` and `optimizer` may be partly loaded. Not thread-safe.
absl::StatusOr<PretrainState> RestorePretraining(const std::string& dir, MlmModel& model,
                                                 torch::optim::AdamW& optimizer);

}  // namespace ner::model

#endif  // NER_MODEL_MLM_CHECKPOINT_H_
