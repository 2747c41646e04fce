#include "server/batcher.h"

#include <algorithm>
#include <exception>
#include <map>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace ner::server {

struct Batcher::Dropped {
  std::unique_ptr<BatchTask> task;
  absl::Status status;
};

absl::StatusOr<std::unique_ptr<Batcher>> Batcher::Create(const BatcherOptions& options,
                                                         BatchRunner runner, const Clock* clock,
                                                         BatcherObserver* observer) {
  if (absl::Status status = options.Validate(); !status.ok()) return status;
  if (!runner) return absl::InvalidArgumentError("Batcher needs a batch runner");
  if (clock == nullptr) return absl::InvalidArgumentError("Batcher needs a clock");
  std::unique_ptr<Batcher> batcher(new Batcher(options, std::move(runner), clock, observer));
  absl::MutexLock lock(&batcher->join_mu_);
  for (int i = 0; i < options.num_workers; ++i) {
    batcher->workers_.emplace_back([b = batcher.get(), i] { b->WorkerLoop(i); });
  }
  return batcher;
}

Batcher::Batcher(const BatcherOptions& options, BatchRunner runner, const Clock* clock,
                 BatcherObserver* observer)
    : options_(options),
      runner_(std::move(runner)),
      clock_(clock),
      observer_(observer),
      waiting_(options.num_workers, false),
      wake_time_(options.num_workers, absl::InfiniteFuture()) {}

Batcher::~Batcher() { Shutdown(/*drain=*/false); }

absl::Status Batcher::Enqueue(std::unique_ptr<BatchTask> task) {
  std::vector<std::unique_ptr<BatchTask>> tasks;
  tasks.push_back(std::move(task));
  return EnqueueAll(std::move(tasks));
}

absl::Status Batcher::EnqueueAll(std::vector<std::unique_ptr<BatchTask>> tasks) {
  const int64_t count = static_cast<int64_t>(tasks.size());
  absl::Status status;
  for (const std::unique_ptr<BatchTask>& task : tasks) {
    if (task == nullptr) {
      status = absl::InvalidArgumentError("null task");
    } else if (task->cost_tokens() < 1) {
      status = absl::InvalidArgumentError(
          absl::StrCat("task cost must be >= 1 token, got ", task->cost_tokens()));
    }
    if (!status.ok()) break;
  }
  if (status.ok() && count > options_.max_queue_items) {
    status = absl::InvalidArgumentError(
        absl::StrCat(count, " tasks can never fit a queue of at most ", options_.max_queue_items));
  }
  if (status.ok() && count == 0) return status;
  {
    absl::MutexLock lock(&mu_);
    if (status.ok() && stopping_) {
      status = absl::UnavailableError("the batcher is shutting down");
    }
    if (status.ok() && static_cast<int64_t>(queue_.size()) + count > options_.max_queue_items) {
      status = absl::ResourceExhaustedError(
          absl::StrCat("queue full: ", queue_.size(), " of at most ", options_.max_queue_items,
                       " tasks waiting, ", count, " more requested; retry with backoff"));
    }
    if (status.ok()) {
      const absl::Time now = clock_->Now();
      for (std::unique_ptr<BatchTask>& task : tasks) {
        task->enqueue_time_ = now;
        queued_tokens_ += task->cost_tokens();
        queue_.push_back(std::move(task));
      }
      stats_.accepted += count;
      ++unobserved_events_;
      cv_.Signal();
      return status;
    }
    stats_.rejected += count;
  }
  if (observer_ != nullptr) observer_->OnRejected(status.code(), count);
  return status;
}

void Batcher::Shutdown(bool drain) {
  std::vector<Dropped> dropped;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    stats_.shutting_down = true;
    if (!drain) {
      for (std::unique_ptr<BatchTask>& task : queue_) {
        dropped.push_back(
            {std::move(task), absl::UnavailableError("the server shut down before the task ran")});
      }
      queue_.clear();
      queued_tokens_ = 0;
      stats_.unavailable += static_cast<int64_t>(dropped.size());
    }
    ++unobserved_events_;
    cv_.SignalAll();
  }
  CompleteDropped(std::move(dropped));
  absl::MutexLock lock(&join_mu_);
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

BatcherStats Batcher::GetStats() const {
  absl::MutexLock lock(&mu_);
  BatcherStats stats = stats_;
  stats.queued_tasks = static_cast<int64_t>(queue_.size());
  stats.queued_tokens = queued_tokens_;
  return stats;
}

void Batcher::WaitUntilIdleForTesting() const {
  // Not an absl::Condition: IdleLocked reads the clock, which conditions must not.
  absl::MutexLock lock(&mu_);
  while (!IdleLocked()) idle_cv_.Wait(&mu_);
}

bool Batcher::IdleLocked() const {
  if (unobserved_events_ > 0) return false;
  const absl::Time now = clock_->Now();
  for (int i = 0; i < options_.num_workers; ++i) {
    if (!waiting_[i] || wake_time_[i] <= now) return false;
  }
  return true;
}

