// The server's life cycle, in-process over real gRPC: health as the default model comes and
// goes, the drain at shutdown (calls in flight finish, new ones are refused UNAVAILABLE, the
// grace bounds it) and the HTTP probes. Serving itself: ner_server_test.cc.

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "server/health_probe.h"
#include "server/ner_server.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/process.h"

namespace ner::server {
namespace {

using testing::CallLoadModel;
using testing::CallRecognize;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::RecognizeRequestOf;
using testing::StartOrDie;
using testing::TestConfig;
using testing::TestServer;

// One Recognize started asynchronously; `done` is notified with its `status`.
struct PendingCall {
  grpc::ClientContext context;
  v1::RecognizeRequest request;
  v1::RecognizeResponse response;
  absl::Notification done;
  grpc::Status status;
};

std::unique_ptr<PendingCall> StartRecognize(TestServer& server,
                                            const std::vector<std::string>& texts) {
  auto call = std::make_unique<PendingCall>();
  call->request = RecognizeRequestOf(texts);
  PendingCall* raw = call.get();
  server.stub().async()->Recognize(&raw->context, &raw->request, &raw->response,
                                   [raw](grpc::Status s) {
                                     raw->status = std::move(s);
                                     raw->done.Notify();
                                   });
  return call;
}

TEST(NerServerTest, HealthFollowsTheDefaultModelAndDraining) {
  ServerConfig config = TestConfig();
  config.default_model_path = std::nullopt;
  auto server = StartOrDie(config);
  EXPECT_EQ(*CheckHealth(server->address(), "", absl::Seconds(5)), HealthState::kNotServing);
  // Alive without a model: liveness probes must not restart a server waiting for LoadModel.
  EXPECT_EQ(*CheckHealth(server->address(), "liveness", absl::Seconds(5)), HealthState::kServing);
  v1::RecognizeResponse response;
  EXPECT_EQ(CallRecognize(*server, RecognizeRequestOf({"张三"}), &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  v1::ModelInfo info;
  ASSERT_TRUE(CallLoadModel(*server, "default", "tiny", &info).ok());
  EXPECT_EQ(*CheckHealth(server->address(), "", absl::Seconds(5)), HealthState::kServing);
  EXPECT_EQ(*CheckHealth(server->address(), "ner.v1.NerService", absl::Seconds(5)),
            HealthState::kServing);

  server->server().Shutdown(absl::Seconds(1));
  absl::StatusOr<HealthState> after = CheckHealth(server->address(), "", absl::Seconds(1));
  EXPECT_TRUE(!after.ok() || *after != HealthState::kServing);
}

TEST(NerServerTest, ShutdownDrainsCallsInFlight) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(500);
  auto server = StartOrDie(config);
  auto call = StartRecognize(*server, {"张三在北京。", "李四"});
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") == 2; }));
  server->server().Shutdown(absl::Seconds(5));  // returns once the call is finished
  ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_TRUE(call->status.ok()) << call->status.error_message();
  EXPECT_EQ(call->response.results_size(), 2);
  v1::RecognizeResponse late;
  EXPECT_FALSE(CallRecognize(*server, RecognizeRequestOf({"张三"}), &late, absl::Seconds(2)).ok());
}

// While the server drains, a new call gets UNAVAILABLE (which clients retry on another replica)
// even though gRPC has not shut down yet: the call admitted before still waits for its batch.
TEST(NerServerTest, DrainingRefusesNewCallsWithUnavailableWhileTheAdmittedOnesFinish) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Seconds(3);
  auto server = StartOrDie(config);
  auto call = StartRecognize(*server, {"张三在北京。"});
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") == 1; }));
  std::thread drain([&] { server->server().Shutdown(absl::Seconds(20)); });

  // ListModels answers at once until the gate closes.
  grpc::Status refused;
  ASSERT_TRUE(Eventually([&] {
    grpc::ClientContext list_context;
    v1::ListModelsResponse models;
    refused = server->stub().ListModels(&list_context, v1::ListModelsRequest(), &models);
    return !refused.ok();
  }));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE) << refused.error_message();
  EXPECT_THAT(refused.error_message(), HasSubstr("shutting down"));
  EXPECT_FALSE(call->done.HasBeenNotified());  // still waiting for its batch
  v1::RecognizeResponse late;
  const grpc::Status late_status =
      CallRecognize(*server, RecognizeRequestOf({"李四"}), &late, absl::Seconds(5));
  EXPECT_EQ(late_status.error_code(), grpc::StatusCode::UNAVAILABLE) << late_status.error_message();
  {
    grpc::ClientContext stream_context;
    auto stream = server->stub().RecognizeStream(&stream_context);
    stream->WritesDone();
    v1::RecognizeStreamResponse ignored;
    while (stream->Read(&ignored)) {
    }
    const grpc::Status stream_status = stream->Finish();
    EXPECT_EQ(stream_status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << stream_status.error_message();
  }

  ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  EXPECT_TRUE(call->status.ok()) << call->status.error_message();
  EXPECT_EQ(call->response.results_size(), 1);
  drain.join();
}

// The grace bounds the drain even when pieces would wait longer for their batch: they are
// dropped, and their call ends UNAVAILABLE (retryable) rather than CANCELLED.
TEST(NerServerTest, PiecesStillQueuedWhenTheGraceEndsAreDroppedAsUnavailable) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Seconds(30);
  auto server = StartOrDie(config);
  auto call = StartRecognize(*server, {"张三在北京。"});
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") == 1; }));
  const absl::Time start = absl::Now();
  server->server().Shutdown(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // not the 30 s batching delay
  ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(call->status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << call->status.error_message();
  EXPECT_THAT(call->status.error_message(), HasSubstr("shut down before the task ran"));
}

// An evaluation still running when the grace ends is ended UNAVAILABLE (which the client
// library retries on another replica), not left to gRPC's cancellation.
TEST(NerServerTest, AnEvaluationStillRunningWhenTheGraceEndsEndsUnavailable) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Seconds(30);
  auto server = StartOrDie(config);
  grpc::ClientContext context;
  v1::EvaluateRequest request;
  request.mutable_dataset()->set_path("dev.jsonl");
  v1::EvaluateResponse response;
  absl::Notification done;
  grpc::Status status;
  server->stub().async()->Evaluate(&context, &request, &response, [&](grpc::Status s) {
    status = std::move(s);
    done.Notify();
  });
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") >= 1; }));
  server->server().Shutdown(absl::Milliseconds(300));
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

// The HTTP probes (/healthz, /readyz on the metrics port) answer what the gRPC health service
// does, for deployments whose gRPC port speaks TLS.
TEST(NerServerTest, HttpProbesFollowTheDefaultModelAndDraining) {
  ServerConfig config = TestConfig();
  config.default_model_path = std::nullopt;
  auto server = StartOrDie(config, /*metrics=*/true);
  const int port = server->metrics_port();
  EXPECT_EQ(*testing::HttpGet(port, "/healthz"), "ok\n");
  EXPECT_THAT(testing::HttpGet(port, "/readyz").status().message(), HasSubstr("503"));

  v1::ModelInfo info;
  ASSERT_TRUE(CallLoadModel(*server, "default", "tiny", &info).ok());
  EXPECT_EQ(*testing::HttpGet(port, "/readyz"), "ready\n");
  // `ner-server probe --address http://...` asks the same way.
  const std::string base = absl::StrCat("http://127.0.0.1:", port);
  std::string reason;
  EXPECT_EQ(*CheckHttpHealth(base + "/readyz", absl::Seconds(5), &reason), HealthState::kServing);
  EXPECT_EQ(reason, "ready");

  server->server().Shutdown(absl::Seconds(1));
  EXPECT_THAT(testing::HttpGet(port, "/healthz").status().message(), HasSubstr("503"));
  EXPECT_THAT(testing::HttpGet(port, "/readyz").status().message(), HasSubstr("503"));
  EXPECT_EQ(*CheckHttpHealth(base + "/healthz", absl::Seconds(5), &reason),
            HealthState::kNotServing);
  EXPECT_EQ(reason, "draining");
  EXPECT_EQ(CheckHttpHealth("https://127.0.0.1:1/readyz", absl::Seconds(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckHttpHealth(absl::StrCat("http://127.0.0.1:", ner::testing::FreePort(), "/readyz"),
                            absl::Seconds(1))
                .status()
                .code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace ner::server
