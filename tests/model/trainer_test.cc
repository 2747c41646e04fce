#include "model/trainer.h"

#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/dataset.h"
#include "model/evaluator.h"
#include "model/recognizer.h"
#include "model/state_dict.h"
#include "model/trainer_optimizer.h"
#include "model/trainer_state.h"
#include "model/utf8.h"
#include "model/vocab.h"
#include "nlohmann/json.hpp"
#include "tests/testing/shared_data.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Phase = TrainEvent::Phase;

// --- Pure parts: weight-decay groups, the optimizer state, the trainer state. ---

TEST(TrainerOptimizerTest, NoWeightDecayOnBiasesAndLayerNorms) {
  EXPECT_TRUE(DecaysWeight("encoder.layers.0.query.weight"));
  EXPECT_TRUE(DecaysWeight("encoder.embeddings.word_embeddings.weight"));
  EXPECT_TRUE(DecaysWeight("crf.transitions"));
  EXPECT_TRUE(DecaysWeight("bilstm.lstm.weight_ih_l0"));
  EXPECT_FALSE(DecaysWeight("encoder.layers.0.query.bias"));
  EXPECT_FALSE(DecaysWeight("encoder.layers.3.attention_layer_norm.weight"));
  EXPECT_FALSE(DecaysWeight("encoder.embeddings.layer_norm.weight"));
  EXPECT_FALSE(DecaysWeight("bilstm.lstm.bias_hh_l0_reverse"));
  EXPECT_FALSE(DecaysWeight("emissions.bias"));
}

TEST(TrainerOptimizerTest, TwoLearningRatesAndStateRoundTrip) {
  Checkpoint a = ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf, 5);
  Checkpoint b = ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf, 5);
  TrainConfig config;
  config.encoder_lr = 1e-3;
  config.head_lr = 1e-2;
  TrainingOptimizer opt_a(a.model, config);
  TrainingOptimizer opt_b(b.model, config);
  opt_a.SetLrFactor(0.5);
  opt_b.SetLrFactor(0.5);
  EXPECT_DOUBLE_EQ(opt_a.head_lr(), 5e-3);
  TokenBatch batch{torch::tensor({{10, 11, 12}}, torch::kInt64), torch::ones({1, 3}, torch::kBool)};
  const torch::Tensor tags = torch::tensor({{1, 2, 0}}, torch::kInt64);
  auto step = [&](Checkpoint& c, TrainingOptimizer& opt) {
    opt.ZeroGrad();
    c.model->Loss(batch, tags).backward();
    opt.Step(1.0);
  };
  step(a, opt_a);
  step(b, opt_b);
  const TensorMap state = opt_a.State();
  EXPECT_EQ(state.size(), 3 * opt_a.parameters().size());
  ASSERT_TRUE(state.count("crf.transitions.exp_avg"));
  EXPECT_EQ(state.at("crf.transitions.step").item<int64_t>(), 1);

  // A third optimizer restored from a's state steps b exactly as a steps a.
  TrainingOptimizer opt_c(b.model, config);
  opt_c.SetLrFactor(0.5);
  ASSERT_TRUE(opt_c.LoadState(state).ok());
  step(a, opt_a);
  step(b, opt_c);
  for (size_t i = 0; i < opt_a.parameters().size(); ++i) {
    EXPECT_TRUE(torch::equal(opt_a.parameters()[i], opt_c.parameters()[i])) << i;
  }
  TensorMap bad = state;
  bad["nonexistent.exp_avg"] = torch::zeros({1});
  EXPECT_FALSE(opt_c.LoadState(bad).ok());
  bad = state;
  bad.erase("crf.transitions.exp_avg_sq");
  EXPECT_FALSE(opt_c.LoadState(bad).ok());
}

