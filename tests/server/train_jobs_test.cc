// Training jobs through the real gRPC API: Train streams events and promotes the result, jobs
// outlive their streams, limits, cancellation, bad requests, and the bearer token. Jobs across
// server restarts: train_job_recovery_test.cc.

#include "server/train_jobs.h"

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "model/file_util.h"
#include "server/ner_server.h"
#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ReadTrainEvents;
using testing::SmallTrainRequest;
using testing::StartOrDie;
using testing::TestServer;
using testing::TrainingConfig;
using testing::TrainStreamResult;

TEST(TrainJobsTest, TrainStreamsProgressAndServesThePromotedModel) {
  auto server = StartOrDie(TrainingConfig());
  grpc::ClientContext context;
  TrainStreamResult result =
      ReadTrainEvents(server->stub().Train(&context, SmallTrainRequest("trained")));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_FALSE(result.events.empty());
  const v1::TrainEvent& last = result.events.back();
  EXPECT_EQ(last.state(), v1::TRAIN_JOB_STATE_SUCCEEDED) << last.message();
  EXPECT_EQ(last.phase(), v1::TRAIN_PHASE_DONE);
  EXPECT_FALSE(last.job_id().empty());
  EXPECT_EQ(last.epoch(), 3);
  EXPECT_EQ(last.step(), last.total_steps());
  EXPECT_TRUE(last.has_dev_f1());
  EXPECT_EQ(last.checkpoint_path(), "jobs/" + last.job_id() + "/best");
  bool saw_step = false;
  for (const v1::TrainEvent& event : result.events) {
    EXPECT_EQ(event.job_id(), last.job_id());
    if (event.phase() == v1::TRAIN_PHASE_TRAINING && event.step() > 0) saw_step = true;
  }
  EXPECT_TRUE(saw_step);

  // The job is remembered, and the promoted model answers requests.
  grpc::ClientContext get_context;
  v1::GetTrainJobRequest get;
  get.set_job_id(last.job_id());
  v1::TrainJob job;
  ASSERT_TRUE(server->stub().GetTrainJob(&get_context, get, &job).ok());
  EXPECT_EQ(job.latest().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.request().output_model(), "trained");
  EXPECT_TRUE(job.has_finished_at());

  grpc::ClientContext list_context;
  v1::ListModelsResponse models;
  ASSERT_TRUE(server->stub().ListModels(&list_context, v1::ListModelsRequest(), &models).ok());
  bool found = false;
  for (const v1::ModelInfo& model : models.models()) {
    if (model.name() == "trained") {
      found = true;
      EXPECT_EQ(model.variant(), "bilstm-crf");
      EXPECT_TRUE(model.serving());
      ASSERT_TRUE(model.has_dev_f1());  // from the checkpoint's provenance
      double best_f1 = 0;
      for (const v1::TrainEvent& event : result.events) {
        if (event.has_dev_f1()) best_f1 = std::max(best_f1, event.dev_f1());
      }
      EXPECT_NEAR(model.dev_f1(), best_f1, 1e-9);
    }
  }
  EXPECT_TRUE(found);
  // The job's checkpoint also loads by path, as any other.
  v1::ModelInfo loaded;
  ASSERT_TRUE(testing::CallLoadModel(*server, "by-path", last.checkpoint_path(), &loaded).ok());
  EXPECT_EQ(loaded.variant(), "bilstm-crf");
  EXPECT_THAT(loaded.entity_types(), ::testing::ElementsAre("LOC", "ORG", "PER"));

  grpc::ClientContext recognize_context;
  v1::RecognizeRequest recognize;
  recognize.mutable_options()->set_model("trained");
  recognize.add_documents()->set_text("张三在北京大学工作。");
  v1::RecognizeResponse response;
  EXPECT_TRUE(server->stub().Recognize(&recognize_context, recognize, &response).ok());
}

