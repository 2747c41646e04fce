// NerClient against a scripted fake NerService over real gRPC: retries (which codes, how many,
// how long between), metadata, Train never submitted twice, RecognizeBulk's retries.

#include "client/ner_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "tests/client/fake_ner_service.h"

namespace ner::client {
namespace {

using testing::FakeServer;
using ::testing::HasSubstr;

ClientOptions FastRetries(const std::string& address) {
  ClientOptions options;
  options.target = address;
  options.retry.max_attempts = 5;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_backoff = absl::Milliseconds(10);
  return options;
}

std::unique_ptr<NerClient> MakeClient(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<NerClient>> client = NerClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

TEST(NerClientRetryTest, RetriesResourceExhaustedAndUnavailableThenSucceeds) {
  for (const grpc::StatusCode code :
       {grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::UNAVAILABLE}) {
    FakeServer server;
    server.service().Script("Recognize", {code, code, code});
    auto client = MakeClient(FastRetries(server.address()));
    absl::StatusOr<v1::DocumentResult> result = client->RecognizeText("张三");
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_EQ(server.service().Calls("Recognize").size(), 4u) << code;
  }
}

TEST(NerClientRetryTest, OtherCodesAreReturnedAtOnceWithoutRetry) {
  for (const grpc::StatusCode code :
       {grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
        grpc::StatusCode::DEADLINE_EXCEEDED, grpc::StatusCode::INTERNAL,
        grpc::StatusCode::UNAUTHENTICATED, grpc::StatusCode::PERMISSION_DENIED,
        grpc::StatusCode::FAILED_PRECONDITION}) {
    FakeServer server;
    server.service().Script("Recognize", {code, grpc::StatusCode::OK});
    auto client = MakeClient(FastRetries(server.address()));
    absl::StatusOr<v1::DocumentResult> result = client->RecognizeText("张三");
    EXPECT_EQ(static_cast<int>(result.status().code()), static_cast<int>(code));
    EXPECT_EQ(result.status().message(), "scripted failure");
    EXPECT_EQ(server.service().Calls("Recognize").size(), 1u) << code;
  }
}

TEST(NerClientRetryTest, GivesUpAfterMaxAttemptsWithTheLastCode) {
  FakeServer server;
  server.service().Script("ListModels",
                          std::vector<grpc::StatusCode>(10, grpc::StatusCode::RESOURCE_EXHAUSTED));
  ClientOptions options = FastRetries(server.address());
  options.retry.max_attempts = 3;
  auto client = MakeClient(options);
  absl::StatusOr<v1::ListModelsResponse> models = client->ListModels();
  EXPECT_EQ(models.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(models.status().message(), HasSubstr("gave up after 3 attempts"));
  EXPECT_EQ(server.service().Calls("ListModels").size(), 3u);
}

TEST(NerClientRetryTest, BackoffGrowsExponentially) {
  FakeServer server;
  server.service().Script(
      "Recognize", {grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::RESOURCE_EXHAUSTED,
                    grpc::StatusCode::RESOURCE_EXHAUSTED});
  ClientOptions options = FastRetries(server.address());
  options.retry.initial_backoff = absl::Milliseconds(50);
  options.retry.backoff_multiplier = 3;
  options.retry.max_backoff = absl::Seconds(1);
  options.retry.full_jitter = false;
  std::vector<absl::Duration> waits;
  options.on_retry = [&](absl::string_view method, int attempt, const absl::Status& status,
                         absl::Duration wait) {
    EXPECT_EQ(method, "Recognize");
    EXPECT_EQ(attempt, static_cast<int>(waits.size()) + 1);
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    waits.push_back(wait);
  };
  auto client = MakeClient(options);
  ASSERT_TRUE(client->RecognizeText("张三").ok());

  EXPECT_THAT(waits, ::testing::ElementsAre(absl::Milliseconds(50), absl::Milliseconds(150),
                                            absl::Milliseconds(450)));
  // The server saw the attempts at least that far apart, each gap longer than the one before.
  const std::vector<testing::FakeNerService::Call> calls = server.service().Calls("Recognize");
  ASSERT_EQ(calls.size(), 4u);
  absl::Duration previous = absl::ZeroDuration();
  for (size_t i = 1; i < calls.size(); ++i) {
    const absl::Duration gap = calls[i].arrival - calls[i - 1].arrival;
    EXPECT_GE(gap, waits[i - 1]) << "gap " << i;
    EXPECT_GT(gap, previous) << "gap " << i;
    previous = gap;
  }
}

TEST(NerClientTest, SendsTheBearerTokenAndAPerAttemptDeadline) {
  FakeServer server;
  ClientOptions options = FastRetries(server.address());
  options.bearer_token = "s3cret";
  auto client = MakeClient(options);
  ASSERT_TRUE(client->ListModels().ok());
  std::vector<testing::FakeNerService::Call> calls = server.service().Calls("ListModels");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].authorization, "Bearer s3cret");
  EXPECT_TRUE(calls[0].has_deadline);

  options.bearer_token.clear();
  options.deadline = std::nullopt;
  auto anonymous = MakeClient(options);
  ASSERT_TRUE(anonymous->ListModels().ok());
  calls = server.service().Calls("ListModels");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].authorization, "");
  EXPECT_FALSE(calls[1].has_deadline);
}

