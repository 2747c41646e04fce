// NerClient against the real server in-process over real gRPC: every RPC, the bearer token,
// TLS and mutual TLS.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/ner_client.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/shared_data.h"

namespace ner::client {
namespace {

using server::ServerConfig;
using server::testing::StartOrDie;
using server::testing::TestConfig;
using server::testing::TestServer;
using server::testing::TrainingConfig;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kToken[] = "client-test-token";

std::unique_ptr<NerClient> ClientOrDie(ClientOptions options) {
  absl::StatusOr<std::unique_ptr<NerClient>> client = NerClient::Create(std::move(options));
  if (!client.ok()) {
    ADD_FAILURE() << client.status();
    std::abort();
  }
  return *std::move(client);
}

TEST(NerClientServerTest, EveryRpcThroughTheClientLibrary) {
  ServerConfig config = TrainingConfig();
  config.auth_token = kToken;
  auto server = StartOrDie(config);
  ClientOptions options;
  options.target = server->address();
  options.bearer_token = kToken;
  auto client = ClientOrDie(options);

  // Recognize: offsets hold for the whole text.
  const std::string text = "张三在北京大学工作，李四去上海。";
  absl::StatusOr<v1::DocumentResult> result = client->RecognizeText(text);
  ASSERT_TRUE(result.ok()) << result.status();
  for (const v1::Entity& e : result->entities()) {
    EXPECT_EQ(e.text(), text.substr(e.begin_byte(), e.end_byte() - e.begin_byte()));
  }
  v1::RecognizeOptions unknown_type;
  unknown_type.add_entity_types("NOPE");
  EXPECT_EQ(client->RecognizeText(text, unknown_type).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Models.
  absl::StatusOr<v1::ListModelsResponse> models = client->ListModels();
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_EQ(models->default_model(), "default");
  absl::StatusOr<v1::ModelInfo> loaded = client->LoadModel("second", "tiny2");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->name(), "second");
  absl::StatusOr<v1::ModelInfo> got = client->GetModel("second");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->version(), loaded->version());
  EXPECT_EQ(client->GetModel("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client->LoadModel("bad", "corrupt").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<v1::ModelInfo> unloaded = client->UnloadModel("second");
  ASSERT_TRUE(unloaded.ok()) << unloaded.status();
  EXPECT_EQ(unloaded->version(), loaded->version());
  EXPECT_FALSE(unloaded->serving());
  EXPECT_EQ(client->GetModel("second").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client->UnloadModel("default").status().code(), absl::StatusCode::kFailedPrecondition);

  // Evaluate needs the token: refused without it, and not retried.
  v1::EvaluateRequest evaluate;
  evaluate.mutable_dataset()->set_path("dev.jsonl");
  ClientOptions anonymous_options = options;
  anonymous_options.bearer_token.clear();
  int retries = 0;
  anonymous_options.on_retry = [&](absl::string_view, int, const absl::Status&, absl::Duration) {
    ++retries;
  };
  auto anonymous = ClientOrDie(anonymous_options);
  EXPECT_EQ(anonymous->Evaluate(evaluate).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(retries, 0);
  absl::StatusOr<v1::EvaluateResponse> scores = client->Evaluate(evaluate);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->documents(), 3);
  EXPECT_EQ(scores->overall().gold(), 5);

  // Train: a small job followed to its end, then remembered.
  v1::TrainRequest train;
  train.set_variant("bilstm-crf");
  train.mutable_train()->set_path("dev.jsonl");
  train.mutable_dev()->set_path("dev.jsonl");
  train.set_output_model("trained");
  train.set_promote(v1::PROMOTE_POLICY_NEVER);
  train.mutable_hyperparameters()->set_epochs(2);
  train.mutable_hyperparameters()->set_batch_size(2);
  std::vector<v1::TrainEvent> events;
  absl::StatusOr<v1::TrainEvent> last = client->Train(train, [&](const v1::TrainEvent& e) {
    events.push_back(e);
    return true;
  });
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), v1::TRAIN_JOB_STATE_SUCCEEDED) << last->message();
  EXPECT_TRUE(last->has_dev_f1());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().job_id(), last->job_id());
  absl::StatusOr<std::vector<v1::TrainJob>> jobs = client->ListTrainJobs();
  ASSERT_TRUE(jobs.ok());
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].job_id(), last->job_id());
  absl::StatusOr<v1::TrainJob> job = client->GetTrainJob(last->job_id());
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->request().output_model(), "trained");
  absl::StatusOr<v1::TrainJob> cancelled = client->CancelTrainJob(last->job_id());
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->latest().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);  // already over
  absl::StatusOr<v1::TrainEvent> watched = client->WatchTrainJob(last->job_id(), nullptr);
  ASSERT_TRUE(watched.ok()) << watched.status();
  EXPECT_EQ(watched->state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(client->GetTrainJob("job-nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(anonymous->Train(train, nullptr).status().code(), absl::StatusCode::kUnauthenticated);
}

// The server restarts under a Train call: the job is interrupted at its next step, the client
// waits for the new server on the same address (train_restart_wait, beyond the retry policy)
// and follows the job there to its end; nothing is submitted twice.
TEST(NerClientServerTest, TrainFollowsItsJobThroughAServerRestart) {
  ServerConfig config = TrainingConfig();
  config.listen_address = absl::StrCat("127.0.0.1:", ner::testing::FreePort());
  auto server = StartOrDie(config);
  ClientOptions options;
  options.target = server->address();
  // One attempt per call: only train_restart_wait lets the client wait for the new server.
  options.retry.max_attempts = 1;
  options.retry.initial_backoff = absl::Milliseconds(20);
  options.retry.max_backoff = absl::Milliseconds(100);
  options.train_restart_wait = absl::Seconds(60);
  auto client = ClientOrDie(options);

  v1::TrainRequest train = server::testing::SmallTrainRequest("restarted", 30);
  std::atomic<bool> checkpointed{false};
  std::vector<v1::TrainEvent> events;  // written by the client's thread only
  absl::StatusOr<v1::TrainEvent> last;
  std::thread run([&] {
    last = client->Train(train, [&](const v1::TrainEvent& e) {
      events.push_back(e);
      if (e.phase() == v1::TRAIN_PHASE_CHECKPOINTING && e.epoch() >= 2) checkpointed = true;
      return true;
    });
  });
  ASSERT_TRUE(server::testing::Eventually([&] { return checkpointed.load(); }));
  server->server().Shutdown(absl::Seconds(5));
  server.reset();
  server = StartOrDie(config);
  run.join();
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(last->state(), v1::TRAIN_JOB_STATE_SUCCEEDED) << last->message();
  EXPECT_EQ(last->epoch(), 30);
  bool interrupted = false;
  for (const v1::TrainEvent& e : events) {
    EXPECT_EQ(e.job_id(), last->job_id());
    if (e.phase() == v1::TRAIN_PHASE_INTERRUPTED) interrupted = true;
  }
  EXPECT_TRUE(interrupted) << "the job ended before the restart";
  absl::StatusOr<std::vector<v1::TrainJob>> jobs = client->ListTrainJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->size(), 1u);
  EXPECT_EQ((*jobs)[0].restarts(), 1);
}

// Certificates made with the openssl tool: a CA, a server certificate for "ner.test" and a
// client certificate, all signed by the CA.
class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("openssl version > /dev/null 2>&1") != 0) {
      GTEST_SKIP() << "the openssl tool is not installed";
    }
    dir_ = ner::testing::MakeTempDir("client_tls");
    const std::string script = absl::StrCat(
        "cd ", dir_, " && K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && ",
        "openssl req -x509 $K -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca && ",
        "openssl req $K -keyout server.key -out server.csr -subj /CN=ner.test && ",
        "printf 'subjectAltName=DNS:ner.test\\n' > san.ext && ",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial ",
        "-out server.pem -days 2 -extfile san.ext && ",
        "openssl req $K -keyout client.key -out client.csr -subj /CN=client && ",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial ",
        "-out client.pem -days 2");
    ASSERT_EQ(std::system(absl::StrCat("(", script, ") > ", dir_, "/openssl.log 2>&1").c_str()), 0)
        << "see " << dir_ << "/openssl.log";
  }

  std::string dir_;
};

