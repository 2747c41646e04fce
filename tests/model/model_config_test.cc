#include "model/model_config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

ModelConfig Valid() {
  return MakeModelConfig(Variant::kNezhaDfBiLstmCrf, NezhaTinyPreset(), TagScheme::kBmes,
                         {"NAME", "ORG"});
}

TEST(ModelConfigTest, VariantsRoundTrip) {
  for (const char* name :
       {"bilstm-crf", "bert-bilstm-crf", "nezha-bilstm-crf", "nezha-df-bilstm-crf"}) {
    absl::StatusOr<Variant> v = ParseVariant(name);
    ASSERT_TRUE(v.ok()) << name;
    EXPECT_EQ(VariantName(*v), name);
  }
  EXPECT_FALSE(ParseVariant("lattice-lstm").ok());
}

TEST(ModelConfigTest, JsonRoundTrip) {
  ModelConfig config = Valid();
  config.provenance_json = R"({"train": "resume/train.char.bmes", "dev_f1": 0.95})";
  absl::StatusOr<ModelConfig> back = ParseModelConfig(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), config.ToJson());
  EXPECT_EQ(back->labels, config.labels);
  EXPECT_TRUE(back->dynamic_fusion());
  EXPECT_EQ(back->EntityTypes(), (std::vector<std::string>{"NAME", "ORG"}));
  EXPECT_THAT(back->provenance_json, HasSubstr("dev_f1"));
}

TEST(ModelConfigTest, SegmentCharsBoundByEncoderWindow) {
  ModelConfig config = MakeModelConfig(Variant::kBertBiLstmCrf, BertBasePreset(), TagScheme::kBio,
                                       {"PER"});
  EXPECT_EQ(config.MaxTokens(), 510);
  EXPECT_EQ(config.SegmentChars(), 510);
  config.max_chars = 100;
  EXPECT_EQ(config.SegmentChars(), 100);
  ModelConfig plain = MakeModelConfig(Variant::kBiLstmCrf, NezhaTinyPreset(), TagScheme::kBio,
                                      {"PER"});
  EXPECT_FALSE(plain.encoder.has_value());
  EXPECT_EQ(plain.SegmentChars(), 512);
}

struct Broken {
  const char* name;
  void (*breakit)(ModelConfig*);
  const char* message;
};

class ModelConfigInvalidTest : public ::testing::TestWithParam<Broken> {};

TEST_P(ModelConfigInvalidTest, NamesProblem) {
  ModelConfig config = Valid();
  GetParam().breakit(&config);
  absl::Status status = config.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(GetParam().message));
  // The same problem is caught when reading JSON.
  EXPECT_FALSE(ParseModelConfig(config.ToJson()).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ModelConfigInvalidTest,
    ::testing::Values(
        Broken{"no_encoder", [](ModelConfig* c) { c->encoder.reset(); }, "needs an encoder"},
        Broken{"bert_for_nezha", [](ModelConfig* c) { c->encoder->kind = EncoderKind::kBert; },
               "needs a nezha encoder"},
        Broken{"vocab_mismatch", [](ModelConfig* c) { c->vocab_size = 100; }, "vocab_size"},
        Broken{"labels_without_o", [](ModelConfig* c) { c->labels.erase(c->labels.begin()); },
               "start with \"O\""},
        Broken{"label_wrong_scheme", [](ModelConfig* c) { c->labels[1] = "I-NAME"; },
               "not valid in the bmes scheme"},
        Broken{"incomplete_labels", [](ModelConfig* c) { c->labels.pop_back(); },
               "complete bmes label set"},
        Broken{"duplicate_label", [](ModelConfig* c) { c->labels.push_back("B-NAME"); },
               "appears twice"},
        Broken{"bad_dropout", [](ModelConfig* c) { c->head_dropout = 1.0; }, "head_dropout"},
        Broken{"bad_max_chars", [](ModelConfig* c) { c->max_chars = 0; }, "max_chars"}),
    [](const ::testing::TestParamInfo<Broken>& info) { return std::string(info.param.name); });

TEST(ModelConfigTest, BigramFeaturesValidatedAndOptionalInJson) {
  ModelConfig config = Valid();
  config.bigram_buckets = 101;  // a transformer variant
  EXPECT_THAT(config.Validate().message(), HasSubstr("bilstm-crf only"));
  config.variant = Variant::kBiLstmCrf;
  config.encoder.reset();
  EXPECT_TRUE(config.Validate().ok()) << config.Validate();
  config.bigram_buckets = 1;
  EXPECT_THAT(config.Validate().message(), HasSubstr("bigram_buckets"));
  config.bigram_buckets = 1'000'000'000;
  EXPECT_THAT(config.Validate().message(), HasSubstr("bigram_buckets"));
  config.bigram_buckets = 101;
  config.bigram_embedding_dim = 0;
  EXPECT_THAT(config.Validate().message(), HasSubstr("bigram_embedding_dim"));
  // A config written before the bigram features (no keys) reads as "off".
  config.bigram_buckets = 0;
  config.bigram_embedding_dim = 50;
  std::string old_json = config.ToJson();
  for (const std::string key : {"\"bigram_buckets\": 0,", "\"bigram_embedding_dim\": 50,"}) {
    const size_t at = old_json.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    old_json.erase(at, key.size());
  }
  absl::StatusOr<ModelConfig> back = ParseModelConfig(old_json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->bigram_buckets, 0);
}

TEST(ModelConfigTest, RejectsForeignJson) {
  EXPECT_THAT(ParseModelConfig("{\"model_type\": \"nezha\"}").status().message(),
              HasSubstr("format"));
  EXPECT_FALSE(ParseModelConfig("not json").ok());
  EXPECT_FALSE(ParseModelConfig("[]").ok());
}

// Fields of the wrong type or out of range are errors, not an escaping exception (found by
// fuzz_config), an undefined float-to-int cast or a silent truncation.
TEST(ModelConfigTest, RejectsMistypedAndOutOfRangeFields) {
  const std::string valid = Valid().ToJson();
  auto with = [&valid](const std::string& key, const std::string& value) {
    nlohmann::json json = nlohmann::json::parse(valid);
    json[key] = nlohmann::json::parse(value);
    return ParseModelConfig(json.dump());
  };
  ASSERT_TRUE(ParseModelConfig(valid).ok());
  EXPECT_THAT(with("format", "1").status().message(), HasSubstr("format"));
  EXPECT_THAT(with("format_version", "\"1\"").status().message(),
              HasSubstr("unsupported format_version \"1\""));
  EXPECT_THAT(with("vocab_size", "1e300").status().message(),
              HasSubstr("'vocab_size' must be an integer"));
  EXPECT_THAT(with("max_chars", "4294967297").status().message(),
              HasSubstr("'max_chars' must be an integer in [-2147483648, 2147483647]"));
  EXPECT_THAT(with("head", "[]").status().message(), HasSubstr("'char_embedding_dim' is missing"));
}

}  // namespace
}  // namespace ner::model
