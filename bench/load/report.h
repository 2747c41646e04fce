#ifndef NER_BENCH_LOAD_REPORT_H_
#define NER_BENCH_LOAD_REPORT_H_

#include <optional>
#include <string>

#include "bench/load/load_runner.h"
#include "bench/load/load_stats.h"

namespace ner::bench {

// One run of the load generator, for its report.
struct RunReport {
  std::string target;
  LoadOptions options;
  int channels = 1;
  int64_t distinct_documents = 0;
  LoadResult result;
  // Server-side statistics over the run (with --metrics_address).
  std::optional<ServerBatchStats> server;
  // CPU time of this process (the load generator) over `window`, the whole run with its
  // warm-up (the window of the server's statistics too).
  absl::Duration window;
  double client_cpu_seconds = 0;
};

// A few aligned lines for a person. Pure.
std::string FormatReport(const RunReport& report);

// One JSON object (the same figures; latencies as a summary, not every sample). Pure.
std::string ReportJson(const RunReport& report);

}  // namespace ner::bench

#endif  // NER_BENCH_LOAD_REPORT_H_