TEST(TrainerStateTest, JsonRoundTrip) {
  TrainerState state;
  state.config.epochs = 3;
  state.epochs_completed = 2;
  state.global_step = 20;
  state.total_steps = 30;
  state.train_sequences = 160;
  state.best_dev_f1 = 0.75;
  state.best_epoch = 1;
  state.epochs_without_improvement = 1;
  state.history = {{1, 10, 2.5, DevScores{0.7, 0.8, 0.75}, 1.5, 0.25, 1.0, 0.125, 4000},
                   {2, 10, 1.5, std::nullopt, 1.0}};
  state.train_path = "train.txt";
  absl::StatusOr<TrainerState> parsed = ParseTrainerState(state.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ToJson(), state.ToJson());
  EXPECT_FALSE(ParseTrainerState("{}").ok());

  // States written before the time split was recorded still load, with zeros.
  nlohmann::json old = nlohmann::json::parse(state.ToJson());
  for (auto& epoch : old["history"]) {
    for (const char* key : {"data_seconds", "step_seconds", "eval_seconds", "characters"}) {
      epoch.erase(key);
    }
  }
  absl::StatusOr<TrainerState> older = ParseTrainerState(old.dump());
  ASSERT_TRUE(older.ok()) << older.status();
  EXPECT_EQ(older->history[0].seconds, 1.5);
  EXPECT_EQ(older->history[0].data_seconds, 0);
  EXPECT_EQ(older->history[0].characters, 0);
}

// --- Training runs on a slice of the Resume corpus. ---

struct Data {
  std::vector<Document> train;
  std::vector<Document> dev;
  std::shared_ptr<const Vocab> vocab;
};

// Reads the first `train_docs` training and `dev_docs` dev sentences, or nullopt without the
// shared data.
std::optional<Data> ReadResume(size_t train_docs, size_t dev_docs) {
  auto train_path = ner::testing::SharedPath("data/resume/train.char.bmes");
  auto dev_path = ner::testing::SharedPath("data/resume/dev.char.bmes");
  if (!train_path || !dev_path) return std::nullopt;
  absl::StatusOr<Dataset> train = ReadDataset(*train_path);
  absl::StatusOr<Dataset> dev = ReadDataset(*dev_path);
  if (!train.ok() || !dev.ok()) return std::nullopt;
  Data data;
  data.train.assign(train->documents.begin(),
                    train->documents.begin() + std::min(train_docs, train->documents.size()));
  data.dev.assign(dev->documents.begin(),
                  dev->documents.begin() + std::min(dev_docs, dev->documents.size()));
  // A vocabulary of just the slice's characters (plus ASCII word pieces) keeps the embedding
  // matrix, and so every step and every checkpoint, small.
  std::set<std::string> tokens;
  for (const auto* docs : {&data.train, &data.dev}) {
    for (const Document& d : *docs) {
      const absl::StatusOr<DecodedText> decoded = DecodeUtf8(d.text);
      if (!decoded.ok()) return std::nullopt;
      for (char32_t c : decoded->code_points) {
        tokens.insert(EncodeUtf8(std::u32string(1, c)));
      }
    }
  }
  std::string contents = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char c : std::string("abcdefghijklmnopqrstuvwxyz0123456789")) {
    tokens.insert(std::string(1, c));
    tokens.insert("##" + std::string(1, c));
  }
  for (const std::string& t : tokens) absl::StrAppend(&contents, t, "\n");
  absl::StatusOr<Vocab> vocab = Vocab::Parse(contents, "slice");
  if (!vocab.ok()) {
    ADD_FAILURE() << vocab.status();
    return std::nullopt;
  }
  data.vocab = std::make_shared<const Vocab>(*std::move(vocab));
  return data;
}

// A 2-layer, 32-wide NEZHA (or a bilstm-crf) over the Resume types, seeded.
TrainJob MakeJob(const Data& data, const TrainConfig& config, const std::string& out) {
  torch::manual_seed(config.seed);
  std::set<std::string> types;
  for (const Document& d : data.train) {
    for (const EntitySpan& e : d.entities) types.insert(e.type);
  }
  EncoderConfig encoder = ner::testing::TinyEncoderConfig(EncoderKind::kNezha, 0);
  TrainJob job;
  job.config = config;
  absl::StatusOr<ModelConfig> model_config = ModelConfigForTraining(
      config, encoder, TagScheme::kBmes, std::vector<std::string>(types.begin(), types.end()),
      data.vocab->size());
  EXPECT_TRUE(model_config.ok()) << model_config.status();
  job.initial.config = *model_config;
  job.initial.vocab = data.vocab;
  job.initial.model = NerModel(job.initial.config, data.vocab->cls_id(), data.vocab->sep_id());
  job.train = data.train;
  job.dev = data.dev;
  job.out_dir = out;
  job.train_path = "resume/train (slice)";
  job.dev_path = "resume/dev (slice)";
  return job;
}

