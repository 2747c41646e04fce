#include "model/torch_pickle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "model/safetensors.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::HasSubstr;
using std::string_literals::operator""s;

// --- Building archives by hand, independently of the reader. ---

std::string LE(uint64_t value, int width) {
  std::string out;
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
  return out;
}

// Bitwise CRC-32, deliberately unlike the reader's table-driven one.
uint32_t BitwiseCrc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

struct ZipFile {
  std::string name;
  std::string data;
  uint16_t method = 0;  // 0 = stored; anything else claims compression.
};

// A zip of `files`; with `zip64`, sizes and offsets go through zip64 records as for huge files.
std::string BuildZip(const std::vector<ZipFile>& files, bool zip64 = false) {
  std::string out, central;
  for (const ZipFile& f : files) {
    const uint64_t offset = out.size();
    const uint32_t crc = BitwiseCrc32(f.data);
    out += LE(0x04034b50, 4) + LE(20, 2) + LE(0, 2) + LE(f.method, 2) + LE(0, 4) + LE(crc, 4) +
           LE(f.data.size(), 4) + LE(f.data.size(), 4) + LE(f.name.size(), 2) + LE(0, 2) + f.name +
           f.data;
    const std::string extra =
        zip64 ? LE(1, 2) + LE(24, 2) + LE(f.data.size(), 8) + LE(f.data.size(), 8) + LE(offset, 8)
              : "";
    const uint64_t small = zip64 ? 0xFFFFFFFFu : f.data.size();
    central += LE(0x02014b50, 4) + LE(45, 2) + LE(45, 2) + LE(0, 2) + LE(f.method, 2) + LE(0, 4) +
               LE(crc, 4) + LE(small, 4) + LE(small, 4) + LE(f.name.size(), 2) +
               LE(extra.size(), 2) + LE(0, 2) + LE(0, 2) + LE(0, 2) + LE(0, 4) +
               LE(zip64 ? 0xFFFFFFFFu : offset, 4) + f.name + extra;
  }
  const uint64_t cd_offset = out.size();
  out += central;
  if (zip64) {
    const uint64_t record = out.size();
    out += LE(0x06064b50, 4) + LE(44, 8) + LE(45, 2) + LE(45, 2) + LE(0, 4) + LE(0, 4) +
           LE(files.size(), 8) + LE(files.size(), 8) + LE(central.size(), 8) + LE(cd_offset, 8);
    out += LE(0x07064b50, 4) + LE(0, 4) + LE(record, 8) + LE(1, 4);
    return out + LE(0x06054b50, 4) + LE(0, 4) + LE(0xFFFF, 2) + LE(0xFFFF, 2) + LE(0xFFFFFFFFu, 4) +
           LE(0xFFFFFFFFu, 4) + LE(0, 2);
  }
  return out + LE(0x06054b50, 4) + LE(0, 4) + LE(files.size(), 2) + LE(files.size(), 2) +
         LE(central.size(), 4) + LE(cd_offset, 4) + LE(0, 2);
}

