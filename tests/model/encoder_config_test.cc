#include "model/encoder_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

TEST(EncoderConfigTest, PresetsAreValidAndHaveTheDocumentedSizes) {
  const EncoderConfig base = NezhaBasePreset();
  EXPECT_TRUE(base.Validate().ok());
  EXPECT_EQ(base.kind, EncoderKind::kNezha);
  EXPECT_EQ(base.num_hidden_layers, 12);
  EXPECT_EQ(base.hidden_size, 768);
  EXPECT_EQ(base.num_attention_heads, 12);
  EXPECT_EQ(base.intermediate_size, 3072);
  EXPECT_EQ(base.max_relative_position, 64);
  EXPECT_EQ(base.vocab_size, 21128);
  EXPECT_EQ(base.type_vocab_size, 2);
  EXPECT_EQ(base.max_position_embeddings, 512);
  EXPECT_EQ(base.HeadSize(), 64);

  const EncoderConfig tiny = NezhaTinyPreset();
  EXPECT_TRUE(tiny.Validate().ok());
  EXPECT_EQ(tiny.kind, EncoderKind::kNezha);
  EXPECT_EQ(tiny.num_hidden_layers, 4);
  EXPECT_EQ(tiny.hidden_size, 256);
  EXPECT_EQ(tiny.num_attention_heads, 4);
  EXPECT_EQ(tiny.intermediate_size, 1024);
  EXPECT_EQ(tiny.max_relative_position, 64);
  EXPECT_EQ(tiny.vocab_size, 21128);

  const EncoderConfig bert = BertBasePreset();
  EXPECT_TRUE(bert.Validate().ok());
  EXPECT_EQ(bert.kind, EncoderKind::kBert);
  EXPECT_EQ(bert.hidden_size, 768);
}

TEST(EncoderConfigTest, ParsesTheGoldenNezhaConfig) {
  NER_REQUIRE_SHARED(path, "golden/nezha-tiny/config.json");
  absl::StatusOr<EncoderConfig> config = LoadEncoderConfig(path);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->kind, EncoderKind::kNezha);
  EXPECT_EQ(config->vocab_size, 64);
  EXPECT_EQ(config->hidden_size, 32);
  EXPECT_EQ(config->num_hidden_layers, 3);
  EXPECT_EQ(config->num_attention_heads, 4);
  EXPECT_EQ(config->intermediate_size, 64);
  EXPECT_EQ(config->max_relative_position, 6);
  EXPECT_EQ(config->max_position_embeddings, 64);
  EXPECT_EQ(config->type_vocab_size, 2);
  EXPECT_DOUBLE_EQ(config->layer_norm_eps, 1e-12);
  EXPECT_EQ(config->hidden_act, "gelu");

  // A directory holding config.json works too.
  absl::StatusOr<EncoderConfig> from_dir =
      LoadEncoderConfig(path.substr(0, path.size() - std::string("/config.json").size()));
  ASSERT_TRUE(from_dir.ok()) << from_dir.status();
  EXPECT_EQ(from_dir->ToJson(), config->ToJson());
}

TEST(EncoderConfigTest, KindComesFromModelTypeOrRelativePositionFields) {
  struct Case {
    const char* json;
    EncoderKind kind;
  };
  const Case cases[] = {
      {R"({"model_type": "nezha"})", EncoderKind::kNezha},
      {R"({"model_type": "bert"})", EncoderKind::kBert},
      {R"({"model_type": "bert", "use_relative_position": true})", EncoderKind::kNezha},
      {R"({"use_relative_position": true})", EncoderKind::kNezha},
      {R"({"max_relative_position": 64})", EncoderKind::kNezha},  // Huawei release.
      {R"({"hidden_size": 768})", EncoderKind::kBert},
  };
  for (const Case& c : cases) {
    absl::StatusOr<EncoderConfig> config = ParseEncoderConfig(c.json);
    ASSERT_TRUE(config.ok()) << c.json << ": " << config.status();
    EXPECT_EQ(config->kind, c.kind) << c.json;
  }
}

TEST(EncoderConfigTest, ToJsonRoundTrips) {
  EncoderConfig config = NezhaTinyPreset();
  config.hidden_act = "gelu_new";
  config.hidden_dropout_prob = 0.25;
  config.max_relative_position = 16;
  config.layer_norm_eps = 1e-5;
  for (EncoderKind kind : {EncoderKind::kNezha, EncoderKind::kBert}) {
    config.kind = kind;
    absl::StatusOr<EncoderConfig> parsed = ParseEncoderConfig(config.ToJson());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->kind, kind);
    EXPECT_EQ(parsed->hidden_act, "gelu_new");
    EXPECT_EQ(parsed->num_hidden_layers, 4);
    EXPECT_DOUBLE_EQ(parsed->hidden_dropout_prob, 0.25);
    EXPECT_DOUBLE_EQ(parsed->layer_norm_eps, 1e-5);
    EXPECT_EQ(parsed->ToJson(), config.ToJson());
  }
}

TEST(EncoderConfigTest, RejectsInvalidConfigsNamingTheField) {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {"not json", "not a JSON object"},
      {"[1, 2]", "not a JSON object"},
      {R"({"hidden_size": 100, "num_attention_heads": 12})", "multiple of num_attention_heads"},
      {R"({"hidden_size": "768"})", "'hidden_size' must be an integer"},
      {R"({"hidden_size": 767.5})", "'hidden_size' must be an integer"},
      {R"({"hidden_size": 1e300})", "'hidden_size' must be an integer"},  // No undefined cast.
      {R"({"num_hidden_layers": 0})", "num_hidden_layers must be positive"},
      {R"({"vocab_size": -3})", "vocab_size must be positive"},
      {R"({"hidden_act": "swish"})", "unsupported hidden_act 'swish'"},
      {R"({"hidden_dropout_prob": 1.0})", "hidden_dropout_prob must be in [0, 1)"},
      {R"({"layer_norm_eps": 0})", "layer_norm_eps must be positive"},
      {R"({"model_type": "nezha", "max_relative_position": 0})", "max_relative_position"},
      {R"({"model_type": "nezha", "hidden_size": 36, "num_attention_heads": 4})", "even head size"},
      {R"({"use_relative_position": "yes"})", "must be a boolean"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<EncoderConfig> config = ParseEncoderConfig(c.json);
    ASSERT_FALSE(config.ok()) << c.json;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_THAT(config.status().message(), HasSubstr(c.message)) << c.json;
  }
}

TEST(EncoderConfigTest, AcceptsIntegralFloatsAndIgnoresUnknownFields) {
  absl::StatusOr<EncoderConfig> config =
      ParseEncoderConfig(R"({"hidden_size": 512.0, "num_attention_heads": 8,
                             "architectures": ["X"], "pad_token_id": 0})");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->hidden_size, 512);
}

TEST(EncoderConfigTest, LoadReportsMissingFileAsNotFound) {
  const std::string dir = ::ner::testing::MakeTempDir("encoder_config");
  absl::StatusOr<EncoderConfig> missing = LoadEncoderConfig(dir);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);

  std::ofstream(dir + "/config.json") << R"({"hidden_act": "tanh"})";
  absl::StatusOr<EncoderConfig> bad = LoadEncoderConfig(dir);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("config.json"));
}

}  // namespace
}  // namespace ner::model
