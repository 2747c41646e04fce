#include "server/call_gate.h"

#include <utility>
#include <vector>

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
  std::vector<std::function<void()>> listeners;
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return;
    closed_ = true;
    listeners.reserve(listeners_.size());
    for (auto& [handle, listener] : listeners_) listeners.push_back(std::move(listener));
    listeners_.clear();
  }
  for (std::function<void()>& listener : listeners) listener();
}

int64_t CallGate::AddCloseListener(std::function<void()> on_close) {
  absl::MutexLock lock(&mu_);
  if (closed_) return 0;
  const int64_t handle = next_listener_++;
  listeners_.emplace(handle, std::move(on_close));
  return handle;
}

void CallGate::RemoveCloseListener(int64_t handle) {
  if (handle == 0) return;
  absl::MutexLock lock(&mu_);
  listeners_.erase(handle);
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
