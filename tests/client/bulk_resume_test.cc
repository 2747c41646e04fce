// `ner-client bulk` against the real server in-process: a run interrupted mid-way (cancelled
// in-process, or the CLI killed with SIGKILL) and resumed ends with exactly one record per
// input id, equal to an uninterrupted run's; an unfinished last record is repaired.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/cli/bulk_job.h"
#include "client/ner_client.h"
#include "nlohmann/json.hpp"
#include "tests/server/server_test_util.h"
#include "tests/testing/process.h"
#include "tests/testing/shared_data.h"

namespace ner::client::cli {
namespace {

using json = nlohmann::json;
using server::testing::TestConfig;
using server::testing::TestServer;

constexpr int kDocuments = 3000;

std::unique_ptr<TestServer> StartOrDie() {
  absl::StatusOr<std::unique_ptr<TestServer>> server = TestServer::Start(TestConfig());
  if (!server.ok()) {
    ADD_FAILURE() << server.status();
    std::abort();
  }
  return *std::move(server);
}

// kDocuments short documents (10 to 20 characters) with ids "doc-<i>", one malformed line.
std::string WriteInput(const std::string& dir) {
  static const char* kNames[] = {"张三", "李四", "王五", "赵六", "孙七"};
  static const char* kPlaces[] = {"北京", "上海", "广州", "深圳"};
  static const char* kOrgs[] = {"大学", "华为公司", "人民银行"};
  const std::string path = dir + "/docs.jsonl";
  std::ofstream out(path);
  for (int i = 0; i < kDocuments; ++i) {
    if (i == 1234) out << "{\"id\": \"broken\", \"text\": \n";  // a malformed line: line 1235
    const std::string text = absl::StrCat(kNames[i % 5], "在", kPlaces[(i / 5) % 4],
                                          kOrgs[(i / 20) % 3], "工作", i % 97, "年。");
    out << json({{"id", absl::StrCat("doc-", i)}, {"text", text}}).dump() << "\n";
  }
  return path;
}

// The records of a JSONL output by id; fails the test on a repeated id.
std::map<std::string, json> ReadOutput(const std::string& path) {
  std::map<std::string, json> records;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    json record = json::parse(line);
    const std::string id = record["id"];
    EXPECT_TRUE(records.emplace(id, std::move(record)).second) << "two records for " << id;
  }
  return records;
}

int64_t CountLines(const std::string& path) {
  std::ifstream in(path);
  int64_t lines = 0;
  std::string line;
  while (std::getline(in, line)) ++lines;
  return lines;
}

// Same ids, same outcome, same entities (scores to float noise from other batch neighbours).
void ExpectSameRecords(const std::map<std::string, json>& actual,
                       const std::map<std::string, json>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [id, want] : expected) {
    const auto it = actual.find(id);
    ASSERT_NE(it, actual.end()) << "missing " << id;
    const json& got = it->second;
    ASSERT_EQ(got.contains("error"), want.contains("error")) << id;
    if (want.contains("error")) {
      EXPECT_EQ(got["error"]["code"], want["error"]["code"]) << id;
      continue;
    }
    EXPECT_EQ(got["text"], want["text"]) << id;
    ASSERT_EQ(got["entities"].size(), want["entities"].size()) << id;
    for (size_t i = 0; i < want["entities"].size(); ++i) {
      const json& g = got["entities"][i];
      const json& w = want["entities"][i];
      EXPECT_EQ(g["start"], w["start"]) << id;
      EXPECT_EQ(g["end"], w["end"]) << id;
      EXPECT_EQ(g["type"], w["type"]) << id;
      EXPECT_NEAR(g["score"].get<double>(), w["score"].get<double>(), 1e-4) << id;
    }
  }
}

std::unique_ptr<NerClient> ClientFor(const TestServer& server) {
  ClientOptions options;
  options.target = server.address();
  absl::StatusOr<std::unique_ptr<NerClient>> client = NerClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return *std::move(client);
}

class BulkResumeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = StartOrDie().release();
    dir_ = new std::string(ner::testing::MakeTempDir("bulk_resume"));
    input_ = new std::string(WriteInput(*dir_));
    // The reference: one uninterrupted run.
    auto client = ClientFor(*server_);
    BulkConfig config;
    config.input = *input_;
    config.output = *dir_ + "/reference.jsonl";
    config.progress = false;
    BulkSummary summary;
    const absl::Status status = RunBulk(*client, config, &summary);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(summary.documents_read, kDocuments + 1);
    EXPECT_EQ(summary.recognized, kDocuments);
    EXPECT_EQ(summary.errors, 1);
    EXPECT_EQ(summary.errors_by_code["INVALID_ARGUMENT"], 1);
    reference_ = new std::map<std::string, json>(ReadOutput(config.output));
    ASSERT_EQ(reference_->size(), static_cast<size_t>(kDocuments + 1));
    EXPECT_TRUE(reference_->count("1235"));  // the malformed line's record, by line number
  }
  static void TearDownTestSuite() {
    delete server_;
    delete reference_;
    delete input_;
    delete dir_;
  }

  static TestServer* server_;
  static std::string* dir_;
  static std::string* input_;
  static std::map<std::string, json>* reference_;
};

TestServer* BulkResumeTest::server_ = nullptr;
std::string* BulkResumeTest::dir_ = nullptr;
std::string* BulkResumeTest::input_ = nullptr;
std::map<std::string, json>* BulkResumeTest::reference_ = nullptr;

TEST_F(BulkResumeTest, InterruptedRunResumesAfterRepairingItsUnfinishedLastRecord) {
  ASSERT_NE(reference_, nullptr);
  auto client = ClientFor(*server_);
  std::atomic<bool> stop{false};
  BulkConfig config;
  config.input = *input_;
  config.output = *dir_ + "/interrupted.jsonl";
  config.progress = false;
  config.stream.stop = &stop;
  config.on_record = [&](const BulkSummary& s) {
    if (s.recognized + s.errors >= 700) stop = true;
  };
  BulkSummary first;
  EXPECT_EQ(RunBulk(*client, config, &first).code(), absl::StatusCode::kCancelled);
  const int64_t written = CountLines(config.output);
  EXPECT_GE(written, 700);
  EXPECT_LT(written, kDocuments);

  // A crash in the middle of a write: half a record, no newline.
  std::ofstream(config.output, std::ios::app) << R"({"id":"doc-2999","text":"孙七在)";

  config.on_record = nullptr;
  stop = false;
  BulkSummary second;
  const absl::Status status = RunBulk(*client, config, &second);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GT(second.repaired_bytes, 0u);
  EXPECT_EQ(second.already_done, written);
  EXPECT_EQ(second.recognized + second.errors, kDocuments + 1 - written);
  ExpectSameRecords(ReadOutput(config.output), *reference_);

  // Once complete, a rerun has nothing to do.
  BulkSummary third;
  ASSERT_TRUE(RunBulk(*client, config, &third).ok());
  EXPECT_EQ(third.already_done, kDocuments + 1);
  EXPECT_EQ(third.recognized + third.errors, 0);
  EXPECT_EQ(CountLines(config.output), kDocuments + 1);
}

TEST_F(BulkResumeTest, RetryErrorsRunsFailedIdsAgain) {
  ASSERT_NE(reference_, nullptr);
  auto client = ClientFor(*server_);
  const std::string output = *dir_ + "/retry.jsonl";
  // An output holding two results and one transient failure.
  {
    std::ifstream in(*dir_ + "/reference.jsonl");
    std::ofstream out(output);
    std::string line;
    for (int i = 0; i < 2 && std::getline(in, line); ++i) out << line << "\n";
    out << R"({"id":"doc-5","error":{"code":"DEADLINE_EXCEEDED","message":"late"}})"
        << "\n";
  }
  BulkConfig config;
  config.input = *input_;
  config.output = output;
  config.progress = false;
  config.retry_errors = true;
  BulkSummary summary;
  ASSERT_TRUE(RunBulk(*client, config, &summary).ok());
  EXPECT_EQ(summary.errors_removed, 1);
  EXPECT_EQ(summary.already_done, 2);
  ExpectSameRecords(ReadOutput(output), *reference_);
}

