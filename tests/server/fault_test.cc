// Faults around serving, over real gRPC: damaged checkpoints offered to LoadModel, clients
// cancelling in the middle of a batch, and SIGTERM to the real `ner-server` process while it is
// busy.

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "model/file_util.h"
#include "tests/server/server_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/shared_data.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;
using testing::Eventually;
using ::testing::HasSubstr;
using testing::RecognizeRequestOf;
using testing::StartOrDie;
using testing::TestConfig;
using testing::TestModelRoot;
using testing::TestServer;

// Same model version and the same entities (scores to float noise from other batch neighbours).
void ExpectSameResponse(const v1::RecognizeResponse& got, const v1::RecognizeResponse& want) {
  EXPECT_EQ(got.model_version(), want.model_version());
  ASSERT_EQ(got.results_size(), want.results_size());
  for (int d = 0; d < want.results_size(); ++d) {
    const v1::DocumentResult& g = got.results(d);
    const v1::DocumentResult& w = want.results(d);
    EXPECT_EQ(g.id(), w.id());
    ASSERT_EQ(g.entities_size(), w.entities_size()) << w.id();
    for (int e = 0; e < w.entities_size(); ++e) {
      EXPECT_EQ(g.entities(e).begin_char(), w.entities(e).begin_char()) << w.id();
      EXPECT_EQ(g.entities(e).end_char(), w.entities(e).end_char()) << w.id();
      EXPECT_EQ(g.entities(e).type(), w.entities(e).type()) << w.id();
      EXPECT_NEAR(g.entities(e).score(), w.entities(e).score(), 1e-4) << w.id();
    }
  }
}

// --- LoadModel with damaged checkpoints. ---

