#include "server/batcher.h"

#include <atomic>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/batcher_test_util.h"
#include "tests/server/fake_clock.h"

// Time is driven by a FakeClock: a test advances it and then waits (WaitUntilIdleForTesting)
// until the workers have acted on it, so "nothing ran yet" is asserted without sleeping. Waits
// on other threads are bounded by kHangGuard only so that a bug fails instead of hanging.

namespace ner::server {
namespace {

using ::ner::testing::kHangGuard;
using ::ner::testing::Recorder;
using ::ner::testing::TestRunner;
using ::ner::testing::TestTask;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kDelay = absl::Milliseconds(2);

BatcherOptions Options(int max_batch_size, int max_batch_tokens, int num_workers = 1) {
  BatcherOptions options;
  options.max_batch_size = max_batch_size;
  options.max_batch_tokens = max_batch_tokens;
  options.max_queue_delay = kDelay;
  options.num_workers = num_workers;
  return options;
}

class BatcherTest : public ::testing::Test {
 protected:
  void Start(const BatcherOptions& options) {
    absl::StatusOr<std::unique_ptr<Batcher>> batcher =
        Batcher::Create(options, runner_.AsRunner(), &clock_);
    ASSERT_TRUE(batcher.ok()) << batcher.status();
    batcher_ = *std::move(batcher);
  }
  absl::Status Add(int id, int64_t cost, absl::Time deadline = absl::InfiniteFuture(),
                   std::shared_ptr<std::atomic<bool>> cancelled = nullptr) {
    return batcher_->Enqueue(
        std::make_unique<TestTask>(id, cost, &recorder_, deadline, std::move(cancelled)));
  }
  // Advances the clock and lets the workers act on it.
  void Advance(absl::Duration delta) {
    clock_.Advance(delta);
    batcher_->WaitUntilIdleForTesting();
  }
  void Idle() { batcher_->WaitUntilIdleForTesting(); }

  // Declared first: destroyed after the batcher, whose workers wait on it.
  testing::FakeClock clock_;
  Recorder recorder_;
  TestRunner runner_{&recorder_};
  std::unique_ptr<Batcher> batcher_;
};

TEST_F(BatcherTest, CreateRejectsBadArguments) {
  BatcherOptions bad;
  bad.num_workers = 0;
  EXPECT_EQ(Batcher::Create(bad, runner_.AsRunner(), &clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Batcher::Create(BatcherOptions(), nullptr, &clock_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Batcher::Create(BatcherOptions(), runner_.AsRunner(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BatcherTest, WaitsForTheDelayCountedFromTheOldestTask) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000));
  ASSERT_TRUE(Add(1, 3).ok());
  Idle();
  Advance(absl::Milliseconds(1));
  ASSERT_TRUE(Add(2, 5).ok());
  Idle();
  Advance(absl::Microseconds(999));
  EXPECT_THAT(recorder_.batches(), IsEmpty()) << "ran before the oldest waited the delay";

  Advance(absl::Microseconds(1));  // The oldest has waited exactly kDelay; task 2 only 1 ms.
  ASSERT_TRUE(recorder_.WaitForDone(2));
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(2, 1)));
  EXPECT_TRUE(recorder_.status(1).ok());
  EXPECT_TRUE(recorder_.status(2).ok());
}

TEST_F(BatcherTest, FullBatchRunsWithoutWaiting) {
  Start(Options(/*max_batch_size=*/3, /*max_batch_tokens=*/1000));
  for (int id = 1; id <= 4; ++id) ASSERT_TRUE(Add(id, 10).ok());
  ASSERT_TRUE(recorder_.WaitForDone(3));  // The clock has not moved.
  Idle();
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1, 2, 3)));
  EXPECT_EQ(batcher_->GetStats().queued_tasks, 1);  // Task 4 waits for its delay.

  Advance(kDelay);
  ASSERT_TRUE(recorder_.WaitForDone(4));
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1, 2, 3), ElementsAre(4)));
}

