#include "client/retry.h"

#include <algorithm>
#include <cmath>

namespace ner::client {

bool IsRetryable(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable ||
         status.code() == absl::StatusCode::kResourceExhausted;
}

absl::Duration BackoffCeiling(const RetryPolicy& policy, int retry) {
  if (retry < 1) retry = 1;
  // Computed in seconds as a double: the power overflows no integer, and the min caps it.
  const double seconds = absl::ToDoubleSeconds(policy.initial_backoff) *
                         std::pow(policy.backoff_multiplier, retry - 1);
  const double cap = absl::ToDoubleSeconds(policy.max_backoff);
  return absl::Seconds(std::min(seconds, cap));
}

absl::Duration RetryDelay(const RetryPolicy& policy, int retry, double unit_random) {
  const absl::Duration ceiling = BackoffCeiling(policy, retry);
  if (!policy.full_jitter) return ceiling;
  return ceiling * std::clamp(unit_random, 0.0, 1.0);
}

Backoff::Backoff(RetryPolicy policy)
    : policy_(std::move(policy)), random_(std::random_device{}()) {}

absl::Duration Backoff::Delay(int retry) {
  double unit;
  {
    std::lock_guard<std::mutex> lock(mu_);
    unit = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
  }
  return RetryDelay(policy_, retry, unit);
}

}  // namespace ner::client
