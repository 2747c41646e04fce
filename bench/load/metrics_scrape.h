#ifndef NER_BENCH_LOAD_METRICS_SCRAPE_H_
#define NER_BENCH_LOAD_METRICS_SCRAPE_H_

#include <string>

#include "absl/status/statusor.h"
#include "bench/load/load_stats.h"

namespace ner::bench {

// GETs http://`host_port`/metrics (plain HTTP/1.0, as the server's endpoint serves it) and
// parses it. UNAVAILABLE when the endpoint cannot be reached, INTERNAL for a non-200 reply.
absl::StatusOr<MetricSamples> ScrapeMetrics(const std::string& host_port);

}  // namespace ner::bench

#endif  // NER_BENCH_LOAD_METRICS_SCRAPE_H_
