#include "tests/server/fake_clock.h"

#include <algorithm>
#include <cassert>

namespace ner::testing {

FakeClock::FakeClock(absl::Time start) : now_(start) {}

FakeClock::~FakeClock() {
  absl::MutexLock lock(&mu_);
  assert(waiters_.empty());
}

absl::Time FakeClock::Now() const {
  absl::MutexLock lock(&mu_);
  return now_;
}

// Lock order: the caller's `mu` before `mu_`; Advance never holds `mu_` while locking a waiter's
// `mu`. A waiter is registered while its caller holds `mu`, and Advance signals it while
// holding that same `mu`, so the signal cannot fall between registering and blocking.
void FakeClock::WaitWithDeadline(absl::Mutex* mu, absl::CondVar* cv, absl::Time deadline) const {
  Waiter waiter{mu, cv, deadline};
  {
    absl::MutexLock lock(&mu_);
    if (now_ >= deadline) return;
    waiters_.push_back(&waiter);
  }
  cv->Wait(mu);
  // Leave without holding `mu`: an Advance may be waiting for it to signal this waiter.
  mu->Unlock();
  {
    absl::MutexLock lock(&mu_);
    while (waiter.signalling > 0) signalled_.Wait(&mu_);
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &waiter));
  }
  mu->Lock();
}

void FakeClock::Advance(absl::Duration delta) {
  assert(delta >= absl::ZeroDuration());
  std::vector<Waiter*> due;
  {
    absl::MutexLock lock(&mu_);
    now_ += delta;
    for (Waiter* waiter : waiters_) {
      if (waiter->deadline <= now_) {
        ++waiter->signalling;
        due.push_back(waiter);
      }
    }
  }
  for (Waiter* waiter : due) {
    absl::MutexLock lock(waiter->mu);
    waiter->cv->SignalAll();
  }
  absl::MutexLock lock(&mu_);
  for (Waiter* waiter : due) --waiter->signalling;
  signalled_.SignalAll();
}

}  // namespace ner::testing
