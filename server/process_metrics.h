#ifndef NER_SERVER_PROCESS_METRICS_H_
#define NER_SERVER_PROCESS_METRICS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "prometheus/metric_family.h"

namespace ner::server {

// The process metrics that Prometheus client libraries export by default (the "process
// collector" of the Go, Java and Python clients; prometheus-cpp has none), read from /proc at
// each scrape:
//   process_cpu_seconds_total       user + system CPU time (counter)
//   process_resident_memory_bytes   resident set size
//   process_virtual_memory_bytes    virtual memory size
//   process_start_time_seconds      start time, seconds since the Unix epoch
//   process_open_fds, process_max_fds   open file descriptors and their soft limit (-1: none)
//   process_threads                 threads of the process
// A value that cannot be read is left out (and nothing at all off Linux); never an error, so a
// scrape always answers. Thread-safe.
std::vector<prometheus::MetricFamily> CollectProcessMetrics();

// One /proc/<pid>/stat line, the fields the collector uses (raw units).
struct ProcStat {
  double user_ticks = 0;      // utime, clock ticks
  double system_ticks = 0;    // stime
  double threads = 0;         // num_threads
  double start_ticks = 0;     // starttime, clock ticks after boot
  double virtual_bytes = 0;   // vsize
  double resident_pages = 0;  // rss
};
// INVALID_ARGUMENT when `line` is not a stat line. The command name (in parentheses) may hold
// spaces and parentheses of its own.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view line);
// The boot time (seconds since the epoch) from /proc/stat's "btime" line.
absl::StatusOr<double> ParseBootTime(absl::string_view proc_stat);

}  // namespace ner::server

#endif  // NER_SERVER_PROCESS_METRICS_H_
