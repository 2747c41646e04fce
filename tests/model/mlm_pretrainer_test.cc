#include "model/mlm_pretrainer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "model/checkpoint.h"
#include "model/model_config.h"
#include "model/ner_model.h"
#include "model/state_dict.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kVocab[] = "data/vocab/bert-base-chinese-vocab.txt";
constexpr char kCorpus[] = "data/corpus";

// A few hundred lines from three corpus files, written to one temp file.
std::string SmallCorpus(const std::string& corpus_dir) {
  const std::string path = ::ner::testing::MakeTempDir("mlm_corpus") + "/small.txt";
  std::ofstream out(path);
  for (const char* name :
       {"news_titles_thucnews.00.txt", "reviews_waimai.00.txt", "wiki_cmrc2018.00.txt"}) {
    std::ifstream in(corpus_dir + "/" + name);
    std::string line;
    for (int i = 0; i < 100 && std::getline(in, line); ++i) out << line << "\n";
  }
  return path;
}

EncoderConfig TinyNezha() {
  EncoderConfig config = NezhaTinyPreset();
  config.hidden_size = 32;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.intermediate_size = 64;
  config.max_relative_position = 16;
  config.max_position_embeddings = 64;
  return config;
}

class MlmPretrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto vocab = ::ner::testing::SharedPath(kVocab);
    auto corpus = ::ner::testing::SharedPath(kCorpus);
    if (!vocab || !corpus) GTEST_SKIP() << "shared vocab/corpus not found: set NER_SHARED_DIR";
    torch::set_num_threads(1);
    options_.corpus = SmallCorpus(*corpus);
    options_.vocab_path = *vocab;
    options_.output_dir = ::ner::testing::MakeTempDir("mlm_out") + "/encoder";
    options_.encoder = TinyNezha();
    options_.corpus_options.max_len = 64;
    options_.batch_size = 8;
    options_.learning_rate = 5e-3;
    options_.warmup_steps = 5;
    options_.max_steps = 50;
    options_.validation_sequences = 12;
    options_.log_every = 5;
    options_.eval_every = 1000;
    options_.seed = 3;
  }

  PretrainOptions options_;
};

TEST_F(MlmPretrainerTest, LossFallsAndTheOutputLoadsAsAPretrainedEncoder) {
  absl::StatusOr<PretrainResult> result = Pretrain(options_);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stop_reason, "max_steps");
  EXPECT_EQ(result->state.step, 50);
  ASSERT_EQ(result->log.size(), 10u);
  EXPECT_GT(result->log.front().loss, 9.0) << "about ln(21128) = 9.96 at the start";
  EXPECT_LT(result->log.back().loss, result->log.front().loss - 1.5);
  ASSERT_TRUE(result->initial_validation_loss && result->state.validation_loss);
  EXPECT_LT(*result->state.validation_loss, *result->initial_validation_loss - 1.5);
  EXPECT_EQ(result->state.validation_step, 50);
  EXPECT_GT(result->tokens_per_second, 0);

  // The directory is a HuggingFace-style pretrained encoder.
  absl::StatusOr<EncoderConfig> config = LoadEncoderConfig(options_.output_dir);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ToJson(), options_.encoder.ToJson());
  absl::StatusOr<TensorMap> weights = LoadStateDict(options_.output_dir);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_EQ(weights->at("encoder.embeddings.word_embeddings.weight").sizes(),
            torch::IntArrayRef({21128, 32}));
  EXPECT_EQ(weights->count("cls.predictions.bias"), 1u);

  absl::StatusOr<Vocab> vocab = Vocab::Load(options_.output_dir + "/vocab.txt");
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  const ModelConfig model_config =
      MakeModelConfig(Variant::kNezhaDfBiLstmCrf, *config, TagScheme::kBio, {"PER", "LOC"});
  absl::StatusOr<NerModel> model = CreateNerModel(model_config, vocab->cls_id(), vocab->sep_id());
  ASSERT_TRUE(model.ok()) << model.status();
  std::vector<std::string> log;
  ASSERT_TRUE(InitEncoderFromPretrained(options_.output_dir, *model, &log).ok());
  EXPECT_THAT(log, Contains(HasSubstr("cls.predictions.bias")));
  for (const auto& [name, tensor] : (*model)->encoder()->NamedWeights()) {
    EXPECT_TRUE(torch::equal(tensor, weights->at(name))) << name;
  }
  // A fresh run may not overwrite it.
  EXPECT_EQ(Pretrain(options_).status().code(), absl::StatusCode::kFailedPrecondition);
}

std::map<std::string, torch::Tensor> SavedWeights(const std::string& dir) {
  absl::StatusOr<TensorMap> weights = LoadStateDict(dir);
  EXPECT_TRUE(weights.ok()) << weights.status();
  return weights.ok() ? *weights : TensorMap();
}