TEST_F(TlsTest, MutualTlsWithTheServerNameOverridden) {
  ServerConfig config = TestConfig();
  config.tls_cert_file = dir_ + "/server.pem";
  config.tls_key_file = dir_ + "/server.key";
  config.tls_client_ca_file = dir_ + "/ca.pem";
  auto server = StartOrDie(config);

  ClientOptions options;
  options.target = server->address();  // 127.0.0.1: not the certificate's name
  options.retry.max_attempts = 1;
  options.tls = TlsOptions();
  options.tls->root_ca_file = dir_ + "/ca.pem";
  options.tls->cert_chain_file = dir_ + "/client.pem";
  options.tls->private_key_file = dir_ + "/client.key";
  options.tls->override_hostname = "ner.test";
  absl::StatusOr<v1::ListModelsResponse> models = ClientOrDie(options)->ListModels();
  ASSERT_TRUE(models.ok()) << models.status();
  EXPECT_EQ(models->default_model(), "default");

  // Without a client certificate, or in plaintext, the server lets nobody in.
  ClientOptions no_cert = options;
  no_cert.tls->cert_chain_file.clear();
  no_cert.tls->private_key_file.clear();
  EXPECT_FALSE(ClientOrDie(no_cert)->ListModels().ok());
  ClientOptions plaintext = options;
  plaintext.tls.reset();
  EXPECT_EQ(ClientOrDie(plaintext)->ListModels().status().code(), absl::StatusCode::kUnavailable);
  // A CA file that is not there fails creating the client.
  ClientOptions missing = options;
  missing.tls->root_ca_file = dir_ + "/nope.pem";
  EXPECT_EQ(NerClient::Create(missing).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ner::client