TEST(TrainJobsTest, PromotionIfBetterKeepsABetterServingModel) {
  auto server = StartOrDie(TrainingConfig());
  // One step of a fresh model cannot beat a model trained on the dev set itself for 30 epochs.
  {
    grpc::ClientContext context;
    v1::TrainRequest request = SmallTrainRequest("incumbent", 30);
    TrainStreamResult result = ReadTrainEvents(server->stub().Train(&context, request));
    ASSERT_EQ(result.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  }
  absl::StatusOr<std::shared_ptr<const ServedModel>> before = server->registry().Get("incumbent");
  ASSERT_TRUE(before.ok());
  grpc::ClientContext context;
  v1::TrainRequest request = SmallTrainRequest("incumbent", 1);
  request.set_promote(v1::PROMOTE_POLICY_IF_BETTER);
  request.mutable_hyperparameters()->set_head_lr(1e-6);
  TrainStreamResult result = ReadTrainEvents(server->stub().Train(&context, request));
  ASSERT_EQ(result.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  bool not_promoted = false;
  for (const v1::TrainEvent& event : result.events) {
    if (event.message().find("not promoted") != std::string::npos) not_promoted = true;
  }
  EXPECT_TRUE(not_promoted);
  EXPECT_EQ((*server->registry().Get("incumbent"))->version, (*before)->version);
}

TEST(TrainJobsTest, ADroppedStreamDoesNotStopTheJob) {
  auto server = StartOrDie(TrainingConfig());
  std::string job_id;
  {
    grpc::ClientContext context;
    auto reader = server->stub().Train(&context, SmallTrainRequest("dropped", 5));
    v1::TrainEvent event;
    ASSERT_TRUE(reader->Read(&event));
    job_id = event.job_id();
    context.TryCancel();
    while (reader->Read(&event)) {
    }
    reader->Finish();
  }
  grpc::ClientContext watch_context;
  v1::WatchTrainJobRequest watch;
  watch.set_job_id(job_id);
  TrainStreamResult result = ReadTrainEvents(server->stub().WatchTrainJob(&watch_context, watch));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(result.events.back().epoch(), 5);
}

TEST(TrainJobsTest, JobsBeyondTheLimitAreRefusedAndCancelStopsAJob) {
  auto server = StartOrDie(TrainingConfig());
  grpc::ClientContext context;
  auto reader = server->stub().Train(&context, SmallTrainRequest("long", 100));
  v1::TrainEvent event;
  ASSERT_TRUE(reader->Read(&event));
  const std::string job_id = event.job_id();

  grpc::ClientContext second_context;
  TrainStreamResult second =
      ReadTrainEvents(server->stub().Train(&second_context, SmallTrainRequest("other")));
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  grpc::ClientContext cancel_context;
  v1::CancelTrainJobRequest cancel;
  cancel.set_job_id(job_id);
  v1::TrainJob job;
  ASSERT_TRUE(server->stub().CancelTrainJob(&cancel_context, cancel, &job).ok());
  v1::TrainEvent last = event;
  while (reader->Read(&event)) last = event;
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(last.state(), v1::TRAIN_JOB_STATE_CANCELLED);
  EXPECT_LT(last.epoch(), 100);

  grpc::ClientContext list_context;
  v1::ListTrainJobsResponse jobs;
  ASSERT_TRUE(server->stub().ListTrainJobs(&list_context, v1::ListTrainJobsRequest(), &jobs).ok());
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).latest().state(), v1::TRAIN_JOB_STATE_CANCELLED);
}

