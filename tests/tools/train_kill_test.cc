// `ner train` as a separate process, killed with SIGKILL again and again and resumed until it
// finishes. The kills come in the middle of a save (as soon as a `.tmp.` sibling appears), right
// after an epoch's snapshot, and at random moments. After every kill the output directory may
// hold only complete checkpoints: best/ and last/ load, anything else is a `.tmp.` leftover that
// the next run removes. The finished run must equal an uninterrupted one bit for bit (the
// trainer's promise for one intra-op thread on the CPU, model/trainer.h).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/checkpoint.h"
#include "model/dataset.h"
#include "model/file_util.h"
#include "model/trainer_state.h"
#include "tests/testing/process.h"
#include "tests/testing/shared_data.h"
#include "tests/testing/synthetic_data.h"
#include "tests/testing/tiny_model.h"

namespace ner::tools {
namespace {

namespace fs = std::filesystem;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kRunLimit = absl::Seconds(60);  // for any one process

// Starts `ner` with `args`, stdout and stderr appended to `log`; the pid.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  return ner::testing::SpawnLogged(NER_BINARY, args, log);
}

// The exit code of `pid` once it exits within kRunLimit (it is killed after), -1 otherwise.
int WaitForExit(pid_t pid) {
  const absl::Time end = absl::Now() + kRunLimit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (absl::Now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "ner train ran longer than " << kRunLimit;
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::set<std::string> TemporaryEntries(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename();
    if (absl::StrContains(name, ".tmp.")) names.insert(name);
  }
  return names;
}

// Epochs completed according to <out>/last, -1 without a readable snapshot state.
int EpochsCompleted(const std::string& out) {
  absl::StatusOr<std::string> text =
      model::ReadFileToString(out + "/last/trainer_state.json", 1 << 20);
  if (!text.ok()) return -1;
  absl::StatusOr<model::TrainerState> state = model::ParseTrainerState(*text);
  return state.ok() ? state->epochs_completed : -1;
}

enum class KillAt {
  kMidBestSave,   // as soon as a new `best.tmp.` sibling appears in the output directory
  kMidLastSave,   // as soon as a new `last.tmp.` sibling appears (the snapshot being written)
  kAfterEpoch,    // as soon as last/ says one more epoch is complete
  kRandomMoment,  // after a random delay from the start
};

// Waits for the moment `at` of the process `pid` writing to `out`, then kills it with SIGKILL
// and reaps it. False when the process exited by itself first (its exit code in *exit_code).
bool KillWhen(pid_t pid, KillAt at, const std::string& out, std::mt19937& random, int* exit_code) {
  const std::set<std::string> stale = TemporaryEntries(out);
  const int epochs = EpochsCompleted(out);
  const absl::Time start = absl::Now();
  const absl::Time random_moment =
      start + absl::Milliseconds(300 + static_cast<int>(random() % 1500));
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    bool now = false;
    switch (at) {
      case KillAt::kMidBestSave:
      case KillAt::kMidLastSave:
        for (const std::string& name : TemporaryEntries(out)) {
          const bool is_best = absl::StartsWith(name, "best.tmp.");
          now = now || (stale.count(name) == 0 && is_best == (at == KillAt::kMidBestSave));
        }
        break;
      case KillAt::kAfterEpoch:
        now = EpochsCompleted(out) > epochs;
        break;
      case KillAt::kRandomMoment:
        now = absl::Now() >= random_moment;
        break;
    }
    if (now || absl::Now() - start > kRunLimit) {
      EXPECT_LT(absl::Now() - start, kRunLimit) << "the kill moment never came";
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return true;
    }
    absl::SleepFor(absl::Microseconds(100));
  }
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return false;
}

// What a killed run may leave: complete checkpoints under their names, and temporaries.
void ExpectOnlyCompleteCheckpoints(const std::string& out) {
  for (const auto& entry : fs::directory_iterator(out)) {
    const std::string name = entry.path().filename();
    if (name == "best") {
      absl::StatusOr<model::Checkpoint> best = model::LoadCheckpoint(entry.path());
      EXPECT_TRUE(best.ok()) << best.status();
    } else if (name == "last") {
      absl::StatusOr<model::TrainingSnapshot> last = model::LoadTrainingSnapshot(entry.path());
      EXPECT_TRUE(last.ok()) << last.status();
    } else {
      EXPECT_TRUE(absl::StrContains(name, ".tmp.")) << "unexpected entry " << name;
    }
  }
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str();
  return text.size() > 3000 ? text.substr(text.size() - 3000) : text;
}

class TrainKillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ner::testing::MakeTempDir("train_kill");
    ASSERT_TRUE(
        model::WriteJsonl(dir_ + "/train.jsonl", ner::testing::SyntheticDocuments(300, 1)).ok());
    ASSERT_TRUE(
        model::WriteJsonl(dir_ + "/dev.jsonl", ner::testing::SyntheticDocuments(30, 2)).ok());
    ASSERT_TRUE(
        model::WriteFileAtomically(dir_ + "/vocab.txt", ner::testing::TinyVocab()->Serialize())
            .ok());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // A fresh run into `out`: a bilstm-crf, 6 epochs of 38 steps, one thread. The default head
  // learning rate makes dev F1 improve most epochs, so best/ is rewritten too.
  std::vector<std::string> FreshArgs(const std::string& out) const {
    return {"train",
            "--variant=bilstm-crf",
            "--train=" + dir_ + "/train.jsonl",
            "--dev=" + dir_ + "/dev.jsonl",
            "--vocab=" + dir_ + "/vocab.txt",
            "--out=" + out,
            "--epochs=6",
            "--batch_size=8",
            "--seed=5",
            "--threads=1"};
  }
  // Continues the run in `out`; data and hyper-parameters come from its snapshot.
  static std::vector<std::string> ResumeArgs(const std::string& out) {
    return {"train", "--resume", "--out=" + out, "--threads=1"};
  }

