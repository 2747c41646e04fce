#include "server/batching_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ner::server {

absl::Status BatcherOptions::Validate() const {
  if (max_batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_size must be >= 1, got ", max_batch_size));
  }
  if (max_batch_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batch_tokens must be >= 1, got ", max_batch_tokens));
  }
  if (max_queue_delay < absl::ZeroDuration() || max_queue_delay == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("max_queue_delay must be finite and >= 0, got ",
                                                   absl::FormatDuration(max_queue_delay)));
  }
  if (max_queue_items < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queue_items must be >= 1, got ", max_queue_items));
  }
  if (num_workers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("num_workers must be >= 1, got ", num_workers));
  }
  return absl::OkStatus();
}

absl::Time NextBatchTime(const QueueSummary& queue, const BatcherOptions& options, bool draining) {
  if (queue.tasks == 0) return absl::InfiniteFuture();
  if (draining || queue.tasks >= options.max_batch_size ||
      queue.tokens >= options.max_batch_tokens) {
    return absl::InfinitePast();
  }
  return queue.oldest_enqueue_time + options.max_queue_delay;
}

std::vector<size_t> SelectBatch(absl::Span<const int64_t> costs, const BatcherOptions& options) {
  std::vector<size_t> batch;
  if (costs.empty()) return batch;
  batch.push_back(0);  // The oldest always goes, even when it alone exceeds the token budget.
  int64_t longest = costs[0];
  for (size_t i = 1; i < costs.size(); ++i) {
    const int64_t size = static_cast<int64_t>(batch.size());
    // Costs are >= 1, so once even a task no longer than `longest` would not fit, none will.
    if (size >= options.max_batch_size ||
        PaddedTokens(size + 1, longest) > options.max_batch_tokens) {
      break;
    }
    const int64_t new_longest = std::max(longest, costs[i]);
    if (PaddedTokens(size + 1, new_longest) > options.max_batch_tokens) continue;
    batch.push_back(i);
    longest = new_longest;
  }
  std::stable_sort(batch.begin(), batch.end(),
                   [&costs](size_t a, size_t b) { return costs[a] > costs[b]; });
  return batch;
}

}  // namespace ner::server