// Emits pickle opcodes the way torch.save (protocol 2) does.
class Pickle {
 public:
  Pickle() { bytes_ = "\x80\x02"; }
  Pickle& Op(const std::string& op) { return Raw(op); }
  Pickle& Raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  Pickle& Global(const std::string& module, const std::string& name) {
    return Raw("c" + module + "\n" + name + "\n");
  }
  Pickle& Str(const std::string& s) { return Raw("X" + LE(s.size(), 4) + s); }
  Pickle& Int(int64_t v) {
    if (v >= 0 && v < 256) return Raw("K" + LE(v, 1));
    if (v >= 0 && v < 65536) return Raw("M" + LE(v, 2));
    return Raw("\x8a\x08" + LE(static_cast<uint64_t>(v), 8));
  }
  Pickle& Ints(const std::vector<int64_t>& values) {
    Op("(");
    for (int64_t v : values) Int(v);
    return Op("t");
  }
  Pickle& OrderedDict() { return Global("collections", "OrderedDict").Op(")R"); }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()).
  Pickle& Tensor(const std::string& storage_type, const std::string& key, int64_t numel,
                 int64_t offset, const std::vector<int64_t>& size,
                 const std::vector<int64_t>& stride) {
    Global("torch._utils", "_rebuild_tensor_v2").Op("((").Str("storage");
    Global("torch", storage_type).Str(key).Str("cpu").Int(numel).Op("tQ");
    Int(offset).Ints(size).Ints(stride).Op("\x89");
    return OrderedDict().Op("tR");
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

std::string Floats(const std::vector<float>& values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::vector<float> AsFloats(const RawTensor& t) {
  std::vector<float> out(t.data.size() / 4);
  std::memcpy(out.data(), t.data.data(), t.data.size());
  return out;
}

// A torch.save-style archive: `archive/data.pkl`, `archive/data/<key>` and `archive/version`.
std::string Checkpoint(const std::string& pickle,
                       const std::map<std::string, std::string>& storages, bool zip64 = false) {
  std::vector<ZipFile> files = {{"archive/data.pkl", pickle}};
  for (const auto& [key, data] : storages) files.push_back({"archive/data/" + key, data});
  files.push_back({"archive/version", "3\n"});
  return BuildZip(files, zip64);
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
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

// --- Golden files. ---

TEST(TorchPickleTest, GoldenBinMatchesSafetensors) {
  NER_REQUIRE_SHARED(bin, "golden/nezha-tiny/pytorch_model.bin");
  NER_REQUIRE_SHARED(safetensors, "golden/nezha-tiny/model.safetensors");
  absl::StatusOr<RawTensorMap> from_bin = ReadTorchCheckpoint(bin);
  ASSERT_TRUE(from_bin.ok()) << from_bin.status();
  absl::StatusOr<RawTensorMap> from_safetensors = ReadSafetensors(safetensors);
  ASSERT_TRUE(from_safetensors.ok()) << from_safetensors.status();
  ExpectSameTensors(*from_bin, *from_safetensors);
  EXPECT_EQ(from_bin->at("nezha.embeddings.word_embeddings.weight").shape,
            (std::vector<int64_t>{64, 32}));
  for (int layer = 0; layer < 3; ++layer) {
    const std::string name = "nezha.encoder.layer." + std::to_string(layer) +
                             ".attention.self.relative_positions_encoding.positions_encoding";
    ASSERT_EQ(from_bin->count(name), 1u) << name;
    EXPECT_EQ(from_bin->at(name).shape, (std::vector<int64_t>{64, 64, 8}));
  }
  EXPECT_EQ(from_bin->count("nezha.pooler.dense.weight"), 1u);
  EXPECT_EQ(from_bin->at("classifier.weight").shape, (std::vector<int64_t>{7, 32}));
}

TEST(TorchPickleTest, MissingFileIsNotFound) {
  absl::StatusOr<RawTensorMap> read = ReadTorchCheckpoint("/nonexistent/pytorch_model.bin");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(read.status().message(), HasSubstr("/nonexistent/pytorch_model.bin"));
}

// --- Hand-built archives: what the reader must accept. ---

// A state dict covering views, offsets, dtypes and a storage shared through the memo.
std::string SamplePickle() {
  Pickle p;
  p.Global("collections", "OrderedDict").Op("q\x00)R("s);
  p.Str("plain").Global("torch._utils", "_rebuild_tensor_v2").Op("q\x01((").Str("storage");
  p.Global("torch", "FloatStorage").Str("0").Str("cpu").Int(6).Op("tQq\x02");  // Memoized.
  p.Int(0).Ints({2, 3}).Ints({3, 1}).Op("\x89").OrderedDict().Op("tR");
  // A transposed view and an offset view of the same storage, fetched from the memo as torch does.
  p.Str("transposed").Op("h\x01(h\x02").Int(0).Ints({3, 2}).Ints({1, 3}).Op("\x89h\x00)RtR"s);
  p.Str("offset").Op("h\x01(h\x02r\x00\x01\x00\x00"s).Int(4).Ints({2}).Ints({1});
  p.Op("\x89h\x00)RtR"s);
  p.Str("scalar").Op("h\x01(j\x00\x01\x00\x00"s).Int(5).Op(")").Op(")\x89h\x00)RtR"s);
  p.Str("empty").Tensor("FloatStorage", "0", 6, 0, {0, 3}, {3, 1});
  p.Str("half").Tensor("HalfStorage", "1", 2, 0, {2}, {1});
  p.Str("long").Tensor("LongStorage", "2", 1, 0, {1}, {1});
  p.Str("bool").Tensor("BoolStorage", "3", 3, 0, {3}, {1});
  p.Str("bf16").Tensor("BFloat16Storage", "4", 1, 0, {1}, {1});
  return p.Op("u.").bytes();
}

std::map<std::string, std::string> SampleStorages() {
  return {{"0", Floats({0, 1, 2, 3, 4, 5})},
          {"1", std::string("\x00\x3c\x00\x40", 4)},
          {"2", LE(0x123456789, 8)},
          {"3", std::string("\x01\x00\x01", 3)},
          {"4", std::string("\x80\x3f", 2)}};
}

TEST(TorchPickleTest, ReadsViewsDtypesAndSharedStorages) {
  for (bool zip64 : {false, true}) {
    absl::StatusOr<RawTensorMap> t =
        ParseTorchCheckpoint(Checkpoint(SamplePickle(), SampleStorages(), zip64));
    ASSERT_TRUE(t.ok()) << t.status();
    ASSERT_EQ(t->size(), 9u);
    EXPECT_EQ(AsFloats(t->at("plain")), (std::vector<float>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(t->at("plain").shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(AsFloats(t->at("transposed")), (std::vector<float>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(t->at("transposed").shape, (std::vector<int64_t>{3, 2}));
    EXPECT_EQ(AsFloats(t->at("offset")), (std::vector<float>{4, 5}));
    EXPECT_EQ(AsFloats(t->at("scalar")), (std::vector<float>{5}));
    EXPECT_TRUE(t->at("scalar").shape.empty());
    EXPECT_TRUE(t->at("empty").data.empty());
    EXPECT_EQ(t->at("empty").shape, (std::vector<int64_t>{0, 3}));
    EXPECT_EQ(t->at("half").dtype, DType::kF16);
    EXPECT_EQ(t->at("half").data, std::string("\x00\x3c\x00\x40", 4));
    EXPECT_EQ(t->at("long").dtype, DType::kI64);
    EXPECT_EQ(t->at("long").data, LE(0x123456789, 8));
    EXPECT_EQ(t->at("bool").dtype, DType::kBool);
    EXPECT_EQ(t->at("bool").data, std::string("\x01\x00\x01", 3));
    EXPECT_EQ(t->at("bf16").dtype, DType::kBF16);
  }
}

TEST(TorchPickleTest, ReadsPlainDictParametersAndMetadataState) {
  Pickle p;
  p.Op("}(").Str("w").Global("torch._utils", "_rebuild_parameter").Op("(");
  p.Tensor("DoubleStorage", "0", 1, 0, {1}, {1}).Op("\x88").OrderedDict().Op("tR");
  p.Str("b").Tensor("IntStorage", "1", 2, 1, {1}, {1}).Op("u");
  // OrderedDict state such as `_metadata` is dropped.
  p.Op("}").Str("_metadata").Op("}").Str("").Op("}").Str("version").Int(1).Op("sss").Op("b.");
  absl::StatusOr<RawTensorMap> t = ParseTorchCheckpoint(
      Checkpoint(p.bytes(), {{"0", LE(0x3ff0000000000000, 8)}, {"1", LE(7, 4) + LE(9, 4)}}));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->at("w").dtype, DType::kF64);
  double w = 0;
  std::memcpy(&w, t->at("w").data.data(), 8);
  EXPECT_EQ(w, 1.0);
  EXPECT_EQ(t->at("b").data, LE(9, 4));
}

// --- What it must refuse, with a message that says why. ---

struct BadCase {
  std::string name;
  std::string archive;
  std::string error;
};

std::string OneTensor(const std::string& storage_type, int64_t numel, int64_t offset,
                      const std::vector<int64_t>& size, const std::vector<int64_t>& stride,
                      const std::string& storage) {
  Pickle p;
  p.OrderedDict().Op("(").Str("t").Tensor(storage_type, "0", numel, offset, size, stride);
  return Checkpoint(p.Op("u.").bytes(), {{"0", storage}});
}

TEST(TorchPickleTest, RefusesMaliciousAndMalformedInput) {
  const std::string four = Floats({1, 2, 3, 4});
  const std::string valid = OneTensor("FloatStorage", 4, 0, {4}, {1}, four);
  ASSERT_TRUE(ParseTorchCheckpoint(valid).ok());
  auto pickled = [](const std::string& pickle) { return Checkpoint(pickle, {}); };
  std::string bad_crc = valid;
  bad_crc[valid.find("data.pkl") + 8 + 5] ^= 1;  // A byte inside the pickle.
  std::string compressed = BuildZip({{"archive/data.pkl", Pickle().Op("}.").bytes(), 8}});

  const std::vector<BadCase> cases = {
      {"os_system", pickled(Pickle().Global("os", "system").Str("echo hi").Op("\x85R.").bytes()),
       "refusing global 'os.system'"},
      {"stack_global_eval", pickled(Pickle().Str("builtins").Str("eval").Op("\x93").bytes()),
       "'builtins.eval'"},
      {"rebuild_qtensor", pickled(Pickle().Global("torch._utils", "_rebuild_qtensor").bytes()),
       "refusing global"},
      {"root_not_dict", pickled(Pickle().Op("].").bytes()), "holds a list"},
      {"value_not_tensor", pickled(Pickle().Op("}").Str("epoch").Int(3).Op("s.").bytes()),
       "'epoch' is a int"},
      {"key_not_string", pickled(Pickle().Op("}").Int(3).Int(3).Op("s.").bytes()), "key is a int"},
      {"missing_storage",
       Checkpoint(Pickle()
                      .OrderedDict()
                      .Op("(")
                      .Str("t")
                      .Tensor("FloatStorage", "7", 1, 0, {1}, {1})
                      .Op("u.")
                      .bytes(),
                  {}),
       "storage 'archive/data/7' is missing"},
      {"storage_too_small", OneTensor("FloatStorage", 8, 0, {4}, {1}, four), "not the 8 elements"},
      {"view_past_storage", OneTensor("FloatStorage", 4, 1, {4}, {1}, four), "reaches element 4"},
      {"stride_past_storage", OneTensor("FloatStorage", 4, 0, {2, 2}, {3, 1}, four), "reaches"},
      {"negative_stride", OneTensor("FloatStorage", 4, 3, {4}, {-1}, four), "stride"},
      {"negative_size", OneTensor("FloatStorage", 4, 0, {-4}, {1}, four), "negative"},
      {"negative_offset", OneTensor("FloatStorage", 4, -1, {1}, {1}, four), "negative"},
      {"stride0_bomb", OneTensor("FloatStorage", 4, 0, {1 << 20, 1 << 20}, {0, 0}, four),
       "would total"},
      {"size_stride_mismatch", OneTensor("FloatStorage", 4, 0, {4}, {1, 1}, four), "equal length"},
      {"unknown_storage", OneTensor("ComplexFloatStorage", 4, 0, {4}, {1}, four),
       "'torch.ComplexFloatStorage'"},
      {"unsupported_opcode", pickled(Pickle().Op("S'x'\n.").bytes()), "opcode 0x53"},
      {"no_stop", pickled(Pickle().Op("}").bytes()), "unexpected end"},
      {"unset_memo", pickled(Pickle().Op("h\x05.").bytes()), "memo entry 5"},
      {"empty_stack", pickled(Pickle().Op("0.").bytes()), "empty stack"},
      {"pop_past_mark", pickled(Pickle().Op("}(s.").bytes()), "empty stack"},
      {"no_mark", pickled(Pickle().Op("t.").bytes()), "MARK"},
      {"reduce_non_global", pickled(Pickle().Op("))R.").bytes()), "REDUCE"},
      {"huge_long", pickled(Pickle().Op("\x8a\x09").Raw(std::string(9, '\1')).Op(".").bytes()),
       "exceeds int64"},
      {"huge_string", pickled(Pickle().Op("X").Raw(LE(0xFFFFFFFF, 4)).bytes()), "unexpected end"},
      {"bad_crc", bad_crc, "CRC mismatch"},
      {"compressed", compressed, "compressed (method 8)"},
      {"no_data_pkl", BuildZip({{"archive/other.pkl", "."}}), "no <dir>/data.pkl"},
      {"two_data_pkl", BuildZip({{"a/data.pkl", "."}, {"b/data.pkl", "."}}), "more than one"},
      {"duplicate_entry", BuildZip({{"a/data.pkl", "."}, {"a/data.pkl", "."}}), "twice"},
      {"big_endian", BuildZip({{"a/data.pkl", "}."}, {"a/byteorder", "big"}}), "byte order"},
      {"not_zip", std::string(100, 'x'), "end-of-central-directory"},
      {"legacy", std::string("\x80\x02\x8a\x0a", 4), "legacy"},
      {"empty", "", "too short"},
  };
  for (const BadCase& c : cases) {
    absl::StatusOr<RawTensorMap> parsed = ParseTorchCheckpoint(c.archive);
    ASSERT_FALSE(parsed.ok()) << c.name;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.error)) << c.name;
  }
}

// --- Corruption: errors or (for bytes nothing reads) the same tensors; never a crash. ---

TEST(TorchPickleTest, GoldenTruncationsFail) {
  NER_REQUIRE_SHARED(path, "golden/nezha-tiny/pytorch_model.bin");
  const std::string bytes = ReadBytes(path);
  for (size_t length = 0; length < bytes.size(); length += 1 + length / 6) {
    EXPECT_FALSE(ParseTorchCheckpoint(std::string_view(bytes).substr(0, length)).ok()) << length;
  }
  for (size_t cut = 1; cut < 64; ++cut) {
    EXPECT_FALSE(ParseTorchCheckpoint(std::string_view(bytes).substr(0, bytes.size() - cut)).ok());
  }
}

TEST(TorchPickleTest, GoldenByteFlipsFailOrChangeNothing) {
  NER_REQUIRE_SHARED(path, "golden/nezha-tiny/pytorch_model.bin");
  const std::string original = ReadBytes(path);
  absl::StatusOr<RawTensorMap> expected = ParseTorchCheckpoint(original);
  ASSERT_TRUE(expected.ok());
  // Structure lives in the first local header, the central directory and the end record: flip
  // there densely, elsewhere (pickle and tensor bytes, which the CRC guards) sparsely.
  uint32_t central = 0;
  std::memcpy(&central, original.data() + original.size() - 22 + 16, 4);
  ASSERT_LT(central, original.size());
  std::vector<size_t> positions;
  for (size_t i = 0; i < original.size(); ++i) {
    const bool dense = i < 128 || (i >= central && i % 16 == 0);
    if (dense || i % 4099 == 0) positions.push_back(i);
  }
  std::mt19937 rng(42);
  int errors = 0;
  for (size_t i : positions) {
    std::string bytes = original;
    bytes[i] ^= static_cast<char>(1 + rng() % 255);
    absl::StatusOr<RawTensorMap> parsed = ParseTorchCheckpoint(bytes);
    if (!parsed.ok()) {
      ++errors;
      continue;
    }
    ExpectSameTensors(*expected, *parsed);
    if (::testing::Test::HasFailure()) FAIL() << "flip at byte " << i << " changed the tensors";
  }
  EXPECT_GT(errors, static_cast<int>(positions.size() / 2));
}

// Every byte of a small archive, plain and zip64: a flip fails or changes nothing.
TEST(TorchPickleTest, ArchiveByteFlipsFailOrChangeNothing) {
  for (bool zip64 : {false, true}) {
    const std::string original = Checkpoint(SamplePickle(), SampleStorages(), zip64);
    absl::StatusOr<RawTensorMap> expected = ParseTorchCheckpoint(original);
    ASSERT_TRUE(expected.ok()) << expected.status();
    for (size_t i = 0; i < original.size(); ++i) {
      for (char mask : {'\x01', '\x80', '\xff'}) {
        std::string bytes = original;
        bytes[i] ^= mask;
        absl::StatusOr<RawTensorMap> parsed = ParseTorchCheckpoint(bytes);
        if (!parsed.ok()) continue;
        ExpectSameTensors(*expected, *parsed);
        if (::testing::Test::HasFailure()) FAIL() << "flip at byte " << i << " changed tensors";
      }
    }
  }
}

// The pickle machine itself, behind valid CRCs: every prefix fails; random edits, insertions
// and deletions never crash and never yield a tensor that breaks its invariant.
TEST(TorchPickleTest, PickleCorruptionNeverCrashes) {
  const std::string pickle = SamplePickle();
  const std::map<std::string, std::string> storages = SampleStorages();
  for (size_t length = 0; length < pickle.size(); ++length) {
    EXPECT_FALSE(ParseTorchCheckpoint(Checkpoint(pickle.substr(0, length), storages)).ok())
        << length;
  }
  std::mt19937 rng(7);
  int errors = 0;
  constexpr int kTrials = 10000;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string edited = pickle;
    for (int k = 0; k <= trial % 3; ++k) {
      const size_t at = rng() % edited.size();
      const char byte = static_cast<char>(rng() % 256);
      switch (rng() % 4) {
        case 0:
          edited.insert(at, 1, byte);
          break;
        case 1:
          edited.erase(at, 1);
          break;
        default:
          edited[at] = byte;
      }
      if (edited.empty()) edited = ".";
    }
    absl::StatusOr<RawTensorMap> parsed = ParseTorchCheckpoint(Checkpoint(edited, storages));
    if (!parsed.ok()) {
      ++errors;
      continue;
    }
    for (const auto& [name, tensor] : *parsed) EXPECT_TRUE(ValidateRawTensor(tensor).ok());
  }
  EXPECT_GT(errors, kTrials / 2);
}

}  // namespace
}  // namespace ner::model
