// The real server in-process on 127.0.0.1:0, called over real gRPC.

#include "server/ner_server.h"

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "model/utf8.h"
#include "tests/server/server_test_util.h"

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

TEST(NerServerTest, EntitiesKeepTheOffsetInvariantOnMixedText) {
  auto server = StartOrDie(TestConfig());
  const std::vector<std::string> texts = {
      "张三在北京大学工作。李四去上海。",
      "👩‍💻张三在北京🇨🇳大学工作，ＡＢＣ李四去上海中国人民银行"
      "！",
      "e\u0301王五说：“华为公司在东南西北。”😀😀 12月3日",
      "ｈｅｌｌｏ　张三　ｗｏｒｌｄ。他和她去了中国。"};
  v1::RecognizeResponse response;
  const grpc::Status status = CallRecognize(*server, RecognizeRequestOf(texts), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_name(), "default");
  EXPECT_EQ(response.model_version(), (*server->registry().Get(""))->version);
  ASSERT_EQ(response.results_size(), static_cast<int>(texts.size()));
  int entities = 0;
  for (int d = 0; d < response.results_size(); ++d) {
    const v1::DocumentResult& result = response.results(d);
    EXPECT_EQ(result.id(), absl::StrCat("d", d));
    const std::u32string cps = model::DecodeUtf8(texts[d])->code_points;
    int last_end = 0;
    for (const v1::Entity& e : result.entities()) {
      ++entities;
      ASSERT_LE(0, e.begin_char());
      ASSERT_LT(e.begin_char(), e.end_char());
      ASSERT_LE(e.end_char(), static_cast<int>(cps.size()));
      EXPECT_GE(e.begin_char(), last_end);  // sorted, not overlapping
      last_end = e.end_char();
      EXPECT_EQ(e.text(),
                model::EncodeUtf8(cps.substr(e.begin_char(), e.end_char() - e.begin_char())));
      EXPECT_EQ(e.text(), texts[d].substr(e.begin_byte(), e.end_byte() - e.begin_byte()));
      EXPECT_GE(e.score(), 0);
      EXPECT_LE(e.score(), 1);
    }
  }
  EXPECT_GT(entities, 0) << "the tiny model should find something";
}

TEST(NerServerTest, RecognizeEqualsTheOfflineRecognizer) {
  // `ner predict` is Recognizer::Recognize on the loaded checkpoint.
  auto server = StartOrDie(TestConfig());
  const std::vector<std::string> texts = {"张三在北京大学工作。", "李四去上海中国人民银行。",
                                          "王五说：“华为公司在东南西北！”", "", "ＡＢＣ"};
  v1::RecognizeResponse response;
  ASSERT_TRUE(CallRecognize(*server, RecognizeRequestOf(texts), &response).ok());
  const std::shared_ptr<const ServedModel> model = *server->registry().Get("");
  const auto offline = model->recognizer->Recognize(texts);
  ASSERT_TRUE(offline.ok());
  ASSERT_EQ(response.results_size(), static_cast<int>(texts.size()));
  for (size_t d = 0; d < texts.size(); ++d) {
    const v1::DocumentResult& result = response.results(static_cast<int>(d));
    ASSERT_EQ(result.entities_size(), static_cast<int>((*offline)[d].size())) << d;
    for (int i = 0; i < result.entities_size(); ++i) {
      const model::RecognizedEntity& want = (*offline)[d][i];
      EXPECT_EQ(result.entities(i).type(), want.type);
      EXPECT_EQ(result.entities(i).begin_char(), want.begin_char);
      EXPECT_EQ(result.entities(i).end_char(), want.end_char);
      EXPECT_NEAR(result.entities(i).score(), want.score, 1e-4);
    }
  }
}

TEST(NerServerTest, SixtyFourConcurrentClientsAllSucceedInSharedBatches) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(20);
  auto server = StartOrDie(config);
  constexpr int kClients = 64;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::NerService::NewStub(
          grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
      for (int r = 0; r < 3; ++r) {
        grpc::ClientContext context;
        v1::RecognizeResponse response;
        const grpc::Status status = stub->Recognize(
            &context, RecognizeRequestOf({absl::StrCat("张三", c, "在北京大学工作。")}), &response);
        if (status.ok() && response.results_size() == 1) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), kClients * 3);
  const std::optional<double> batches = server->Metric("ner_batch_size_count");
  const std::optional<double> pieces = server->Metric("ner_batch_size_sum");
  ASSERT_TRUE(batches && pieces);
  EXPECT_EQ(*pieces, kClients * 3);
  EXPECT_LT(*batches, *pieces) << "some batches should hold several requests";
}