TEST_F(MlmPretrainerTest, ResumeContinuesFromTheSavedStepAsIfUninterrupted) {
  options_.max_steps = 8;
  options_.log_every = 1;
  const std::string straight_dir = options_.output_dir + "-straight";
  PretrainOptions straight = options_;
  straight.output_dir = straight_dir;
  absl::StatusOr<PretrainResult> uninterrupted = Pretrain(straight);
  ASSERT_TRUE(uninterrupted.ok()) << uninterrupted.status();

  std::atomic<bool> cancel{false};
  PretrainEnvironment env;
  env.cancel = &cancel;
  env.on_log = [&](const PretrainLogEntry& entry) {
    if (entry.step == 3) cancel = true;
  };
  absl::StatusOr<PretrainResult> first = Pretrain(options_, env);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->stop_reason, "cancelled");
  EXPECT_EQ(first->state.step, 3);
  EXPECT_EQ(first->state.validation_step, 0) << "a cancelled run saves without evaluating";

  EXPECT_EQ(Pretrain(options_).status().code(), absl::StatusCode::kFailedPrecondition);
  PretrainOptions resume = options_;
  resume.resume = true;
  absl::StatusOr<PretrainResult> second = Pretrain(resume);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->first_step, 3);
  EXPECT_EQ(second->state.step, 8);
  ASSERT_FALSE(second->log.empty());
  EXPECT_EQ(second->log.front().step, 4);
  EXPECT_EQ(second->state.epoch_position, uninterrupted->state.epoch_position);
  EXPECT_EQ(second->state.tokens_seen, uninterrupted->state.tokens_seen);
  EXPECT_NEAR(second->log.back().loss, uninterrupted->log.back().loss, 1e-4);

  // Every save replaced the directory whole; no temp directories are left behind.
  for (const auto& entry : std::filesystem::directory_iterator(
           std::filesystem::path(options_.output_dir).parent_path())) {
    EXPECT_FALSE(absl::StrContains(entry.path().filename().string(), ".tmp.")) << entry.path();
  }
  const auto a = SavedWeights(straight_dir);
  const auto b = SavedWeights(options_.output_dir);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_TRUE(torch::allclose(tensor, b.at(name), 1e-4, 1e-5)) << name;
  }
}

TEST_F(MlmPretrainerTest, ResumeNeedsASavedRunAndTheSameCorpus) {
  PretrainOptions resume = options_;
  resume.resume = true;
  EXPECT_EQ(Pretrain(resume).status().code(), absl::StatusCode::kNotFound);

  options_.max_steps = 2;
  ASSERT_TRUE(Pretrain(options_).ok());
  resume.corpus_options.max_lines = 50;  // Packs differently.
  resume.max_steps = 4;
  const absl::Status status = Pretrain(resume).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << status;
}

TEST_F(MlmPretrainerTest, TimeBudgetSchedulesAndStops) {
  // A clock that advances 0.1 s per reading makes the budget deterministic.
  int64_t ticks = 0;
  PretrainEnvironment env;
  env.clock = [&ticks] { return absl::UnixEpoch() + absl::Milliseconds(100 * ticks++); };
  options_.max_steps.reset();
  options_.time_budget = absl::Seconds(5);
  absl::StatusOr<PretrainResult> result = Pretrain(options_, env);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->stop_reason, ::testing::AnyOf("time_budget", "schedule"));
  EXPECT_GT(result->state.schedule_steps, 0);
  EXPECT_GT(result->state.step, 0);
  EXPECT_LE(result->state.step, result->state.schedule_steps);
}

TEST(PretrainOptionsTest, NeedsAStoppingRule) {
  PretrainOptions options;
  options.corpus = "c";
  options.vocab_path = "v";
  options.output_dir = "o";
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options.max_steps = 10;
  EXPECT_TRUE(options.Validate().ok());
  options.batch_size = 0;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PretrainLearningRateTest, WarmsUpThenDecaysLinearlyToZero) {
  EXPECT_DOUBLE_EQ(PretrainLearningRate(1.0, 0, 4, 10), 0.25);
  EXPECT_DOUBLE_EQ(PretrainLearningRate(1.0, 3, 4, 10), 1.0);
  EXPECT_DOUBLE_EQ(PretrainLearningRate(1.0, 4, 4, 10), 1.0);
  EXPECT_DOUBLE_EQ(PretrainLearningRate(1.0, 7, 4, 10), 0.5);
  EXPECT_DOUBLE_EQ(PretrainLearningRate(1.0, 10, 4, 10), 0.0);
  EXPECT_DOUBLE_EQ(PretrainLearningRate(2.0, 0, 0, 4), 2.0);
}

}  // namespace
}  // namespace ner::model
