#ifndef NER_MODEL_MLM_PRETRAINER_H_
#define NER_MODEL_MLM_PRETRAINER_H_

// Masked-language-model pretraining of a NEZHA/BERT encoder on raw text (one paragraph per line):
// tokenize and pack the corpus, hold out validation sequences, train encoder + MLM head with
// AdamW under linear warm-up and decay, log, checkpoint and resume. The output directory is a
// pretrained encoder for InitEncoderFromPretrained (see mlm_checkpoint.h for its files).

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "model/encoder_config.h"
#include "model/mlm_checkpoint.h"
#include "model/mlm_corpus.h"
#include "model/mlm_masking.h"

namespace ner::model {

// Everything a run needs. When resuming, the output directory's config.json, seed, masking,
// max_len and validation size win over these (a differing value is logged).
struct PretrainOptions {
  std::string corpus;      // Files and directories for ListCorpusFiles (comma-separated).
  std::string vocab_path;  // vocab.txt; its size must equal encoder.vocab_size.
  std::string output_dir;  // Created or replaced atomically at every checkpoint.
  EncoderConfig encoder = NezhaTinyPreset();  // Architecture of a fresh run.
  CorpusOptions corpus_options;               // max_len (default 128) and an optional line cap.
  MaskingOptions masking;                     // 15 %, 80/10/10, optional whole-word.
  int32_t batch_size = 32;                    // Sequences per optimizer step.
  double learning_rate = 5e-4;                // Peak learning rate, reached after warm-up.
  double weight_decay = 0.01;                 // AdamW decay; not on biases and LayerNorm.
  double adam_beta1 = 0.9;                    // AdamW first-moment decay.
  double adam_beta2 = 0.999;                  // AdamW second-moment decay.
  double adam_epsilon = 1e-6;                 // AdamW denominator epsilon.
  double max_grad_norm = 1.0;                 // Global gradient-norm clip.
  // Linear warm-up steps; nullopt = 6 % of the schedule (at least 1).
  std::optional<int64_t> warmup_steps;
  // Stop after this many optimizer steps (in total, counting resumed ones); also the length of
  // the learning-rate schedule.
  std::optional<int64_t> max_steps;
  // Stop after this much wall time in this invocation. Without max_steps the schedule length is
  // estimated from a few timed steps so the learning rate reaches ~0 when the budget ends; a
  // resumed run keeps the saved schedule. At least one of max_steps and time_budget is needed.
  std::optional<absl::Duration> time_budget;
  uint64_t seed = 42;                  // Seeds init, split, epoch orders, masks and dropout.
  int64_t validation_sequences = 256;  // Held-out packed sequences (at most half the corpus).
  int64_t log_every = 20;              // Steps between progress lines.
  int64_t eval_every = 500;            // Steps between validation runs (and one at the end).
  std::optional<int64_t> checkpoint_every_steps;           // Save every this many steps ...
  absl::Duration checkpoint_interval = absl::Minutes(10);  // ... and at least this often.
  bool resume = false;  // Continue the run in output_dir (NOT_FOUND when there is none).

  // OK or INVALID_ARGUMENT naming the first bad field.
  absl::Status Validate() const;
};

// One progress line's numbers, averaged over the steps since the previous one.
struct PretrainLogEntry {
  int64_t step = 0;              // Steps done.
  double learning_rate = 0;      // Of the last step.
  double loss = 0;               // Mean MLM loss per target.
  double accuracy = 0;           // Share of targets predicted exactly.
  double grad_norm = 0;          // Mean pre-clip global gradient norm.
  double tokens_per_second = 0;  // Real tokens per second of training-step time.
};

// What the run returns.
struct PretrainResult {
  PretrainState state;                // As saved at the end.
  int64_t first_step = 0;             // Step this invocation started at (0 unless resumed).
  std::string stop_reason;            // "max_steps", "schedule", "time_budget" or "cancelled".
  std::vector<PretrainLogEntry> log;  // Every progress entry of this invocation.
  std::optional<double> initial_validation_loss;  // Fresh runs: before the first step.
  double tokens_per_second = 0;                   // Over all training steps of this invocation.
};

// The edges: clock, cancellation and an optional progress observer.
struct PretrainEnvironment {
  std::function<absl::Time()> clock = [] { return absl::Now(); };
  // Checked before every step; when set the run saves a checkpoint and returns "cancelled".
  const std::atomic<bool>* cancel = nullptr;
  // Called after every progress line (in the training thread).
  std::function<void(const PretrainLogEntry&)> on_log;
};

// Runs (or resumes) pretraining until max_steps, the schedule's end, the time budget or
// cancellation, then evaluates, saves and returns. Progress goes to the log. Errors: the
// options' INVALID_ARGUMENT; NOT_FOUND for missing inputs; FAILED_PRECONDITION when output_dir
// already holds a run and resume is off, or the corpus differs from the resumed run's;
// INTERNAL for LibTorch failures or a non-finite loss (the last checkpoint is kept).
// Uses LibTorch's global generator (seeded per step) and threads; one run per process at a time.
absl::StatusOr<PretrainResult> Pretrain(const PretrainOptions& options,
                                        const PretrainEnvironment& environment = {});

// The learning rate of 0-based step `step`: peak * (step + 1) / warmup during warm-up, then a
// linear decay to 0 at `schedule_steps`. Pure.
double PretrainLearningRate(double peak, int64_t step, int64_t warmup_steps,
                            int64_t schedule_steps);

}  // namespace ner::model

#endif  // NER_MODEL_MLM_PRETRAINER_H_
