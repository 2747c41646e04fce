// ner-bench's runner against the real server, in-process on loopback.
#include "bench/load/load_runner.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "bench/load/metrics_scrape.h"
#include "tests/server/server_test_util.h"

namespace ner::bench {
namespace {

using server::testing::TestConfig;
using server::testing::TestServer;

class LoadRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = TestServer::Start(TestConfig(), /*metrics_endpoint=*/true);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channels_ = {grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()),
                 grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials())};
  }

  MetricSamples Scrape() {
    auto samples = ScrapeMetrics(absl::StrCat("127.0.0.1:", server_->metrics_port()));
    EXPECT_TRUE(samples.ok()) << samples.status();
    return samples.ok() ? *samples : MetricSamples{};
  }

  LoadOptions Bounded(CallMode mode, int documents_per_request, int64_t documents) {
    LoadOptions options;
    options.mode = mode;
    options.concurrency = 4;
    options.documents_per_request = documents_per_request;
    options.warmup = absl::ZeroDuration();
    options.duration = absl::Seconds(60);  // the document bound ends the run first
    options.max_documents = documents;
    return options;
  }

  std::unique_ptr<TestServer> server_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  const std::vector<std::string> texts_ = {"张三在北京大学工作。", "李四去了上海。",
                                           "王五是华为公司的工程师。"};
};

TEST_F(LoadRunnerTest, UnaryCountsEveryDocumentAndTheServerAgrees) {
  const MetricSamples before = Scrape();
  auto result = RunLoad(channels_, texts_, Bounded(CallMode::kUnary, 1, 40));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->documents_ok, 40);
  EXPECT_TRUE(result->errors.empty());
  EXPECT_EQ(result->latencies_ms.size(), 40u);
  EXPECT_GT(result->characters_ok, 40 * 6);
  EXPECT_GT(result->elapsed, absl::ZeroDuration());
  const ServerBatchStats stats = BatchStatsBetween(before, Scrape());
  EXPECT_EQ(stats.requests_by_code.at("OK"), 40);
  EXPECT_GE(stats.batches, 1);
  EXPECT_GE(stats.mean_pieces_per_batch, 1);
  EXPECT_GT(stats.mean_batch_ms, 0);
}

TEST_F(LoadRunnerTest, StreamSendsSeveralDocumentsPerMessage) {
  auto result = RunLoad(channels_, texts_, Bounded(CallMode::kStream, 2, 40));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->documents_ok, 40);
  EXPECT_TRUE(result->errors.empty());
  EXPECT_EQ(result->latencies_ms.size(), 20u);  // one per message of two documents
}

TEST_F(LoadRunnerTest, FailuresAreCountedByCode) {
  for (CallMode mode : {CallMode::kUnary, CallMode::kStream}) {
    LoadOptions options = Bounded(mode, 1, 12);
    options.model = "no-such-model";
    auto result = RunLoad(channels_, texts_, options);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(result->documents_ok, 0);
    ASSERT_EQ(result->errors.size(), 1u);
    EXPECT_EQ(result->errors.begin()->first, "NOT_FOUND");
    EXPECT_EQ(result->errors.begin()->second, 12);
  }
}

TEST_F(LoadRunnerTest, TimeBoundAndWarmUp) {
  LoadOptions options;
  options.concurrency = 2;
  options.warmup = absl::Milliseconds(200);
  options.duration = absl::Milliseconds(500);
  auto result = RunLoad(channels_, texts_, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GT(result->documents_ok, 0);
  EXPECT_TRUE(result->errors.empty());
  EXPECT_LT(result->elapsed, absl::Seconds(10));
}

TEST(LoadOptionsTest, Validate) {
  LoadOptions options;
  EXPECT_TRUE(options.Validate().ok());
  options.concurrency = 0;
  EXPECT_FALSE(options.Validate().ok());
  options = {};
  options.max_documents = 0;
  EXPECT_FALSE(options.Validate().ok());
  options = {};
  options.duration = absl::ZeroDuration();
  EXPECT_FALSE(options.Validate().ok());
  EXPECT_FALSE(RunLoad({}, {"x"}, LoadOptions{}).ok());
}

}  // namespace
}  // namespace ner::bench
