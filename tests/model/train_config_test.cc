#include "model/train_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

TEST(TrainConfigTest, DefaultsAreThePapersTable1) {
  const TrainConfig config;
  EXPECT_TRUE(config.Validate().ok());
  EXPECT_EQ(config.epochs, 8);
  EXPECT_EQ(config.batch_size, 16);
  EXPECT_DOUBLE_EQ(config.encoder_lr, 5e-5);
  EXPECT_DOUBLE_EQ(config.head_lr, 1e-4);
  EXPECT_DOUBLE_EQ(config.weight_decay, 0.01);
  EXPECT_DOUBLE_EQ(config.warmup_fraction, 0.05);
  EXPECT_DOUBLE_EQ(config.decay_rate, 0.5);
  EXPECT_DOUBLE_EQ(config.max_grad_norm, 1.0);
  EXPECT_EQ(config.adversarial.method, AdversarialMethod::kFgm);
  EXPECT_DOUBLE_EQ(config.adversarial.epsilon, 1.0);
  EXPECT_EQ(config.max_chars, 512);
  EXPECT_EQ(config.variant, Variant::kNezhaDfBiLstmCrf);
}

TEST(TrainConfigTest, JsonRoundTrip) {
  TrainConfig config;
  config.epochs = 3;
  config.head_lr = 2e-3;
  config.max_steps = 100;
  config.early_stopping_patience = 2;
  config.adversarial.method = AdversarialMethod::kPgd;
  config.adversarial.pgd_steps = 5;
  config.lr_decay = LrDecay::kLinear;
  config.variant = Variant::kBiLstmCrf;
  config.label_scheme = TagScheme::kBioes;
  config.seed = 18446744073709551615ULL;
  absl::StatusOr<TrainConfig> parsed = ParseTrainConfig(config.ToJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->ToJson(), config.ToJson());
  EXPECT_EQ(parsed->seed, config.seed);
  EXPECT_EQ(parsed->max_steps, 100);
  EXPECT_EQ(parsed->label_scheme, TagScheme::kBioes);
}

TEST(TrainConfigTest, PartialJsonOverridesOnlyItsKeys) {
  TrainConfig config;
  config.batch_size = 4;
  ASSERT_TRUE(ApplyTrainConfigJson(R"({"epochs": 2, "adversarial": "fgsm", "max_steps": null,
                                       "label_scheme": "auto"})",
                                   &config)
                  .ok());
  EXPECT_EQ(config.epochs, 2);
  EXPECT_EQ(config.batch_size, 4);
  EXPECT_EQ(config.adversarial.method, AdversarialMethod::kFgsm);
  EXPECT_FALSE(config.max_steps.has_value());
  EXPECT_FALSE(config.label_scheme.has_value());
}

TEST(TrainConfigTest, BadJsonNamesTheKey) {
  TrainConfig config;
  absl::Status s = ApplyTrainConfigJson(R"({"epochz": 2})", &config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("epochz"));
  s = ApplyTrainConfigJson(R"({"epochs": "many"})", &config);
  EXPECT_THAT(s.message(), HasSubstr("epochs"));
  s = ApplyTrainConfigJson(R"({"adversarial": "awp"})", &config);
  EXPECT_THAT(s.message(), HasSubstr("adversarial"));
  EXPECT_FALSE(ApplyTrainConfigJson("[1, 2]", &config).ok());
  EXPECT_FALSE(ApplyTrainConfigJson("{", &config).ok());
  EXPECT_EQ(config.epochs, 8) << "a failed apply leaves the config unchanged";
}

TEST(TrainConfigTest, ValidateRejectsBadValues) {
  auto invalid = [](auto mutate) {
    TrainConfig config;
    mutate(config);
    return config.Validate().code() == absl::StatusCode::kInvalidArgument;
  };
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.epochs = 0; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.batch_size = 0; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.encoder_lr = -1; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.weight_decay = -0.1; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.decay_rate = 1.5; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.warmup_fraction = 1; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.max_steps = 0; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.early_stopping_patience = 0; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.adversarial.epsilon = 0; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.adversarial.pgd_steps = 0; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.preset = "gpt"; }));
  EXPECT_TRUE(invalid([](TrainConfig& c) { c.head_dropout = 1; }));
}

TEST(TrainConfigTest, ModelConfigForTraining) {
  TrainConfig config;
  config.variant = Variant::kNezhaBiLstmCrf;
  config.lstm_hidden = 64;
  config.max_chars = 128;
  absl::StatusOr<ModelConfig> model =
      ModelConfigForTraining(config, NezhaTinyPreset(), TagScheme::kBmes, {"NAME", "ORG"}, 100);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->vocab_size, 100);
  EXPECT_EQ(model->encoder->vocab_size, 100);
  EXPECT_EQ(model->lstm_hidden, 64);
  EXPECT_EQ(model->max_chars, 128);
  EXPECT_EQ(model->scheme, TagScheme::kBmes);
  EXPECT_EQ(model->labels.size(), 9u);
  config.label_scheme = TagScheme::kBio;
  model = ModelConfigForTraining(config, NezhaTinyPreset(), TagScheme::kBmes, {"NAME"}, 100);
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(model->labels, (std::vector<std::string>{"O", "B-NAME", "I-NAME"}));
  EXPECT_FALSE(ModelConfigForTraining(config, NezhaTinyPreset(), TagScheme::kBio, {}, 100).ok());
  EXPECT_TRUE(EncoderPreset("bert-base").ok());
  EXPECT_FALSE(EncoderPreset("nezha-huge").ok());
}

TEST(TrainConfigTest, BigramFeaturesReachTheModelConfig) {
  TrainConfig config;
  ASSERT_TRUE(ApplyTrainConfigJson(R"({"variant": "bilstm-crf", "bigram_buckets": 1009,
                                       "bigram_embedding_dim": 16})",
                                   &config)
                  .ok());
  absl::StatusOr<ModelConfig> model =
      ModelConfigForTraining(config, NezhaTinyPreset(), TagScheme::kBio, {"PER"}, 100);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->bigram_buckets, 1009);
  EXPECT_EQ(model->bigram_embedding_dim, 16);
  // Not for transformer variants: refused when the model config is made.
  config.variant = Variant::kNezhaBiLstmCrf;
  EXPECT_THAT(ModelConfigForTraining(config, NezhaTinyPreset(), TagScheme::kBio, {"PER"}, 100)
                  .status()
                  .message(),
              HasSubstr("bilstm-crf only"));
}

}  // namespace
}  // namespace ner::model