  std::string dir_;
};

TEST_F(TrainKillTest, KilledRunsResumeToTheUninterruptedResult) {
  const std::string log = dir_ + "/ner.log";
  const std::string reference = dir_ + "/reference";
  ASSERT_EQ(WaitForExit(Spawn(FreshArgs(reference), log)), 0) << Tail(log);

  // The random kill moments; NER_KILL_SEED replays a reported run.
  const char* seed_env = std::getenv("NER_KILL_SEED");
  const unsigned seed = seed_env != nullptr
                            ? static_cast<unsigned>(std::strtoul(seed_env, nullptr, 10))
                            : std::random_device()();
  std::mt19937 random(seed);
  RecordProperty("random_seed", std::to_string(seed));
  SCOPED_TRACE(::testing::Message() << "random seed " << seed);

  const std::string out = dir_ + "/killed";
  const std::vector<KillAt> kills = {KillAt::kMidBestSave,  KillAt::kRandomMoment,
                                     KillAt::kMidLastSave,  KillAt::kAfterEpoch,
                                     KillAt::kRandomMoment, KillAt::kMidLastSave};
  int killed = 0;
  int killed_mid_save = 0;
  int exit_code = -1;
  bool finished = false;
  for (size_t i = 0; i < kills.size() && !finished; ++i) {
    SCOPED_TRACE(::testing::Message() << "kill " << i);
    // Before the first snapshot there is nothing to resume: such a run starts afresh.
    const bool resume = fs::exists(out + "/last");
    const std::set<std::string> stale = TemporaryEntries(out);
    const pid_t pid = Spawn(resume ? ResumeArgs(out) : FreshArgs(out), log);
    if (!KillWhen(pid, kills[i], out, random, &exit_code)) {
      finished = true;  // it got to the end first
      break;
    }
    ++killed;
    std::string left;  // what the kill left, for the test report
    bool cut_short = false;
    for (const auto& entry : fs::directory_iterator(out)) {
      const std::string name = entry.path().filename();
      absl::StrAppend(&left, left.empty() ? "" : " ", name);
      cut_short = cut_short || (absl::StrContains(name, ".tmp.") && stale.count(name) == 0);
    }
    if (cut_short) ++killed_mid_save;  // this run's own save was cut short
    RecordProperty(absl::StrCat("kill_", i),
                   absl::StrCat(resume ? "resumed" : "fresh", " run, ", EpochsCompleted(out),
                                " epochs in last/, left: ", left));
    ExpectOnlyCompleteCheckpoints(out);
    if (HasFailure()) return;
  }
  if (!finished) exit_code = WaitForExit(Spawn(ResumeArgs(out), log));
  ASSERT_EQ(exit_code, 0) << Tail(log);
  RecordProperty("kills", killed);
  RecordProperty("kills_mid_save", killed_mid_save);
  EXPECT_GE(killed, 4) << "the runs ended before most kills: make them longer";
  EXPECT_GE(killed_mid_save, 1) << "no kill caught a save in progress";

  // Nothing but the two checkpoints is left, and they are the uninterrupted run's.
  std::vector<std::string> entries;
  for (const auto& entry : fs::directory_iterator(out)) entries.push_back(entry.path().filename());
  EXPECT_THAT(entries, UnorderedElementsAre("best", "last"));
  for (const char* file : {"last/model.safetensors", "last/optimizer.safetensors", "last/vocab.txt",
                           "best/model.safetensors"}) {
    EXPECT_EQ(*model::ReadFileToString(out + "/" + file),
              *model::ReadFileToString(reference + "/" + file))
        << file << " differs from the uninterrupted run's";
  }
  absl::StatusOr<model::TrainingSnapshot> got = model::LoadTrainingSnapshot(out + "/last");
  absl::StatusOr<model::TrainingSnapshot> want = model::LoadTrainingSnapshot(reference + "/last");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_TRUE(got->state.finished);
  EXPECT_EQ(got->state.epochs_completed, 6);
  EXPECT_EQ(got->state.global_step, want->state.global_step);
  EXPECT_EQ(got->state.best_epoch, want->state.best_epoch);
  EXPECT_EQ(got->state.best_dev_f1, want->state.best_dev_f1);
  ASSERT_EQ(got->state.history.size(), want->state.history.size());
  for (size_t e = 0; e < want->state.history.size(); ++e) {
    EXPECT_EQ(got->state.history[e].train_loss, want->state.history[e].train_loss) << e;
    ASSERT_EQ(got->state.history[e].dev.has_value(), want->state.history[e].dev.has_value());
    EXPECT_EQ(got->state.history[e].dev->f1, want->state.history[e].dev->f1) << e;
  }
  EXPECT_GE(want->state.best_epoch, 2) << "best/ was written only once; the test lost its point";
}

}  // namespace
}  // namespace ner::tools
