#ifndef NER_MODEL_TRAINER_STATE_H_
#define NER_MODEL_TRAINER_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/checkpoint.h"
#include "model/state_dict.h"
#include "model/train_config.h"
#include "model/trainer_event.h"

namespace ner::model {

// What one finished epoch did.
struct EpochRecord {
  int epoch = 0;                 // 1-based
  int64_t steps = 0;             // optimizer steps in the epoch
  double train_loss = 0;         // mean clean loss over the epoch's steps
  std::optional<DevScores> dev;  // absent without a dev set
  double seconds = 0;            // wall time of the epoch, evaluation included
  // Where the epoch's time went (0 in states written before they were recorded):
  double data_seconds = 0;   // batch planning and batch assembly (ids, masks, tags -> tensors)
  double step_seconds = 0;   // forward, backward (adversarial included) and optimizer steps
  double eval_seconds = 0;   // dev evaluation
  int64_t characters = 0;    // training characters consumed by the epoch's steps
};

// Where a run stands after an epoch; enough, with the weights and the optimizer state, to resume
// it exactly. Plain data, stored as <out>/last/trainer_state.json.
struct TrainerState {
  TrainConfig config;  // the run's hyper-parameters (a resumed run keeps them)
  int epochs_completed = 0;
  int64_t global_step = 0;      // optimizer steps done
  int64_t total_steps = 0;      // planned optimizer steps of the run
  int64_t train_sequences = 0;  // training sequences; a resume with other data is refused
  std::optional<double> best_dev_f1;
  int best_epoch = 0;  // epoch of best_dev_f1 (0 = none yet)
  int epochs_without_improvement = 0;
  bool finished = false;    // the run ended (all epochs, max_steps or early stopping)
  std::string stop_reason;  // why it finished
  std::vector<EpochRecord> history;
  // Provenance: where the data and the initial encoder came from.
  std::string train_path;
  std::string dev_path;
  std::string init_from;

  std::string ToJson() const;
};

absl::StatusOr<TrainerState> ParseTrainerState(absl::string_view json);

// A resumable training snapshot: the directory
//   config.json, vocab.txt, model.safetensors   a regular checkpoint (LoadCheckpoint reads it)
//   optimizer.safetensors                      TrainingOptimizer::State()
//   trainer_state.json                         TrainerState
struct TrainingSnapshot {
  Checkpoint checkpoint;
  TensorMap optimizer_state;
  TrainerState state;
};

// Writes a snapshot to `dir` atomically: all files go into a sibling temporary directory that
// then replaces `dir` in one rename (an exchange when `dir` exists), so a crash at any point
// leaves either the previous snapshot or the new one, never a mix. Not thread-safe with respect
// to training the same model.
absl::Status SaveTrainingSnapshot(const std::string& dir, const Checkpoint& checkpoint,
                                  const TensorMap& optimizer_state, const TrainerState& state);

// Reads a snapshot written by SaveTrainingSnapshot (the model on the CPU, in eval mode).
// NOT_FOUND when `dir` holds none; other errors name the file.
absl::StatusOr<TrainingSnapshot> LoadTrainingSnapshot(const std::string& dir);

}  // namespace ner::model

#endif  // NER_MODEL_TRAINER_STATE_H_
