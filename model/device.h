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

// Parses "float32"/"fp32", "bfloat16"/"bf16", "float16"/"fp16", or "auto": bfloat16 where models
// run on a CPU whose bf16 products run on AMX tiles (lstm_cpu::AmxProductsSupported: AMX-BF16
// granted by the OS, NER_AMX not 0), where bf16 measured 2.6x float32 end to end for the default
// model with F1 unchanged (docs/performance.md); float32 on other CPUs and on GPUs. Thread-safe.
absl::StatusOr<torch::Dtype> ParseDtype(absl::string_view spec,
                                        const torch::Device& device = torch::kCPU);

}  // namespace ner::model

#endif  // NER_MODEL_DEVICE_H_
