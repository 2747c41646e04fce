#include "bench/load/load_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace ner::bench {
namespace {

using ::testing::HasSubstr;

TEST(SummarizeLatenciesTest, NearestRankPercentiles) {
  std::vector<double> latencies;
  for (int i = 100; i >= 1; --i) latencies.push_back(i);  // 1..100, unsorted
  const LatencySummary s = SummarizeLatencies(latencies);
  EXPECT_EQ(s.count, 100);
  EXPECT_DOUBLE_EQ(s.p50_ms, 50);
  EXPECT_DOUBLE_EQ(s.p90_ms, 90);
  EXPECT_DOUBLE_EQ(s.p99_ms, 99);
  EXPECT_DOUBLE_EQ(s.max_ms, 100);
  EXPECT_DOUBLE_EQ(s.mean_ms, 50.5);
}

TEST(SummarizeLatenciesTest, SmallAndEmpty) {
  const LatencySummary one = SummarizeLatencies({7});
  EXPECT_DOUBLE_EQ(one.p50_ms, 7);
  EXPECT_DOUBLE_EQ(one.p99_ms, 7);
  const LatencySummary three = SummarizeLatencies({3, 1, 2});
  EXPECT_DOUBLE_EQ(three.p50_ms, 2);  // ceil(1.5) = 2nd smallest
  EXPECT_DOUBLE_EQ(three.p90_ms, 3);
  const LatencySummary none = SummarizeLatencies({});
  EXPECT_EQ(none.count, 0);
  EXPECT_DOUBLE_EQ(none.p99_ms, 0);
}

TEST(ParsePrometheusTextTest, SeriesWithAndWithoutLabels) {
  const auto samples = ParsePrometheusText(
      "# HELP ner_queue_depth Pieces waiting\n"
      "# TYPE ner_queue_depth gauge\n"
      "ner_queue_depth 3\n"
      "\n"
      "ner_requests_total{code=\"OK\",method=\"Recognize\"} 12 1700000000000\n"
      "ner_model_info{name=\"a b\",version=\"x\"} 1\n"
      "ner_batch_size_bucket{le=\"+Inf\"} 4\n"
      "weird_value +Inf\n");
  ASSERT_TRUE(samples.ok()) << samples.status();
  EXPECT_EQ(samples->at("ner_queue_depth"), 3);
  EXPECT_EQ(samples->at("ner_requests_total{code=\"OK\",method=\"Recognize\"}"), 12);
  EXPECT_EQ(samples->at("ner_model_info{name=\"a b\",version=\"x\"}"), 1);
  EXPECT_EQ(samples->at("ner_batch_size_bucket{le=\"+Inf\"}"), 4);
  EXPECT_TRUE(std::isinf(samples->at("weird_value")));
}

TEST(ParsePrometheusTextTest, MalformedLinesNameTheLine) {
  auto bad = ParsePrometheusText("ok 1\nnot_a_number abc\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("line 2"));
  EXPECT_FALSE(ParsePrometheusText("no_value\n").ok());
  EXPECT_FALSE(ParsePrometheusText("x{a=\"1\" 2\n").ok());
}

TEST(BatchStatsBetweenTest, DeltasOfTheHistograms) {
  const MetricSamples before = {
      {"ner_batch_size_count", 10},
      {"ner_batch_size_sum", 40},
      {"ner_batch_latency_seconds_count", 10},
      {"ner_batch_latency_seconds_sum", 0.5},
      {"ner_requests_total{code=\"OK\",method=\"Recognize\"}", 5},
  };
  const MetricSamples after = {
      {"ner_batch_size_count", 30},
      {"ner_batch_size_sum", 440},
      {"ner_batch_tokens_count", 20},
      {"ner_batch_tokens_sum", 2000},
      {"ner_batch_latency_seconds_count", 30},
      {"ner_batch_latency_seconds_sum", 0.9},
      {"ner_queue_wait_seconds_count", 400},
      {"ner_queue_wait_seconds_sum", 0.8},
      {"ner_requests_total{code=\"OK\",method=\"Recognize\"}", 405},
      {"ner_requests_total{code=\"RESOURCE_EXHAUSTED\",method=\"RecognizeStream\"}", 3},
      {"ner_requests_total{code=\"OK\",method=\"ListModels\"}", 9},
  };
  const ServerBatchStats stats = BatchStatsBetween(before, after);
  EXPECT_DOUBLE_EQ(stats.batches, 20);
  EXPECT_DOUBLE_EQ(stats.mean_pieces_per_batch, 20);
  EXPECT_DOUBLE_EQ(stats.mean_tokens_per_batch, 100);
  EXPECT_DOUBLE_EQ(stats.mean_batch_ms, 20);
  EXPECT_DOUBLE_EQ(stats.mean_queue_wait_ms, 2);
  EXPECT_DOUBLE_EQ(stats.mean_padding_ratio, 0);  // no observations
  EXPECT_EQ(stats.requests_by_code.size(), 2u);   // ListModels is not a recognition call
  EXPECT_DOUBLE_EQ(stats.requests_by_code.at("OK"), 400);
  EXPECT_DOUBLE_EQ(stats.requests_by_code.at("RESOURCE_EXHAUSTED"), 3);
  EXPECT_FALSE(stats.cpu_seconds.has_value());  // a server without process metrics

  MetricSamples with_cpu = after;
  with_cpu["process_cpu_seconds_total"] = 12.5;
  with_cpu["ner_documents_total"] = 800;
  EXPECT_DOUBLE_EQ(BatchStatsBetween(before, with_cpu).documents, 800);
  EXPECT_DOUBLE_EQ(BatchStatsBetween(before, with_cpu).cpu_seconds.value(), 12.5);
  MetricSamples earlier = before;
  earlier["process_cpu_seconds_total"] = 2.5;
  EXPECT_DOUBLE_EQ(BatchStatsBetween(earlier, with_cpu).cpu_seconds.value(), 10);
}

}  // namespace
}  // namespace ner::bench
