#include "server/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/file_util.h"

namespace ner::server {
namespace {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  family.metric.push_back(std::move(metric));
  return family;
}

std::optional<double> OpenFds() {
  std::error_code error;
  std::filesystem::directory_iterator it("/proc/self/fd", error);
  if (error) return std::nullopt;
  double n = 0;
  for (; it != std::filesystem::directory_iterator(); it.increment(error)) {
    if (error) return std::nullopt;
    ++n;
  }
  return n - 1;  // not the descriptor that lists them
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(absl::string_view line) {
  // "pid (comm) state ppid ...": the fields after the last ')' start with field 3, state.
  const size_t close = line.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("not a /proc stat line: no command name");
  }
  const std::vector<absl::string_view> fields =
      absl::StrSplit(line.substr(close + 1), ' ', absl::SkipEmpty());
  // fields[i] is field i + 3 of proc(5): utime 14, stime 15, num_threads 20, starttime 22,
  // vsize 23, rss 24.
  auto field = [&fields](int number, double* out) {
    const size_t i = static_cast<size_t>(number - 3);
    return i < fields.size() && absl::SimpleAtod(fields[i], out);
  };
  ProcStat stat;
  if (!field(14, &stat.user_ticks) || !field(15, &stat.system_ticks) || !field(20, &stat.threads) ||
      !field(22, &stat.start_ticks) || !field(23, &stat.virtual_bytes) ||
      !field(24, &stat.resident_pages)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a /proc stat line: ", fields.size() + 2, " fields"));
  }
  return stat;
}

absl::StatusOr<double> ParseBootTime(absl::string_view proc_stat) {
  for (absl::string_view line : absl::StrSplit(proc_stat, '\n')) {
    if (!absl::ConsumePrefix(&line, "btime ")) continue;
    double seconds = 0;
    if (absl::SimpleAtod(line, &seconds)) return seconds;
    break;
  }
  return absl::InvalidArgumentError("no btime line in /proc/stat");
}

std::vector<prometheus::MetricFamily> CollectProcessMetrics() {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
#ifdef __linux__
  const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  const long page_size = ::sysconf(_SC_PAGESIZE);
  const absl::StatusOr<std::string> line = model::ReadFileToString("/proc/self/stat");
  absl::StatusOr<ProcStat> stat = line.ok() ? ParseProcStat(*line) : line.status();
  if (stat.ok() && ticks_per_second > 0 && page_size > 0) {
    const double ticks = static_cast<double>(ticks_per_second);
    out.push_back(Family("process_cpu_seconds_total",
                         "Total user and system CPU time spent in seconds.", MetricType::Counter,
                         (stat->user_ticks + stat->system_ticks) / ticks));
    out.push_back(Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                         MetricType::Gauge, stat->resident_pages * static_cast<double>(page_size)));
    out.push_back(Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                         MetricType::Gauge, stat->virtual_bytes));
    const absl::StatusOr<std::string> system = model::ReadFileToString("/proc/stat");
    absl::StatusOr<double> boot = system.ok() ? ParseBootTime(*system) : system.status();
    if (boot.ok()) {
      out.push_back(Family("process_start_time_seconds",
                           "Start time of the process since unix epoch in seconds.",
                           MetricType::Gauge, *boot + stat->start_ticks / ticks));
    }
    out.push_back(Family("process_threads", "Number of OS threads in the process.",
                         MetricType::Gauge, stat->threads));
  }
  if (std::optional<double> fds = OpenFds()) {
    out.push_back(
        Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, *fds));
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(
        Family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
               limit.rlim_cur == RLIM_INFINITY ? -1.0 : static_cast<double>(limit.rlim_cur)));
  }
#endif
  return out;
}

}  // namespace ner::server