void FlipBytes(const std::string& file, size_t offset, size_t count) {
  std::string bytes = *model::ReadFileToString(file);
  ASSERT_LE(offset + count, bytes.size());
  for (size_t i = offset; i < offset + count; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  ASSERT_TRUE(model::WriteFileAtomically(file, bytes).ok());
}

void ReplaceInFile(const std::string& file, const std::string& from, const std::string& to) {
  std::string text = *model::ReadFileToString(file);
  const size_t pos = text.find(from);
  ASSERT_NE(pos, std::string::npos) << from;
  text.replace(pos, from.size(), to);
  ASSERT_TRUE(model::WriteFileAtomically(file, text).ok());
}

struct Damage {
  const char* name;
  void (*apply)(const std::string& dir);  // damages a copy of tiny/
  grpc::StatusCode code;
  const char* message;  // part of the error message
};

const Damage kDamages[] = {
    {"flipped_header_bytes",  // the JSON header of model.safetensors
     [](const std::string& d) { FlipBytes(d + "/model.safetensors", 8, 16); },
     grpc::StatusCode::INVALID_ARGUMENT, "model.safetensors"},
    {"flipped_header_length",
     [](const std::string& d) { FlipBytes(d + "/model.safetensors", 0, 8); },
     grpc::StatusCode::INVALID_ARGUMENT, "model.safetensors"},
    {"nan_weights",  // all ones: the last 16 float32 weights become NaNs
     [](const std::string& d) {
       std::string bytes = *model::ReadFileToString(d + "/model.safetensors");
       for (size_t i = bytes.size() - 64; i < bytes.size(); ++i) bytes[i] = '\xff';
       ASSERT_TRUE(model::WriteFileAtomically(d + "/model.safetensors", bytes).ok());
     },
     grpc::StatusCode::INVALID_ARGUMENT, "non-finite"},
    {"truncated_weights",
     [](const std::string& d) {
       fs::resize_file(d + "/model.safetensors", fs::file_size(d + "/model.safetensors") * 2 / 3);
     },
     grpc::StatusCode::INVALID_ARGUMENT, "model.safetensors"},
    {"empty_weights", [](const std::string& d) { fs::resize_file(d + "/model.safetensors", 0); },
     grpc::StatusCode::INVALID_ARGUMENT, "model.safetensors"},
    {"truncated_config", [](const std::string& d) { fs::resize_file(d + "/config.json", 40); },
     grpc::StatusCode::INVALID_ARGUMENT, "config.json"},
    {"wrong_lstm_width",  // config.json says 8, the weights are 16 wide
     [](const std::string& d) {
       ReplaceInFile(d + "/config.json", "\"lstm_hidden\": 16", "\"lstm_hidden\": 8");
     },
     grpc::StatusCode::INVALID_ARGUMENT, "wrong shape for bilstm"},
    {"more_labels_than_weights",  // 9 labels, a CRF over 7
     [](const std::string& d) {
       ReplaceInFile(d + "/config.json", "\"O\",", "\"O\", \"B-MISC\", \"I-MISC\",");
     },
     grpc::StatusCode::INVALID_ARGUMENT, "wrong shape for crf.transitions"},
    {"vocab_longer_than_config",
     [](const std::string& d) { std::ofstream(d + "/vocab.txt", std::ios::app) << "extra\n"; },
     grpc::StatusCode::INVALID_ARGUMENT, "vocab.txt"},
    {"missing_weights", [](const std::string& d) { fs::remove(d + "/model.safetensors"); },
     grpc::StatusCode::NOT_FOUND, "model.safetensors"},
};

TEST(ServerFaultTest, DamagedCheckpointsAreRefusedAndTheOldModelKeepsServing) {
  auto server = StartOrDie(TestConfig());
  const v1::RecognizeRequest request = RecognizeRequestOf(
      {"张三在北京大学工作。", "李四去上海的华为公司。", "王五说中国人民银行。"});
  auto recognize = [&] {
    grpc::ClientContext context;
    v1::RecognizeResponse response;
    const grpc::Status status = server->stub().Recognize(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  const v1::RecognizeResponse before = recognize();
  ASSERT_GT(before.results(0).entities_size() + before.results(1).entities_size(), 0);

  for (const Damage& damage : kDamages) {
    SCOPED_TRACE(damage.name);
    const std::string path = absl::StrCat("damaged_", damage.name);
    const std::string dir = TestModelRoot() + "/" + path;
    fs::remove_all(dir);
    fs::copy(TestModelRoot() + "/tiny", dir, fs::copy_options::recursive);
    damage.apply(dir);

    v1::ModelInfo info;
    const grpc::Status status = testing::CallLoadModel(*server, "default", path, &info);
    EXPECT_EQ(status.error_code(), damage.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(damage.message));
    EXPECT_THAT(status.error_message(), HasSubstr(path));  // which checkpoint
    ExpectSameResponse(recognize(), before);
  }
  grpc::ClientContext list_context;
  v1::ListModelsResponse list;
  ASSERT_TRUE(server->stub().ListModels(&list_context, {}, &list).ok());
  ASSERT_EQ(list.models_size(), 1);
  EXPECT_EQ(list.models(0).path(), "tiny");
  EXPECT_EQ(list.models(0).version(), before.model_version());
  EXPECT_EQ(server->Metric("ner_model_loaded"), 1);
}

// --- Client cancellation in the middle of a batch. ---

// An asynchronous Recognize call.
struct AsyncCall {
  grpc::ClientContext context;
  v1::RecognizeRequest request;
  v1::RecognizeResponse response;
  grpc::Status status;
  absl::Notification done;
};

// Four documents of `sentences` sentences (about 14 characters each; one piece per document),
// different for every call.
std::vector<std::string> Texts(int call, int sentences) {
  static const char* kPeople[] = {"张三", "李四", "王五"};
  static const char* kPlaces[] = {"北京", "上海", "中国"};
  std::vector<std::string> texts;
  for (int d = 0; d < 4; ++d) {
    std::string text;
    for (int s = 0; s < sentences; ++s) {
      absl::StrAppend(&text, kPeople[(call + d + s) % 3], "在", kPlaces[(call * 7 + d + s) % 3],
                      "大学工作了", call + s, "年。");
    }
    texts.push_back(std::move(text));
  }
  return texts;
}

std::unique_ptr<AsyncCall> StartCall(v1::NerService::Stub& stub, int i, int sentences = 12) {
  auto call = std::make_unique<AsyncCall>();
  call->request = RecognizeRequestOf(Texts(i, sentences));
  AsyncCall* c = call.get();
  stub.async()->Recognize(&c->context, &c->request, &c->response, [c](grpc::Status s) {
    c->status = std::move(s);
    c->done.Notify();
  });
  return call;
}

// Pieces wait up to 2 s for their batch and all fit in one, so the calls meet in the queue.
ServerConfig SlowBatchConfig() {
  ServerConfig config = TestConfig();
  config.batcher.max_queue_delay = absl::Seconds(2);
  config.batcher.max_batch_size = 64;
  config.batcher.max_batch_tokens = 1 << 16;
  return config;
}

TEST(ServerFaultTest, CancellingEveryQueuedCallEmptiesTheQueue) {
  auto server = StartOrDie(SlowBatchConfig());
  std::vector<std::unique_ptr<AsyncCall>> calls;
  for (int i = 0; i < 3; ++i) calls.push_back(StartCall(server->stub(), i));
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") == 12; }));
  for (auto& call : calls) call->context.TryCancel();
  for (auto& call : calls) {
    ASSERT_TRUE(call->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    EXPECT_EQ(call->status.error_code(), grpc::StatusCode::CANCELLED);
  }
  // The batcher drops the cancelled pieces when their batch would have been due.
  EXPECT_TRUE(Eventually([&] {
    return server->Metric("ner_requests_total{code=\"CANCELLED\",method=\"Recognize\"}") == 3 &&
           server->Metric("ner_inflight_requests") == 0 && server->Metric("ner_queue_depth") == 0;
  })) << server->MetricsText();
}

TEST(ServerFaultTest, CancelledCallsLeaveTheOthersUnharmedAndNothingBehind) {
  auto server = StartOrDie(SlowBatchConfig());
  constexpr int kCalls = 12;
  // What each call gets when nothing is cancelled (all in one batch, as below).
  std::vector<v1::RecognizeResponse> expected(kCalls);
  {
    std::vector<std::unique_ptr<AsyncCall>> reference;
    for (int i = 0; i < kCalls; ++i) reference.push_back(StartCall(server->stub(), i));
    for (int i = 0; i < kCalls; ++i) {
      ASSERT_TRUE(reference[i]->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
      ASSERT_TRUE(reference[i]->status.ok()) << reference[i]->status.error_message();
      expected[i] = reference[i]->response;
    }
  }

  std::vector<std::unique_ptr<AsyncCall>> calls;
  for (int i = 0; i < kCalls; ++i) calls.push_back(StartCall(server->stub(), i));
  // Every piece is queued: cancel a third of the calls while they wait, and another third as
  // soon as the batch of the rest starts running.
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") == 4 * kCalls; }));
  for (int i = 0; i < kCalls; i += 3) calls[i]->context.TryCancel();
  ASSERT_TRUE(Eventually([&] { return server->Metric("ner_queue_depth") < 4 * kCalls; }));
  for (int i = 1; i < kCalls; i += 3) calls[i]->context.TryCancel();

  int cancelled = 0;
  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE(::testing::Message() << "call " << i);
    ASSERT_TRUE(calls[i]->done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    const grpc::Status& status = calls[i]->status;
    if (i % 3 == 0) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
    }
    if (i % 3 == 2 || status.ok()) {  // never cancelled, or finished before the cancellation
      ASSERT_TRUE(status.ok()) << status.error_message();
      ExpectSameResponse(calls[i]->response, expected[i]);
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();
      ++cancelled;
    }
  }
  EXPECT_GE(cancelled, kCalls / 3);
  RecordProperty("cancelled_while_running", cancelled - kCalls / 3);

  // Every call is finished exactly once on the server too, and nothing is left queued. (A call
  // cancelled just after the server finished it is OK there and CANCELLED here.)
  const std::string ok = "ner_requests_total{code=\"OK\",method=\"Recognize\"}";
  const std::string cancelled_series =
      "ner_requests_total{code=\"CANCELLED\",method=\"Recognize\"}";
  EXPECT_TRUE(Eventually([&] {
    return server->Metric("ner_inflight_requests") == 0 && server->Metric("ner_queue_depth") == 0;
  })) << server->MetricsText();
  EXPECT_EQ(server->Metric(ok).value_or(0) + server->Metric(cancelled_series).value_or(0),
            2 * kCalls)
      << server->MetricsText();
  EXPECT_GE(server->Metric(cancelled_series).value_or(0), kCalls / 3);
  EXPECT_LE(server->Metric(cancelled_series).value_or(0), cancelled);
  // And the server goes on.
  grpc::ClientContext context;
  v1::RecognizeResponse response;
  ASSERT_TRUE(server->stub().Recognize(&context, RecognizeRequestOf(Texts(0, 12)), &response).ok());
  ExpectSameResponse(response, expected[0]);
}

// --- SIGTERM to the real server process while it is busy. ---

using ::ner::testing::FreePort;

pid_t SpawnServer(const std::vector<std::string>& args, const std::string& log) {
  return ner::testing::SpawnLogged(NER_SERVER_BINARY, args, log, /*truncate_log=*/true);
}

// Kills (SIGKILL) and reaps the process unless Reap() was called: no server outlives the test.
class ProcessGuard {
 public:
  explicit ProcessGuard(pid_t pid) : pid_(pid) {}
  ~ProcessGuard() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Waits for the process to exit; its wait status.
  int Reap() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

// The value of `series` in the Prometheus text served on `port`, or nullopt.
std::optional<double> ScrapeMetric(int port, const std::string& series) {
  absl::StatusOr<std::string> body = testing::HttpGet(port, "/metrics");
  if (!body.ok()) return std::nullopt;
  std::istringstream lines(*body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

std::string ReadLog(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST(ServerFaultTest, SigtermWhileBusyFinishesTheCallsInFlightWithinTheGrace) {
  const int port = FreePort();
  const int metrics_port = FreePort();
  const std::string log = ::ner::testing::MakeTempDir("sigterm") + "/server.log";
  // Pieces wait up to 2 s for their batch (all fit in one), so the calls are surely in flight
  // at the signal.
  const pid_t pid =
      SpawnServer({absl::StrCat("--listen_address=127.0.0.1:", port),
                   absl::StrCat("--metrics_address=127.0.0.1:", metrics_port),
                   "--model_root=" + TestModelRoot(), "--default_model=tiny",
                   "--intra_op_threads=1", "--max_queue_delay=2s", "--max_batch_size=128",
                   "--max_batch_tokens=65536", "--drain_grace=20s", "--enable_training=false"},
                  log);
  ProcessGuard guard(pid);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = v1::NerService::NewStub(channel);
  ASSERT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30))))
      << ReadLog(log);

  constexpr int kCalls = 16;
  std::vector<std::unique_ptr<AsyncCall>> calls;
  for (int i = 0; i < kCalls; ++i) calls.push_back(StartCall(*stub, i, /*sentences=*/1));
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(metrics_port, "ner_queue_depth") == 4 * kCalls;
  })) << ReadLog(log);

  const absl::Time signalled = absl::Now();
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  // Once the server says it drains, a new call is refused.
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(ReadLog(log), "draining: "); }));
  grpc::ClientContext late_context;
  late_context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  v1::RecognizeResponse late;
  const grpc::Status late_status =
      stub->Recognize(&late_context, RecognizeRequestOf({"张三"}), &late);
  EXPECT_EQ(late_status.error_code(), grpc::StatusCode::UNAVAILABLE) << late_status.error_message();

  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(calls[i]->done.WaitForNotificationWithTimeout(absl::Seconds(30))) << i;
    EXPECT_TRUE(calls[i]->status.ok()) << i << ": " << calls[i]->status.error_message();
    EXPECT_EQ(calls[i]->response.results_size(), 4) << i;
  }
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(20));  // within the grace
  const int status = guard.Reap();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadLog(log);
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(25));
  EXPECT_THAT(ReadLog(log), HasSubstr("drained; bye"));
}

