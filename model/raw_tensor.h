#ifndef NER_MODEL_RAW_TENSOR_H_
#define NER_MODEL_RAW_TENSOR_H_

// A torch-free tensor: what checkpoint readers and writers exchange. Keeping LibTorch out of the
// file-format code lets it compile fast, be fuzzed alone and be tested without a device.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace ner::model {

// Element types understood by the checkpoint formats. The names follow safetensors.
enum class DType { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// Returns the size of one element in bytes (kBool is one byte, 0 or 1).
int DTypeSize(DType dtype);

// Returns the safetensors spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8",
// "BOOL".
std::string_view DTypeName(DType dtype);

// Parses a safetensors dtype name (exact, case-sensitive); std::nullopt for anything else.
std::optional<DType> DTypeFromName(std::string_view name);

// A dense tensor in host memory.
// Invariant (checked by ValidateRawTensor): every dim >= 0 and
// data.size() == numel() * DTypeSize(dtype); `data` holds the elements contiguous, row-major,
// little-endian. An empty `shape` is a scalar with one element.
struct RawTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::string data;

  // Returns the product of `shape` (1 for a scalar). Only meaningful for a validated shape: the
  // result is unspecified when a dim is negative or the product overflows int64.
  int64_t numel() const;
};

// Named tensors, sorted by name, as in a PyTorch state dict.
using RawTensorMap = std::map<std::string, RawTensor>;

// Returns the element count of `shape`, or std::nullopt when a dim is negative or the count
// overflows int64.
std::optional<int64_t> CheckedNumel(const std::vector<int64_t>& shape);

// Returns the byte size of a `dtype` tensor of `shape`, or std::nullopt when a dim is negative or
// the size overflows int64.
std::optional<int64_t> CheckedByteSize(const std::vector<int64_t>& shape, DType dtype);

// Returns OK when `tensor` satisfies the RawTensor invariant, else INVALID_ARGUMENT saying why.
absl::Status ValidateRawTensor(const RawTensor& tensor);

}  // namespace ner::model

#endif  // NER_MODEL_RAW_TENSOR_H_