TrainConfig SmallConfig() {
  TrainConfig config;
  config.variant = Variant::kNezhaDfBiLstmCrf;
  config.epochs = 2;
  config.batch_size = 8;
  config.encoder_lr = 1e-3;
  config.head_lr = 3e-3;
  config.lstm_hidden = 16;
  config.seed = 123;
  config.adversarial.method = AdversarialMethod::kFgm;
  config.eval_batch_size = 8;
  return config;
}

std::map<std::string, torch::Tensor> Weights(const std::string& dir) {
  absl::StatusOr<TensorMap> weights = LoadStateDict(dir + "/model.safetensors");
  EXPECT_TRUE(weights.ok()) << weights.status();
  return weights.ok() ? *weights : TensorMap{};
}

void ExpectSameWeights(const std::string& a, const std::string& b) {
  const auto wa = Weights(a);
  const auto wb = Weights(b);
  ASSERT_EQ(wa.size(), wb.size());
  ASSERT_FALSE(wa.empty());
  for (const auto& [name, tensor] : wa) {
    ASSERT_TRUE(wb.count(name)) << name;
    EXPECT_TRUE(torch::equal(tensor, wb.at(name))) << name << " differs";
  }
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);  // bit-identical results need one intra-op thread
    auto data = ReadResume(40, 16);
    if (!data) GTEST_SKIP() << "shared Resume data not found: set NER_SHARED_DIR";
    data_ = *std::move(data);
    dir_ = ner::testing::MakeTempDir("trainer");
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string Out(const std::string& name) const { return dir_ + "/" + name; }

  Data data_;
  std::string dir_;
};

TEST_F(TrainerTest, SameSeedGivesBitIdenticalLossesAndWeights) {
  const TrainConfig config = SmallConfig();
  auto a = Train(MakeJob(data_, config, Out("a")));
  auto b = Train(MakeJob(data_, config, Out("b")));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->step_losses.size(), 10u);  // 40 sentences / 8 = 5 steps x 2 epochs
  EXPECT_EQ(a->step_losses, b->step_losses);
  ExpectSameWeights(Out("a") + "/last", Out("b") + "/last");

  // Each epoch records where its time went, and the characters its steps consumed.
  int64_t characters = 0;
  for (const Document& d : data_.train) characters += CountCodePoints(d.text);
  for (const EpochRecord& epoch : a->state.history) {
    EXPECT_GT(epoch.step_seconds, 0);
    EXPECT_GT(epoch.data_seconds, 0);
    EXPECT_GT(epoch.eval_seconds, 0);  // the fixture has a dev set
    EXPECT_LE(epoch.data_seconds + epoch.step_seconds + epoch.eval_seconds, epoch.seconds);
    EXPECT_EQ(epoch.characters, characters);  // every sentence once per epoch
  }

  TrainConfig other = config;
  other.seed = 124;
  auto c = Train(MakeJob(data_, other, Out("c")));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(a->step_losses, c->step_losses);
}

TEST_F(TrainerTest, ResumeAfterInterruptionMatchesAnUninterruptedRun) {
  const TrainConfig config = SmallConfig();
  auto whole = Train(MakeJob(data_, config, Out("whole")));
  ASSERT_TRUE(whole.ok()) << whole.status();

  // Interrupt right after the first epoch's snapshot is written.
  std::atomic<bool> cancel{false};
  TrainHooks hooks;
  hooks.cancel = &cancel;
  std::vector<double> losses;
  hooks.on_event = [&](const TrainEvent& e) {
    if (e.phase == Phase::kStep) losses.push_back(e.loss);
    if (e.phase == Phase::kCheckpoint && absl::EndsWith(e.checkpoint_path, "last")) cancel = true;
  };
  auto first = Train(MakeJob(data_, config, Out("resumed")), hooks);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(losses.size(), 5u);

  // The snapshot left behind is a loadable checkpoint.
  EXPECT_TRUE(LoadCheckpoint(Out("resumed") + "/last").ok());
  EXPECT_TRUE(LoadCheckpoint(Out("resumed") + "/best").ok());

  TrainJob job;  // Everything but the data and the directory comes from the snapshot.
  job.train = data_.train;
  job.dev = data_.dev;
  job.out_dir = Out("resumed");
  job.resume = true;
  cancel = false;
  auto second = Train(std::move(job), hooks);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(losses, whole->step_losses);
  EXPECT_EQ(second->state.history.size(), 2u);
  EXPECT_EQ(second->state.best_dev_f1, whole->state.best_dev_f1);
  EXPECT_EQ(second->state.global_step, whole->state.global_step);
  ExpectSameWeights(Out("whole") + "/last", Out("resumed") + "/last");
  ExpectSameWeights(Out("whole") + "/best", Out("resumed") + "/best");

  // Resuming a finished run does nothing.
  TrainJob again;
  again.train = data_.train;
  again.dev = data_.dev;
  again.out_dir = Out("resumed");
  again.resume = true;
  auto third = Train(std::move(again));
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_TRUE(third->step_losses.empty());
}

