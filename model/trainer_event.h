#ifndef NER_MODEL_TRAINER_EVENT_H_
#define NER_MODEL_TRAINER_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ner::model {

// Entity-level micro scores on the dev set, fractions in [0, 1].
struct DevScores {
  double precision = 0;
  double recall = 0;
  double f1 = 0;
};

// A progress report of a training run, delivered to TrainHooks::on_event (the CLI draws a
// progress bar from it; the gRPC Train RPC streams it). Plain data.
struct TrainEvent {
  enum class Phase {
    kInfo,        // a message for the user (data statistics, label alignment, resuming)
    kStarted,     // data encoded and model ready; training begins (or resumes)
    kStep,        // an optimizer step finished
    kEvaluated,   // an epoch ended and was evaluated on dev (`dev` set when there is a dev set)
    kCheckpoint,  // a checkpoint was written to `checkpoint_path` (<out>/best or <out>/last)
    kFinished,    // the run ended: all epochs, max_steps or early stopping (`message` says)
    kCancelled,   // cancellation was observed; the last checkpoint is left as it was
  };

  Phase phase = Phase::kInfo;
  int epoch = 0;                // 1-based epoch in progress, or just finished
  int epochs = 0;               // planned epochs
  int64_t step = 0;             // optimizer steps done in the whole run
  int64_t total_steps = 0;      // planned optimizer steps of the whole run
  int64_t epoch_step = 0;       // optimizer steps done in this epoch
  int64_t steps_per_epoch = 0;  // optimizer steps per epoch
  // kStep: this step's clean loss; kEvaluated and later: the epoch's mean clean loss.
  double loss = 0;
  double learning_rate = 0;           // kStep: the head's learning rate used by the step
  double chars_per_second = 0;        // training throughput of the epoch so far (code points/s)
  std::optional<DevScores> dev;       // kEvaluated (and kFinished): dev scores of the epoch
  std::optional<double> best_dev_f1;  // best dev F1 so far
  absl::Duration eta;                 // estimated time to the end of the run
  std::string checkpoint_path;        // kCheckpoint
  std::string message;                // human-readable detail
};

// "info", "started", "step", "evaluated", "checkpoint", "finished", "cancelled".
absl::string_view TrainPhaseName(TrainEvent::Phase phase);

}  // namespace ner::model

#endif  // NER_MODEL_TRAINER_EVENT_H_
