#include "model/checkpoint.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/file_util.h"
#include "tests/testing/shared_data.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::map<std::string, torch::Tensor> Tensors(const NerModel& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : model->named_parameters()) out[item.key()] = item.value();
  return out;
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = ner::testing::MakeTempDir("checkpoint"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(CheckpointTest, RoundTripIsBitExactForEveryVariant) {
  for (Variant variant : {Variant::kBiLstmCrf, Variant::kBertBiLstmCrf, Variant::kNezhaBiLstmCrf,
                          Variant::kNezhaDfBiLstmCrf}) {
    Checkpoint saved = ner::testing::TinyCheckpoint(variant);
    const std::string path = dir_ + "/" + std::string(VariantName(variant));
    ASSERT_TRUE(SaveCheckpoint(path, saved).ok());
    absl::StatusOr<Checkpoint> loaded = LoadCheckpoint(path);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    EXPECT_EQ(loaded->config.ToJson(), saved.config.ToJson());
    EXPECT_EQ(loaded->vocab->Serialize(), saved.vocab->Serialize());
    auto a = Tensors(saved.model);
    auto b = Tensors(loaded->model);
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, tensor] : a) {
      ASSERT_TRUE(b.count(name)) << name;
      EXPECT_TRUE(torch::equal(tensor, b[name])) << name;
    }
  }
}

TEST_F(CheckpointTest, OverwriteReplacesAtomicallyAndLeavesNoTemp) {
  const std::string path = dir_ + "/model";
  ASSERT_TRUE(SaveCheckpoint(path, ner::testing::TinyCheckpoint(Variant::kBiLstmCrf, 1)).ok());
  Checkpoint second = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf, 2);
  ASSERT_TRUE(SaveCheckpoint(path, second).ok());
  absl::StatusOr<Checkpoint> loaded = LoadCheckpoint(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(torch::equal(Tensors(loaded->model).at("crf.transitions"),
                           Tensors(second.model).at("crf.transitions")));
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(dir_)) entries.push_back(e.path().filename());
  EXPECT_THAT(entries, ::testing::ElementsAre("model"));
}

TEST_F(CheckpointTest, FailedSaveKeepsPreviousCheckpoint) {
  const std::string path = dir_ + "/model";
  Checkpoint good = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf, 1);
  ASSERT_TRUE(SaveCheckpoint(path, good).ok());
  Checkpoint bad = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf, 2);
  bad.config.labels.push_back("B-EXTRA");  // Invalid label set: the save must refuse.
  EXPECT_FALSE(SaveCheckpoint(path, bad).ok());
  // A target that is a file, not a directory, fails before touching anything.
  const std::string file = dir_ + "/file";
  ASSERT_TRUE(WriteFileAtomically(file, "x").ok());
  EXPECT_FALSE(SaveCheckpoint(file, good).ok());
  EXPECT_EQ(*ReadFileToString(file), "x");
  absl::StatusOr<Checkpoint> loaded = LoadCheckpoint(path);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(torch::equal(Tensors(loaded->model).at("crf.transitions"),
                           Tensors(good.model).at("crf.transitions")));
}

struct Corruption {
  const char* name;
  void (*corrupt)(const std::string& dir);
  const char* message;
};

class CorruptCheckpointTest : public CheckpointTest,
                              public ::testing::WithParamInterface<Corruption> {};

TEST_P(CorruptCheckpointTest, ClearErrorNoCrash) {
  const std::string path = dir_ + "/model";
  ASSERT_TRUE(SaveCheckpoint(path, ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf)).ok());
  GetParam().corrupt(path);
  absl::StatusOr<Checkpoint> loaded = LoadCheckpoint(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(GetParam().message));
  EXPECT_THAT(loaded.status().message(), HasSubstr(path));
}

void Truncate(const std::string& file, double fraction) {
  const auto size = fs::file_size(file);
  fs::resize_file(file, static_cast<uintmax_t>(size * fraction));
}

void ReplaceInFile(const std::string& file, const std::string& from, const std::string& to) {
  std::string text = *ReadFileToString(file);
  const size_t pos = text.find(from);
  ASSERT_NE(pos, std::string::npos) << from;
  text.replace(pos, from.size(), to);
  ASSERT_TRUE(WriteFileAtomically(file, text).ok());
}

INSTANTIATE_TEST_SUITE_P(
    Table, CorruptCheckpointTest,
    ::testing::Values(
        Corruption{"missing_weights",
                   [](const std::string& d) { fs::remove(d + "/model.safetensors"); },
                   "model.safetensors"},
        Corruption{"truncated_weights",
                   [](const std::string& d) { Truncate(d + "/model.safetensors", 0.6); }, ""},
        Corruption{"truncated_header",
                   [](const std::string& d) { Truncate(d + "/model.safetensors", 0.001); }, ""},
        Corruption{"garbage_config",
                   [](const std::string& d) {
                     ASSERT_TRUE(WriteFileAtomically(d + "/config.json", "{oops").ok());
                   },
                   "not a JSON object"},
        Corruption{"missing_vocab", [](const std::string& d) { fs::remove(d + "/vocab.txt"); },
                   "vocab.txt"},
        Corruption{"vocab_size_mismatch",
                   [](const std::string& d) {
                     std::ofstream(d + "/vocab.txt", std::ios::app) << "extra\n";
                   },
                   "tokens but the config says"},
        Corruption{"wrong_shape_lstm",
                   [](const std::string& d) {
                     ReplaceInFile(d + "/config.json", "\"lstm_hidden\": 16", "\"lstm_hidden\": 8");
                   },
                   "wrong shape"},
        Corruption{"wrong_variant",
                   [](const std::string& d) {
                     ReplaceInFile(d + "/config.json", "nezha-df-bilstm-crf", "bilstm-crf");
                   },
                   "unexpected encoder."},
        Corruption{"nan_weights",  // all ones: the last 16 float32 weights become NaNs
                   [](const std::string& d) {
                     std::string bytes = *ReadFileToString(d + "/model.safetensors");
                     bytes.replace(bytes.size() - 64, 64, 64, '\xff');
                     ASSERT_TRUE(WriteFileAtomically(d + "/model.safetensors", bytes).ok());
                   },
                   "non-finite values"}),
    [](const ::testing::TestParamInfo<Corruption>& info) { return std::string(info.param.name); });

TEST(PretrainedInitTest, GoldenNezhaInitialisesTheEncoder) {
  NER_REQUIRE_SHARED(dir, "golden/nezha-tiny");
  absl::StatusOr<EncoderConfig> encoder = LoadEncoderConfig(dir + "/config.json");
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  ModelConfig config =
      MakeModelConfig(Variant::kNezhaDfBiLstmCrf, *encoder, TagScheme::kBio, {"PER"});
  NerModel model(config, 2, 3);
  std::vector<std::string> log;
  ASSERT_TRUE(InitEncoderFromPretrained(dir, model, &log).ok());
  EXPECT_THAT(log, ::testing::Contains(HasSubstr("pooler")));
  // A mismatched encoder is refused with both shapes named.
  EncoderConfig wider = *encoder;
  wider.hidden_size = 64;
  NerModel other(MakeModelConfig(Variant::kNezhaDfBiLstmCrf, wider, TagScheme::kBio, {"PER"}), 2,
                 3);
  absl::Status status = InitEncoderFromPretrained(dir, other);
  EXPECT_THAT(status.message(), HasSubstr("does not match"));
}

}  // namespace
}  // namespace ner::model
