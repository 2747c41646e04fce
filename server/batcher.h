#ifndef NER_SERVER_BATCHER_H_
#define NER_SERVER_BATCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/batching_policy.h"
#include "server/clock.h"

namespace ner::server {

// One unit of work for the Batcher (e.g. one document, or one piece of a long one). Subclass it
// to carry the input and to receive the output that the runner writes into it.
class BatchTask {
 public:
  // `cost_tokens` (>= 1) is what the task adds to a batch: its length in tokens. A task still
  // queued at `deadline` completes with DEADLINE_EXCEEDED instead of running.
  explicit BatchTask(int64_t cost_tokens, absl::Time deadline = absl::InfiniteFuture())
      : cost_tokens_(cost_tokens), deadline_(deadline) {}
  virtual ~BatchTask() = default;
  BatchTask(const BatchTask&) = delete;
  BatchTask& operator=(const BatchTask&) = delete;

  int64_t cost_tokens() const { return cost_tokens_; }
  absl::Time deadline() const { return deadline_; }
  // When the batcher accepted the task, by its clock. Set by Enqueue.
  absl::Time enqueue_time() const { return enqueue_time_; }

  // True once the caller has given up (e.g. its RPC was cancelled): a task still queued then
  // completes with CANCELLED instead of running. Polled under the batcher's lock when a batch
  // is formed, so it must be cheap and thread-safe and must not call into the batcher.
  virtual bool IsCancelled() const { return false; }

  // Called exactly once for every task the batcher accepted: with OK after the runner handled
  // it, or with the reason it did not run (DEADLINE_EXCEEDED, CANCELLED, UNAVAILABLE when shut
  // down without draining) or the error that failed its batch. Called outside the batcher's
  // lock, on a worker thread or on the thread calling Shutdown(); the batcher destroys the task
  // right after. It may call Enqueue(), not Shutdown().
  virtual void Done(absl::Status status) = 0;

 private:
  friend class Batcher;

  const int64_t cost_tokens_;
  const absl::Time deadline_;
  absl::Time enqueue_time_ = absl::InfinitePast();
};

// Runs one batch. `batch` holds its tasks in run order (longest first, see SelectBatch), within
// BatcherOptions' size and padded-token limits. Returns OK when every task has its result stored
// in it, or an error that fails the whole batch (a batch fails as a unit). Called on worker
// threads, concurrently when num_workers > 1. An exception it throws fails the batch with
// INTERNAL; a runner calling LibTorch should still catch c10::Error itself and say what failed.
using BatchRunner = std::function<absl::Status(absl::Span<BatchTask* const> batch)>;

// What one batch was, for metrics.
struct BatchReport {
  int64_t size = 0;           // tasks
  int64_t tokens = 0;         // sum of their costs
  int64_t padded_tokens = 0;  // size x longest cost
  // Per task, in run order: time from Enqueue to the batch being formed.
  std::vector<absl::Duration> queue_waits;
  absl::Duration run_time;                        // the runner's time, by the batcher's clock
  absl::StatusCode code = absl::StatusCode::kOk;  // the runner's result
};

// Receives the batcher's events, e.g. to update Prometheus metrics (the batcher itself knows
// none). Methods are called outside the batcher's lock, from any thread, possibly concurrently;
// they must be thread-safe and must not call into the batcher. The defaults do nothing.
class BatcherObserver {
 public:
  virtual ~BatcherObserver() = default;
  // After a batch ran, before its tasks' Done().
  virtual void OnBatch(const BatchReport& /*report*/) {}
  // `tasks` queued tasks completed without running, with `code`: DEADLINE_EXCEEDED, CANCELLED,
  // or UNAVAILABLE (shut down without draining).
  virtual void OnDropped(absl::StatusCode /*code*/, int64_t /*tasks*/) {}
  // Enqueue refused `tasks` tasks with `code`: RESOURCE_EXHAUSTED, UNAVAILABLE or
  // INVALID_ARGUMENT.
  virtual void OnRejected(absl::StatusCode /*code*/, int64_t /*tasks*/) {}
};

// A snapshot of the batcher's state and counters (counters since creation, in tasks unless
// named otherwise). After Shutdown() returns:
//   accepted == succeeded + failed + expired + cancelled + unavailable.
struct BatcherStats {
  bool shutting_down = false;   // Shutdown() has begun: Enqueue fails with UNAVAILABLE
  int64_t queued_tasks = 0;     // waiting now
  int64_t queued_tokens = 0;    // their total cost
  int64_t running_batches = 0;  // being run now
  int64_t accepted = 0;         // taken by Enqueue
  int64_t rejected = 0;         // refused by Enqueue
  int64_t succeeded = 0;        // ran, batch OK
  int64_t failed = 0;           // ran, batch failed
  int64_t expired = 0;          // DEADLINE_EXCEEDED while queued
  int64_t cancelled = 0;        // CANCELLED while queued
  int64_t unavailable = 0;      // UNAVAILABLE: dropped by Shutdown(drain=false)
  int64_t batches = 0;          // batches run
  int64_t last_batch_size = 0;
  int64_t last_batch_tokens = 0;         // sum of costs
  int64_t last_batch_padded_tokens = 0;  // size x longest
};

// A dynamic batcher, independent of the model: tasks queue up and worker threads run them in
// batches formed by the policy of batching_policy.h (a full batch at once, otherwise when the
// oldest task has waited max_queue_delay, everything when draining). Expired and cancelled
// tasks are completed without running when a batch is formed. Enqueue never blocks.
//
// Time comes from the injected Clock, so tests drive it by hand. Thread-safe.
class Batcher {
 public:
  // Starts options.num_workers threads that call `runner`. `clock` (not owned) must outlive the
  // batcher; so must `observer` (not owned, may be null). INVALID_ARGUMENT when `options` fail
  // Validate() or `runner` or `clock` is missing.
  static absl::StatusOr<std::unique_ptr<Batcher>> Create(const BatcherOptions& options,
                                                         BatchRunner runner,
                                                         const Clock* clock = Clock::Real(),
                                                         BatcherObserver* observer = nullptr);

