#include "server/train_job_records.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "model/file_util.h"
#include "server/proto_convert.h"
#include "tests/testing/shared_data.h"

namespace ner::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::TrainJob Record(const std::string& job_id, v1::TrainJobState state, absl::Time created_at) {
  v1::TrainJob job;
  job.set_job_id(job_id);
  job.mutable_request()->set_output_model(job_id);
  *job.mutable_created_at() = ToTimestamp(created_at);
  job.mutable_latest()->set_job_id(job_id);
  job.mutable_latest()->set_state(state);
  return job;
}

std::vector<std::string> Ids(const TrainJobRecords::Scan& scan) {
  std::vector<std::string> ids;
  for (const v1::TrainJob& job : scan.jobs) ids.push_back(job.job_id());
  return ids;
}

TEST(TrainJobRecordsTest, WrittenRecordsAreReadBackOldestFirst) {
  const std::string root = ::ner::testing::MakeTempDir("job_records");
  TrainJobRecords records(root);
  EXPECT_EQ(records.JobDir("job-a"), root + "/jobs/job-a");
  EXPECT_EQ(records.ReadAll(10).found, 0u);  // no jobs directory yet: nothing, no error

  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(records.Write(Record("job-b", v1::TRAIN_JOB_STATE_RUNNING, t0)).ok());
  ASSERT_TRUE(records.Write(Record("job-a", v1::TRAIN_JOB_STATE_SUCCEEDED, t0)).ok());
  ASSERT_TRUE(
      records.Write(Record("job-c", v1::TRAIN_JOB_STATE_FAILED, t0 - absl::Seconds(1))).ok());
  // A record is replaced whole.
  v1::TrainJob updated = Record("job-b", v1::TRAIN_JOB_STATE_CANCELLED, t0);
  updated.set_restarts(2);
  ASSERT_TRUE(records.Write(updated).ok());

  const TrainJobRecords::Scan scan = records.ReadAll(10);
  EXPECT_EQ(scan.found, 3u);
  EXPECT_THAT(Ids(scan), ElementsAre("job-c", "job-a", "job-b"));  // same second: by id
  EXPECT_EQ(scan.jobs[2].latest().state(), v1::TRAIN_JOB_STATE_CANCELLED);
  EXPECT_EQ(scan.jobs[2].restarts(), 2);
  EXPECT_EQ(scan.jobs[2].request().output_model(), "job-b");
  // No temporary file is left beside a record.
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(root + "/jobs/job-b")) {
    files.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(files, ElementsAre("job.pb"));
}

TEST(TrainJobRecordsTest, KeepsEveryUnfinishedJobAndOnlyTheNewestFinishedOnes) {
  const std::string root = ::ner::testing::MakeTempDir("job_records");
  TrainJobRecords records(root);
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(records
                    .Write(Record(absl::StrCat("job-done-", i), v1::TRAIN_JOB_STATE_SUCCEEDED,
                                  t0 + absl::Minutes(i)))
                    .ok());
  }
  ASSERT_TRUE(
      records.Write(Record("job-old-running", v1::TRAIN_JOB_STATE_RUNNING, t0 - absl::Hours(1)))
          .ok());
  ASSERT_TRUE(
      records.Write(Record("job-pending", v1::TRAIN_JOB_STATE_PENDING, t0 + absl::Hours(1))).ok());

  const TrainJobRecords::Scan scan = records.ReadAll(2);
  EXPECT_EQ(scan.found, 8u);
  EXPECT_THAT(Ids(scan), ElementsAre("job-old-running", "job-done-4", "job-done-5", "job-pending"));
  EXPECT_THAT(scan.older_finished, ::testing::UnorderedElementsAre("job-done-0", "job-done-1",
                                                                   "job-done-2", "job-done-3"));
  EXPECT_THAT(Ids(records.ReadAll(0)), ElementsAre("job-old-running", "job-pending"));
}

