// Training jobs across server restarts, through the real gRPC API: a job interrupted by a
// shutdown resumes where it was, records left by a crash are recovered once, bounded and
// skipped when damaged, and resuming can be turned off. The records themselves:
// train_job_records_test.cc.

#include <gmock/gmock.h>
#include <grpcpp/client_context.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "model/file_util.h"
#include "server/ner_server.h"
#include "server/proto_convert.h"
#include "server/train_job_records.h"
#include "server/train_request.h"
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

v1::TrainJob GetJob(TestServer& server, const std::string& job_id) {
  grpc::ClientContext context;
  v1::GetTrainJobRequest get;
  get.set_job_id(job_id);
  v1::TrainJob job;
  const grpc::Status status = server.stub().GetTrainJob(&context, get, &job);
  EXPECT_TRUE(status.ok()) << job_id << ": " << status.error_message();
  return job;
}

TrainStreamResult Watch(TestServer& server, const std::string& job_id) {
  grpc::ClientContext context;
  v1::WatchTrainJobRequest watch;
  watch.set_job_id(job_id);
  return ReadTrainEvents(server.stub().WatchTrainJob(&context, watch));
}

TEST(TrainJobsTest, AJobInterruptedByAShutdownResumesWhereItWasWhenTheServerRestarts) {
  const ServerConfig config = TrainingConfig();
  const v1::TrainRequest request = SmallTrainRequest("resumed", 30);
  std::string job_id;
  int64_t snapshot_step = 0;  // steps done at the first epoch-end snapshot the job reported
  {
    auto server = StartOrDie(config);
    grpc::ClientContext context;
    auto reader = server->stub().Train(&context, request);
    v1::TrainEvent event;
    bool checkpointed = false;
    while (!checkpointed && reader->Read(&event)) {
      job_id = event.job_id();
      checkpointed = event.phase() == v1::TRAIN_PHASE_CHECKPOINTING && event.epoch() >= 2;
    }
    ASSERT_TRUE(checkpointed) << event.message();
    snapshot_step = event.step();
    std::thread stop([&] { server->server().Shutdown(absl::Seconds(5)); });
    v1::TrainEvent last = event;
    while (reader->Read(&event)) last = event;
    const grpc::Status status = reader->Finish();
    stop.join();
    // The stream says why it ends and ends retryable; the job is not over.
    EXPECT_EQ(last.phase(), v1::TRAIN_PHASE_INTERRUPTED) << last.message();
    EXPECT_EQ(last.state(), v1::TRAIN_JOB_STATE_RUNNING);
    EXPECT_LT(last.epoch(), 30);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr("WatchTrainJob"));
  }
  ASSERT_TRUE(fs::exists(config.model_root + "/jobs/" + job_id + "/job.pb"));

  // A new server on the same model root resumes it from its last epoch-end snapshot.
  auto server = StartOrDie(config);
  TrainStreamResult watched = Watch(*server, job_id);
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  ASSERT_FALSE(watched.events.empty());
  const v1::TrainEvent& resumed = watched.events.back();
  EXPECT_EQ(resumed.state(), v1::TRAIN_JOB_STATE_SUCCEEDED) << resumed.message();
  EXPECT_EQ(resumed.epoch(), 30);
  bool said_resuming = false;
  for (const v1::TrainEvent& event : watched.events) {
    if (event.message().find("resuming from jobs/" + job_id + "/last") != std::string::npos) {
      said_resuming = true;
    }
    // Nothing before the snapshot runs again.
    if (event.phase() == v1::TRAIN_PHASE_TRAINING) EXPECT_GE(event.step(), snapshot_step);
  }
  EXPECT_TRUE(said_resuming);
  const v1::TrainJob job = GetJob(*server, job_id);
  EXPECT_EQ(job.restarts(), 1);
  EXPECT_TRUE(job.has_finished_at());
  EXPECT_TRUE(server->registry().Get("resumed").ok());

  // On one thread the resumed run ends exactly where an uninterrupted one does.
  grpc::ClientContext context;
  v1::TrainRequest straight = request;
  straight.set_output_model("straight");
  TrainStreamResult uninterrupted = ReadTrainEvents(server->stub().Train(&context, straight));
  ASSERT_FALSE(uninterrupted.events.empty());
  const v1::TrainEvent& expected = uninterrupted.events.back();
  ASSERT_EQ(expected.state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(resumed.step(), expected.step());
  EXPECT_EQ(resumed.loss(), expected.loss());
  EXPECT_EQ(resumed.dev_f1(), expected.dev_f1());
}

// Writes a job record as a server would have left it.
void WriteRecord(const std::string& model_root, const v1::TrainJob& job) {
  ASSERT_TRUE(TrainJobRecords(model_root).Write(job).ok());
}

