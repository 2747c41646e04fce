#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/batcher.h"
#include "tests/server/batcher_test_util.h"

namespace ner::server {
namespace {

using ::ner::testing::Recorder;
using ::ner::testing::TestTask;

// Many producers against two workers on the real clock: every accepted task is finished exactly
// once, every refused one never, whatever the interleaving; the batches respect the limits.
TEST(BatcherStressTest, EveryTaskFinishesExactlyOnce) {
  constexpr int kProducers = 6;
  constexpr int kTasksPerProducer = 3000;
  constexpr int kTasks = kProducers * kTasksPerProducer;
  BatcherOptions options;
  options.max_batch_size = 16;
  options.max_batch_tokens = 1024;
  options.max_queue_delay = absl::Microseconds(200);
  options.max_queue_items = 256;
  options.num_workers = 2;

  Recorder recorder;
  std::atomic<int> limit_violations{0};
  std::atomic<int> batches{0};
  BatchRunner runner = [&](absl::Span<BatchTask* const> batch) {
    ++batches;
    int64_t longest = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      longest = std::max(longest, batch[i]->cost_tokens());
      if (i > 0 && batch[i - 1]->cost_tokens() < batch[i]->cost_tokens()) ++limit_violations;
    }
    const int64_t size = static_cast<int64_t>(batch.size());
    if (size > options.max_batch_size) ++limit_violations;
    if (size > 1 && PaddedTokens(size, longest) > options.max_batch_tokens) ++limit_violations;
    if (static_cast<TestTask*>(batch[0])->id() % 97 == 0) {
      return absl::InternalError("every 97th leads a failing batch");
    }
    return absl::OkStatus();
  };
  absl::StatusOr<std::unique_ptr<Batcher>> created = Batcher::Create(options, runner);
  ASSERT_TRUE(created.ok());
  std::unique_ptr<Batcher> batcher = *std::move(created);

  std::vector<std::atomic<bool>> accepted(kTasks);
  std::vector<std::shared_ptr<std::atomic<bool>>> cancel_flags(kTasks);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 rng(1000 + p);
      std::uniform_int_distribution<int> cost(1, 300);
      std::uniform_int_distribution<int> kind(0, 19);
      for (int i = 0; i < kTasksPerProducer; ++i) {
        const int id = p * kTasksPerProducer + i;
        absl::Time deadline = absl::InfiniteFuture();
        const int k = kind(rng);
        if (k == 0) deadline = absl::Now() - absl::Seconds(1);         // already expired
        if (k == 1) deadline = absl::Now() + absl::Microseconds(300);  // may expire queued
        cancel_flags[id] = std::make_shared<std::atomic<bool>>(false);
        const absl::Status status = batcher->Enqueue(
            std::make_unique<TestTask>(id, cost(rng), &recorder, deadline, cancel_flags[id]));
        accepted[id] = status.ok();
        if (status.ok() && k == 2) cancel_flags[id]->store(true);
        if (!status.ok()) {
          EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
          std::this_thread::yield();  // Back off a little, as a client would.
        }
      }
    });
  }
  for (std::thread& producer : producers) producer.join();
  batcher->Shutdown(/*drain=*/true);

  const std::map<int, int> done_calls = recorder.done_calls();
  int accepted_count = 0;
  for (int id = 0; id < kTasks; ++id) {
    auto it = done_calls.find(id);
    const int calls = it == done_calls.end() ? 0 : it->second;
    if (accepted[id]) {
      ++accepted_count;
      ASSERT_EQ(calls, 1) << "task " << id;
    } else {
      ASSERT_EQ(calls, 0) << "refused task " << id;
    }
  }
  EXPECT_EQ(recorder.destroyed(), kTasks);
  EXPECT_EQ(limit_violations.load(), 0);
  const BatcherStats stats = batcher->GetStats();
  EXPECT_EQ(stats.accepted, accepted_count);
  EXPECT_EQ(stats.rejected, kTasks - accepted_count);
  EXPECT_EQ(stats.accepted,
            stats.succeeded + stats.failed + stats.expired + stats.cancelled + stats.unavailable);
  EXPECT_EQ(stats.batches, batches.load());
  EXPECT_EQ(stats.queued_tasks, 0);
  EXPECT_EQ(stats.running_batches, 0);
  EXPECT_GT(stats.expired, 0);  // The expired-on-arrival tasks.
}

}  // namespace
}  // namespace ner::server