TEST_F(BatcherTest, TokenBudgetSplitsBatches) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/20));
  // 35 tokens are waiting, so a batch is due at once; it fits 2 x 10 padded tokens.
  ASSERT_TRUE(Add(1, 10).ok());
  ASSERT_TRUE(Add(2, 10).ok());
  ASSERT_TRUE(Add(3, 10).ok());
  ASSERT_TRUE(Add(4, 5).ok());
  ASSERT_TRUE(recorder_.WaitForDone(2));
  Idle();
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1, 2)));
  EXPECT_EQ(batcher_->GetStats().last_batch_padded_tokens, 20);

  Advance(kDelay);  // The remaining 15 tokens wait for the delay.
  ASSERT_TRUE(recorder_.WaitForDone(4));
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1, 2), ElementsAre(3, 4)));
  const BatcherStats stats = batcher_->GetStats();
  EXPECT_EQ(stats.last_batch_tokens, 15);
  EXPECT_EQ(stats.last_batch_padded_tokens, 20);
}

TEST_F(BatcherTest, TaskOverTheTokenBudgetRunsAlone) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/20));
  ASSERT_TRUE(Add(1, 50).ok());
  ASSERT_TRUE(Add(2, 1).ok());
  ASSERT_TRUE(recorder_.WaitForDone(1));
  Idle();
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1)));
  Advance(kDelay);
  ASSERT_TRUE(recorder_.WaitForDone(2));
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1), ElementsAre(2)));
}

TEST_F(BatcherTest, BatchIsSortedLongestFirst) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000));
  ASSERT_TRUE(Add(1, 3).ok());
  ASSERT_TRUE(Add(2, 9).ok());
  ASSERT_TRUE(Add(3, 1).ok());
  ASSERT_TRUE(Add(4, 5).ok());
  Advance(kDelay);
  ASSERT_TRUE(recorder_.WaitForDone(4));
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(2, 4, 1, 3)));
}

TEST_F(BatcherTest, TaskPastItsDeadlineIsNotRun) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000));
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(Add(1, 4, /*deadline=*/t0 + absl::Milliseconds(1)).ok());
  ASSERT_TRUE(Add(2, 4, /*deadline=*/t0 + absl::Seconds(1)).ok());
  ASSERT_TRUE(Add(3, 4).ok());
  Advance(kDelay);
  ASSERT_TRUE(recorder_.WaitForDone(3));
  EXPECT_EQ(recorder_.status(1).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(recorder_.status(2).ok());
  EXPECT_TRUE(recorder_.status(3).ok());
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(2, 3)));
  EXPECT_EQ(batcher_->GetStats().expired, 1);
}

TEST_F(BatcherTest, CancelledTaskIsNotRun) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000));
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  ASSERT_TRUE(Add(1, 4, absl::InfiniteFuture(), cancelled).ok());
  ASSERT_TRUE(Add(2, 4).ok());
  cancelled->store(true);
  Advance(kDelay);
  ASSERT_TRUE(recorder_.WaitForDone(2));
  EXPECT_EQ(recorder_.status(1).code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(recorder_.status(2).ok());
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(2)));
  EXPECT_EQ(batcher_->GetStats().cancelled, 1);
}

TEST_F(BatcherTest, FullQueueRejectsAtOnceWithoutCallingDone) {
  BatcherOptions options = Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000);
  options.max_queue_items = 2;
  Start(options);
  ASSERT_TRUE(Add(1, 1).ok());
  ASSERT_TRUE(Add(2, 1).ok());
  const absl::Status full = Add(3, 1);  // Returns although nothing will dequeue until Advance.
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  EXPECT_EQ(recorder_.destroyed(), 1);
  EXPECT_EQ(recorder_.total_done(), 0);

  // All or none: one more than the free room is refused as a whole.
  std::vector<std::unique_ptr<BatchTask>> two;
  two.push_back(std::make_unique<TestTask>(4, 1, &recorder_));
  two.push_back(std::make_unique<TestTask>(5, 1, &recorder_));
  EXPECT_EQ(batcher_->EnqueueAll(std::move(two)).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(batcher_->GetStats().queued_tasks, 2);

  Advance(kDelay);
  ASSERT_TRUE(recorder_.WaitForDone(2));
  EXPECT_TRUE(Add(6, 1).ok());  // Room again.
  EXPECT_EQ(recorder_.done_calls().count(3), 0u);
  EXPECT_EQ(batcher_->GetStats().rejected, 3);
}