void Batcher::WorkerLoop(int worker) {
  mu_.Lock();
  while (true) {
    // Everything enqueued so far is in the state read below.
    unobserved_events_ = 0;
    if (queue_.empty()) {
      if (stopping_) break;
      WaitLocked(worker, absl::InfiniteFuture());
      continue;
    }
    const absl::Time now = clock_->Now();
    const QueueSummary summary{static_cast<int64_t>(queue_.size()), queued_tokens_,
                               queue_.front()->enqueue_time()};
    const absl::Time due = NextBatchTime(summary, options_, /*draining=*/stopping_);
    if (now < due) {
      WaitLocked(worker, due);
      continue;
    }
    // Dead tasks are looked for only when a batch is due: it keeps the wait loop O(1), and a
    // task that is not yet at the head of the queue could not have run earlier anyway.
    std::vector<Dropped> dropped = TakeDeadTasksLocked(now);
    if (!dropped.empty()) {
      mu_.Unlock();
      CompleteDropped(std::move(dropped));
      mu_.Lock();
      continue;  // The queue changed: decide again.
    }
    std::vector<std::unique_ptr<BatchTask>> batch = TakeBatchLocked();
    // Let another worker form the next batch while this one runs.
    if (!queue_.empty()) cv_.Signal();
    ++stats_.running_batches;
    mu_.Unlock();
    RunBatch(std::move(batch), now);
    mu_.Lock();
    --stats_.running_batches;
  }
  mu_.Unlock();
}

void Batcher::WaitLocked(int worker, absl::Time deadline) {
  waiting_[worker] = true;
  wake_time_[worker] = deadline;
  // Every step towards idleness ends here: a worker starts waiting, having just looked at the
  // queue and the clock (which never goes back).
  idle_cv_.SignalAll();
  clock_->WaitWithDeadline(&mu_, &cv_, deadline);
  waiting_[worker] = false;
}

std::vector<Batcher::Dropped> Batcher::TakeDeadTasksLocked(absl::Time now) {
  std::vector<Dropped> dropped;
  for (std::unique_ptr<BatchTask>& task : queue_) {
    if (task->IsCancelled()) {
      ++stats_.cancelled;
      queued_tokens_ -= task->cost_tokens();
      dropped.push_back(
          {std::move(task), absl::CancelledError("the request was cancelled while queued")});
    } else if (task->deadline() <= now) {
      ++stats_.expired;
      queued_tokens_ -= task->cost_tokens();
      absl::Status status = absl::DeadlineExceededError(
          absl::StrCat("the deadline passed after ",
                       absl::FormatDuration(now - task->enqueue_time()), " in the batching queue"));
      dropped.push_back({std::move(task), std::move(status)});
    }
  }
  if (!dropped.empty()) {
    queue_.erase(std::remove(queue_.begin(), queue_.end(), nullptr), queue_.end());
  }
  return dropped;
}

std::vector<std::unique_ptr<BatchTask>> Batcher::TakeBatchLocked() {
  std::vector<int64_t> costs;
  costs.reserve(queue_.size());
  for (const std::unique_ptr<BatchTask>& task : queue_) costs.push_back(task->cost_tokens());
  const std::vector<size_t> picked = SelectBatch(costs, options_);

  std::vector<std::unique_ptr<BatchTask>> batch;
  batch.reserve(picked.size());
  for (size_t index : picked) {
    queued_tokens_ -= queue_[index]->cost_tokens();
    batch.push_back(std::move(queue_[index]));
  }
  // Close the gaps, keeping the others in queue order.
  queue_.erase(std::remove(queue_.begin(), queue_.end(), nullptr), queue_.end());
  return batch;
}

void Batcher::RunBatch(std::vector<std::unique_ptr<BatchTask>> batch, absl::Time formed_at) {
  BatchReport report;
  report.size = static_cast<int64_t>(batch.size());
  std::vector<BatchTask*> tasks;
  tasks.reserve(batch.size());
  int64_t longest = 0;
  for (const std::unique_ptr<BatchTask>& task : batch) {
    tasks.push_back(task.get());
    report.tokens += task->cost_tokens();
    longest = std::max(longest, task->cost_tokens());
    report.queue_waits.push_back(formed_at - task->enqueue_time());
  }
  report.padded_tokens = PaddedTokens(report.size, longest);

  const absl::Time started = clock_->Now();
  absl::Status status;
  // The runner is foreign code: an exception escaping it must not kill the worker thread and
  // leave its tasks without an answer.
  try {
    status = runner_(absl::MakeConstSpan(tasks));
  } catch (const std::exception& e) {
    status = absl::InternalError(absl::StrCat("the batch runner threw: ", e.what()));
  } catch (...) {
    status = absl::InternalError("the batch runner threw a non-standard exception");
  }
  report.run_time = clock_->Now() - started;
  report.code = status.code();
  {
    absl::MutexLock lock(&mu_);
    ++stats_.batches;
    stats_.last_batch_size = report.size;
    stats_.last_batch_tokens = report.tokens;
    stats_.last_batch_padded_tokens = report.padded_tokens;
    (status.ok() ? stats_.succeeded : stats_.failed) += report.size;
  }
  if (observer_ != nullptr) observer_->OnBatch(report);
  for (std::unique_ptr<BatchTask>& task : batch) {
    task->Done(status);
    task.reset();
  }
}

void Batcher::CompleteDropped(std::vector<Dropped> dropped) {
  if (dropped.empty()) return;
  if (observer_ != nullptr) {
    std::map<absl::StatusCode, int64_t> counts;
    for (const Dropped& d : dropped) ++counts[d.status.code()];
    for (const auto& [code, tasks] : counts) observer_->OnDropped(code, tasks);
  }
  for (Dropped& d : dropped) {
    d.task->Done(std::move(d.status));
    d.task.reset();
  }
}

}  // namespace ner::server
