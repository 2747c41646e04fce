#include "model/state_dict.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void ExpectEqualMaps(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    auto it = b.find(name);
    ASSERT_NE(it, b.end()) << name;
    EXPECT_EQ(tensor.scalar_type(), it->second.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(tensor, it->second)) << name;
  }
}

TEST(StateDictTest, LoadsGoldenDirectoryAndBothFormatsAlike) {
  NER_REQUIRE_SHARED(dir, "golden/nezha-tiny");
  absl::StatusOr<TensorMap> from_dir = LoadStateDict(dir);
  ASSERT_TRUE(from_dir.ok()) << from_dir.status();
  EXPECT_EQ(from_dir->size(), 59u);
  const torch::Tensor& words = from_dir->at("nezha.embeddings.word_embeddings.weight");
  EXPECT_EQ(words.sizes(), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(words.scalar_type(), torch::kFloat);
  EXPECT_TRUE(words.is_contiguous());

  absl::StatusOr<TensorMap> from_bin = LoadStateDict(dir + "/pytorch_model.bin");
  ASSERT_TRUE(from_bin.ok()) << from_bin.status();
  ExpectEqualMaps(*from_dir, *from_bin);
}

TEST(StateDictTest, DetectsFormatByContentNotExtension) {
  NER_REQUIRE_SHARED(dir, "golden/nezha-tiny");
  const std::string tmp = ::ner::testing::MakeTempDir("state_dict_magic");
  fs::copy_file(dir + "/pytorch_model.bin", tmp + "/weights.safetensors");
  fs::copy_file(dir + "/model.safetensors", tmp + "/weights.bin");
  absl::StatusOr<TensorMap> zip = LoadStateDict(tmp + "/weights.safetensors");
  absl::StatusOr<TensorMap> safetensors = LoadStateDict(tmp + "/weights.bin");
  ASSERT_TRUE(zip.ok()) << zip.status();
  ASSERT_TRUE(safetensors.ok()) << safetensors.status();
  ExpectEqualMaps(*zip, *safetensors);

  // A directory with only the torch checkpoint falls back to it.
  const std::string only_bin = ::ner::testing::MakeTempDir("state_dict_only_bin");
  fs::copy_file(dir + "/pytorch_model.bin", only_bin + "/pytorch_model.bin");
  absl::StatusOr<TensorMap> fallback = LoadStateDict(only_bin);
  ASSERT_TRUE(fallback.ok()) << fallback.status();
  EXPECT_EQ(fallback->size(), 59u);
}

TEST(StateDictTest, ReportsMissingAndUnrecognisedCheckpoints) {
  const std::string tmp = ::ner::testing::MakeTempDir("state_dict_errors");
  EXPECT_EQ(LoadStateDict(tmp).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(LoadStateDict(tmp).status().message(), HasSubstr("model.safetensors"));
  EXPECT_EQ(LoadStateDict(tmp + "/absent").status().code(), absl::StatusCode::kNotFound);
  std::ofstream(tmp + "/garbage.bin") << "definitely not a checkpoint";
  absl::Status garbage = LoadStateDict(tmp + "/garbage.bin").status();
  EXPECT_EQ(garbage.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.message(), HasSubstr("neither safetensors nor"));
  std::ofstream(tmp + "/legacy.bin") << "\x80\x02garbage";
  EXPECT_THAT(LoadStateDict(tmp + "/legacy.bin").status().message(), HasSubstr("legacy"));
  // A recognised but corrupt file reports the reader's error with the path.
  std::ofstream(tmp + "/broken.safetensors") << std::string(8, '\x02') << "{...";
  absl::Status broken = LoadStateDict(tmp + "/broken.safetensors").status();
  EXPECT_THAT(broken.message(), HasSubstr("broken.safetensors"));
}

TEST(StateDictTest, ConvertsEveryDtypeBothWays) {
  const std::vector<torch::ScalarType> types = {
      torch::kFloat, torch::kHalf,  torch::kBFloat16, torch::kDouble, torch::kLong,
      torch::kInt,   torch::kShort, torch::kChar,     torch::kByte,   torch::kBool};
  for (torch::ScalarType type : types) {
    const torch::Tensor source = torch::arange(12).reshape({3, 4}).remainder(7).to(type);
    absl::StatusOr<RawTensor> raw = FromTorch(source);
    ASSERT_TRUE(raw.ok()) << raw.status();
    EXPECT_EQ(raw->shape, (std::vector<int64_t>{3, 4}));
    EXPECT_TRUE(ValidateRawTensor(*raw).ok());
    const torch::Tensor back = ToTorch(*raw);
    EXPECT_EQ(back.scalar_type(), type);
    EXPECT_TRUE(torch::equal(back, source)) << c10::toString(type);
  }
}

TEST(StateDictTest, FromTorchMakesViewsContiguous) {
  const torch::Tensor base = torch::arange(6, torch::kFloat).reshape({2, 3});
  absl::StatusOr<RawTensor> raw = FromTorch(base.t());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_TRUE(torch::equal(ToTorch(*raw), base.t()));
  absl::StatusOr<RawTensor> scalar = FromTorch(torch::tensor(2.5));
  ASSERT_TRUE(scalar.ok());
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(ToTorch(*scalar).item<float>(), 2.5f);
}

TEST(StateDictTest, ConversionErrors) {
  EXPECT_EQ(FromTorch(torch::Tensor()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(FromTorch(torch::zeros({2}, torch::kComplexFloat)).status().message(),
              HasSubstr("unsupported dtype"));
  EXPECT_FALSE(FromTorch(torch::eye(3).to_sparse()).ok());
  EXPECT_THROW(ToTorch(RawTensor{DType::kF32, {2}, "abc"}), c10::Error);
  // Any non-zero byte is true, and becomes exactly 1.
  const torch::Tensor flags = ToTorch(RawTensor{DType::kBool, {3}, std::string("\x00\x02\x01", 3)});
  EXPECT_TRUE(torch::equal(flags, torch::tensor({false, true, true})));
  EXPECT_EQ(flags.to(torch::kByte).sum().item<int64_t>(), 2);
}

TEST(StateDictTest, SaveLoadRoundTripKeepsMetadataAndIsAtomic) {
  const std::string tmp = ::ner::testing::MakeTempDir("state_dict_save");
  const std::string path = tmp + "/model.safetensors";
  const TensorMap tensors = {{"w", torch::randn({4, 3}).t()},  // Non-contiguous on purpose.
                             {"b", torch::arange(5, torch::kLong)},
                             {"h", torch::randn({2, 2}).to(torch::kBFloat16)}};
  ASSERT_TRUE(SaveStateDict(path, tensors, {{"epoch", "3"}}).ok());
  absl::StatusOr<TensorMap> loaded = LoadStateDict(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectEqualMaps(tensors, *loaded);
  std::map<std::string, std::string> metadata;
  ASSERT_TRUE(ReadSafetensors(path, &metadata).ok());
  EXPECT_EQ(metadata.at("epoch"), "3");

  // A failing save (unsupported dtype) leaves the previous file as it was.
  const TensorMap bad = {{"z", torch::zeros({2}, torch::kComplexDouble)}};
  absl::Status failed = SaveStateDict(path, bad);
  EXPECT_THAT(failed.message(), HasSubstr("tensor 'z'"));
  absl::StatusOr<TensorMap> still = LoadStateDict(path);
  ASSERT_TRUE(still.ok());
  ExpectEqualMaps(tensors, *still);
}

}  // namespace
}  // namespace ner::model
