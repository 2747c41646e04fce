#ifndef NER_TESTS_SERVER_BATCHER_TEST_UTIL_H_
#define NER_TESTS_SERVER_BATCHER_TEST_UTIL_H_

#include <atomic>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/batcher.h"

// Tasks and runners for Batcher tests. Waits are bounded by kHangGuard only so that a bug
// fails a test instead of hanging it; no assertion depends on how long anything takes.

namespace ner::testing {

inline constexpr absl::Duration kHangGuard = absl::Seconds(60);

// What happened to the tasks of a test. Thread-safe.
class Recorder {
 public:
  void Done(int id, const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    ++done_calls_[id];
    statuses_[id] = status;
    ++total_done_;
  }
  void Destroyed() {
    absl::MutexLock lock(&mu_);
    ++destroyed_;
  }
  void Ran(std::vector<int> batch) {
    absl::MutexLock lock(&mu_);
    batches_.push_back(std::move(batch));
  }

  // Blocks until `n` Done() calls happened in total.
  bool WaitForDone(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return total_done_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kHangGuard);
  }

  std::vector<std::vector<int>> batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  absl::Status status(int id) const {
    absl::MutexLock lock(&mu_);
    auto it = statuses_.find(id);
    return it == statuses_.end() ? absl::UnknownError("no Done() call") : it->second;
  }
  std::map<int, int> done_calls() const {
    absl::MutexLock lock(&mu_);
    return done_calls_;
  }
  int total_done() const {
    absl::MutexLock lock(&mu_);
    return total_done_;
  }
  int destroyed() const {
    absl::MutexLock lock(&mu_);
    return destroyed_;
  }

 private:
  mutable absl::Mutex mu_;
  std::map<int, int> done_calls_ ABSL_GUARDED_BY(mu_);
  std::map<int, absl::Status> statuses_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
  int total_done_ ABSL_GUARDED_BY(mu_) = 0;
  int destroyed_ ABSL_GUARDED_BY(mu_) = 0;
};

class TestTask : public server::BatchTask {
 public:
  TestTask(int id, int64_t cost, Recorder* recorder, absl::Time deadline = absl::InfiniteFuture(),
           std::shared_ptr<std::atomic<bool>> cancelled = nullptr)
      : server::BatchTask(cost, deadline),
        id_(id),
        recorder_(recorder),
        cancelled_(std::move(cancelled)) {}
  ~TestTask() override { recorder_->Destroyed(); }

  int id() const { return id_; }
  bool IsCancelled() const override { return cancelled_ != nullptr && cancelled_->load(); }
  void Done(absl::Status status) override { recorder_->Done(id_, status); }

 private:
  const int id_;
  Recorder* const recorder_;
  const std::shared_ptr<std::atomic<bool>> cancelled_;
};

// A runner that records each batch's task ids (run order) and can be held at a gate.
class TestRunner {
 public:
  explicit TestRunner(Recorder* recorder) : recorder_(recorder) {}

  server::BatchRunner AsRunner() {
    return [this](absl::Span<server::BatchTask* const> batch) { return Run(batch); };
  }
  // Until Open(), batches block inside the runner.
  void Close() {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Blocks until `n` batches are inside the runner at once.
  bool WaitForRunning(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return running_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kHangGuard);
  }
  void set_result(absl::Status status) {
    absl::MutexLock lock(&mu_);
    result_ = std::move(status);
  }

 private:
  absl::Status Run(absl::Span<server::BatchTask* const> batch) {
    std::vector<int> ids;
    for (server::BatchTask* task : batch) ids.push_back(static_cast<TestTask*>(task)->id());
    recorder_->Ran(ids);
    absl::MutexLock lock(&mu_);
    ++running_;
    mu_.Await(absl::Condition(&open_));
    --running_;
    return result_;
  }

  Recorder* const recorder_;
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status result_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ner::testing

#endif  // NER_TESTS_SERVER_BATCHER_TEST_UTIL_H_