TEST(TrainJobRecordsTest, DamagedAndMisplacedRecordsAreSkipped) {
  const std::string root = ::ner::testing::MakeTempDir("job_records");
  TrainJobRecords records(root);
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  ASSERT_TRUE(records.Write(Record("job-good", v1::TRAIN_JOB_STATE_RUNNING, t0)).ok());
  ASSERT_TRUE(records.Write(Record("job-elsewhere", v1::TRAIN_JOB_STATE_RUNNING, t0)).ok());
  fs::rename(root + "/jobs/job-elsewhere", root + "/jobs/job-moved");
  fs::create_directories(root + "/jobs/job-garbage");
  ASSERT_TRUE(model::WriteFileAtomically(root + "/jobs/job-garbage/job.pb", "\xff\xfe").ok());
  fs::create_directories(root + "/jobs/job-no-record/best");  // a directory without a record
  std::ofstream(root + "/jobs/stray-file") << "not a job";

  ::testing::internal::CaptureStderr();
  const TrainJobRecords::Scan scan = records.ReadAll(10);
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(scan.found, 1u);
  EXPECT_THAT(Ids(scan), ElementsAre("job-good"));
  EXPECT_THAT(log, HasSubstr("job-moved/job.pb': the record is job 'job-elsewhere'"));
  EXPECT_THAT(log, HasSubstr("job-garbage/job.pb': not a job record"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("job-no-record")));
}

TEST(TrainJobRecordsTest, OneHolderOfTheLockAtATime) {
  const std::string root = ::ner::testing::MakeTempDir("job_records");
  auto first = std::make_unique<TrainJobRecords>(root);
  TrainJobRecords second(root);
  EXPECT_FALSE(first->locked());
  ASSERT_TRUE(first->Lock().ok());
  EXPECT_TRUE(first->locked());
  EXPECT_TRUE(first->Lock().ok());  // held already
  EXPECT_TRUE(fs::exists(root + "/jobs/.lock"));

  const absl::Status refused = second.Lock();
  EXPECT_TRUE(absl::IsFailedPrecondition(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("another server holds"));
  EXPECT_FALSE(second.locked());
  // Writing and reading need no lock (a second server runs its own jobs).
  EXPECT_TRUE(second.Write(Record("job-x", v1::TRAIN_JOB_STATE_RUNNING, absl::Now())).ok());

  first.reset();  // releases it
  EXPECT_TRUE(second.Lock().ok());
  EXPECT_TRUE(second.locked());
}

TEST(TrainJobRecordsTest, RemoveDeletesAJobsDirectoryWhole) {
  const std::string root = ::ner::testing::MakeTempDir("job_records");
  TrainJobRecords records(root);
  ASSERT_TRUE(records.Write(Record("job-a", v1::TRAIN_JOB_STATE_SUCCEEDED, absl::Now())).ok());
  ASSERT_TRUE(records.Write(Record("job-b", v1::TRAIN_JOB_STATE_SUCCEEDED, absl::Now())).ok());
  fs::create_directories(root + "/jobs/job-a/best");
  std::ofstream(root + "/jobs/job-a/best/model.safetensors") << "weights";

  ASSERT_TRUE(records.Remove("job-a").ok());
  EXPECT_FALSE(fs::exists(root + "/jobs/job-a"));
  EXPECT_FALSE(fs::exists(root + "/jobs/.deleting-job-a"));
  EXPECT_THAT(Ids(records.ReadAll(10)), ElementsAre("job-b"));
  EXPECT_TRUE(absl::IsNotFound(records.Remove("job-a")));

  // A deletion cut short by a crash (renamed, not yet deleted) is finished by the next Lock(),
  // and is never read as a job.
  fs::create_directories(root + "/jobs/.deleting-job-c/last");
  std::ofstream(root + "/jobs/.deleting-job-c/job.pb") << "half";
  EXPECT_THAT(Ids(records.ReadAll(10)), ElementsAre("job-b"));
  ASSERT_TRUE(records.Lock().ok());
  EXPECT_FALSE(fs::exists(root + "/jobs/.deleting-job-c"));
  EXPECT_TRUE(fs::exists(root + "/jobs/job-b/job.pb"));
}

TEST(TrainJobRecordsTest, AModelRootThatCannotHoldJobsIsAnErrorNotACrash) {
  const std::string base = ::ner::testing::MakeTempDir("job_records");
  std::ofstream(base + "/a-file") << "x";  // a model root under a file: nothing can be made
  TrainJobRecords records(base + "/a-file/root");
  const absl::Status locked = records.Lock();
  EXPECT_FALSE(locked.ok());
  EXPECT_FALSE(absl::IsFailedPrecondition(locked)) << locked;
  EXPECT_THAT(locked.message(), HasSubstr("cannot create"));
  EXPECT_FALSE(records.Write(Record("job-a", v1::TRAIN_JOB_STATE_RUNNING, absl::Now())).ok());
  EXPECT_EQ(records.ReadAll(10).found, 0u);
}

}  // namespace
}  // namespace ner::server
