#include "model/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "model/raw_tensor.h"
#include "nlohmann/json.hpp"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

RawTensor Make(DType dtype, std::vector<int64_t> shape, uint8_t seed) {
  RawTensor t{dtype, std::move(shape), {}};
  t.data.resize(static_cast<size_t>(*CheckedByteSize(t.shape, dtype)));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<char>(seed + 7 * i);
  if (dtype == DType::kBool) {
    for (char& c : t.data) c = static_cast<char>(c & 1);
  }
  return t;
}

// Every dtype, a scalar and an empty tensor, in an order that exercises the alignment sort.
RawTensorMap SampleTensors() {
  return {{"a.bool", Make(DType::kBool, {3}, 1)},     {"b.u8", Make(DType::kU8, {2, 3}, 2)},
          {"c.i8", Make(DType::kI8, {5}, 3)},         {"d.f16", Make(DType::kF16, {3, 1}, 4)},
          {"e.bf16", Make(DType::kBF16, {2, 2}, 5)},  {"f.i16", Make(DType::kI16, {1}, 6)},
          {"g.f32", Make(DType::kF32, {4, 8}, 7)},    {"h.i32", Make(DType::kI32, {}, 8)},
          {"i.f64", Make(DType::kF64, {3}, 9)},       {"j.i64", Make(DType::kI64, {2, 1, 2}, 10)},
          {"k.empty", Make(DType::kF32, {0, 4}, 11)}, {"z.last", Make(DType::kF32, {2}, 12)}};
}

void ExpectSameTensors(const RawTensorMap& a, const RawTensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    auto it = b.find(name);
    ASSERT_NE(it, b.end()) << name;
    EXPECT_EQ(tensor.dtype, it->second.dtype) << name;
    EXPECT_EQ(tensor.shape, it->second.shape) << name;
    EXPECT_TRUE(tensor.data == it->second.data) << name << ": data differs";
  }
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// An 8-byte length, then `header` verbatim, then `data_size` zero bytes.
std::string WithHeader(const std::string& header, size_t data_size) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + std::string(data_size, '\0');
}

TEST(DTypeTest, NamesAndSizesRoundTrip) {
  for (DType dtype : {DType::kF32, DType::kF16, DType::kBF16, DType::kF64, DType::kI64, DType::kI32,
                      DType::kI16, DType::kI8, DType::kU8, DType::kBool}) {
    EXPECT_EQ(DTypeFromName(DTypeName(dtype)), dtype);
  }
  EXPECT_EQ(DTypeName(DType::kBF16), "BF16");
  EXPECT_EQ(DTypeSize(DType::kBF16), 2);
  EXPECT_EQ(DTypeSize(DType::kI64), 8);
  EXPECT_EQ(DTypeFromName("f32"), std::nullopt);
  EXPECT_EQ(DTypeFromName("U16"), std::nullopt);
  EXPECT_EQ(CheckedNumel({int64_t{1} << 40, int64_t{1} << 40}), std::nullopt);
  EXPECT_EQ(CheckedByteSize({int64_t{1} << 61}, DType::kF64), std::nullopt);
  EXPECT_EQ(CheckedNumel({}), 1);
  EXPECT_FALSE(ValidateRawTensor(RawTensor{DType::kF32, {2}, "abc"}).ok());
}

TEST(SafetensorsTest, GoldenNezhaTiny) {
  NER_REQUIRE_SHARED(path, "golden/nezha-tiny/model.safetensors");
  std::map<std::string, std::string> metadata = {{"stale", "entry"}};
  absl::StatusOr<RawTensorMap> tensors = ReadSafetensors(path, &metadata);
  ASSERT_TRUE(tensors.ok()) << tensors.status();
  EXPECT_TRUE(metadata.empty());
  EXPECT_EQ(tensors->size(), 59u);
  const RawTensor& words = tensors->at("nezha.embeddings.word_embeddings.weight");
  EXPECT_EQ(words.dtype, DType::kF32);
  EXPECT_EQ(words.shape, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(
      tensors
          ->at(
              "nezha.encoder.layer.2.attention.self.relative_positions_encoding.positions_encoding")
          .shape,
      (std::vector<int64_t>{64, 64, 8}));
  for (const auto& [name, tensor] : *tensors) EXPECT_TRUE(ValidateRawTensor(tensor).ok()) << name;
}

TEST(SafetensorsTest, RoundTripIsBitExactWithMetadata) {
  const std::string dir = ::ner::testing::MakeTempDir("safetensors_roundtrip");
  const std::string path = dir + "/model.safetensors";
  const RawTensorMap tensors = SampleTensors();
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "\xe4\xb8\xad"}};
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata).ok());
  std::map<std::string, std::string> read_metadata;
  absl::StatusOr<RawTensorMap> read = ReadSafetensors(path, &read_metadata);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameTensors(tensors, *read);
  EXPECT_EQ(read_metadata, metadata);
  // The file is what SerializeSafetensors produces, and nothing is left beside it.
  absl::StatusOr<std::string> bytes = SerializeSafetensors(tensors, metadata);
  ASSERT_TRUE(bytes.ok());
  EXPECT_TRUE(ReadBytes(path) == *bytes);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(SafetensorsTest, SerializedLayoutIsAligned) {
  absl::StatusOr<std::string> bytes = SerializeSafetensors(SampleTensors());
  ASSERT_TRUE(bytes.ok());
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes->data(), 8);
  EXPECT_EQ(header_size % 8, 0u);
  const auto header = nlohmann::json::parse(bytes->substr(8, header_size));
  for (const auto& [name, info] : header.items()) {
    const int size = DTypeSize(*DTypeFromName(info["dtype"].get<std::string>()));
    EXPECT_EQ(info["data_offsets"][0].get<int64_t>() % size, 0) << name;
  }
}

