#ifndef NER_MODEL_DEVICE_H_
#define NER_MODEL_DEVICE_H_

#include <torch/types.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// Parses "auto" (the first CUDA device when LibTorch has CUDA and a device is present, else the
// CPU), "cpu", "cuda" or "cuda:N". A CUDA device that is absent, or asked of a CPU-only
// LibTorch, is FAILED_PRECONDITION; anything else INVALID_ARGUMENT. Thread-safe.
absl::StatusOr<torch::Device> ParseDevice(absl::string_view spec);

// Parses "float32"/"fp32", "bfloat16"/"bf16", "float16"/"fp16". Thread-safe.
absl::StatusOr<torch::Dtype> ParseDtype(absl::string_view spec);

}  // namespace ner::model

#endif  // NER_MODEL_DEVICE_H_
