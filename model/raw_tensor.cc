#include "model/raw_tensor.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ner::model {
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  int size;
};

constexpr std::array<DTypeInfo, 10> kDTypes = {{
    {DType::kF32, "F32", 4},
    {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2},
    {DType::kF64, "F64", 8},
    {DType::kI64, "I64", 8},
    {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},
    {DType::kI8, "I8", 1},
    {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
}};

const DTypeInfo& Info(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  return kDTypes[0];  // Unreachable for a valid enumerator.
}

}  // namespace

int DTypeSize(DType dtype) { return Info(dtype).size; }

std::string_view DTypeName(DType dtype) { return Info(dtype).name; }

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  return std::nullopt;
}

int64_t RawTensor::numel() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

std::optional<int64_t> CheckedNumel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t dim : shape) {
    if (dim < 0 || __builtin_mul_overflow(n, dim, &n)) return std::nullopt;
  }
  return n;
}

std::optional<int64_t> CheckedByteSize(const std::vector<int64_t>& shape, DType dtype) {
  std::optional<int64_t> n = CheckedNumel(shape);
  int64_t bytes = 0;
  if (!n || __builtin_mul_overflow(*n, int64_t{DTypeSize(dtype)}, &bytes)) return std::nullopt;
  return bytes;
}

absl::Status ValidateRawTensor(const RawTensor& tensor) {
  std::optional<int64_t> expected = CheckedByteSize(tensor.shape, tensor.dtype);
  if (!expected) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid shape [", absl::StrJoin(tensor.shape, ", "), "]: a negative dim or too large"));
  }
  if (tensor.data.size() != static_cast<uint64_t>(*expected)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor of dtype ", std::string(DTypeName(tensor.dtype)), " and shape [",
                     absl::StrJoin(tensor.shape, ", "), "] needs ", *expected, " bytes but holds ",
                     tensor.data.size()));
  }
  return absl::OkStatus();
}

}  // namespace ner::model