TEST(SafetensorsTest, RejectsBadTensorsOnWrite) {
  RawTensorMap bad_size = {{"x", RawTensor{DType::kF32, {2}, "abc"}}};
  EXPECT_THAT(SerializeSafetensors(bad_size).status().message(), HasSubstr("tensor 'x'"));
  RawTensorMap reserved = {{"__metadata__", Make(DType::kU8, {1}, 0)}};
  EXPECT_FALSE(SerializeSafetensors(reserved).ok());
  RawTensorMap bad_utf8 = {{"\xff\xfe", Make(DType::kU8, {1}, 0)}};
  EXPECT_FALSE(SerializeSafetensors(bad_utf8).ok());
}

TEST(SafetensorsTest, FailedWriteLeavesPreviousFileIntact) {
  const std::string dir = ::ner::testing::MakeTempDir("safetensors_atomic");
  const std::string path = dir + "/model.safetensors";
  const RawTensorMap original = {{"w", Make(DType::kF32, {4}, 1)}};
  ASSERT_TRUE(WriteSafetensors(path, original).ok());

  // Invalid input: rejected before the disk is touched.
  RawTensorMap bad = {{"w", RawTensor{DType::kF32, {4}, "short"}}};
  EXPECT_FALSE(WriteSafetensors(path, bad).ok());
  // Missing directory: the temporary file cannot be created.
  absl::Status missing = WriteSafetensors(dir + "/no/such/dir/m.safetensors", original);
  EXPECT_THAT(missing.message(), HasSubstr("no/such/dir"));
  // Rename fails (the target is a non-empty directory): the temporary file must be removed.
  fs::create_directories(dir + "/occupied/child");
  absl::Status rename = WriteSafetensors(dir + "/occupied", original);
  EXPECT_THAT(rename.message(), HasSubstr("cannot rename"));

  absl::StatusOr<RawTensorMap> read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ExpectSameTensors(original, *read);
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST(SafetensorsTest, MissingFileIsNotFound) {
  absl::StatusOr<RawTensorMap> read = ReadSafetensors("/nonexistent/model.safetensors");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr("/nonexistent/model.safetensors"));
}

struct CorruptCase {
  std::string name;
  std::string bytes;
  std::string error;  // A substring of the expected message.
};

