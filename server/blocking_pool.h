#ifndef NER_SERVER_BLOCKING_POOL_H_
#define NER_SERVER_BLOCKING_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ner::server {

// A few threads for work that blocks (loading a checkpoint, reading a dataset file), so that it
// runs off gRPC's callback threads, which must not block. Thread-safe.
class BlockingPool {
 public:
  // Starts `threads` (>= 1) threads.
  explicit BlockingPool(int threads);
  // Runs the work already scheduled, then joins the threads.
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `work` on a pool thread, in scheduling order. Never blocks. Work scheduled during
  // destruction still runs.
  void Schedule(std::function<void()> work);

 private:
  void Loop();
  // Work is waiting, or the pool stops.
  bool ReadyLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ner::server

#endif  // NER_SERVER_BLOCKING_POOL_H_
