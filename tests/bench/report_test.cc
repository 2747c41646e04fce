// ner-bench's report (bench/load/report.h): the CPU line and its JSON twin.

#include "bench/load/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace ner::bench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

RunReport TenSecondsAtOneCore() {
  RunReport report;
  report.target = "127.0.0.1:1";
  report.result.documents_ok = 1000;
  report.result.elapsed = absl::Seconds(8);
  report.window = absl::Seconds(10);
  report.client_cpu_seconds = 2.5;
  return report;
}

TEST(RunReportTest, CpuOfTheLoadGeneratorAndTheServerPerRequest) {
  RunReport report = TenSecondsAtOneCore();
  EXPECT_THAT(FormatReport(report),
              HasSubstr("cpu         load generator 0.25 cores, over 10.0 s"));
  nlohmann::json json = nlohmann::json::parse(ReportJson(report));
  EXPECT_DOUBLE_EQ(json["client_cpu"]["cpu_seconds"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(json["client_cpu"]["window_seconds"].get<double>(), 10);

  ServerBatchStats server;
  server.requests_by_code = {{"OK", 50}};  // streams: 100 documents each
  server.documents = 5000;
  report.server = server;  // no process metrics: no server CPU
  EXPECT_THAT(FormatReport(report), Not(HasSubstr("server 1")));
  EXPECT_FALSE(nlohmann::json::parse(ReportJson(report))["server"].contains("cpu_seconds"));

  report.server->cpu_seconds = 15;  // 1.5 cores; 3 ms per document of 5000
  EXPECT_THAT(FormatReport(report),
              HasSubstr("load generator 0.25 cores (0.500 ms per document); server 1.50 cores "
                        "(3.000 ms per document), over 10.0 s"));
  json = nlohmann::json::parse(ReportJson(report));
  EXPECT_DOUBLE_EQ(json["server"]["cpu_seconds"].get<double>(), 15);
  EXPECT_DOUBLE_EQ(json["server"]["cpu_ms_per_document"].get<double>(), 3);
}

TEST(RunReportTest, NoCpuLineWithoutAWindow) {
  RunReport report = TenSecondsAtOneCore();
  report.window = absl::ZeroDuration();
  EXPECT_THAT(FormatReport(report), Not(HasSubstr("cpu ")));
  EXPECT_FALSE(nlohmann::json::parse(ReportJson(report)).contains("client_cpu"));
}

}  // namespace
}  // namespace ner::bench