// --- kill -9 of the real server while it trains. ---

// Starts the server binary on `root` (training on) at `port`; a stub once it is connected.
std::unique_ptr<v1::NerService::Stub> StartTrainingServer(const std::string& root, int port,
                                                          const std::string& log, pid_t* pid) {
  *pid = SpawnServer({absl::StrCat("--listen_address=127.0.0.1:", port), "--model_root=" + root,
                      "--data_root=" + root + "/data", "--default_model=tiny",
                      "--intra_op_threads=1", "--train_threads=1", "--train_vocab=tiny/vocab.txt"},
                     log);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(30)))) {
    return nullptr;
  }
  return v1::NerService::NewStub(channel);
}

TEST(ServerFaultTest, AJobKilledWithTheServerResumesAtTheNextStartToTheUninterruptedResult) {
  const std::string root = testing::FreshModelRoot();
  const int port = FreePort();
  const std::string log = ::ner::testing::MakeTempDir("sigkill_training") + "/server.log";
  std::string job_id;
  int64_t snapshot_step = 0;
  {
    pid_t pid;
    auto stub = StartTrainingServer(root, port, log, &pid);
    ProcessGuard guard(pid);
    ASSERT_NE(stub, nullptr) << ReadLog(log);
    grpc::ClientContext context;
    auto reader = stub->Train(&context, testing::SmallTrainRequest("killed", 30));
    v1::TrainEvent event;
    bool checkpointed = false;
    while (!checkpointed && reader->Read(&event)) {
      job_id = event.job_id();
      checkpointed = event.phase() == v1::TRAIN_PHASE_CHECKPOINTING && event.epoch() >= 2;
    }
    ASSERT_TRUE(checkpointed) << ReadLog(log);
    snapshot_step = event.step();
    ASSERT_EQ(::kill(pid, SIGKILL), 0);  // no drain, no last record: as an OOM kill
    const int status = guard.Reap();
    ASSERT_TRUE(WIFSIGNALED(status));
    context.TryCancel();
  }
  absl::StatusOr<std::string> record =
      model::ReadFileToString(root + "/jobs/" + job_id + "/job.pb");
  ASSERT_TRUE(record.ok()) << record.status();
  v1::TrainJob recorded;
  ASSERT_TRUE(recorded.ParseFromString(*record));
  EXPECT_FALSE(recorded.has_finished_at());

  pid_t pid;
  auto stub = StartTrainingServer(root, port, log, &pid);
  ProcessGuard guard(pid);
  ASSERT_NE(stub, nullptr) << ReadLog(log);
  grpc::ClientContext watch_context;
  v1::WatchTrainJobRequest watch;
  watch.set_job_id(job_id);
  testing::TrainStreamResult watched =
      testing::ReadTrainEvents(stub->WatchTrainJob(&watch_context, watch));
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message() << ReadLog(log);
  const v1::TrainEvent& resumed = watched.events.back();
  ASSERT_EQ(resumed.state(), v1::TRAIN_JOB_STATE_SUCCEEDED) << resumed.message() << ReadLog(log);
  EXPECT_EQ(resumed.epoch(), 30);
  for (const v1::TrainEvent& event : watched.events) {
    if (event.phase() == v1::TRAIN_PHASE_TRAINING) EXPECT_GE(event.step(), snapshot_step);
  }
  EXPECT_THAT(ReadLog(log), HasSubstr("training job " + job_id + " resumed after a restart"));

  // The same request run straight through ends at the same loss and dev F1 (one thread).
  grpc::ClientContext context;
  testing::TrainStreamResult straight =
      testing::ReadTrainEvents(stub->Train(&context, testing::SmallTrainRequest("straight", 30)));
  ASSERT_FALSE(straight.events.empty());
  ASSERT_EQ(straight.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(resumed.loss(), straight.events.back().loss());
  EXPECT_EQ(resumed.dev_f1(), straight.events.back().dev_f1());
}

}  // namespace
}  // namespace ner::server
