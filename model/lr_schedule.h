#ifndef NER_MODEL_LR_SCHEDULE_H_
#define NER_MODEL_LR_SCHEDULE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// How the learning rate falls after warm-up. The paper lists only "decay_rate 0.5"; in the
// PyTorch NER code such a hyper-parameter comes from, it is the gamma of an ExponentialLR
// scheduler stepped once per epoch, so that is the default reading (kPerEpoch). kLinear is the
// gentler alternative for long runs.
enum class LrDecay {
  // factor = decay_rate ^ epoch: the rate is multiplied by decay_rate at each epoch boundary
  // (epoch 0 at 1x, epoch 1 at 0.5x, ... with decay_rate 0.5).
  kPerEpoch,
  // factor falls linearly from 1 right after warm-up to decay_rate at the end of the run.
  kLinear,
};

// "epoch" / "linear".
absl::string_view LrDecayName(LrDecay decay);
absl::StatusOr<LrDecay> ParseLrDecay(absl::string_view name);

// The schedule of one run, in optimizer steps. Plain data.
struct LrScheduleConfig {
  int64_t total_steps = 1;        // optimizer steps of the whole run, >= 1
  int64_t steps_per_epoch = 1;    // optimizer steps per epoch, >= 1
  double warmup_fraction = 0.05;  // share of total_steps spent warming up, in [0, 1)
  LrDecay decay = LrDecay::kPerEpoch;
  double decay_rate = 0.5;  // in (0, 1]; 1 = constant after warm-up

  // OK or INVALID_ARGUMENT naming the bad field.
  absl::Status Validate() const;
};

// Warm-up length W = ceil(warmup_fraction * total_steps) steps (0 when the fraction is 0).
int64_t WarmupSteps(const LrScheduleConfig& config);

// The factor in (0, 1] that multiplies every parameter group's peak learning rate for the
// 0-based optimizer step `step` (the step about to be taken):
//   warm(s)  = min(1, (s + 1) / W)                 linear warm-up, never 0 (1 when W = 0)
//   kPerEpoch: warm(s) * decay_rate ^ floor(s / steps_per_epoch)
//   kLinear:   warm(s) * (1 - (1 - decay_rate) * max(0, s - W) / max(1, total_steps - W))
// With the paper's 8 epochs and a 5% warm-up, warm-up ends in the first epoch, so kPerEpoch
// reads as "linear warm-up, then the rate halves at each new epoch". Pure; thread-safe.
// Precondition: config.Validate() is OK and step >= 0.
double LrFactor(const LrScheduleConfig& config, int64_t step);

}  // namespace ner::model

#endif  // NER_MODEL_LR_SCHEDULE_H_