TEST(SafetensorsTest, RejectsMalformedHeaders) {
  const std::string f32 = R"("dtype":"F32","shape":[2],"data_offsets":)";
  std::string huge(8, '\xff');
  huge[7] = 0;
  const std::vector<CorruptCase> cases = {
      {"short", "abc", "less than the 8-byte"},
      {"huge_length", huge + "{}", "exceeds the limit"},
      {"length_past_end", WithHeader("{}", 0).substr(0, 9), "exceeds the"},
      {"bad_json", WithHeader("{\"a\":", 0), "not valid JSON"},
      {"not_object", WithHeader("[1,2]", 0), "not a JSON object"},
      {"entry_not_object", WithHeader(R"({"a":3})", 0), "not a JSON object"},
      {"missing_dtype", WithHeader(R"({"a":{"shape":[],"data_offsets":[0,4]}})", 4), "\"dtype\""},
      {"missing_offsets", WithHeader(R"({"a":{"dtype":"F32","shape":[]}})", 4), "data_offsets"},
      {"unknown_dtype", WithHeader(R"({"a":{"dtype":"F8","shape":[],"data_offsets":[0,1]}})", 1),
       "unsupported dtype"},
      {"dtype_not_string", WithHeader(R"({"a":{"dtype":4,"shape":[],"data_offsets":[0,4]}})", 4),
       "not a string"},
      {"negative_dim", WithHeader(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0),
       "shape dim"},
      {"float_dim", WithHeader(R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4),
       "shape dim"},
      {"shape_overflow",
       WithHeader(R"({"a":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
                  8),
       "overflows"},
      {"offsets_past_end", WithHeader("{\"a\":{" + f32 + "[0,8]}}", 7), "run past"},
      {"offsets_reversed", WithHeader("{\"a\":{" + f32 + "[8,0]}}", 8), "bad data_offsets"},
      {"offsets_negative", WithHeader("{\"a\":{" + f32 + "[-8,0]}}", 8), "bad data_offsets"},
      {"offsets_triple", WithHeader("{\"a\":{" + f32 + "[0,4,8]}}", 8), "pair"},
      {"offsets_huge",
       WithHeader("{\"a\":{" + f32 + "[18446744073709551615,18446744073709551615]}}", 8),
       "bad data_offsets"},
      {"wrong_dtype_size", WithHeader("{\"a\":{" + f32 + "[0,6]}}", 8), "need 8"},
      {"overlap", WithHeader("{\"a\":{" + f32 + "[0,8]},\"b\":{" + f32 + "[4,12]}}", 12),
       "overlap"},
      {"metadata_not_object", WithHeader(R"({"__metadata__":[1]})", 0), "__metadata__"},
      {"metadata_not_string", WithHeader(R"({"__metadata__":{"k":1}})", 0), "'k'"},
      {"too_deep", WithHeader(std::string(100, '[') + std::string(100, ']'), 0), "too deep"},
      {"invalid_utf8", WithHeader("{\"\xff\":{" + f32 + "[0,8]}}", 8), "not valid JSON"},
  };
  for (const CorruptCase& c : cases) {
    absl::StatusOr<RawTensorMap> parsed = ParseSafetensors(c.bytes);
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.error)) << c.name;
  }
}

TEST(SafetensorsTest, AcceptsGapsPaddingAndAnyOrder) {
  const std::string f32 = R"("dtype":"F32","shape":[1],"data_offsets":)";
  const std::string bytes =
      WithHeader("{\"b\":{" + f32 + "[8,12]},\"a\":{" + f32 + "[0,4]}}   ", 16);
  absl::StatusOr<RawTensorMap> parsed = ParseSafetensors(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 2u);
}

TEST(SafetensorsTest, EveryTruncationFails) {
  absl::StatusOr<std::string> bytes = SerializeSafetensors(SampleTensors(), {{"k", "v"}});
  ASSERT_TRUE(bytes.ok());
  for (size_t length = 0; length < bytes->size(); ++length) {
    EXPECT_FALSE(ParseSafetensors(std::string_view(*bytes).substr(0, length)).ok()) << length;
  }
}

TEST(SafetensorsTest, GoldenTruncationsFail) {
  NER_REQUIRE_SHARED(path, "golden/nezha-tiny/model.safetensors");
  const std::string bytes = ReadBytes(path);
  for (size_t length = 0; length < bytes.size(); length += 1 + length / 8) {
    EXPECT_FALSE(ParseSafetensors(std::string_view(bytes).substr(0, length)).ok()) << length;
  }
  EXPECT_FALSE(ParseSafetensors(std::string_view(bytes).substr(0, bytes.size() - 1)).ok());
}

// Random corruption must give an error or tensors that satisfy their invariant, never a crash
// (run under NER_ENABLE_ASAN to also catch silent out-of-bounds reads).
TEST(SafetensorsTest, RandomCorruptionNeverCrashes) {
  absl::StatusOr<std::string> original = SerializeSafetensors(SampleTensors(), {{"k", "v"}});
  ASSERT_TRUE(original.ok());
  uint64_t header = 0;
  std::memcpy(&header, original->data(), 8);
  std::mt19937 rng(1234);
  int failures = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string bytes = *original;
    const int flips = 1 + trial % 4;
    for (int k = 0; k < flips; ++k) {
      // Mostly the length and header, where the structure is.
      const size_t limit = trial % 5 == 0 ? bytes.size() : 8 + header;
      bytes[rng() % limit] ^= static_cast<char>(1 + rng() % 255);
    }
    absl::StatusOr<RawTensorMap> parsed = ParseSafetensors(bytes);
    if (!parsed.ok()) {
      ++failures;
      continue;
    }
    for (const auto& [name, tensor] : *parsed) EXPECT_TRUE(ValidateRawTensor(tensor).ok());
  }
  EXPECT_GT(failures, 1000);  // Most header corruption must be caught.
}

}  // namespace
}  // namespace ner::model
