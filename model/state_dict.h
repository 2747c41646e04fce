#ifndef NER_MODEL_STATE_DICT_H_
#define NER_MODEL_STATE_DICT_H_

// Whole state dicts as LibTorch tensors: loading from safetensors or torch.save checkpoints and
// saving to safetensors, plus the RawTensor <-> torch::Tensor conversions. This is the boundary
// between the torch-free file formats and LibTorch: c10::Error never escapes it.

#include <torch/types.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/raw_tensor.h"

namespace ner::model {

// Named tensors, sorted by name.
using TensorMap = std::map<std::string, torch::Tensor>;

// Returns a new CPU tensor holding a copy of `tensor` (BOOL bytes are normalized to 0/1).
// Precondition: ValidateRawTensor(tensor) is OK, as every reader guarantees; otherwise throws
// c10::Error. Thread-safe.
torch::Tensor ToTorch(const RawTensor& tensor);

// Copies `tensor` (any device, any layout of strides) into a contiguous RawTensor.
// INVALID_ARGUMENT for an undefined or sparse tensor or a dtype RawTensor lacks (complex,
// quantized, unsigned 16+ bits); INTERNAL if LibTorch fails. Thread-safe.
absl::StatusOr<RawTensor> FromTorch(const torch::Tensor& tensor);

// Loads a state dict onto the CPU. `path` is either a file, recognised by its first bytes (not
// its extension) as safetensors or a torch.save zip, or a directory holding `model.safetensors`
// (preferred) or `pytorch_model.bin`. NOT_FOUND when nothing is there; the readers' errors
// otherwise, with the path named. Thread-safe.
absl::StatusOr<TensorMap> LoadStateDict(const std::string& path);

// Saves `tensors` and the string `metadata` as a safetensors file at `path`, atomically (see
// WriteSafetensors): on failure a previous file at `path` is left intact. Thread-safe for
// distinct paths.
absl::Status SaveStateDict(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace ner::model

#endif  // NER_MODEL_STATE_DICT_H_
