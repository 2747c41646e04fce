// The process metrics of the metrics endpoint (process_metrics.h): /proc parsing, and values
// that follow what the process does.

#include "server/process_metrics.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>

#include "absl/time/clock.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;

// A command name with spaces and parentheses, then fields 3 .. 25 of proc(5): utime 14 = 250,
// stime 15 = 50, num_threads 20 = 7, starttime 22 = 12345, vsize 23 = 1000000, rss 24 = 300.
constexpr char kStat[] =
    "4242 (ner (server) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 12345 "
    "1000000 300 18446744073709551615\n";

TEST(ProcessMetricsTest, ParsesAStatLine) {
  absl::StatusOr<ProcStat> stat = ParseProcStat(kStat);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->user_ticks, 250);
  EXPECT_EQ(stat->system_ticks, 50);
  EXPECT_EQ(stat->threads, 7);
  EXPECT_EQ(stat->start_ticks, 12345);
  EXPECT_EQ(stat->virtual_bytes, 1000000);
  EXPECT_EQ(stat->resident_pages, 300);
}

TEST(ProcessMetricsTest, RejectsWhatIsNotAStatLine) {
  EXPECT_THAT(ParseProcStat("").status().message(), HasSubstr("no command name"));
  EXPECT_THAT(ParseProcStat("1 (a) S 1 2 3").status().message(), HasSubstr("6 fields"));
  std::string garbled = kStat;
  garbled.replace(garbled.find(" 250 "), 5, " x50 ");
  EXPECT_FALSE(ParseProcStat(garbled).ok());

  absl::StatusOr<double> boot = ParseBootTime("cpu  1 2 3\nbtime 1764547200\nprocesses 9\n");
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(*boot, 1764547200);
  EXPECT_FALSE(ParseBootTime("cpu  1 2 3\n").ok());
  EXPECT_FALSE(ParseBootTime("btime soon\n").ok());
}

std::map<std::string, double> Collect() {
  std::map<std::string, double> values;
  for (const prometheus::MetricFamily& family : CollectProcessMetrics()) {
    EXPECT_EQ(family.metric.size(), 1u) << family.name;
    if (family.metric.empty()) continue;
    values[family.name] = family.type == prometheus::MetricType::Counter
                              ? family.metric[0].counter.value
                              : family.metric[0].gauge.value;
  }
  return values;
}

TEST(ProcessMetricsTest, FollowTheProcess) {
#ifndef __linux__
  GTEST_SKIP() << "process metrics are read from Linux's /proc";
#endif
  std::map<std::string, double> before = Collect();
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_start_time_seconds",
                           "process_open_fds", "process_max_fds", "process_threads"}) {
    EXPECT_EQ(before.count(name), 1u) << name;
  }
  EXPECT_GT(before["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GE(before["process_virtual_memory_bytes"], before["process_resident_memory_bytes"]);
  EXPECT_GE(before["process_threads"], 1);
  const double now = absl::ToUnixSeconds(absl::Now());
  EXPECT_LE(before["process_start_time_seconds"], now + 1);
  EXPECT_GT(before["process_start_time_seconds"], now - 24 * 3600);
  EXPECT_GE(before["process_max_fds"], before["process_open_fds"]);

  // Half a second of CPU, two more descriptors.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  volatile double sink = 0;
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  const int a = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  const int b = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  std::map<std::string, double> after = Collect();
  ::close(a);
  ::close(b);
  EXPECT_GE(after["process_cpu_seconds_total"] - before["process_cpu_seconds_total"], 0.3);
  EXPECT_EQ(after["process_open_fds"], before["process_open_fds"] + 2);
  EXPECT_EQ(after["process_start_time_seconds"], before["process_start_time_seconds"]);
}

}  // namespace
}  // namespace ner::server
