#include "model/device.h"

#include <torch/cuda.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "model/lstm_cpu.h"

namespace ner::model {

absl::StatusOr<torch::Device> ParseDevice(absl::string_view spec) {
  if (spec == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
  if (spec == "cpu") return torch::Device(torch::kCPU);
  int index = 0;
  if (spec == "cuda" || (absl::ConsumePrefix(&spec, "cuda:") && absl::SimpleAtoi(spec, &index) &&
                         index >= 0)) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          "CUDA requested but this LibTorch has no CUDA or no GPU is present");
    }
    if (index >= static_cast<int>(torch::cuda::device_count())) {
      return absl::FailedPreconditionError(absl::StrCat("cuda:", index, " does not exist (",
                                                        torch::cuda::device_count(),
                                                        " device(s))"));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown device '", spec, "' (expected auto, cpu, cuda or cuda:N)"));
}

absl::StatusOr<torch::Dtype> ParseDtype(absl::string_view spec, const torch::Device& device) {
  if (spec == "auto") {
    return device.is_cpu() && lstm_cpu::AmxProductsSupported() ? torch::kBFloat16
                                                               : torch::kFloat32;
  }
  if (spec == "float32" || spec == "fp32") return torch::kFloat32;
  if (spec == "bfloat16" || spec == "bf16") return torch::kBFloat16;
  if (spec == "float16" || spec == "fp16") return torch::kFloat16;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown dtype '", spec, "' (expected float32, bfloat16, float16 or auto)"));
}

}  // namespace ner::model