TEST(NerServerTest, LongTextEqualsItsPiecesRecognisedOneByOne) {
  auto server = StartOrDie(TestConfig());
  std::string text;
  while (model::CountCodePoints(text) < 2600) {
    text += "张三在北京大学工作，李四去上海中国人民银行。王五说：“华为公司在东南西北！”";
  }
  v1::RecognizeResponse response;
  ASSERT_TRUE(CallRecognize(*server, RecognizeRequestOf({text}), &response).ok());

  const std::shared_ptr<const ServedModel> model = *server->registry().Get("");
  const model::PreparedDocument document = *model->recognizer->Prepare(text);
  ASSERT_GE(document.pieces.size(), 5u);
  std::vector<model::RecognizedEntity> expected;
  for (const model::PreparedPiece& piece : document.pieces) {
    auto alone = model->recognizer->RunBatch({&piece}, {&document});
    ASSERT_TRUE(alone.ok());
    for (auto& e : alone->front()) expected.push_back(std::move(e));
  }
  ASSERT_FALSE(expected.empty());
  const v1::DocumentResult& result = response.results(0);
  ASSERT_EQ(result.entities_size(), static_cast<int>(expected.size()));
  for (int i = 0; i < result.entities_size(); ++i) {
    const v1::Entity& e = result.entities(i);
    EXPECT_EQ(e.type(), expected[i].type);
    EXPECT_EQ(e.text(), expected[i].text);
    EXPECT_EQ(e.begin_char(), expected[i].begin_char);
    EXPECT_EQ(e.end_char(), expected[i].end_char);
    EXPECT_EQ(e.begin_byte(), expected[i].begin_byte);
    EXPECT_EQ(e.end_byte(), expected[i].end_byte);
    EXPECT_NEAR(e.score(), expected[i].score, 1e-4);
  }
}