  // Shutdown(/*drain=*/false); the same restrictions apply (not from the runner or a Done()).
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `task`; on success its Done() will be called exactly once. On failure the task is
  // destroyed without Done() being called, and the error says why: INVALID_ARGUMENT (null task,
  // cost < 1), RESOURCE_EXHAUSTED (max_queue_items tasks waiting), UNAVAILABLE (shut down).
  // Never blocks on the queue.
  absl::Status Enqueue(std::unique_ptr<BatchTask> task);

  // Queues all `tasks` or none (one request's documents are admitted together), with the errors
  // of Enqueue; more tasks than max_queue_items is INVALID_ARGUMENT since it can never succeed.
  absl::Status EnqueueAll(std::vector<std::unique_ptr<BatchTask>> tasks);

  // Stops accepting tasks (Enqueue then fails with UNAVAILABLE). With `drain`, the queued tasks
  // still run, in batches formed at once without waiting for max_queue_delay; without it, they
  // complete with UNAVAILABLE on this thread. Either way returns after the batches in progress
  // finish and the workers exit. Idempotent; a later call without `drain` still drops what an
  // earlier draining call has not run yet. Must not be called from the runner or a Done().
  void Shutdown(bool drain);

  // Thread-safe.
  BatcherStats GetStats() const;
  const BatcherOptions& options() const { return options_; }

  // For tests that drive a fake clock: blocks until every worker is waiting, having seen every
  // earlier Enqueue and Shutdown and the clock's current time, so that no batch can start until
  // the caller enqueues, shuts down or advances the clock. Does not return while a batch is due.
  void WaitUntilIdleForTesting() const;

 private:
  // A task completed (or to be completed) with a status.
  struct Dropped;

  Batcher(const BatcherOptions& options, BatchRunner runner, const Clock* clock,
          BatcherObserver* observer);

  void WorkerLoop(int worker);
  // Waits on the clock until `deadline` or a signal; records the worker as idle meanwhile.
  void WaitLocked(int worker, absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the expired and cancelled tasks from the queue.
  std::vector<Dropped> TakeDeadTasksLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the tasks SelectBatch picks, in run order.
  std::vector<std::unique_ptr<BatchTask>> TakeBatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs a batch and completes its tasks; called without the lock.
  void RunBatch(std::vector<std::unique_ptr<BatchTask>> batch, absl::Time formed_at);
  // Completes tasks that did not run; called without the lock.
  void CompleteDropped(std::vector<Dropped> dropped);
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BatcherOptions options_;
  const BatchRunner runner_;
  const Clock* const clock_;
  BatcherObserver* const observer_;

  mutable absl::Mutex mu_;
  // Signalled on Enqueue (one worker) and Shutdown (all).
  absl::CondVar cv_;
  std::deque<std::unique_ptr<BatchTask>> queue_ ABSL_GUARDED_BY(mu_);  // oldest first
  int64_t queued_tokens_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  BatcherStats stats_ ABSL_GUARDED_BY(mu_);
  // For WaitUntilIdleForTesting: Enqueue/Shutdown calls no worker has looked at yet, and per
  // worker whether it waits and until when.
  int64_t unobserved_events_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<bool> waiting_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> wake_time_ ABSL_GUARDED_BY(mu_);
  mutable absl::CondVar idle_cv_;  // signalled when a worker starts waiting

  // Serializes joining the workers between concurrent Shutdown() calls.
  absl::Mutex join_mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace ner::server

#endif  // NER_SERVER_BATCHER_H_
