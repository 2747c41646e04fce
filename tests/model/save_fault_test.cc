// Write failures injected into checkpoint saves, snapshot saves and a training run. The fault is
// RLIMIT_FSIZE with SIGXFSZ ignored: a write past the limit fails with EFBIG, as a full disk
// fails with ENOSPC, and unlike a read-only directory it works when the tests run as root. Every
// failed save must return an error, leave the previous directory byte for byte as it was (and
// loadable), and leave no temporary behind.

#include <signal.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "model/file_util.h"
#include "model/trainer.h"
#include "model/trainer_state.h"
#include "tests/testing/shared_data.h"
#include "tests/testing/synthetic_data.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Phase = TrainEvent::Phase;

// While alive, no file of this process can grow past `bytes`: a write beyond fails with EFBIG.
// Restores the previous limit and SIGXFSZ disposition on destruction. Process-wide: nothing
// else may write files meanwhile (the tests here are single-threaded apart from LibTorch's
// compute threads).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  sighandler_t previous_handler_ = SIG_DFL;
};

// Every regular file under `dir` by relative path, with its contents.
std::map<std::string, std::string> ReadTree(const std::string& dir) {
  std::map<std::string, std::string> tree;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    absl::StatusOr<std::string> contents = ReadFileToString(entry.path().string());
    EXPECT_TRUE(contents.ok()) << contents.status();
    tree[fs::relative(entry.path(), dir).string()] = contents.value_or("");
  }
  return tree;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Limits under which writing `tree` fails somewhere: nothing may be written, and each file is
// one byte too large (so each step of the save fails in turn, as far as the order allows).
std::set<rlim_t> FailingLimits(const std::map<std::string, std::string>& tree) {
  std::set<rlim_t> limits = {0};
  for (const auto& [name, contents] : tree) limits.insert(contents.size() - 1);
  return limits;
}

class SaveFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ner::testing::MakeTempDir("save_fault"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SaveFaultTest, FailedCheckpointWriteKeepsThePreviousCheckpoint) {
  const std::string path = dir_ + "/model";
  const Checkpoint old_checkpoint = ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf, 1);
  const Checkpoint new_checkpoint = ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf, 2);
  ASSERT_TRUE(SaveCheckpoint(path, old_checkpoint).ok());
  const std::map<std::string, std::string> before = ReadTree(path);
  ASSERT_THAT(before, ::testing::SizeIs(3));

  for (rlim_t limit : FailingLimits(before)) {
    SCOPED_TRACE(::testing::Message() << "file size limit " << limit);
    absl::Status status;
    {
      FileSizeLimit fault(limit);
      status = SaveCheckpoint(path, new_checkpoint);
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_THAT(status.message(), HasSubstr("File too large"));
    EXPECT_EQ(ReadTree(path), before);
    EXPECT_THAT(Entries(dir_), ElementsAre("model"));  // no temporary left behind
  }
  absl::StatusOr<Checkpoint> loaded = LoadCheckpoint(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE(torch::equal(loaded->model->named_parameters()["crf.transitions"],
                           old_checkpoint.model->named_parameters()["crf.transitions"]));

  // Without the fault the same save goes through: the fault was the cause.
  ASSERT_TRUE(SaveCheckpoint(path, new_checkpoint).ok());
  EXPECT_NE(ReadTree(path), before);
  EXPECT_THAT(Entries(dir_), ElementsAre("model"));
}

TEST_F(SaveFaultTest, FailedSnapshotWriteKeepsThePreviousSnapshot) {
  const std::string path = dir_ + "/last";
  const Checkpoint checkpoint = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf, 1);
  torch::manual_seed(3);
  const TensorMap optimizer = {{"crf.transitions.exp_avg", torch::randn({4096})}};
  TrainerState state;
  state.epochs_completed = 1;
  state.global_step = 10;
  ASSERT_TRUE(SaveTrainingSnapshot(path, checkpoint, optimizer, state).ok());
  const std::map<std::string, std::string> before = ReadTree(path);
  ASSERT_THAT(before, ::testing::SizeIs(5));

  TrainerState next = state;
  next.epochs_completed = 2;
  next.global_step = 20;
  for (rlim_t limit : FailingLimits(before)) {
    SCOPED_TRACE(::testing::Message() << "file size limit " << limit);
    absl::Status status;
    {
      FileSizeLimit fault(limit);
      status = SaveTrainingSnapshot(path, checkpoint, optimizer, next);
    }
    EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
    EXPECT_THAT(status.message(), HasSubstr("saving snapshot"));
    EXPECT_EQ(ReadTree(path), before);
    EXPECT_THAT(Entries(dir_), ElementsAre("last"));
  }
  absl::StatusOr<TrainingSnapshot> loaded = LoadTrainingSnapshot(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->state.epochs_completed, 1);
  ASSERT_TRUE(SaveTrainingSnapshot(path, checkpoint, optimizer, next).ok());
  EXPECT_EQ(LoadTrainingSnapshot(path)->state.epochs_completed, 2);
}

