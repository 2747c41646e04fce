#ifndef NER_SERVER_CLOCK_H_
#define NER_SERVER_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ner::server {

// The time source of components that wait (the batcher). Injected so that tests drive time by
// hand (tests/server/fake_clock.h) instead of sleeping. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;

  // The current time.
  virtual absl::Time Now() const = 0;

  // Blocks until `cv` is signalled or Now() reaches `deadline`, like CondVar::WaitWithDeadline:
  // `mu` must be held by the caller; it is released while blocked and held again on return.
  // May return early (spuriously), so callers re-check their condition in a loop.
  // absl::InfiniteFuture() waits for a signal only.
  virtual void WaitWithDeadline(absl::Mutex* mu, absl::CondVar* cv, absl::Time deadline) const = 0;

  // The wall clock (absl::Now()). Stateless; lives for the whole process.
  static const Clock* Real();
};

}  // namespace ner::server

#endif  // NER_SERVER_CLOCK_H_
