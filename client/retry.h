#ifndef NER_CLIENT_RETRY_H_
#define NER_CLIENT_RETRY_H_

#include <cstdint>
#include <mutex>
#include <random>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "client/client_options.h"

namespace ner::client {

// True for the codes a call is retried on: UNAVAILABLE and RESOURCE_EXHAUSTED. Pure.
bool IsRetryable(const absl::Status& status);

// The ceiling of the wait before retry `retry` (1 = after the first failed attempt):
// min(max_backoff, initial_backoff * multiplier^(retry-1)). Pure.
absl::Duration BackoffCeiling(const RetryPolicy& policy, int retry);

// The wait before retry `retry`: the ceiling itself without full jitter, else
// `unit_random` (in [0, 1)) times the ceiling. Pure.
absl::Duration RetryDelay(const RetryPolicy& policy, int retry, double unit_random);

// Draws retry delays with a private random generator. Thread-safe.
class Backoff {
 public:
  explicit Backoff(RetryPolicy policy);

  const RetryPolicy& policy() const { return policy_; }
  // RetryDelay(policy, retry, uniform draw).
  absl::Duration Delay(int retry);

 private:
  const RetryPolicy policy_;
  std::mutex mu_;
  std::mt19937_64 random_;  // guarded by mu_
};

}  // namespace ner::client

#endif  // NER_CLIENT_RETRY_H_
