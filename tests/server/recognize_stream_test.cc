// RecognizeStream and Evaluate on the real server in-process, over real gRPC.

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

#include "model/dataset.h"
#include "model/evaluator.h"
#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;
using testing::TestConfig;
using testing::TestServer;

v1::Document Doc(const std::string& id, const std::string& text) {
  v1::Document document;
  document.set_id(id);
  document.set_text(text);
  return document;
}

// Responses by id, and the stream's final status.
struct StreamOutcome {
  std::multimap<std::string, v1::RecognizeStreamResponse> responses;
  grpc::Status status;
};

// Writes `messages` from a second thread while reading every response.
StreamOutcome RunStream(TestServer& server,
                        const std::vector<v1::RecognizeStreamRequest>& messages) {
  grpc::ClientContext context;
  auto stream = server.stub().RecognizeStream(&context);
  std::thread writer([&] {
    for (const v1::RecognizeStreamRequest& message : messages) {
      if (!stream->Write(message)) break;
    }
    stream->WritesDone();
  });
  StreamOutcome outcome;
  v1::RecognizeStreamResponse response;
  while (stream->Read(&response)) outcome.responses.emplace(response.id(), response);
  writer.join();
  outcome.status = stream->Finish();
  return outcome;
}

TEST(RecognizeStreamTest, ManyDocumentsGetOneResultEachWithBoundedInFlight) {
  constexpr int kDocuments = 2000;
  constexpr int kPerMessage = 10;
  constexpr int kInFlight = 16;
  ServerConfig config = TestConfig();
  config.max_stream_inflight_documents = kInFlight;
  auto server = *TestServer::Start(config);

  const std::vector<std::string> texts = {"张三在北京大学工作。", "李四去上海。", "华为公司",
                                          "王五说：“你好！”"};
  std::vector<v1::RecognizeStreamRequest> messages(kDocuments / kPerMessage);
  for (int i = 0; i < kDocuments; ++i) {
    *messages[i / kPerMessage].add_documents() =
        Doc(absl::StrCat("doc-", i), texts[i % texts.size()]);
  }
  // The queue never holds more than the in-flight limit plus one message's documents.
  std::atomic<bool> stop{false};
  std::atomic<double> deepest{0};
  std::thread monitor([&] {
    while (!stop.load()) {
      const double depth = server->Metric("ner_queue_depth").value_or(0);
      if (depth > deepest.load()) deepest.store(depth);
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  const StreamOutcome outcome = RunStream(*server, messages);
  stop = true;
  monitor.join();

  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  ASSERT_EQ(outcome.responses.size(), static_cast<size_t>(kDocuments));
  for (int i = 0; i < kDocuments; ++i) {
    const std::string id = absl::StrCat("doc-", i);
    ASSERT_EQ(outcome.responses.count(id), 1u) << id;
    const v1::RecognizeStreamResponse& response = outcome.responses.find(id)->second;
    ASSERT_TRUE(response.has_result()) << response.error().message();
    EXPECT_EQ(response.result().id(), id);
    EXPECT_EQ(response.model_name(), "default");
  }
  EXPECT_LE(deepest.load(), kInFlight + kPerMessage);
  EXPECT_EQ(server->Metric("ner_documents_total"), kDocuments);
}

TEST(RecognizeStreamTest, DocumentErrorsAreInBandAndTheStreamGoesOn) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(50);  // "same" stays in flight a while
  config.limits.max_document_bytes = 100;
  auto server = *TestServer::Start(config);
  v1::RecognizeStreamRequest first;
  first.mutable_options()->add_entity_types("PER");
  *first.add_documents() = Doc("good", "张三在北京大学工作。");
  *first.add_documents() = Doc("utf8", "ab\xff");
  *first.add_documents() = Doc("", "张三");
  *first.add_documents() = Doc("same", "李四");
  *first.add_documents() = Doc("same", "王五");
  v1::RecognizeStreamRequest second;
  *second.add_documents() = Doc("big", std::string(101, 'x'));
  *second.add_documents() = Doc("blank", "   ");

  const StreamOutcome outcome = RunStream(*server, {first, second});
  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_EQ(outcome.responses.size(), 7u);
  auto only = [&](const std::string& id) {
    const auto it = outcome.responses.find(id);
    if (it == outcome.responses.end()) {
      ADD_FAILURE() << "no response for " << id;
      return v1::RecognizeStreamResponse();
    }
    return it->second;
  };
  EXPECT_TRUE(only("good").has_result());
  const v1::RecognizeStreamResponse good = only("good");  // a named copy: the loop keeps it alive
  for (const v1::Entity& e : good.result().entities()) EXPECT_EQ(e.type(), "PER");
  EXPECT_EQ(only("utf8").error().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(only("utf8").error().message(), HasSubstr("invalid UTF-8 at byte 2"));
  EXPECT_EQ(only("").error().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(only("big").error().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(only("blank").has_result());
  EXPECT_EQ(only("blank").result().entities_size(), 0);
  int results = 0, errors = 0;
  for (auto [it, end] = outcome.responses.equal_range("same"); it != end; ++it) {
    (it->second.has_result() ? results : errors) += 1;
  }
  EXPECT_EQ(results, 1);
  EXPECT_EQ(errors, 1);
}

TEST(RecognizeStreamTest, MessageErrorsEndTheStream) {
  auto server = *TestServer::Start(TestConfig());
  v1::RecognizeStreamRequest first;
  *first.add_documents() = Doc("a", "张三");
  v1::RecognizeStreamRequest with_options = first;
  with_options.mutable_options()->set_min_score(0.5f);
  StreamOutcome outcome = RunStream(*server, {first, with_options});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(outcome.status.error_message(), HasSubstr("first message"));

  v1::RecognizeStreamRequest unknown = first;
  unknown.mutable_options()->set_model("nope");
  outcome = RunStream(*server, {unknown});
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(outcome.responses.empty());
}

TEST(RecognizeStreamTest, CancelledStreamEndsAndTheServerGoesOn) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(300);
  auto server = *TestServer::Start(config);
  {
    grpc::ClientContext context;
    auto stream = server->stub().RecognizeStream(&context);
    v1::RecognizeStreamRequest message;
    *message.add_documents() = Doc("a", "张三在北京。");
    ASSERT_TRUE(stream->Write(message));
    context.TryCancel();
    v1::RecognizeStreamResponse response;
    while (stream->Read(&response)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  v1::RecognizeStreamRequest message;
  *message.add_documents() = Doc("b", "李四");
  const StreamOutcome outcome = RunStream(*server, {message});
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_EQ(outcome.responses.size(), 1u);
  EXPECT_TRUE(testing::Eventually([&] { return server->Metric("ner_inflight_requests") == 0; }));
}

// A cancellation racing the server's handling of a message once let a document be queued after
// the stream had finished, and a completing document step a reactor that another thread had just
// finished: its completion then wrote into freed memory (a crash or hang at about one stream in
// thirty). Many short cancelled streams make such a race likely to show.
TEST(RecognizeStreamTest, ManyCancelledStreamsLeaveNothingBehind) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(1);
  auto server = *TestServer::Start(config);
  for (int i = 0; i < 1000; ++i) {
    grpc::ClientContext context;
    auto stream = server->stub().RecognizeStream(&context);
    v1::RecognizeStreamRequest message;
    *message.add_documents() = Doc(absl::StrCat("a", i), "张三在北京。");
    *message.add_documents() = Doc(absl::StrCat("b", i), "李四");
    stream->Write(message);
    if (i % 3 == 1) absl::SleepFor(absl::Microseconds(200 * (i % 7)));
    context.TryCancel();
    v1::RecognizeStreamResponse response;
    while (stream->Read(&response)) {
    }
    const grpc::Status status = stream->Finish();
    // Cancelled, unless every answer came back before the cancellation did.
    EXPECT_TRUE(status.ok() || status.error_code() == grpc::StatusCode::CANCELLED)
        << status.error_message();
  }
  v1::RecognizeStreamRequest message;
  *message.add_documents() = Doc("c", "李四");
  const StreamOutcome outcome = RunStream(*server, {message});
  EXPECT_TRUE(outcome.status.ok());
  EXPECT_EQ(outcome.responses.size(), 1u);
  EXPECT_TRUE(testing::Eventually([&] { return server->Metric("ner_inflight_requests") == 0; }));
  EXPECT_TRUE(testing::Eventually([&] { return server->Metric("ner_queue_depth") == 0; }));
}

// A drain does not wait out its grace for a stream whose client has more to send: the stream
// answers what it has read (here a document still waiting for its batch when the drain begins)
// and ends UNAVAILABLE, which the client library retries on another replica.
TEST(RecognizeStreamTest, AnOpenStreamAnswersWhatItReadAndEndsUnavailableWhenTheServerDrains) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(500);
  auto server = *TestServer::Start(config);
  grpc::ClientContext context;
  auto stream = server->stub().RecognizeStream(&context);
  v1::RecognizeStreamRequest first;
  *first.add_documents() = Doc("a", "张三在北京。");
  ASSERT_TRUE(stream->Write(first));
  v1::RecognizeStreamResponse response;
  ASSERT_TRUE(stream->Read(&response));  // the stream is open and waits for more
  EXPECT_EQ(response.id(), "a");

  v1::RecognizeStreamRequest second;
  *second.add_documents() = Doc("b", "李四去上海。");
  ASSERT_TRUE(stream->Write(second));
  ASSERT_TRUE(testing::Eventually([&] { return server->Metric("ner_queue_depth") == 1; }));
  const absl::Time start = absl::Now();
  std::thread drain([&] { server->server().Shutdown(absl::Seconds(30)); });
  std::vector<std::string> ids;
  while (stream->Read(&response)) {
    ids.push_back(response.id());
    EXPECT_TRUE(response.has_result()) << response.error().message();
  }
  const grpc::Status status = stream->Finish();
  drain.join();
  EXPECT_EQ(ids, std::vector<std::string>{"b"});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // not the 30 s grace
}

grpc::Status Evaluate(TestServer& server, const v1::EvaluateRequest& request,
                      v1::EvaluateResponse* response) {
  grpc::ClientContext context;
  return server.stub().Evaluate(&context, request, response);
}

TEST(EvaluateTest, ScoresInlineDocumentsAndDatasetFiles) {
  ServerConfig config = TestConfig();
  config.max_stream_inflight_documents = 2;  // several rounds of submissions
  auto server = *TestServer::Start(config);
  v1::EvaluateRequest request;
  auto* documents = request.mutable_dataset()->mutable_inline_documents();
  const std::vector<std::string> texts = {"张三在北京大学工作。", "李四去上海。", "华为公司",
                                          "王五说：“你好！”", "中国人民银行"};
  for (const std::string& text : texts) {
    v1::LabelledDocument* document = documents->add_documents();
    document->set_text(text);
    v1::EntityAnnotation* gold = document->add_entities();
    gold->set_begin_char(0);
    gold->set_end_char(2);
    gold->set_type("PER");
  }
  v1::EvaluateResponse response;
  grpc::Status status = Evaluate(*server, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.documents(), 5);
  EXPECT_EQ(response.overall().gold(), 5);
  EXPECT_EQ(response.model_name(), "default");
  // The predictions are the model's own.
  int64_t predicted = 0;
  const auto reference = (*server->registry().Get(""))->recognizer->Recognize(texts);
  ASSERT_TRUE(reference.ok());
  for (const auto& entities : *reference) {
    predicted += static_cast<int64_t>(entities.size());
  }
  EXPECT_EQ(response.overall().predicted(), predicted);
  for (int i = 1; i < response.by_type_size(); ++i) {
    EXPECT_LT(response.by_type(i - 1).type(), response.by_type(i).type());
  }

  v1::EvaluateRequest from_file;
  from_file.mutable_dataset()->set_path("dev.jsonl");
  ASSERT_TRUE(Evaluate(*server, from_file, &response).ok());
  EXPECT_EQ(response.documents(), 3);
  EXPECT_EQ(response.overall().gold(), 5);

  // Equal to `ner evaluate` (model::Evaluate) on the same file, type by type.
  const auto dataset = model::ReadDataset(testing::TestModelRoot() + "/data/dev.jsonl");
  ASSERT_TRUE(dataset.ok());
  const auto offline =
      model::Evaluate(*(*server->registry().Get(""))->recognizer, dataset->documents);
  ASSERT_TRUE(offline.ok());
  EXPECT_EQ(response.overall().predicted(), offline->metrics.overall().predicted);
  EXPECT_EQ(response.overall().correct(), offline->metrics.overall().correct);
  EXPECT_DOUBLE_EQ(response.overall().f1(), offline->metrics.overall().f1());
  ASSERT_EQ(response.by_type_size(), static_cast<int>(offline->metrics.by_type().size()));
  for (const v1::TypeMetrics& type : response.by_type()) {
    const model::PrfCounts& want = offline->metrics.by_type().at(type.type());
    EXPECT_EQ(type.metrics().gold(), want.gold) << type.type();
    EXPECT_EQ(type.metrics().predicted(), want.predicted) << type.type();
    EXPECT_EQ(type.metrics().correct(), want.correct) << type.type();
  }
}

TEST(EvaluateTest, RejectsBadDatasets) {
  auto server = *TestServer::Start(TestConfig());
  v1::EvaluateResponse response;
  v1::EvaluateRequest request;
  EXPECT_EQ(Evaluate(*server, request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_dataset()->set_path("../tiny/config.json");
  EXPECT_EQ(Evaluate(*server, request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_dataset()->set_path("missing.jsonl");
  EXPECT_FALSE(Evaluate(*server, request, &response).ok());
  auto* bad = request.mutable_dataset()->mutable_inline_documents()->add_documents();
  bad->set_text("张三");
  bad->add_entities()->set_end_char(5);  // beyond the text
  const grpc::Status status = Evaluate(*server, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("inline document 0"));
  request.set_model("nope");
  EXPECT_EQ(Evaluate(*server, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace ner::server
