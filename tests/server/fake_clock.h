#ifndef NER_TESTS_SERVER_FAKE_CLOCK_H_
#define NER_TESTS_SERVER_FAKE_CLOCK_H_

#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/clock.h"

namespace ner::testing {

// A Clock that moves only when told to. Threads blocked in WaitWithDeadline wake when Advance()
// reaches their deadline (or when their condition variable is signalled), so tests step time
// without sleeping. Thread-safe.
class FakeClock final : public server::Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'000'000'000));
  // All waiters must have returned.
  ~FakeClock() override;

  absl::Time Now() const override;
  void WaitWithDeadline(absl::Mutex* mu, absl::CondVar* cv, absl::Time deadline) const override;

  // Moves time forward by `delta` (>= 0) and wakes the waiters whose deadline it reaches.
  // Returns after they have been signalled (not necessarily after they have run).
  void Advance(absl::Duration delta);

 private:
  struct Waiter {
    absl::Mutex* mu;
    absl::CondVar* cv;
    absl::Time deadline;
    int signalling = 0;  // Advance calls about to lock `mu`; the waiter must outlive them.
  };

  mutable absl::Mutex mu_;
  mutable absl::CondVar signalled_;  // a Waiter's `signalling` dropped
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<Waiter*> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ner::testing

#endif  // NER_TESTS_SERVER_FAKE_CLOCK_H_
