// What a restarted server decides for each job record an earlier process left
// (RecoverJob, train_request.h): list, resume or abandon, and the snapshot each gets. The same
// decisions through the real server: train_job_recovery_test.cc.

#include "server/train_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "server/proto_convert.h"

namespace ner::server {
namespace {

using ::testing::HasSubstr;
using Action = RecoveredJob::Action;

const absl::Time kCreated = absl::FromUnixSeconds(1'700'000'000);
const absl::Time kNow = kCreated + absl::Hours(3);

TrainJobsOptions Options() {
  TrainJobsOptions options;
  options.vocab_path = "tiny/vocab.txt";
  return options;
}

// A record as a job leaves it: `state` at epoch 2 of 4, restarted `restarts` times before.
v1::TrainJob Record(v1::TrainJobState state, int restarts = 0) {
  v1::TrainJob record;
  record.set_job_id("job-1");
  record.set_restarts(restarts);
  v1::TrainRequest* request = record.mutable_request();
  request->set_variant("bilstm-crf");
  request->mutable_train()->set_path("train.jsonl");
  request->mutable_dev()->set_path("dev.jsonl");
  request->set_output_model("m");
  request->mutable_hyperparameters()->set_epochs(4);
  request->mutable_hyperparameters()->set_seed(7);
  *record.mutable_created_at() = ToTimestamp(kCreated);
  v1::TrainEvent* latest = record.mutable_latest();
  latest->set_state(state);
  latest->set_phase(v1::TRAIN_PHASE_TRAINING);
  latest->set_epoch(2);
  latest->set_eta_seconds(120);
  latest->set_message("epoch 2");
  *latest->mutable_time() = ToTimestamp(kCreated + absl::Minutes(30));
  return record;
}

TEST(RecoverJobTest, AFinishedJobIsListedAsItEnded) {
  v1::TrainJob record = Record(v1::TRAIN_JOB_STATE_SUCCEEDED);
  record.mutable_latest()->clear_job_id();
  *record.mutable_finished_at() = ToTimestamp(kCreated + absl::Hours(1));
  const RecoveredJob out = RecoverJob(record, Options(), /*running=*/0, kNow);
  EXPECT_EQ(out.action, Action::kList);
  EXPECT_EQ(out.latest.state(), v1::TRAIN_JOB_STATE_SUCCEEDED);
  EXPECT_EQ(out.latest.job_id(), "job-1");   // filled in where the record lacks it
  EXPECT_EQ(out.latest.eta_seconds(), 120);  // untouched
  EXPECT_EQ(out.finished_at, kCreated + absl::Hours(1));
  EXPECT_EQ(out.restarts, 0);

  record.clear_finished_at();  // an older record: the creation time stands in
  EXPECT_EQ(RecoverJob(record, Options(), 0, kNow).finished_at, kCreated);
  // A full server changes nothing for a finished job, nor does an invalid request.
  record.mutable_request()->set_output_model("");
  EXPECT_EQ(RecoverJob(record, Options(), 5, kNow).action, Action::kList);
}

TEST(RecoverJobTest, AnUnfinishedJobResumesWithItsRequestsHyperparameters) {
  for (v1::TrainJobState state : {v1::TRAIN_JOB_STATE_RUNNING, v1::TRAIN_JOB_STATE_PENDING}) {
    const RecoveredJob out = RecoverJob(Record(state, /*restarts=*/1), Options(), 0, kNow);
    ASSERT_EQ(out.action, Action::kResume) << state;
    EXPECT_EQ(out.restarts, 2);
    EXPECT_EQ(out.config.epochs, 4);
    EXPECT_EQ(out.config.seed, 7);
    EXPECT_EQ(out.latest.state(), v1::TRAIN_JOB_STATE_PENDING);
    EXPECT_EQ(out.latest.phase(), v1::TRAIN_PHASE_QUEUED);
    EXPECT_EQ(out.latest.epoch(), 2);  // where it was, until the resumed trainer reports
    EXPECT_FALSE(out.latest.has_eta_seconds());
    EXPECT_EQ(FromTimestamp(out.latest.time()), kNow);
    EXPECT_THAT(out.latest.message(), HasSubstr("restart 2"));
    EXPECT_FALSE(out.finished_at.has_value());
  }
}

TEST(RecoverJobTest, AnUnfinishedJobThatCannotResumeIsAbandonedWithTheReason) {
  struct Case {
    const char* name;
    TrainJobsOptions options;
    v1::TrainJob record;
    int running;
    const char* why;
  };
  TrainJobsOptions off = Options();
  off.resume_interrupted = false;
  v1::TrainJob invalid = Record(v1::TRAIN_JOB_STATE_RUNNING);
  invalid.mutable_request()->mutable_hyperparameters()->set_epochs(0);
  TrainJobsOptions two_slots = Options();
  two_slots.max_concurrent_jobs = 2;
  const Case cases[] = {
      {"resuming off", off, Record(v1::TRAIN_JOB_STATE_RUNNING), 0, "--train_resume_interrupted"},
      {"invalid request", Options(), invalid, 0,
       "not valid on this server: hyperparameters.epochs"},
      {"no slot", Options(), Record(v1::TRAIN_JOB_STATE_RUNNING), 1, "1 recovered job(s) take"},
      {"no slot of two", two_slots, Record(v1::TRAIN_JOB_STATE_RUNNING), 2, "2 recovered job(s)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const RecoveredJob out = RecoverJob(c.record, c.options, c.running, kNow);
    ASSERT_EQ(out.action, Action::kAbandon);
    EXPECT_EQ(out.restarts, 0);
    EXPECT_EQ(out.latest.state(), v1::TRAIN_JOB_STATE_FAILED);
    EXPECT_EQ(out.latest.phase(), v1::TRAIN_PHASE_DONE);
    EXPECT_EQ(out.latest.error().code(), static_cast<int>(absl::StatusCode::kAborted));
    EXPECT_THAT(out.latest.error().message(), HasSubstr(c.why));
    EXPECT_THAT(out.latest.error().message(), HasSubstr("checkpoints are under jobs/job-1"));
    EXPECT_THAT(out.latest.message(), HasSubstr("failed: interrupted by a server restart"));
    EXPECT_FALSE(out.latest.has_eta_seconds());
    EXPECT_EQ(out.finished_at, kNow);
  }
  // With a free slot of two the same job resumes.
  EXPECT_EQ(RecoverJob(Record(v1::TRAIN_JOB_STATE_RUNNING), two_slots, 1, kNow).action,
            Action::kResume);
}

}  // namespace
}  // namespace ner::server