TEST(NerClientTest, UnreachableServerIsUnavailableAfterRetries) {
  ClientOptions options = FastRetries("127.0.0.1:1");
  options.retry.max_attempts = 2;
  int retries = 0;
  options.on_retry = [&](absl::string_view, int, const absl::Status&, absl::Duration) {
    ++retries;
  };
  auto client = MakeClient(options);
  EXPECT_EQ(client->ListModels().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(retries, 1);
}

v1::TrainRequest SomeTrainRequest() {
  v1::TrainRequest request;
  request.set_output_model("resume");
  request.mutable_train()->set_path("train.jsonl");
  request.mutable_dev()->set_path("dev.jsonl");
  request.mutable_hyperparameters()->set_epochs(2);
  return request;
}

TEST(NerClientTrainTest, AcceptedJobIsFollowedWithWatchNotSubmittedAgain) {
  FakeServer server;
  server.service().BreakTrainAfterFirstEvent();
  auto client = MakeClient(FastRetries(server.address()));
  std::vector<v1::TrainEvent> events;
  absl::StatusOr<v1::TrainEvent> last = client->Train(SomeTrainRequest(), [&](const auto& e) {
    events.push_back(e);
    return true;
  });
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(last->job_id(), "job-1");
  EXPECT_EQ(last->message(), "watched to the end");
  EXPECT_EQ(server.service().jobs_started(), 1);
  EXPECT_EQ(server.service().Calls("Train").size(), 1u);
  EXPECT_EQ(server.service().Calls("WatchTrainJob").size(), 1u);
  EXPECT_GE(events.size(), 2u);
}

TEST(NerClientTrainTest, RefusedSubmissionIsRetried) {
  FakeServer server;
  server.service().Script(
      "Train", {grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::RESOURCE_EXHAUSTED});
  auto client = MakeClient(FastRetries(server.address()));
  absl::StatusOr<v1::TrainEvent> last = client->Train(SomeTrainRequest(), nullptr);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(server.service().Calls("Train").size(), 3u);
  EXPECT_EQ(server.service().jobs_started(), 1);
}

TEST(NerClientTrainTest, SubmissionWhoseAnswerWasLostIsFoundAndFollowed) {
  FakeServer server;
  // An older job with the very same request must not be taken for the new one.
  v1::TrainJob old;
  old.set_job_id("job-old");
  *old.mutable_request() = SomeTrainRequest();
  server.service().AddJob(old);
  server.service().LoseTrainAnswer();
  auto client = MakeClient(FastRetries(server.address()));
  absl::StatusOr<v1::TrainEvent> last = client->Train(SomeTrainRequest(), nullptr);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->job_id(), "job-1");
  EXPECT_EQ(server.service().jobs_started(), 1);
  EXPECT_EQ(server.service().Calls("Train").size(), 1u);
  EXPECT_EQ(server.service().Calls("WatchTrainJob").size(), 1u);
}

TEST(NerClientTrainTest, InvalidArgumentIsNotRetriedAndDetachingStopsWatching) {
  FakeServer server;
  server.service().Script("Train", {grpc::StatusCode::INVALID_ARGUMENT});
  auto client = MakeClient(FastRetries(server.address()));
  EXPECT_EQ(client->Train(SomeTrainRequest(), nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.service().Calls("Train").size(), 1u);

  absl::StatusOr<v1::TrainEvent> first =
      client->Train(SomeTrainRequest(), [](const v1::TrainEvent&) { return false; });
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->state(), v1::TRAIN_JOB_STATE_RUNNING);
  EXPECT_EQ(server.service().Calls("WatchTrainJob").size(), 0u);
}

// Runs RecognizeBulk over `n` documents "doc <i>" with ids "id<i>"; the results by id.
absl::Status RunBulk(NerClient& client, int n, std::map<std::string, BulkResult>* results,
                     BulkOptions options = BulkOptions()) {
  int next = 0;
  return client.RecognizeBulk(
      [&]() -> absl::StatusOr<std::optional<v1::Document>> {
        if (next == n) return std::optional<v1::Document>();
        v1::Document document;
        document.set_id(absl::StrCat("id", next));
        document.set_text(absl::StrCat("doc ", next));
        ++next;
        return std::optional<v1::Document>(document);
      },
      [&](BulkResult result) {
        const std::string id = result.document.id();
        EXPECT_TRUE(results->emplace(id, std::move(result)).second) << "twice: " << id;
        return absl::OkStatus();
      },
      options);
}