TEST(TrainJobsTest, BadRequestsAreRefusedWithTheField) {
  auto server = StartOrDie(TrainingConfig());
  struct Case {
    const char* name;
    std::function<void(v1::TrainRequest&)> change;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"no output model", [](v1::TrainRequest& r) { r.clear_output_model(); }, "output_model"},
      {"bad output model", [](v1::TrainRequest& r) { r.set_output_model("../x"); }, "output_model"},
      {"negative epochs", [](v1::TrainRequest& r) { r.mutable_hyperparameters()->set_epochs(-1); },
       "epochs"},
      {"zero batch", [](v1::TrainRequest& r) { r.mutable_hyperparameters()->set_batch_size(0); },
       "batch_size"},
      {"bad variant", [](v1::TrainRequest& r) { r.set_variant("crf-only"); }, "variant"},
      {"bad preset", [](v1::TrainRequest& r) { r.mutable_hyperparameters()->set_preset("huge"); },
       "preset"},
      {"no dev", [](v1::TrainRequest& r) { r.clear_dev(); }, "dev"},
      {"no train", [](v1::TrainRequest& r) { r.clear_train(); }, "train"},
      {"bad decay", [](v1::TrainRequest& r) { r.mutable_hyperparameters()->set_lr_decay("cos"); },
       "lr_decay"},
      {"bad dropout",
       [](v1::TrainRequest& r) { r.mutable_hyperparameters()->set_head_dropout(1.5); },
       "head_dropout"},
      {"huge bigram table",
       [](v1::TrainRequest& r) { r.mutable_hyperparameters()->set_bigram_buckets(100'000'000); },
       "bigram_buckets"},
      {"vectors for a transformer",
       [](v1::TrainRequest& r) {
         r.set_variant("nezha-bilstm-crf");
         r.set_char_vectors("vectors/chars.vec");
       },
       "bilstm-crf"},
      {"bigram vectors without a table",
       [](v1::TrainRequest& r) { r.set_bigram_vectors("vectors/bigrams.vec"); }, "bigram_buckets"},
  };
  for (const Case& c : cases) {
    v1::TrainRequest request = SmallTrainRequest("bad");
    c.change(request);
    grpc::ClientContext context;
    TrainStreamResult result = ReadTrainEvents(server->stub().Train(&context, request));
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.name;
    EXPECT_THAT(result.status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_TRUE(result.events.empty()) << c.name;
  }

  // Data problems are found by the job: it fails with the code and says why.
  struct DataCase {
    const char* path;
    grpc::StatusCode code;
  };
  for (const DataCase& c : {DataCase{"../escape.jsonl", grpc::StatusCode::INVALID_ARGUMENT},
                            DataCase{"/etc/passwd", grpc::StatusCode::INVALID_ARGUMENT},
                            DataCase{"missing.jsonl", grpc::StatusCode::NOT_FOUND}}) {
    v1::TrainRequest request = SmallTrainRequest("bad");
    request.mutable_train()->set_path(c.path);
    grpc::ClientContext context;
    TrainStreamResult result = ReadTrainEvents(server->stub().Train(&context, request));
    ASSERT_TRUE(result.status.ok()) << c.path;
    ASSERT_FALSE(result.events.empty());
    const v1::TrainEvent& last = result.events.back();
    EXPECT_EQ(last.state(), v1::TRAIN_JOB_STATE_FAILED) << c.path;
    EXPECT_EQ(last.error().code(), static_cast<int>(c.code))
        << c.path << ": " << last.error().message();
    EXPECT_THAT(last.error().message(), HasSubstr("train")) << c.path;
  }

  // An empty inline dataset.
  v1::TrainRequest request = SmallTrainRequest("bad");
  request.mutable_train()->mutable_inline_documents();
  grpc::ClientContext context;
  TrainStreamResult result = ReadTrainEvents(server->stub().Train(&context, request));
  ASSERT_FALSE(result.events.empty());
  EXPECT_EQ(result.events.back().state(), v1::TRAIN_JOB_STATE_FAILED);
  EXPECT_THAT(result.events.back().error().message(), HasSubstr("empty"));
}

// Writes vectors/chars.vec (3 characters, 4 wide) and vectors/bigrams.vec (2 bigrams, 3 wide)
// under the model root `root`.
void WriteTestVectors(const std::string& root) {
  fs::create_directories(root + "/vectors");
  ASSERT_TRUE(model::WriteFileAtomically(
                  root + "/vectors/chars.vec",
                  "3 4\n张 0.1 0.2 0.3 0.4\n北 -0.1 0.2 0.0 0.3\n京 0.5 0.1 -0.2 0.1\n")
                  .ok());
  ASSERT_TRUE(model::WriteFileAtomically(root + "/vectors/bigrams.vec",
                                         "2 3\n北京 0.1 0.2 0.3\n张三 0.3 0.2 0.1\n")
                  .ok());
}

