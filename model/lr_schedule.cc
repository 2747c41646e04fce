#include "model/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace ner::model {

absl::string_view LrDecayName(LrDecay decay) {
  switch (decay) {
    case LrDecay::kPerEpoch:
      return "epoch";
    case LrDecay::kLinear:
      return "linear";
  }
  return "?";
}

absl::StatusOr<LrDecay> ParseLrDecay(absl::string_view name) {
  if (name == "epoch") return LrDecay::kPerEpoch;
  if (name == "linear") return LrDecay::kLinear;
  return absl::InvalidArgumentError(
      absl::StrCat("lr_decay must be 'epoch' or 'linear', not '", name, "'"));
}

absl::Status LrScheduleConfig::Validate() const {
  if (total_steps < 1) return absl::InvalidArgumentError("total_steps must be >= 1");
  if (steps_per_epoch < 1) return absl::InvalidArgumentError("steps_per_epoch must be >= 1");
  if (!(warmup_fraction >= 0 && warmup_fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("warmup_fraction must be in [0, 1), not ", warmup_fraction));
  }
  if (!(decay_rate > 0 && decay_rate <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("decay_rate must be in (0, 1], not ", decay_rate));
  }
  return absl::OkStatus();
}

int64_t WarmupSteps(const LrScheduleConfig& config) {
  return static_cast<int64_t>(
      std::ceil(config.warmup_fraction * static_cast<double>(config.total_steps)));
}

double LrFactor(const LrScheduleConfig& config, int64_t step) {
  const int64_t warmup = WarmupSteps(config);
  const double warm =
      warmup == 0 ? 1.0
                  : std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(warmup));
  switch (config.decay) {
    case LrDecay::kPerEpoch:
      return warm * std::pow(config.decay_rate, static_cast<double>(step / config.steps_per_epoch));
    case LrDecay::kLinear: {
      const double done = static_cast<double>(std::max<int64_t>(0, step - warmup));
      const double span = static_cast<double>(std::max<int64_t>(1, config.total_steps - warmup));
      return warm * (1.0 - (1.0 - config.decay_rate) * std::min(1.0, done / span));
    }
  }
  return warm;
}

}  // namespace ner::model