TEST(NerClientBulkTest, DocumentsRefusedInBandAreRetried) {
  FakeServer server;
  server.service().FailDocuments(2, grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto client = MakeClient(FastRetries(server.address()));
  std::map<std::string, BulkResult> results;
  BulkOptions options;
  options.max_in_flight = 8;
  options.max_documents_per_message = 3;
  ASSERT_TRUE(RunBulk(*client, 50, &results, options).ok());
  ASSERT_EQ(results.size(), 50u);
  for (const auto& [id, result] : results) {
    ASSERT_TRUE(result.result.ok()) << id << ": " << result.result.status();
    EXPECT_EQ(result.result->id(), id);
    EXPECT_EQ(result.attempts, 3);
    EXPECT_EQ(result.model_name, "fake");
  }
}

TEST(NerClientBulkTest, DocumentsGiveUpAfterMaxAttempts) {
  FakeServer server;
  server.service().FailDocuments(100, grpc::StatusCode::UNAVAILABLE);
  ClientOptions options = FastRetries(server.address());
  options.retry.max_attempts = 3;
  auto client = MakeClient(options);
  std::map<std::string, BulkResult> results;
  ASSERT_TRUE(RunBulk(*client, 10, &results).ok());
  ASSERT_EQ(results.size(), 10u);
  for (const auto& [id, result] : results) {
    EXPECT_EQ(result.result.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(result.attempts, 3);
  }
}

TEST(NerClientBulkTest, BrokenStreamIsReopenedAndEveryDocumentAnsweredOnce) {
  FakeServer server;
  server.service().BreakFirstStreamAfter(7);
  ClientOptions client_options = FastRetries(server.address());
  client_options.retry.initial_backoff = absl::Milliseconds(100);
  client_options.retry.full_jitter = false;
  client_options.retry.max_backoff = absl::Seconds(1);
  std::vector<absl::Duration> waits;
  client_options.on_retry = [&](absl::string_view method, int, const absl::Status& status,
                                absl::Duration wait) {
    EXPECT_EQ(method, "RecognizeStream");
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    waits.push_back(wait);
  };
  auto client = MakeClient(client_options);
  std::map<std::string, BulkResult> results;
  BulkOptions options;
  options.max_in_flight = 16;
  options.max_documents_per_message = 4;
  ASSERT_TRUE(RunBulk(*client, 100, &results, options).ok());
  ASSERT_EQ(results.size(), 100u);
  for (const auto& [id, result] : results) {
    ASSERT_TRUE(result.result.ok()) << id;
    // The fake's entity is the text's first character: the document matches its id.
    EXPECT_EQ(result.document.text(), absl::StrCat("doc ", id.substr(2)));
  }
  // One reconnection, after the backoff: new documents did not jump the wait either.
  const std::vector<testing::FakeNerService::Call> streams =
      server.service().Calls("RecognizeStream");
  ASSERT_EQ(streams.size(), 2u);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0], absl::Milliseconds(100));
  EXPECT_GE(streams[1].arrival - streams[0].arrival, absl::Milliseconds(100));
}

TEST(NerClientBulkTest, StreamRefusedWithInvalidArgumentEndsTheRun) {
  FakeServer server;
  server.service().Script("RecognizeStream", {grpc::StatusCode::INVALID_ARGUMENT});
  auto client = MakeClient(FastRetries(server.address()));
  std::map<std::string, BulkResult> results;
  EXPECT_EQ(RunBulk(*client, 10, &results).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(server.service().Calls("RecognizeStream").size(), 1u);
}

TEST(NerClientBulkTest, AnyIdsAreGivenBackAndSinkErrorsAndStopEndTheRun) {
  FakeServer server;
  auto client = MakeClient(FastRetries(server.address()));
  std::vector<v1::Document> documents(3);
  documents[0].set_text("a");  // empty id
  documents[1].set_id("x");
  documents[1].set_text("b");
  documents[2].set_id("x");  // the same id again
  documents[2].set_text("c");
  size_t next = 0;
  auto source = [&]() -> absl::StatusOr<std::optional<v1::Document>> {
    if (next == documents.size()) return std::optional<v1::Document>();
    return std::optional<v1::Document>(documents[next++]);
  };
  std::multiset<std::string> seen;
  ASSERT_TRUE(client
                  ->RecognizeBulk(
                      source,
                      [&](BulkResult r) {
                        seen.insert(r.document.id() + "=" + r.document.text());
                        EXPECT_EQ(r.result->id(), r.document.id());
                        return absl::OkStatus();
                      },
                      BulkOptions())
                  .ok());
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre("=a", "x=b", "x=c"));

  int count = 0;
  std::map<std::string, BulkResult> unused;
  next = 0;
  auto failing_sink = [&](BulkResult) {
    return ++count == 2 ? absl::DataLossError("disk full") : absl::OkStatus();
  };
  EXPECT_EQ(client->RecognizeBulk(source, failing_sink, BulkOptions()),
            absl::DataLossError("disk full"));

  std::atomic<bool> stop{true};
  BulkOptions stopped;
  stopped.stop = &stop;
  EXPECT_EQ(RunBulk(*client, 10, &unused, stopped).code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace ner::client