TEST_F(TrainerTest, CancellationBeforeTheFirstEpochEndLeavesNothingHalfWritten) {
  std::atomic<bool> cancel{false};
  TrainHooks hooks;
  hooks.cancel = &cancel;
  int steps = 0;
  hooks.on_event = [&](const TrainEvent& e) {
    if (e.phase == Phase::kStep && ++steps == 2) cancel = true;
  };
  auto result = Train(MakeJob(data_, SmallConfig(), Out("cancel")), hooks);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(steps, 2);
  EXPECT_FALSE(fs::exists(Out("cancel") + "/last"));
  EXPECT_FALSE(fs::exists(Out("cancel") + "/best"));
}

TEST_F(TrainerTest, BestCheckpointReproducesTheReportedDevF1) {
  TrainConfig config = SmallConfig();
  config.adversarial.method = AdversarialMethod::kNone;
  std::vector<TrainEvent> events;
  TrainHooks hooks;
  hooks.on_event = [&](const TrainEvent& e) { events.push_back(e); };
  auto result = Train(MakeJob(data_, config, Out("best")), hooks);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->state.best_dev_f1.has_value());

  absl::StatusOr<Checkpoint> best = LoadCheckpoint(result->best_checkpoint);
  ASSERT_TRUE(best.ok()) << best.status();
  auto recognizer = Recognizer::Create(std::make_shared<const Checkpoint>(*std::move(best)));
  ASSERT_TRUE(recognizer.ok());
  EvaluationOptions options;
  options.batch_pieces = config.eval_batch_size;
  absl::StatusOr<Evaluation> evaluation = Evaluate(**recognizer, data_.dev, options);
  ASSERT_TRUE(evaluation.ok());
  EXPECT_EQ(evaluation->metrics.overall().f1(), *result->state.best_dev_f1);

  // Provenance: data, hyper-parameters, metrics, date and code version.
  const nlohmann::json provenance =
      nlohmann::json::parse((*recognizer)->checkpoint().config.provenance_json);
  EXPECT_EQ(provenance["train"]["path"], "resume/train (slice)");
  EXPECT_EQ(provenance["train"]["documents"], 40);
  EXPECT_EQ(provenance["hyperparameters"]["batch_size"], 8);
  EXPECT_EQ(provenance["metrics"]["dev"]["f1"].get<double>(), *result->state.best_dev_f1);
  EXPECT_TRUE(provenance.contains("date"));
  EXPECT_TRUE(provenance.contains("code_version"));

  // Events: one step event per step, an evaluation per epoch, one finish, in order.
  int step_events = 0, evaluated = 0, finished = 0;
  int64_t last_step = 0;
  for (const TrainEvent& e : events) {
    EXPECT_GE(e.step, last_step);
    last_step = e.step;
    if (e.phase == Phase::kStep) {
      ++step_events;
      EXPECT_EQ(e.total_steps, 10);
      EXPECT_GT(e.chars_per_second, 0);
      EXPECT_GT(e.learning_rate, 0);
    }
    if (e.phase == Phase::kEvaluated) {
      ++evaluated;
      EXPECT_TRUE(e.dev.has_value());
    }
    if (e.phase == Phase::kFinished) ++finished;
  }
  EXPECT_EQ(step_events, 10);
  EXPECT_EQ(evaluated, 2);
  EXPECT_EQ(finished, 1);
  EXPECT_EQ(events.front().phase, Phase::kInfo);
  EXPECT_EQ(events.back().phase, Phase::kFinished);
}