// Runs build/client/cli/ner-client with `args`, stdout and stderr appended to `log`; the pid.
// A rolling restart under a running job: the old server drains (its stream answers what it has
// read and ends UNAVAILABLE), the client waits for the new server on the same address and goes
// on; the output equals an uninterrupted run's, each id exactly once.
TEST_F(BulkResumeTest, RunGoesOnThroughARollingRestart) {
  server::ServerConfig server_config = TestConfig();
  server_config.listen_address = absl::StrCat("127.0.0.1:", ner::testing::FreePort());
  std::unique_ptr<TestServer> old_server = *TestServer::Start(server_config);
  ClientOptions options;
  options.target = old_server->address();
  options.retry.max_attempts = 40;
  options.retry.initial_backoff = absl::Milliseconds(20);
  options.retry.max_backoff = absl::Milliseconds(250);
  absl::StatusOr<std::unique_ptr<NerClient>> client = NerClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();

  BulkConfig config;
  config.input = *input_;
  config.output = *dir_ + "/restart.jsonl";
  config.resume = false;
  config.progress = false;
  std::atomic<int64_t> written{0};
  config.on_record = [&](const BulkSummary& summary) {
    written.store(summary.recognized + summary.errors);
    // Slow enough that the restart surely comes mid-run.
    if (summary.recognized + summary.errors < 1000) absl::SleepFor(absl::Microseconds(300));
  };
  BulkSummary summary;
  absl::Status status;
  std::thread run([&] { status = RunBulk(**client, config, &summary); });
  ASSERT_TRUE(server::testing::Eventually([&] { return written.load() >= 200; }));
  old_server->server().Shutdown(absl::Seconds(10));
  const int64_t at_drain = written.load();
  old_server.reset();
  std::unique_ptr<TestServer> new_server = *TestServer::Start(server_config);
  run.join();
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_LT(at_drain, kDocuments) << "the restart came too late to test anything";
  EXPECT_EQ(summary.recognized, kDocuments);
  ExpectSameRecords(ReadOutput(config.output), *reference_);
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  return ner::testing::SpawnLogged(NER_CLIENT_BINARY, args, log);
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

TEST_F(BulkResumeTest, CliKilledWithSigkillResumesToTheSameResult) {
  ASSERT_NE(reference_, nullptr);
  const std::string output = *dir_ + "/killed.jsonl";
  const std::string log = *dir_ + "/killed.log";
  const std::vector<std::string> args = {"bulk", "--address=" + server_->address(),
                                         "--input=" + *input_, "--output=" + output,
                                         "--progress=false"};
  const pid_t pid = Spawn(args, log);
  // Kill it as soon as some results are out, without warning.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (CountLines(output) < 300 && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(2));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  const int killed = Wait(pid);
  ASSERT_TRUE(WIFSIGNALED(killed)) << "it finished before the kill: " << ReadFile(log);
  const int64_t written = CountLines(output);
  EXPECT_LT(written, kDocuments) << "killed too late to test anything";

  const int status = Wait(Spawn(args, log));
  ASSERT_TRUE(WIFEXITED(status)) << ReadFile(log);
  // 3: finished, with the malformed line's error record.
  EXPECT_EQ(WEXITSTATUS(status), 3) << ReadFile(log);
  ExpectSameRecords(ReadOutput(output), *reference_);
  EXPECT_THAT(ReadFile(log), ::testing::HasSubstr("already in the output"));
}

TEST_F(BulkResumeTest, BioAndBratOutputsResumeByDocumentId) {
  ASSERT_NE(reference_, nullptr);
  auto client = ClientFor(*server_);
  // A smaller input: the first 300 lines.
  const std::string input = *dir_ + "/small.jsonl";
  {
    std::ifstream in(*input_);
    std::ofstream out(input);
    std::string line;
    for (int i = 0; i < 300 && std::getline(in, line); ++i) out << line << "\n";
  }
  for (const OutputFormat format : {OutputFormat::kBio, OutputFormat::kBrat}) {
    std::atomic<bool> stop{false};
    BulkConfig config;
    config.input = input;
    config.output = absl::StrCat(*dir_, "/small.", format == OutputFormat::kBio ? "bio" : "ann");
    config.output_format = format;
    config.progress = false;
    config.stream.stop = &stop;
    config.on_record = [&](const BulkSummary& s) {
      if (s.recognized >= 100) stop = true;
    };
    BulkSummary summary;
    EXPECT_EQ(RunBulk(*client, config, &summary).code(), absl::StatusCode::kCancelled);
    // Cut the last record in the middle.
    const std::string contents = ReadFile(config.output);
    ASSERT_GT(contents.size(), 10u);
    ASSERT_EQ(truncate(config.output.c_str(), static_cast<off_t>(contents.size() - 5)), 0);

    config.on_record = nullptr;
    stop = false;
    ASSERT_TRUE(RunBulk(*client, config, &summary).ok());
    EXPECT_GT(summary.repaired_bytes, 0u);
    std::ifstream in(config.output);
    absl::StatusOr<ExistingOutput> scan = ScanOutput(format, in, config.output);
    ASSERT_TRUE(scan.ok()) << scan.status();
    EXPECT_EQ(scan->records, 300);
    EXPECT_EQ(scan->ids.size(), 300u);
    EXPECT_EQ(scan->valid_bytes, scan->total_bytes);
  }
}

}  // namespace
}  // namespace ner::client::cli
