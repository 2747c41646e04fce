#include "model/state_dict.h"

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "model/safetensors.h"
#include "model/torch_pickle.h"

namespace ner::model {
namespace {

namespace fs = std::filesystem;

constexpr std::array<std::pair<DType, torch::ScalarType>, 10> kScalarTypes = {{
    {DType::kF32, torch::kFloat},
    {DType::kF16, torch::kHalf},
    {DType::kBF16, torch::kBFloat16},
    {DType::kF64, torch::kDouble},
    {DType::kI64, torch::kLong},
    {DType::kI32, torch::kInt},
    {DType::kI16, torch::kShort},
    {DType::kI8, torch::kChar},
    {DType::kU8, torch::kByte},
    {DType::kBool, torch::kBool},
}};

torch::ScalarType ToScalarType(DType dtype) {
  for (const auto& [d, s] : kScalarTypes) {
    if (d == dtype) return s;
  }
  return torch::kFloat;  // Unreachable for a valid enumerator.
}

std::optional<DType> FromScalarType(torch::ScalarType type) {
  for (const auto& [d, s] : kScalarTypes) {
    if (s == type) return d;
  }
  return std::nullopt;
}

enum class Format { kSafetensors, kTorchZip };

// Tells the format from the first bytes: a zip local header, or a safetensors length then '{'.
absl::StatusOr<Format> DetectFormat(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open checkpoint '", path, "'"));
  char head[9] = {};
  in.read(head, sizeof(head));
  const std::streamsize got = in.gcount();
  if (got >= 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) return Format::kTorchZip;
  if (got == 9 && head[8] == '{') return Format::kSafetensors;
  if (got >= 2 && head[0] == '\x80' && head[1] == '\x02') {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint '", path,
        "' uses the legacy (non-zip) torch.save format; re-save it with PyTorch >= 1.6"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint '", path, "' is neither safetensors nor a torch.save zip archive"));
}

// Resolves a checkpoint directory to the file in it; a file resolves to itself.
absl::StatusOr<std::string> ResolveCheckpointFile(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    if (!fs::exists(path, error)) {
      return absl::NotFoundError(absl::StrCat("checkpoint '", path, "' does not exist"));
    }
    return path;
  }
  for (const char* name : {"model.safetensors", "pytorch_model.bin"}) {
    const fs::path file = fs::path(path) / name;
    if (fs::is_regular_file(file, error)) return file.string();
  }
  return absl::NotFoundError(absl::StrCat(
      "checkpoint directory '", path, "' holds neither model.safetensors nor pytorch_model.bin"));
}

}  // namespace

torch::Tensor ToTorch(const RawTensor& tensor) {
  const absl::Status valid = ValidateRawTensor(tensor);
  TORCH_CHECK(valid.ok(), "ToTorch: ", std::string(valid.message()));
  torch::Tensor out =
      torch::empty(tensor.shape, torch::TensorOptions().dtype(ToScalarType(tensor.dtype)));
  if (tensor.data.empty()) return out;
  if (tensor.dtype == DType::kBool) {
    // Files may hold any non-zero byte for true; a torch bool must be exactly 0 or 1.
    auto* dst = static_cast<uint8_t*>(out.data_ptr());
    for (size_t i = 0; i < tensor.data.size(); ++i) dst[i] = tensor.data[i] != 0 ? 1 : 0;
  } else {
    std::memcpy(out.data_ptr(), tensor.data.data(), tensor.data.size());
  }
  return out;
}

absl::StatusOr<RawTensor> FromTorch(const torch::Tensor& tensor) {
  if (!tensor.defined()) return absl::InvalidArgumentError("FromTorch: undefined tensor");
  if (tensor.layout() != torch::kStrided) {
    return absl::InvalidArgumentError("FromTorch: only dense (strided) tensors are supported");
  }
  std::optional<DType> dtype = FromScalarType(tensor.scalar_type());
  if (!dtype) {
    return absl::InvalidArgumentError(absl::StrCat(
        "FromTorch: unsupported dtype ", std::string(c10::toString(tensor.scalar_type()))));
  }
  try {
    const torch::Tensor dense = tensor.detach().to(torch::kCPU).contiguous();
    RawTensor raw;
    raw.dtype = *dtype;
    raw.shape = dense.sizes().vec();
    raw.data.assign(static_cast<const char*>(dense.data_ptr()),
                    dense.numel() * dense.element_size());
    return raw;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("FromTorch: ", e.what_without_backtrace()));
  }
}

absl::StatusOr<TensorMap> LoadStateDict(const std::string& path) {
  absl::StatusOr<std::string> file = ResolveCheckpointFile(path);
  if (!file.ok()) return file.status();
  absl::StatusOr<Format> format = DetectFormat(*file);
  if (!format.ok()) return format.status();
  absl::StatusOr<RawTensorMap> raw =
      *format == Format::kSafetensors ? ReadSafetensors(*file) : ReadTorchCheckpoint(*file);
  if (!raw.ok()) return raw.status();
  TensorMap tensors;
  try {
    // Convert one tensor at a time, freeing its bytes, so the peak stays near one copy.
    while (!raw->empty()) {
      auto node = raw->extract(raw->begin());
      tensors.emplace(std::move(node.key()), ToTorch(node.mapped()));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("checkpoint '", *file, "': ", e.what_without_backtrace()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("checkpoint '", *file, "': out of memory converting tensors"));
  }
  return tensors;
}

absl::Status SaveStateDict(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata) {
  RawTensorMap raw;
  for (const auto& [name, tensor] : tensors) {
    absl::StatusOr<RawTensor> converted = FromTorch(tensor);
    if (!converted.ok()) {
      return absl::Status(converted.status().code(),
                          absl::StrCat("cannot save '", path, "': tensor '", name,
                                       "': ", converted.status().message()));
    }
    raw.emplace(name, *std::move(converted));
  }
  return WriteSafetensors(path, raw, metadata);
}

}  // namespace ner::model
