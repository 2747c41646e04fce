#ifndef NER_MODEL_TRAINER_H_
#define NER_MODEL_TRAINER_H_

#include <torch/types.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/checkpoint.h"
#include "model/entity.h"
#include "model/train_config.h"
#include "model/trainer_event.h"
#include "model/trainer_state.h"

namespace ner::model {

// One training run: what to train, on what, and where to write.
struct TrainJob {
  // Hyper-parameters. Ignored when resuming: the snapshot's saved config is used.
  TrainConfig config;
  // The model to train (fresh, or with an encoder from InitEncoderFromPretrained), with its
  // config and vocabulary; its labels define the label ids. Trained in place. Ignored when
  // resuming: the snapshot's model is used.
  Checkpoint initial;
  std::vector<Document> train;  // labelled training documents (any length: segmented here)
  std::vector<Document> dev;    // evaluated after each epoch; empty = no evaluation, and each
                                // epoch then counts as the best
  // Output directory: <out_dir>/best (the best dev F1, a Checkpoint) and <out_dir>/last (a
  // TrainingSnapshot written at each epoch end).
  std::string out_dir;
  // Continue the run in <out_dir>/last after its last completed epoch.
  bool resume = false;
  torch::Device device = torch::kCPU;
  // Provenance only: recorded in the saved configs.
  std::string train_path;
  std::string dev_path;
  std::string init_from;
};

struct TrainHooks {
  // Receives progress events, on the training thread, in order; keep it cheap. May be empty.
  std::function<void(const TrainEvent&)> on_event;
  // Set (from any thread) to stop: checked before every optimizer step. The run then returns
  // CANCELLED and leaves the last epoch-end snapshot and the best checkpoint as they were.
  const std::atomic<bool>* cancel = nullptr;
};

struct TrainResult {
  TrainerState state;               // final state: per-epoch history, best dev F1 and epoch
  std::string best_checkpoint;      // <out_dir>/best
  std::string last_checkpoint;      // <out_dir>/last
  std::vector<double> step_losses;  // clean loss of every step this call ran, in order
};

// Trains the paper's way: AdamW with encoder_lr for the encoder and head_lr for the rest (no
// weight decay on biases and LayerNorm weights), linear warm-up then decay (lr_schedule.h),
// global gradient clipping, optional adversarial training on the word embeddings
// (adversarial.h), length-bucketed batches of segments of at most SegmentChars() characters.
// After each epoch: evaluate on dev with a Recognizer over the model being trained (entity-level
// micro F1, the same as `ner evaluate` computes), save <out>/best when dev F1 improved (strictly)
// and the <out>/last snapshot, stop early after `early_stopping_patience` epochs without
// improvement. Both saves are atomic, so a kill -9 loses at most the epoch in progress, and
// `resume` continues from there: with the same data and one intra-op thread on the CPU, a resumed
// run computes bit-identical weights and losses to an uninterrupted one.
//
// Randomness: epoch e shuffles its batches with DeriveSeed(seed, e) and reseeds LibTorch's
// global generator (dropout) with DeriveSeed(seed, 1000 + e); initialise the model (e.g. call
// torch::manual_seed(seed) before building it) for a fully repeatable run.
//
// Errors: INVALID_ARGUMENT for a bad config or data (no training sequences, invalid UTF-8),
// FAILED_PRECONDITION when resuming without a snapshot or with other training data, CANCELLED
// (see TrainHooks::cancel), INTERNAL for LibTorch failures or a non-finite loss, and the I/O
// errors of saving. Not thread-safe: trains `job.initial.model` in place and reseeds LibTorch's
// global generator, so run one training per process at a time.
absl::StatusOr<TrainResult> Train(TrainJob job, const TrainHooks& hooks = {});

}  // namespace ner::model

#endif  // NER_MODEL_TRAINER_H_
