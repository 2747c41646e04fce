#include "server/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "prometheus/text_serializer.h"
#include "server/metrics_endpoint.h"
#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Text(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(ServerMetricsTest, RecordsRequestsBatchesAndModels) {
  auto registry = std::make_shared<prometheus::Registry>();
  ServerMetrics metrics(*registry);
  metrics.RpcStarted();
  metrics.RpcStarted();
  metrics.RpcFinished(RpcMethod::kRecognize, absl::StatusCode::kOk, absl::Milliseconds(3));
  metrics.RpcFinished(RpcMethod::kRecognize, absl::StatusCode::kInvalidArgument,
                      absl::Milliseconds(1));
  metrics.DocumentsRecognized(2, 17);
  metrics.EntitiesReturned("PER", 3);
  metrics.SetQueueDepth(5);
  metrics.SetQueueCapacity(4096);
  BatchReport report;
  report.size = 4;
  report.tokens = 100;
  report.run_time = absl::Milliseconds(20);
  metrics.OnBatch(report);

  ServedModel v1;
  v1.name = "default";
  v1.version = "aaaa";
  v1.entity_types = {"LOC", "PER"};
  metrics.OnModelLoaded(v1, nullptr);
  ServedModel v2 = std::move(v1);
  v2.version = "bbbb";
  ServedModel old;
  old.name = "default";
  old.version = "aaaa";
  metrics.OnModelLoaded(v2, &old);

  const std::string text = Text(*registry);
  EXPECT_THAT(text, HasSubstr("ner_requests_total{code=\"OK\",method=\"Recognize\"} 1"));
  EXPECT_THAT(text,
              HasSubstr("ner_requests_total{code=\"INVALID_ARGUMENT\",method=\"Recognize\"} 1"));
  EXPECT_THAT(text, HasSubstr("ner_request_latency_seconds_count{method=\"Recognize\"} 2"));
  EXPECT_THAT(text, HasSubstr("ner_inflight_requests 0"));
  EXPECT_THAT(text, HasSubstr("ner_documents_total 2"));
  EXPECT_THAT(text, HasSubstr("ner_characters_total 17"));
  EXPECT_THAT(text, HasSubstr("ner_entities_total{type=\"PER\"} 3"));
  EXPECT_THAT(text, HasSubstr("ner_entities_total{type=\"LOC\"} 0"));  // resolved at load
  EXPECT_THAT(text, HasSubstr("ner_queue_depth 5"));
  EXPECT_THAT(text, HasSubstr("ner_queue_capacity 4096"));
  EXPECT_THAT(text, HasSubstr("ner_batch_size_count 1"));
  EXPECT_THAT(text, HasSubstr("ner_batch_tokens_sum 100"));
  EXPECT_THAT(text, HasSubstr("ner_batch_latency_seconds_count 1"));
  EXPECT_THAT(text,
              HasSubstr("ner_model_info{name=\"default\",variant=\"unknown\",version=\"bbbb\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("version=\"aaaa\"")));
  EXPECT_THAT(text, HasSubstr("ner_model_loaded 1"));
  EXPECT_THAT(text, HasSubstr("ner_train_jobs_running 0"));
  EXPECT_THAT(text, HasSubstr("ner_train_steps_total 0"));
  // Methods with no finished call yet have no request series.
  EXPECT_THAT(text, Not(HasSubstr("method=\"LoadModel\"} 1")));
}

TEST(MetricsEndpointTest, ServesTheTextFormatOverHttp) {
  auto registry = std::make_shared<prometheus::Registry>();
  ServerMetrics metrics(*registry);
  metrics.RpcStarted();
  metrics.RpcFinished(RpcMethod::kListModels, absl::StatusCode::kOk, absl::Milliseconds(1));
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  ASSERT_GT((*endpoint)->port(), 0);
  for (int scrape = 0; scrape < 3; ++scrape) {
    absl::StatusOr<std::string> body = testing::HttpGet((*endpoint)->port(), "/metrics");
    ASSERT_TRUE(body.ok()) << body.status();
    EXPECT_THAT(*body, HasSubstr("ner_requests_total{code=\"OK\",method=\"ListModels\"} 1"));
    // and the process metrics (process_metrics_test.cc)
    EXPECT_THAT(*body, HasSubstr("# TYPE process_cpu_seconds_total counter"));
    EXPECT_THAT(*body, HasSubstr("\nprocess_resident_memory_bytes "));
  }
  EXPECT_THAT(testing::HttpGet((*endpoint)->port(), "/other").status().message(), HasSubstr("404"));
}

TEST(MetricsEndpointTest, HealthzAndReadyzFollowTheHealthFunctions) {
  auto registry = std::make_shared<prometheus::Registry>();
  absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint =
      MetricsEndpoint::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->port();
  // Before SetHealth: the model is loading, alive but not ready.
  EXPECT_EQ(*testing::HttpGet(port, "/healthz"), "ok\n");
  EXPECT_THAT(testing::HttpGet(port, "/readyz").status().message(), HasSubstr("503"));

  std::atomic<bool> live{true};
  std::atomic<bool> ready{false};
  (*endpoint)->SetHealth([&] { return live.load(); }, [&] { return ready.load(); });
  EXPECT_EQ(*testing::HttpGet(port, "/healthz"), "ok\n");
  EXPECT_THAT(testing::HttpGet(port, "/readyz").status().message(), HasSubstr("503"));
  ready = true;
  EXPECT_EQ(*testing::HttpGet(port, "/readyz"), "ready\n");
  EXPECT_EQ(*testing::HttpGet(port, "/readyz?verbose=1"), "ready\n");
  live = false;  // draining
  EXPECT_THAT(testing::HttpGet(port, "/healthz").status().message(), HasSubstr("503"));
  EXPECT_THAT(testing::HttpGet(port, "/readyz").status().message(), HasSubstr("503"));
  (*endpoint)->SetHealth(nullptr, nullptr);  // the server is gone
  EXPECT_THAT(testing::HttpGet(port, "/healthz").status().message(), HasSubstr("503"));
  EXPECT_THAT(testing::HttpGet(port, "/healthzz").status().message(), HasSubstr("404"));
}

TEST(MetricsEndpointTest, ReportsUnusableAddresses) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto taken = MetricsEndpoint::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(taken.ok());
  EXPECT_EQ(MetricsEndpoint::Start(absl::StrCat("127.0.0.1:", (*taken)->port()), registry)
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(MetricsEndpoint::Start("no-port", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsEndpoint::Start("127.0.0.1:notaport", registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ner::server