TEST(NerServerTest, BadRequestsFailAsAWholeAndTheServerGoesOn) {
  ServerConfig config = TestConfig();
  config.limits.max_documents = 3;
  config.limits.max_document_bytes = 64;
  auto server = StartOrDie(config);
  v1::RecognizeResponse response;

  grpc::Status status =
      CallRecognize(*server, RecognizeRequestOf({"张三", "ab\xe5\xbc"}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("document 1 (id \"d1\"): invalid UTF-8 at byte 2"));
  EXPECT_EQ(
      CallRecognize(*server, RecognizeRequestOf({"a", "b", "c", "d"}), &response).error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  status = CallRecognize(*server, RecognizeRequestOf({std::string(65, 'x')}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("65 bytes"));

  v1::RecognizeRequest request = RecognizeRequestOf({"张三"});
  request.mutable_options()->set_model("nope");
  EXPECT_EQ(CallRecognize(*server, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  request.mutable_options()->set_model("default");
  request.mutable_options()->add_entity_types("MISC");
  EXPECT_EQ(CallRecognize(*server, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  request.mutable_options()->clear_entity_types();
  request.mutable_options()->set_min_score(1.5f);
  EXPECT_EQ(CallRecognize(*server, request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  response.Clear();
  ASSERT_TRUE(
      CallRecognize(*server, RecognizeRequestOf({"张三在北京大学工作。", ""}), &response).ok());
  EXPECT_EQ(response.results_size(), 2);
  EXPECT_EQ(server->Metric("ner_requests_total{code=\"INVALID_ARGUMENT\",method=\"Recognize\"}"),
            5);
}

TEST(NerServerTest, FullQueueIsRejectedPromptly) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_items = 4;
  config.batcher.max_queue_delay = absl::Seconds(1);  // the first request waits in the queue
  auto server = StartOrDie(config);
  grpc::ClientContext first_context;
  v1::RecognizeRequest first_request = RecognizeRequestOf({"张三", "李四", "王五"});
  v1::RecognizeResponse first_response;
  absl::Notification first_done;
  grpc::Status first_status;
  server->stub().async()->Recognize(&first_context, &first_request, &first_response,
                                    [&](grpc::Status s) {
                                      first_status = std::move(s);
                                      first_done.Notify();
                                    });
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") == 3; }));

  v1::RecognizeResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status =
      CallRecognize(*server, RecognizeRequestOf({"北京", "上海"}), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));  // not after the first batch ran

  first_done.WaitForNotification();
  EXPECT_TRUE(first_status.ok()) << first_status.error_message();
  EXPECT_EQ(first_response.results_size(), 3);
}

TEST(NerServerTest, DeadlinePassingInTheQueueIsDeadlineExceeded) {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Milliseconds(800);
  auto server = StartOrDie(config);
  v1::RecognizeResponse response;
  const absl::Time start = absl::Now();
  const grpc::Status status = CallRecognize(*server, RecognizeRequestOf({"张三在北京。"}),
                                            &response, absl::Milliseconds(100));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(700));
  // The server finished the call with the same code, once the queue saw it.
  EXPECT_TRUE(Eventually([&] {
    return server->Metric("ner_requests_total{code=\"DEADLINE_EXCEEDED\",method=\"Recognize\"}") ==
           1;
  })) << server->MetricsText();
  EXPECT_TRUE(CallRecognize(*server, RecognizeRequestOf({"张三在北京。"}), &response).ok());
}

TEST(NerServerTest, ModelsAreListedLoadedAndSwapped) {
  auto server = StartOrDie(TestConfig());
  grpc::ClientContext list_context;
  v1::ListModelsResponse list;
  ASSERT_TRUE(server->stub().ListModels(&list_context, {}, &list).ok());
  EXPECT_EQ(list.default_model(), "default");
  ASSERT_EQ(list.models_size(), 1);
  const v1::ModelInfo& info = list.models(0);
  EXPECT_EQ(info.name(), "default");
  EXPECT_EQ(info.path(), "tiny");
  EXPECT_EQ(info.variant(), "nezha-df-bilstm-crf");
  EXPECT_TRUE(info.serving());
  EXPECT_THAT(info.entity_types(), ::testing::ElementsAre("LOC", "ORG", "PER"));
  EXPECT_EQ(info.labels(0), "O");
  EXPECT_GT(info.loaded_at().seconds(), 0);
  const std::string old_version = info.version();

  auto version = [&] {
    v1::RecognizeResponse response;
    EXPECT_TRUE(CallRecognize(*server, RecognizeRequestOf({"张三在北京。"}), &response).ok());
    return response.model_version();
  };
  v1::ModelInfo loaded;
  grpc::Status status = CallLoadModel(*server, "default", "corrupt", &loaded);
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.error_message(), HasSubstr("corrupt"));
  EXPECT_EQ(version(), old_version);  // the old model keeps serving
  EXPECT_EQ(CallLoadModel(*server, "default", "../tiny", &loaded).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(CallLoadModel(*server, "default", "nothing-here", &loaded).error_code(),
            grpc::StatusCode::NOT_FOUND);

  ASSERT_TRUE(CallLoadModel(*server, "default", "tiny2", &loaded).ok());
  EXPECT_NE(loaded.version(), old_version);
  EXPECT_EQ(version(), loaded.version());
  ASSERT_TRUE(CallLoadModel(*server, "second", "tiny", &loaded).ok());
  grpc::ClientContext get_context;
  v1::GetModelRequest get;
  get.set_name("second");
  v1::ModelInfo got;
  ASSERT_TRUE(server->stub().GetModel(&get_context, get, &got).ok());
  EXPECT_EQ(got.version(), old_version);
  grpc::ClientContext missing_context;
  get.set_name("third");
  EXPECT_EQ(server->stub().GetModel(&missing_context, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Unloading: the name stops serving and leaves the metrics; the default model is refused.
  EXPECT_EQ(server->Metric("ner_model_loaded"), 2);
  auto unload = [&](const std::string& name, v1::ModelInfo* out) {
    grpc::ClientContext context;
    v1::UnloadModelRequest request;
    request.set_name(name);
    return server->stub().UnloadModel(&context, request, out);
  };
  v1::ModelInfo unloaded;
  ASSERT_TRUE(unload("second", &unloaded).ok());
  EXPECT_EQ(unloaded.name(), "second");
  EXPECT_EQ(unloaded.version(), old_version);
  EXPECT_FALSE(unloaded.serving());
  EXPECT_EQ(server->Metric("ner_model_loaded"), 1);
  EXPECT_THAT(server->MetricsText(), ::testing::Not(HasSubstr("name=\"second\"")));
  grpc::ClientContext gone_context;
  get.set_name("second");
  EXPECT_EQ(server->stub().GetModel(&gone_context, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unload("second", &unloaded).error_code(), grpc::StatusCode::NOT_FOUND);
  const grpc::Status refused = unload("default", &unloaded);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(server->registry().HasDefaultModel());
}

TEST(NerServerTest, MetricsEndpointShowsTheSeries) {
  auto server = StartOrDie(TestConfig(), /*metrics=*/true);
  v1::RecognizeResponse response;
  ASSERT_TRUE(CallRecognize(*server, RecognizeRequestOf({"张三在北京大学工作。", "李四去上海。"}),
                            &response)
                  .ok());
  absl::StatusOr<std::string> body = testing::HttpGet(server->metrics_port(), "/metrics");
  ASSERT_TRUE(body.ok()) << body.status();
  for (const char* series :
       {"ner_requests_total{code=\"OK\",method=\"Recognize\"} 1",
        "ner_request_latency_seconds_count{method=\"Recognize\"} 1", "ner_documents_total 2",
        "ner_characters_total 16", "ner_batch_size_count", "ner_batch_tokens_count",
        "ner_batch_latency_seconds_count", "ner_queue_depth 0", "ner_inflight_requests 0",
        "ner_model_info{name=\"default\",variant=\"nezha-df-bilstm-crf\",version=\"",
        "ner_model_loaded 1", "ner_entities_total{type=\"PER\"}", "ner_queue_wait_seconds_count 2",
        "ner_batch_padding_ratio_count 1", "ner_build_info{version=\"", "ner_train_jobs_running 0",
        "ner_train_dev_f1"}) {
    EXPECT_THAT(*body, HasSubstr(series));
  }
  // The queue's capacity, for alerts on depth / capacity.
  EXPECT_THAT(*body, HasSubstr("ner_queue_capacity " +
                               std::to_string(TestConfig().batcher.max_queue_items)));
}

TEST(NerServerTest, TrainingCanBeSwitchedOff) {
  ServerConfig config = TestConfig();
  config.enable_training = false;
  auto server = StartOrDie(config);
  grpc::ClientContext context;
  auto reader = server->stub().Train(&context, v1::TrainRequest());
  v1::TrainEvent event;
  while (reader->Read(&event)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace ner::server
