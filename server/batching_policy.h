#ifndef NER_SERVER_BATCHING_POLICY_H_
#define NER_SERVER_BATCHING_POLICY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ner::server {

// Dynamic batching settings. A task's cost is its length in tokens; a batch is padded to its
// longest task, so its padded cost is (tasks x longest cost).
struct BatcherOptions {
  // Most tasks in one batch, >= 1.
  int max_batch_size = 32;
  // Most padded tokens in one batch (tasks x longest), >= 1. A task costing more runs alone.
  int max_batch_tokens = 8192;
  // How long the oldest waiting task may wait for its batch to fill, >= 0. Under light load each
  // request pays up to this much extra latency; under load batches fill before it runs out, so
  // it buys larger batches (throughput) for a bounded latency cost.
  absl::Duration max_queue_delay = absl::Milliseconds(2);
  // Most tasks waiting, >= 1; Enqueue beyond it fails with RESOURCE_EXHAUSTED instead of
  // blocking, so overload is pushed back to clients (who retry with backoff).
  int max_queue_items = 4096;
  // Worker threads, i.e. batches that may run at the same time, >= 1.
  int num_workers = 1;

  // INVALID_ARGUMENT naming the first field out of range.
  absl::Status Validate() const;
};

// The batching policy as pure functions over plain data, so that it is tested by tables of
// cases apart from threads and clocks. All are thread-safe.

// What the decision of when to batch needs to know about the waiting tasks.
struct QueueSummary {
  int64_t tasks = 0;                                        // waiting tasks
  int64_t tokens = 0;                                       // sum of their costs (unpadded)
  absl::Time oldest_enqueue_time = absl::InfiniteFuture();  // of the task waiting longest
};

// When the next batch is due; the batcher forms one as soon as now >= the result.
//   - absl::InfinitePast() (due now) when a full batch is waiting (max_batch_size tasks, or
//     max_batch_tokens tokens), or when `draining` and any task waits;
//   - otherwise the oldest task's enqueue time + max_queue_delay: the delay counts from the
//     OLDEST task, so a steady trickle of new tasks cannot postpone a batch forever;
//   - absl::InfiniteFuture() when nothing waits.
// `options` must pass Validate().
absl::Time NextBatchTime(const QueueSummary& queue, const BatcherOptions& options, bool draining);

// Padded tokens of a batch of `size` tasks whose longest costs `longest` tokens.
inline int64_t PaddedTokens(int64_t size, int64_t longest) { return size * longest; }

// Chooses the next batch among the waiting tasks, given their costs (>= 1) in queue order
// (oldest first). Scanning in queue order, a task is taken when the batch stays within
// max_batch_size tasks and max_batch_tokens padded tokens; a task that does not fit is skipped
// (it stays queued, keeping its place). The oldest task is always taken, alone if it exceeds
// max_batch_tokens by itself; every task thus becomes the oldest eventually and none starves.
// Returns indices into `costs` in run order: longest first (ties in queue order), so rows of
// similar length sit together and the runner can pack or split the batch with little padding.
// Empty only when `costs` is. `options` must pass Validate().
std::vector<size_t> SelectBatch(absl::Span<const int64_t> costs, const BatcherOptions& options);

}  // namespace ner::server

#endif  // NER_SERVER_BATCHING_POLICY_H_