TEST_F(BatcherTest, EnqueueValidatesTasks) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000));
  EXPECT_EQ(batcher_->Enqueue(nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Add(1, 0).code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::unique_ptr<BatchTask>> too_many;
  for (int id = 0; id < 4097; ++id)
    too_many.push_back(std::make_unique<TestTask>(id, 1, &recorder_));
  EXPECT_EQ(batcher_->EnqueueAll(std::move(too_many)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(batcher_->GetStats().queued_tasks, 0);
  EXPECT_EQ(recorder_.total_done(), 0);
}

TEST_F(BatcherTest, DrainingShutdownRunsEverythingThenRejects) {
  Start(Options(/*max_batch_size=*/2, /*max_batch_tokens=*/1000));
  // Hold the runner in the first batch so that the rest is still queued when Shutdown begins.
  runner_.Close();
  for (int id = 1; id <= 5; ++id) ASSERT_TRUE(Add(id, id).ok());
  ASSERT_TRUE(runner_.WaitForRunning(1));
  std::thread shutdown([&] { batcher_->Shutdown(/*drain=*/true); });
  const absl::Time give_up = absl::Now() + kHangGuard;
  while (!batcher_->GetStats().shutting_down && absl::Now() < give_up) std::this_thread::yield();

  // New work is refused at once, while the queue still drains.
  EXPECT_EQ(Add(99, 1).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(batcher_->GetStats().queued_tasks, 3);
  runner_.Open();  // The clock never moves: draining does not wait for the delay.
  shutdown.join();

  EXPECT_EQ(recorder_.total_done(), 5);
  for (int id = 1; id <= 5; ++id) EXPECT_TRUE(recorder_.status(id).ok()) << id;
  std::vector<int> ran;
  for (const std::vector<int>& batch : recorder_.batches()) {
    EXPECT_LE(batch.size(), 2u);
    ran.insert(ran.end(), batch.begin(), batch.end());
  }
  EXPECT_THAT(ran, UnorderedElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(Add(100, 1).code(), absl::StatusCode::kUnavailable);
  batcher_->Shutdown(/*drain=*/true);  // Idempotent.
  EXPECT_EQ(recorder_.total_done(), 5);
}

TEST_F(BatcherTest, ShutdownWithoutDrainFailsQueuedAndFinishesRunning) {
  Start(Options(/*max_batch_size=*/2, /*max_batch_tokens=*/1000));
  runner_.Close();
  ASSERT_TRUE(Add(1, 1).ok());
  ASSERT_TRUE(Add(2, 1).ok());  // A full batch: starts and blocks in the runner.
  ASSERT_TRUE(runner_.WaitForRunning(1));
  ASSERT_TRUE(Add(3, 1).ok());
  ASSERT_TRUE(Add(4, 1).ok());
  ASSERT_TRUE(Add(5, 1).ok());
  std::thread shutdown([&] { batcher_->Shutdown(/*drain=*/false); });
  ASSERT_TRUE(recorder_.WaitForDone(3));  // 3, 4, 5, on the shutting-down thread.
  for (int id = 3; id <= 5; ++id) {
    EXPECT_EQ(recorder_.status(id).code(), absl::StatusCode::kUnavailable) << id;
  }
  runner_.Open();
  shutdown.join();
  EXPECT_TRUE(recorder_.status(1).ok());
  EXPECT_TRUE(recorder_.status(2).ok());
  EXPECT_THAT(recorder_.batches(), ElementsAre(ElementsAre(1, 2)));
  const BatcherStats stats = batcher_->GetStats();
  EXPECT_EQ(stats.unavailable, 3);
  EXPECT_EQ(stats.succeeded, 2);
}

TEST_F(BatcherTest, DestructorFailsQueuedTasks) {
  Start(Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000));
  ASSERT_TRUE(Add(1, 1).ok());
  batcher_.reset();
  EXPECT_EQ(recorder_.status(1).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(recorder_.destroyed(), 1);
}

TEST_F(BatcherTest, RunnerErrorFailsTheWholeBatch) {
  Start(Options(/*max_batch_size=*/2, /*max_batch_tokens=*/1000));
  runner_.set_result(absl::InternalError("encoder: out of memory"));
  ASSERT_TRUE(Add(1, 1).ok());
  ASSERT_TRUE(Add(2, 1).ok());
  ASSERT_TRUE(recorder_.WaitForDone(2));
  EXPECT_EQ(recorder_.status(1), absl::InternalError("encoder: out of memory"));
  EXPECT_EQ(recorder_.status(2), absl::InternalError("encoder: out of memory"));
  Idle();
  EXPECT_EQ(batcher_->GetStats().failed, 2);
}

TEST_F(BatcherTest, RunnerExceptionBecomesInternal) {
  absl::StatusOr<std::unique_ptr<Batcher>> batcher = Batcher::Create(
      Options(/*max_batch_size=*/1, /*max_batch_tokens=*/1000),
      [](absl::Span<BatchTask* const>) -> absl::Status { throw std::runtime_error("boom"); },
      &clock_);
  ASSERT_TRUE(batcher.ok());
  ASSERT_TRUE((*batcher)->Enqueue(std::make_unique<TestTask>(1, 1, &recorder_)).ok());
  ASSERT_TRUE((*batcher)->Enqueue(std::make_unique<TestTask>(2, 1, &recorder_)).ok());
  ASSERT_TRUE(recorder_.WaitForDone(2));  // The worker survived the first exception.
  EXPECT_EQ(recorder_.status(1).code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(recorder_.status(2).message()), ::testing::HasSubstr("boom"));
}

TEST_F(BatcherTest, WorkersRunBatchesConcurrently) {
  Start(Options(/*max_batch_size=*/2, /*max_batch_tokens=*/1000, /*num_workers=*/2));
  runner_.Close();
  for (int id = 1; id <= 4; ++id) ASSERT_TRUE(Add(id, 1).ok());
  ASSERT_TRUE(runner_.WaitForRunning(2));
  runner_.Open();
  ASSERT_TRUE(recorder_.WaitForDone(4));
  EXPECT_THAT(recorder_.batches(), UnorderedElementsAre(ElementsAre(1, 2), ElementsAre(3, 4)));
}

class CountingObserver : public BatcherObserver {
 public:
  void OnBatch(const BatchReport& report) override {
    absl::MutexLock lock(&mu_);
    reports_.push_back(report);
  }
  void OnDropped(absl::StatusCode code, int64_t tasks) override {
    absl::MutexLock lock(&mu_);
    dropped_[code] += tasks;
  }
  void OnRejected(absl::StatusCode code, int64_t tasks) override {
    absl::MutexLock lock(&mu_);
    rejected_[code] += tasks;
  }

  absl::Mutex mu_;
  std::vector<BatchReport> reports_ ABSL_GUARDED_BY(mu_);
  std::map<absl::StatusCode, int64_t> dropped_ ABSL_GUARDED_BY(mu_);
  std::map<absl::StatusCode, int64_t> rejected_ ABSL_GUARDED_BY(mu_);
};

TEST_F(BatcherTest, ObserverSeesBatchesDropsAndRejections) {
  CountingObserver observer;
  BatcherOptions options = Options(/*max_batch_size=*/8, /*max_batch_tokens=*/1000);
  options.max_queue_items = 3;
  absl::StatusOr<std::unique_ptr<Batcher>> created =
      Batcher::Create(options, runner_.AsRunner(), &clock_, &observer);
  ASSERT_TRUE(created.ok());
  batcher_ = *std::move(created);
  const absl::Time t0 = clock_.Now();
  ASSERT_TRUE(Add(1, 4).ok());
  Advance(absl::Milliseconds(1));
  ASSERT_TRUE(Add(2, 6).ok());
  ASSERT_TRUE(Add(3, 1, /*deadline=*/t0).ok());
  EXPECT_FALSE(Add(4, 1).ok());
  Advance(absl::Milliseconds(1));
  ASSERT_TRUE(recorder_.WaitForDone(3));
  Idle();
  absl::MutexLock lock(&observer.mu_);
  ASSERT_EQ(observer.reports_.size(), 1u);
  const BatchReport& report = observer.reports_[0];
  EXPECT_EQ(report.size, 2);
  EXPECT_EQ(report.tokens, 10);
  EXPECT_EQ(report.padded_tokens, 12);
  // Run order is longest first: task 2 (waited 1 ms), then task 1 (waited 2 ms).
  EXPECT_THAT(report.queue_waits, ElementsAre(absl::Milliseconds(1), absl::Milliseconds(2)));
  EXPECT_EQ(report.code, absl::StatusCode::kOk);
  EXPECT_EQ(observer.dropped_[absl::StatusCode::kDeadlineExceeded], 1);
  EXPECT_EQ(observer.rejected_[absl::StatusCode::kResourceExhausted], 1);
}

}  // namespace
}  // namespace ner::server