v1::TrainJob RecordOf(const std::string& job_id, const v1::TrainRequest& request,
                      v1::TrainJobState state, absl::Time created_at) {
  v1::TrainJob job;
  job.set_job_id(job_id);
  *job.mutable_request() = request;
  *job.mutable_created_at() = ToTimestamp(created_at);
  v1::TrainEvent* latest = job.mutable_latest();
  latest->set_job_id(job_id);
  latest->set_state(state);
  if (IsFinalState(state)) {
    latest->set_phase(v1::TRAIN_PHASE_DONE);
    *job.mutable_finished_at() = ToTimestamp(created_at + absl::Minutes(1));
  } else {
    latest->set_phase(v1::TRAIN_PHASE_TRAINING);
    latest->set_epoch(1);
  }
  return job;
}

TEST(TrainJobsTest, RecordsLeftByACrashAreRecoveredOnceAndBadOnesSkipped) {
  ServerConfig config = TrainingConfig();
  const absl::Time now = absl::Now();
  // A job that ended, one the process died in (before any snapshot), a record of another
  // directory's job and a file that is not a record.
  WriteRecord(config.model_root, RecordOf("job-done", SmallTrainRequest("done"),
                                          v1::TRAIN_JOB_STATE_SUCCEEDED, now - absl::Hours(2)));
  WriteRecord(config.model_root, RecordOf("job-crashed", SmallTrainRequest("crashed", 2),
                                          v1::TRAIN_JOB_STATE_RUNNING, now - absl::Hours(1)));
  v1::TrainJob misplaced =
      RecordOf("job-elsewhere", SmallTrainRequest("x"), v1::TRAIN_JOB_STATE_RUNNING, now);
  WriteRecord(config.model_root, misplaced);
  fs::rename(config.model_root + "/jobs/job-elsewhere", config.model_root + "/jobs/job-moved");
  fs::create_directories(config.model_root + "/jobs/job-garbage");
  ASSERT_TRUE(
      model::WriteFileAtomically(config.model_root + "/jobs/job-garbage/job.pb", "\xff\xfe").ok());

  auto server = StartOrDie(config);
  // A second server on the same model root recovers nothing: the first one owns the jobs.
  auto second = StartOrDie(config);

  TrainStreamResult watched = Watch(*server, "job-crashed");
  ASSERT_TRUE(watched.status.ok()) << watched.status.error_message();
  EXPECT_EQ(watched.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED)
      << watched.events.back().message();
  EXPECT_EQ(watched.events.back().epoch(), 2);
  EXPECT_EQ(GetJob(*server, "job-crashed").restarts(), 1);
  EXPECT_EQ(server->Metric("ner_train_jobs_resumed_total"), 1);
  EXPECT_TRUE(server->registry().Get("crashed").ok());

  grpc::ClientContext list_context;
  v1::ListTrainJobsResponse jobs;
  ASSERT_TRUE(server->stub().ListTrainJobs(&list_context, v1::ListTrainJobsRequest(), &jobs).ok());
  std::vector<std::string> ids;
  for (const v1::TrainJob& job : jobs.jobs()) ids.push_back(job.job_id());
  EXPECT_THAT(ids, ::testing::ElementsAre("job-crashed", "job-done"));  // newest first
  EXPECT_EQ(GetJob(*server, "job-done").latest().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);

  grpc::ClientContext second_context;
  v1::ListTrainJobsResponse second_jobs;
  ASSERT_TRUE(
      second->stub().ListTrainJobs(&second_context, v1::ListTrainJobsRequest(), &second_jobs).ok());
  EXPECT_EQ(second_jobs.jobs_size(), 0);

  // The next server finds the job finished: nothing runs twice.
  second.reset();
  server.reset();
  auto third = StartOrDie(config);
  const v1::TrainJob again = GetJob(*third, "job-crashed");
  EXPECT_EQ(again.latest().state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(again.restarts(), 1);
}

TEST(TrainJobsTest, OnlyTheNewestFinishedRecordsAreListedAgain) {
  ServerConfig config = TrainingConfig();
  config.training.max_retained_jobs = 2;
  const absl::Time now = absl::Now();
  for (int i = 1; i <= 4; ++i) {
    WriteRecord(config.model_root,
                RecordOf(absl::StrCat("job-old-", i), SmallTrainRequest("old"),
                         i % 2 == 0 ? v1::TRAIN_JOB_STATE_SUCCEEDED : v1::TRAIN_JOB_STATE_FAILED,
                         now - absl::Hours(10 - i)));
  }
  // Older than all of them, and unfinished: kept (and resumed) whatever its age.
  WriteRecord(config.model_root, RecordOf("job-unfinished", SmallTrainRequest("unfinished", 1),
                                          v1::TRAIN_JOB_STATE_RUNNING, now - absl::Hours(20)));
  auto server = StartOrDie(config);
  ASSERT_TRUE(Watch(*server, "job-unfinished").status.ok());
  grpc::ClientContext context;
  v1::ListTrainJobsResponse jobs;
  ASSERT_TRUE(server->stub().ListTrainJobs(&context, v1::ListTrainJobsRequest(), &jobs).ok());
  std::vector<std::string> ids;
  for (const v1::TrainJob& job : jobs.jobs()) ids.push_back(job.job_id());
  EXPECT_THAT(ids, ::testing::ElementsAre("job-old-4", "job-old-3", "job-unfinished"));
  // Forgotten, not deleted: pruning is off by default.
  for (int i = 1; i <= 4; ++i) {
    EXPECT_TRUE(fs::exists(absl::StrCat(config.model_root, "/jobs/job-old-", i, "/job.pb")));
  }
}

// Trains `request` to its end on `server`; its job id.
std::string TrainToEnd(TestServer& server, const v1::TrainRequest& request) {
  grpc::ClientContext context;
  TrainStreamResult result = ReadTrainEvents(server.stub().Train(&context, request));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  if (result.events.empty()) return "";
  EXPECT_EQ(result.events.back().state(), v1::TRAIN_JOB_STATE_SUCCEEDED)
      << result.events.back().message();
  return result.events.back().job_id();
}

TEST(TrainJobsTest, PruningDeletesForgottenJobsDirectoriesButNotOnesAModelServesFrom) {
  ServerConfig config = TrainingConfig();
  config.training.max_retained_jobs = 1;
  config.training.prune_forgotten_jobs = true;
  const std::string jobs = config.model_root + "/jobs/";
  const absl::Time now = absl::Now();
  for (int i = 1; i <= 3; ++i) {
    WriteRecord(config.model_root,
                RecordOf(absl::StrCat("job-old-", i), SmallTrainRequest("old"),
                         v1::TRAIN_JOB_STATE_SUCCEEDED, now - absl::Hours(10 - i)));
  }
  // The oldest job's checkpoint is what the server serves as its default model.
  fs::copy(config.model_root + "/tiny", jobs + "job-old-1/best", fs::copy_options::recursive);
  fs::create_directories(jobs + "job-old-2/best");
  config.default_model_path = "jobs/job-old-1/best";
  // A deletion a crash interrupted.
  fs::create_directories(jobs + ".deleting-job-gone/best");

  auto server = StartOrDie(config);
  // At start-up: the newest finished job is listed, the older ones are forgotten; of those
  // the served one keeps its directory.
  EXPECT_TRUE(fs::exists(jobs + "job-old-1/best/model.safetensors"));
  EXPECT_FALSE(fs::exists(jobs + "job-old-2"));
  EXPECT_TRUE(fs::exists(jobs + "job-old-3/job.pb"));
  EXPECT_FALSE(fs::exists(jobs + ".deleting-job-gone"));

  // When a job starts: job-old-3 is forgotten and deleted once a second finished job exists.
  const std::string first = TrainToEnd(*server, SmallTrainRequest("pruned", 1));
  EXPECT_TRUE(fs::exists(jobs + "job-old-3/job.pb"));
  const std::string second = TrainToEnd(*server, SmallTrainRequest("pruned", 1));
  EXPECT_FALSE(fs::exists(jobs + "job-old-3"));
  // The first job's model was replaced by the second's under "pruned": nothing serves from its
  // directory any more, so the third start deletes it; the second one's is served.
  EXPECT_TRUE(fs::exists(jobs + first + "/best"));
  TrainToEnd(*server, SmallTrainRequest("other", 1));
  EXPECT_FALSE(fs::exists(jobs + first));
  EXPECT_TRUE(fs::exists(jobs + second + "/best"));
  EXPECT_TRUE(fs::exists(jobs + "job-old-1/best/model.safetensors"));
  EXPECT_TRUE(server->registry().Get("pruned").ok());
}

TEST(TrainJobsTest, WithResumingOffAnUnfinishedJobIsRecordedAsFailed) {
  ServerConfig config = TrainingConfig();
  config.training.resume_interrupted = false;
  WriteRecord(config.model_root, RecordOf("job-left", SmallTrainRequest("left"),
                                          v1::TRAIN_JOB_STATE_RUNNING, absl::Now()));
  {
    auto server = StartOrDie(config);
    const v1::TrainJob job = GetJob(*server, "job-left");
    EXPECT_EQ(job.latest().state(), v1::TRAIN_JOB_STATE_FAILED);
    EXPECT_EQ(job.latest().error().code(), static_cast<int>(grpc::StatusCode::ABORTED));
    EXPECT_THAT(job.latest().error().message(), HasSubstr("--train_resume_interrupted=false"));
    EXPECT_FALSE(server->registry().Get("left").ok());
  }
  // The decision is recorded: with resuming on again, the job stays failed.
  config.training.resume_interrupted = true;
  auto server = StartOrDie(config);
  EXPECT_EQ(GetJob(*server, "job-left").latest().state(), v1::TRAIN_JOB_STATE_FAILED);
}

}  // namespace
}  // namespace ner::server