// Runs `request` to its end on `server`; fails unless the job SUCCEEDED. `last`: its last event.
void TrainToSuccess(TestServer& server, const v1::TrainRequest& request, v1::TrainEvent* last) {
  grpc::ClientContext context;
  TrainStreamResult result = ReadTrainEvents(server.stub().Train(&context, request));
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_FALSE(result.events.empty());
  *last = result.events.back();
  ASSERT_EQ(last->state(), v1::TRAIN_JOB_STATE_SUCCEEDED) << last->error().message();
}

TEST(TrainJobsTest, TrainsABiLstmCrfFromPretrainedVectorsWithItsRecipe) {
  // The shipped default model's recipe through the RPC: character and bigram vectors (files
  // under the model root), hashed bigrams, dropout, linear decay.
  const ServerConfig server_config = TrainingConfig();
  const std::string& root = server_config.model_root;
  ASSERT_NO_FATAL_FAILURE(WriteTestVectors(root));
  auto server = StartOrDie(server_config);
  v1::TrainRequest request = SmallTrainRequest("from-vectors", 2);
  request.set_char_vectors("vectors/chars.vec");
  request.set_bigram_vectors("vectors/bigrams.vec");
  v1::Hyperparameters* h = request.mutable_hyperparameters();
  h->set_bigram_buckets(101);
  h->set_head_dropout(0.5);
  h->set_lr_decay("linear");
  h->set_decay_rate(0.1);
  h->set_lstm_hidden(16);
  v1::TrainEvent last;
  ASSERT_NO_FATAL_FAILURE(TrainToSuccess(*server, request, &last));

  // The widths come from the vectors (the events' notes may be skipped by a slow reader, so the
  // checkpoint is what is checked).
  absl::StatusOr<std::string> config =
      model::ReadFileToString(root + "/" + last.checkpoint_path() + "/config.json", 1 << 20);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(*config, HasSubstr("\"char_embedding_dim\": 4"));
  EXPECT_THAT(*config, HasSubstr("\"bigram_buckets\": 101"));
  EXPECT_THAT(*config, HasSubstr("\"bigram_embedding_dim\": 3"));
  EXPECT_THAT(*config, HasSubstr("\"lstm_hidden\": 16"));
  EXPECT_THAT(*config,
              HasSubstr("char_vectors=vectors/chars.vec, bigram_vectors=vectors/bigrams.vec"));
  EXPECT_THAT(*config, HasSubstr("\"lr_decay\": \"linear\""));

  // A vectors path that leaves the model root is refused by the job, naming the field.
  v1::TrainRequest escape = SmallTrainRequest("escape", 1);
  escape.set_char_vectors("../chars.vec");
  grpc::ClientContext escape_context;
  TrainStreamResult refused = ReadTrainEvents(server->stub().Train(&escape_context, escape));
  ASSERT_FALSE(refused.events.empty());
  EXPECT_EQ(refused.events.back().state(), v1::TRAIN_JOB_STATE_FAILED);
  EXPECT_THAT(refused.events.back().error().message(), HasSubstr("char_vectors"));
}

TEST(TrainJobsTest, VectorsWithoutATrainVocabUseTheDefaultInitsVocabulary) {
  // A server configured with --train_init and no --train_vocab: a request with vectors does not
  // start from that checkpoint's weights, but its characters are that checkpoint's vocabulary.
  ServerConfig config = TrainingConfig();
  const std::string& root = config.model_root;
  ASSERT_NO_FATAL_FAILURE(WriteTestVectors(root));
  config.training.vocab_path.clear();
  config.training.default_init = "tiny";
  auto server = StartOrDie(config);
  v1::TrainRequest request = SmallTrainRequest("vectors-default-vocab", 1);
  request.set_char_vectors("vectors/chars.vec");
  v1::TrainEvent last;
  ASSERT_NO_FATAL_FAILURE(TrainToSuccess(*server, request, &last));

  const std::string trained = root + "/" + last.checkpoint_path();
  absl::StatusOr<std::string> vocab = model::ReadFileToString(trained + "/vocab.txt", 1 << 20);
  absl::StatusOr<std::string> init_vocab =
      model::ReadFileToString(root + "/tiny/vocab.txt", 1 << 20);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  ASSERT_TRUE(init_vocab.ok()) << init_vocab.status();
  EXPECT_EQ(*vocab, *init_vocab);
  absl::StatusOr<std::string> config_json =
      model::ReadFileToString(trained + "/config.json", 1 << 20);
  ASSERT_TRUE(config_json.ok()) << config_json.status();
  // Widths from the vectors, not from tiny's encoder; provenance names only the vectors.
  EXPECT_THAT(*config_json, HasSubstr("\"char_embedding_dim\": 4"));
  EXPECT_THAT(*config_json, HasSubstr("\"init_from\": \"char_vectors=vectors/chars.vec\""));
}

