#include "server/batching_policy.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ner::server {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1000);

BatcherOptions Options(int max_batch_size, int max_batch_tokens,
                       absl::Duration max_queue_delay = absl::Milliseconds(2)) {
  BatcherOptions options;
  options.max_batch_size = max_batch_size;
  options.max_batch_tokens = max_batch_tokens;
  options.max_queue_delay = max_queue_delay;
  return options;
}

TEST(BatcherOptionsTest, DefaultsAreValid) { EXPECT_TRUE(BatcherOptions().Validate().ok()); }

TEST(BatcherOptionsTest, RejectsEachFieldOutOfRange) {
  struct Case {
    std::string field;
    void (*spoil)(BatcherOptions&);
  };
  const std::vector<Case> cases = {
      {"max_batch_size", [](BatcherOptions& o) { o.max_batch_size = 0; }},
      {"max_batch_tokens", [](BatcherOptions& o) { o.max_batch_tokens = -1; }},
      {"max_queue_delay", [](BatcherOptions& o) { o.max_queue_delay = absl::Milliseconds(-1); }},
      {"max_queue_delay", [](BatcherOptions& o) { o.max_queue_delay = absl::InfiniteDuration(); }},
      {"max_queue_items", [](BatcherOptions& o) { o.max_queue_items = 0; }},
      {"num_workers", [](BatcherOptions& o) { o.num_workers = 0; }},
  };
  for (const Case& c : cases) {
    BatcherOptions options;
    c.spoil(options);
    const absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.field));
  }
  BatcherOptions zero_delay;
  zero_delay.max_queue_delay = absl::ZeroDuration();
  EXPECT_TRUE(zero_delay.Validate().ok());
}

TEST(NextBatchTimeTest, Table) {
  struct Case {
    std::string name;
    QueueSummary queue;
    bool draining;
    absl::Time want;
  };
  const BatcherOptions options = Options(/*max_batch_size=*/4, /*max_batch_tokens=*/100);
  const std::vector<Case> cases = {
      {"empty waits for a task", {0, 0, absl::InfiniteFuture()}, false, absl::InfiniteFuture()},
      {"empty while draining", {0, 0, absl::InfiniteFuture()}, true, absl::InfiniteFuture()},
      {"one task waits the delay from its enqueue",
       {1, 10, kT0},
       false,
       kT0 + absl::Milliseconds(2)},
      {"the delay counts from the oldest",
       {3, 30, kT0 - absl::Milliseconds(5)},
       false,
       kT0 - absl::Milliseconds(3)},
      {"max_batch_size tasks are due now", {4, 8, kT0}, false, absl::InfinitePast()},
      {"more than max_batch_size", {9, 18, kT0}, false, absl::InfinitePast()},
      {"max_batch_tokens tokens are due now", {2, 100, kT0}, false, absl::InfinitePast()},
      {"one task over the token budget", {1, 500, kT0}, false, absl::InfinitePast()},
      {"just under both limits waits", {3, 99, kT0}, false, kT0 + absl::Milliseconds(2)},
      {"draining runs at once", {1, 1, kT0}, true, absl::InfinitePast()},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextBatchTime(c.queue, options, c.draining), c.want) << c.name;
  }
  // Without a delay a lone task is due when it arrives.
  EXPECT_EQ(NextBatchTime({1, 1, kT0}, Options(4, 100, absl::ZeroDuration()), false), kT0);
}

TEST(SelectBatchTest, Table) {
  struct Case {
    std::string name;
    int max_batch_size;
    int max_batch_tokens;
    std::vector<int64_t> costs;  // queue order, oldest first
    std::vector<size_t> want;    // indices, run order
  };
  const std::vector<Case> cases = {
      {"empty queue", 4, 100, {}, {}},
      {"one task", 4, 100, {7}, {0}},
      {"all fit, longest first", 4, 100, {3, 9, 5}, {1, 2, 0}},
      {"equal lengths keep queue order", 4, 100, {5, 5, 5}, {0, 1, 2}},
      {"max_batch_size caps", 2, 100, {1, 2, 3}, {1, 0}},
      {"the oldest goes first, a later long one waits", 8, 40, {10, 10, 30, 10}, {0, 1, 3}},
      // Padded, not summed: 3 x 30 = 90 > 80 although 10 + 30 + 10 = 50.
      {"padding counts", 8, 80, {10, 30, 10, 10}, {1, 0}},
      {"a task alone over the budget goes alone", 8, 100, {150, 1, 1}, {0}},
      {"a later oversized task is skipped", 8, 100, {5, 150, 5}, {0, 2}},
      {"exactly the budget fits", 4, 40, {10, 10, 10, 10}, {0, 1, 2, 3}},
      {"stops when nothing more can fit", 8, 12, {4, 4, 4, 1}, {0, 1, 2}},
  };
  for (const Case& c : cases) {
    const std::vector<size_t> got =
        SelectBatch(c.costs, Options(c.max_batch_size, c.max_batch_tokens));
    EXPECT_THAT(got, ElementsAreArray(c.want)) << c.name;
  }
}

// Over many random queues: the oldest is always taken, limits hold unless the oldest alone
// exceeds the budget, the order is by descending cost, and no index repeats.
TEST(SelectBatchTest, InvariantsOnRandomQueues) {
  uint32_t seed = 12345;
  auto next = [&seed](uint32_t n) {
    seed = seed * 1664525u + 1013904223u;
    return (seed >> 8) % n;
  };
  for (int round = 0; round < 2000; ++round) {
    const int max_batch_size = 1 + static_cast<int>(next(16));
    const int max_batch_tokens = 1 + static_cast<int>(next(200));
    std::vector<int64_t> costs(next(40));
    for (int64_t& cost : costs) cost = 1 + next(120);
    const std::vector<size_t> batch = SelectBatch(costs, Options(max_batch_size, max_batch_tokens));
    if (costs.empty()) {
      EXPECT_TRUE(batch.empty());
      continue;
    }
    ASSERT_FALSE(batch.empty());
    EXPECT_NE(std::find(batch.begin(), batch.end(), 0u), batch.end());
    EXPECT_LE(static_cast<int>(batch.size()), max_batch_size);
    std::vector<bool> seen(costs.size(), false);
    int64_t longest = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      ASSERT_LT(batch[i], costs.size());
      EXPECT_FALSE(seen[batch[i]]);
      seen[batch[i]] = true;
      longest = std::max(longest, costs[batch[i]]);
      if (i > 0) {
        EXPECT_GE(costs[batch[i - 1]], costs[batch[i]]);
      }
    }
    if (batch.size() > 1) {
      EXPECT_LE(PaddedTokens(static_cast<int64_t>(batch.size()), longest), max_batch_tokens);
    }
  }
}

}  // namespace
}  // namespace ner::server