TEST_F(TrainerTest, MaxStepsAndEarlyStopping) {
  TrainConfig config = SmallConfig();
  config.variant = Variant::kBiLstmCrf;
  config.adversarial.method = AdversarialMethod::kNone;
  config.max_steps = 3;
  auto short_run = Train(MakeJob(data_, config, Out("short")));
  ASSERT_TRUE(short_run.ok()) << short_run.status();
  EXPECT_EQ(short_run->step_losses.size(), 3u);
  EXPECT_THAT(short_run->state.stop_reason, HasSubstr("max_steps"));

  // With learning rates too small to change any prediction, dev F1 never improves after
  // epoch 1, so patience 1 stops after epoch 2 of 5.
  config = SmallConfig();
  config.variant = Variant::kBiLstmCrf;
  config.adversarial.method = AdversarialMethod::kNone;
  config.epochs = 5;
  config.encoder_lr = 1e-30;
  config.head_lr = 1e-30;
  config.early_stopping_patience = 1;
  auto stopped = Train(MakeJob(data_, config, Out("patience")));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->state.epochs_completed, 2);
  EXPECT_THAT(stopped->state.stop_reason, HasSubstr("early stopping"));
}

TEST_F(TrainerTest, RefusesToOverwriteOrResumeNothing) {
  TrainConfig config = SmallConfig();
  config.variant = Variant::kBiLstmCrf;
  config.max_steps = 1;
  ASSERT_TRUE(Train(MakeJob(data_, config, Out("once"))).ok());
  auto again = Train(MakeJob(data_, config, Out("once")));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);

  TrainJob resume;
  resume.train = data_.train;
  resume.out_dir = Out("nothing-here");
  resume.resume = true;
  EXPECT_EQ(Train(std::move(resume)).status().code(), absl::StatusCode::kFailedPrecondition);

  // Other data than the run was started with.
  TrainJob other;
  other.train.assign(data_.train.begin(), data_.train.begin() + 20);
  other.out_dir = Out("once");
  other.resume = true;
  auto mismatch = Train(std::move(other));
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TrainerTest, RejectsBadJobs) {
  TrainConfig config = SmallConfig();
  config.batch_size = 0;
  TrainJob bad = MakeJob(data_, SmallConfig(), Out("y"));
  bad.config = config;
  EXPECT_EQ(Train(std::move(bad)).status().code(), absl::StatusCode::kInvalidArgument);
  TrainJob empty = MakeJob(data_, SmallConfig(), Out("z"));
  empty.train.clear();
  EXPECT_EQ(Train(std::move(empty)).status().code(), absl::StatusCode::kInvalidArgument);
}

// --- Learning: a few hundred steps on 200 sentences beat the all-O baseline. ---

TEST(TrainerSlowTest, LearnsAResumeSliceAndBeatsTheAllOBaseline) {
  // One thread: on a shared 2-core machine, two OpenMP threads contending with other work make
  // this run ten times slower.
  torch::set_num_threads(1);
  auto data = ReadResume(200, 0);
  if (!data) GTEST_SKIP() << "shared Resume data not found: set NER_SHARED_DIR";
  // Scored on the first 50 sentences of the slice itself: does the model fit what it saw?
  data->dev.assign(data->train.begin(), data->train.begin() + 50);
  const std::string dir = ner::testing::MakeTempDir("trainer-learns");
  TrainConfig config = SmallConfig();  // 2-layer 32-wide NEZHA with dynamic fusion, FGM
  config.epochs = 10;                  // 25 steps each: 250 steps
  config.batch_size = 8;
  config.encoder_lr = 2e-3;
  config.head_lr = 1e-2;
  config.lr_decay = LrDecay::kLinear;
  config.eval_batch_size = 64;
  auto result = Train(MakeJob(*data, config, dir + "/out"));
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& history = result->state.history;
  ASSERT_EQ(history.size(), 10u);
  EXPECT_EQ(result->state.global_step, 250);
  EXPECT_LT(history.back().train_loss, 0.2 * history.front().train_loss)
      << "first epoch " << history.front().train_loss << ", last " << history.back().train_loss;
  // The all-O baseline predicts nothing, so its F1 is 0.
  ASSERT_TRUE(result->state.best_dev_f1.has_value());
  EXPECT_GT(*result->state.best_dev_f1, 0.6);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ner::model