TEST(TrainJobsTest, UnknownJobsAreNotFound) {
  auto server = StartOrDie(TrainingConfig());
  grpc::ClientContext context;
  v1::GetTrainJobRequest get;
  get.set_job_id("job-nope");
  v1::TrainJob job;
  EXPECT_EQ(server->stub().GetTrainJob(&context, get, &job).error_code(),
            grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext watch_context;
  v1::WatchTrainJobRequest watch;
  watch.set_job_id("job-nope");
  EXPECT_EQ(
      ReadTrainEvents(server->stub().WatchTrainJob(&watch_context, watch)).status.error_code(),
      grpc::StatusCode::NOT_FOUND);
}

TEST(TrainJobsTest, TheTokenGuardsTrainingEvaluationLoadingAndUnloading) {
  ServerConfig config = TrainingConfig();
  config.auth_token = "s3cret-token";
  // Everything the server logs from start to shutdown: the token must never be in it.
  ::testing::internal::CaptureStderr();
  auto server = StartOrDie(config);
  const auto with_token = [](grpc::ClientContext& context, const std::string& token) {
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  };
  for (const std::string& token : {std::string(), std::string("wrong")}) {
    grpc::ClientContext train_context;
    with_token(train_context, token);
    TrainStreamResult train =
        ReadTrainEvents(server->stub().Train(&train_context, SmallTrainRequest("t")));
    EXPECT_EQ(train.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_THAT(train.status.error_message(), ::testing::Not(HasSubstr("s3cret")));

    grpc::ClientContext load_context;
    with_token(load_context, token);
    v1::LoadModelRequest load;
    load.set_name("x");
    load.set_path("tiny2");
    v1::ModelInfo info;
    EXPECT_EQ(server->stub().LoadModel(&load_context, load, &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    grpc::ClientContext unload_context;
    with_token(unload_context, token);
    v1::UnloadModelRequest unload;
    unload.set_name("x");
    EXPECT_EQ(server->stub().UnloadModel(&unload_context, unload, &info).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    grpc::ClientContext eval_context;
    with_token(eval_context, token);
    v1::EvaluateRequest evaluate;
    evaluate.mutable_dataset()->set_path("dev.jsonl");
    v1::EvaluateResponse scores;
    EXPECT_EQ(server->stub().Evaluate(&eval_context, evaluate, &scores).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);

    grpc::ClientContext cancel_context;
    with_token(cancel_context, token);
    v1::CancelTrainJobRequest cancel;
    cancel.set_job_id("job-x");
    v1::TrainJob job;
    EXPECT_EQ(server->stub().CancelTrainJob(&cancel_context, cancel, &job).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  // With the token they run; recognition never needs it.
  grpc::ClientContext eval_context;
  with_token(eval_context, "s3cret-token");
  v1::EvaluateRequest evaluate;
  evaluate.mutable_dataset()->set_path("dev.jsonl");
  v1::EvaluateResponse scores;
  EXPECT_TRUE(server->stub().Evaluate(&eval_context, evaluate, &scores).ok());
  EXPECT_EQ(scores.documents(), 3);
  grpc::ClientContext recognize_context;
  v1::RecognizeRequest recognize;
  recognize.add_documents()->set_text("李四去上海。");
  v1::RecognizeResponse response;
  EXPECT_TRUE(server->stub().Recognize(&recognize_context, recognize, &response).ok());
  server.reset();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("serving"));  // the capture worked
  EXPECT_THAT(log, ::testing::Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace ner::server
