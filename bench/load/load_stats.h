#ifndef NER_BENCH_LOAD_LOAD_STATS_H_
#define NER_BENCH_LOAD_LOAD_STATS_H_

// Pure helpers of the load generator: latency percentiles, the Prometheus text format, and the
// server-side batch statistics between two scrapes of its /metrics endpoint.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::bench {

struct LatencySummary {
  int64_t count = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentiles (p-th = the ceil(p/100 * n)-th smallest); all zero when empty.
LatencySummary SummarizeLatencies(std::vector<double> latencies_ms);

// The samples of a Prometheus text exposition: each series exactly as written (name plus its
// `{labels}`, e.g. `ner_batch_size_sum` or `ner_requests_total{code="OK",method="Recognize"}`)
// to its value. Comments and blank lines are skipped; a sample line without a number is
// INVALID_ARGUMENT naming the line.
using MetricSamples = std::map<std::string, double>;
absl::StatusOr<MetricSamples> ParsePrometheusText(absl::string_view text);

// What the server did between two scrapes (`after` - `before`), from its histograms
// ner_batch_size, ner_batch_tokens, ner_batch_latency_seconds, ner_queue_wait_seconds and
// ner_batch_padding_ratio (see server/metrics.cc), and its CPU time from
// process_cpu_seconds_total, and the documents it recognised (ner_documents_total). Series missing
// from a scrape count as 0.
struct ServerBatchStats {
  double batches = 0;
  double mean_pieces_per_batch = 0;
  double mean_tokens_per_batch = 0;
  // Model compute per batch (the batcher worker's forward + decode), mean.
  double mean_batch_ms = 0;
  // Time a piece waited in the queue before its batch started, mean.
  double mean_queue_wait_ms = 0;
  double mean_padding_ratio = 0;
  // Requests finished by the server in the window, by status code (label `code`).
  std::map<std::string, double> requests_by_code;
  // Documents the server recognised in the window (ner_documents_total).
  double documents = 0;
  // The server's CPU time in the window (process_cpu_seconds_total), where it exports it.
  std::optional<double> cpu_seconds;
};
ServerBatchStats BatchStatsBetween(const MetricSamples& before, const MetricSamples& after);

}  // namespace ner::bench

#endif  // NER_BENCH_LOAD_LOAD_STATS_H_
