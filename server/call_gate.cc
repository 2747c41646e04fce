#include "server/call_gate.h"

namespace ner::server {

absl::Status CallGate::Enter() {
  absl::MutexLock lock(&mu_);
  if (closed_) {
    return absl::UnavailableError("the server is shutting down; retry on another replica");
  }
  ++in_progress_;
  return absl::OkStatus();
}

void CallGate::Leave() {
  absl::MutexLock lock(&mu_);
  --in_progress_;
}

void CallGate::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

bool CallGate::AwaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_progress_ == 0; };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

int64_t CallGate::in_progress() const {
  absl::MutexLock lock(&mu_);
  return in_progress_;
}

}  // namespace ner::server