// A bilstm-crf over the synthetic sentences' types, seeded.
TrainJob SyntheticJob(const std::string& out) {
  TrainConfig config;
  config.variant = Variant::kBiLstmCrf;
  config.epochs = 3;
  config.batch_size = 8;
  config.head_lr = 1e-3;
  config.lstm_hidden = 16;
  config.seed = 9;
  config.eval_batch_size = 8;
  torch::manual_seed(config.seed);
  TrainJob job;
  job.config = config;
  job.initial.vocab = ner::testing::TinyVocab();
  absl::StatusOr<ModelConfig> model_config =
      ModelConfigForTraining(config, ner::testing::TinyEncoderConfig(EncoderKind::kNezha, 0),
                             TagScheme::kBio, {"LOC", "ORG", "PER"}, job.initial.vocab->size());
  EXPECT_TRUE(model_config.ok()) << model_config.status();
  job.initial.config = *model_config;
  job.initial.model =
      NerModel(job.initial.config, job.initial.vocab->cls_id(), job.initial.vocab->sep_id());
  job.train = ner::testing::SyntheticDocuments(48, 1);
  job.dev = ner::testing::SyntheticDocuments(16, 2);
  job.out_dir = out;
  return job;
}

TEST_F(SaveFaultTest, TrainingStopsOnAFailedSaveAndResumesFromThePreviousSnapshot) {
  torch::set_num_threads(1);  // bit-identical resumption needs one intra-op thread
  auto whole = Train(SyntheticJob(dir_ + "/whole"));
  ASSERT_TRUE(whole.ok()) << whole.status();

  // From the end of epoch 1 on, no file may grow past 1 KiB: epoch 2's saves fail.
  const std::string out = dir_ + "/faulty";
  std::unique_ptr<FileSizeLimit> fault;
  std::map<std::string, std::string> epoch1;
  TrainHooks hooks;
  hooks.on_event = [&](const TrainEvent& e) {
    if (e.phase == Phase::kCheckpoint && absl::EndsWith(e.checkpoint_path, "last") &&
        e.epoch == 1) {
      epoch1 = ReadTree(out + "/last");
      fault = std::make_unique<FileSizeLimit>(1024);
    }
  };
  auto failed = Train(SyntheticJob(out), hooks);
  fault.reset();
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kResourceExhausted) << failed.status();
  ASSERT_FALSE(epoch1.empty());
  EXPECT_EQ(ReadTree(out + "/last"), epoch1);
  EXPECT_THAT(Entries(out), ElementsAre("best", "last"));
  EXPECT_TRUE(LoadCheckpoint(out + "/best").ok());
  EXPECT_EQ(LoadTrainingSnapshot(out + "/last")->state.epochs_completed, 1);

  // With room again, resuming finishes the run as if nothing had happened.
  TrainJob resume;
  resume.train = ner::testing::SyntheticDocuments(48, 1);
  resume.dev = ner::testing::SyntheticDocuments(16, 2);
  resume.out_dir = out;
  resume.resume = true;
  auto resumed = Train(std::move(resume));
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  const std::vector<double>& all = whole->step_losses;
  ASSERT_EQ(all.size(), 18u);  // 48 sentences / 8 = 6 steps x 3 epochs
  EXPECT_EQ(resumed->step_losses, std::vector<double>(all.begin() + 6, all.end()));
  EXPECT_EQ(resumed->state.best_dev_f1, whole->state.best_dev_f1);
  for (const char* file :
       {"last/model.safetensors", "last/optimizer.safetensors", "best/model.safetensors"}) {
    EXPECT_EQ(*ReadFileToString(out + "/" + file), *ReadFileToString(dir_ + "/whole/" + file))
        << file;
  }
  EXPECT_THAT(Entries(out), ElementsAre("best", "last"));
}

}  // namespace
}  // namespace ner::model
