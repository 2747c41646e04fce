// `ner convert --model DIR --out DIR --storage_dtype float16`: the same checkpoint with its
// floating-point weights stored in another dtype. float16 halves model.safetensors; loading
// converts the weights back to float32, so only the storage rounding changes (and is reported).

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "model/checkpoint.h"
#include "model/log.h"
#include "nlohmann/json.hpp"
#include "tools/command.h"

ABSL_FLAG(std::string, storage_dtype, "float16",
          "convert: dtype of the stored weights: float16, bfloat16 or float32.");
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, out);

namespace ner::tools {
namespace {

absl::StatusOr<torch::Dtype> ParseStorageDtype(const std::string& name) {
  if (name == "float16") return torch::kFloat16;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float32") return torch::kFloat32;
  return absl::InvalidArgumentError(
      absl::StrCat("--storage_dtype '", name, "': expected float16, bfloat16 or float32"));
}

}  // namespace

absl::Status RunConvert(const std::vector<std::string>& args) {
  const std::string in_dir = absl::GetFlag(FLAGS_model), out_dir = absl::GetFlag(FLAGS_out);
  if (!args.empty() || in_dir.empty() || out_dir.empty()) {
    return absl::InvalidArgumentError(
        "usage: ner convert --model DIR --out DIR [--storage_dtype float16|bfloat16|float32]");
  }
  absl::StatusOr<torch::Dtype> dtype = ParseStorageDtype(absl::GetFlag(FLAGS_storage_dtype));
  if (!dtype.ok()) return dtype.status();
  absl::StatusOr<model::Checkpoint> checkpoint = model::LoadCheckpoint(in_dir);
  if (!checkpoint.ok()) return checkpoint.status();

  torch::NoGradGuard no_grad;
  // The float32 originals and their largest magnitudes, to check the range first and to report
  // the rounding afterwards.
  std::map<std::string, torch::Tensor> original;
  std::map<std::string, double> magnitude;
  int64_t values = 0;
  std::vector<std::string> out_of_range;
  const double limit = *dtype == torch::kFloat16 ? 65504.0 : 3.0e38;
  for (const auto& [name, tensor] : model::ModelTensors(checkpoint->model)) {
    if (!tensor.is_floating_point()) continue;
    original[name] = tensor.detach().to(torch::kFloat32).clone();
    values += tensor.numel();
    if (tensor.numel() == 0) continue;
    magnitude[name] = tensor.abs().max().item<double>();
    if (magnitude[name] > limit) out_of_range.push_back(name);
  }
  if (!out_of_range.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot store as ", absl::GetFlag(FLAGS_storage_dtype), ": values beyond its range (",
        limit, ") in ", absl::StrJoin(out_of_range, ", "), "; nothing written"));
  }

  checkpoint->model->to(*dtype);
  nlohmann::json provenance = nlohmann::json::parse(checkpoint->config.provenance_json, nullptr,
                                                    /*allow_exceptions=*/false);
  if (!provenance.is_object()) provenance = nlohmann::json::object();
  provenance["storage_dtype"] = absl::GetFlag(FLAGS_storage_dtype);
  checkpoint->config.provenance_json = provenance.dump();
  if (absl::Status s = model::SaveCheckpoint(out_dir, *checkpoint); !s.ok()) return s;

  // Read back what was written, as a server would, and measure what the storage changed.
  absl::StatusOr<model::Checkpoint> reloaded = model::LoadCheckpoint(out_dir);
  if (!reloaded.ok()) {
    return absl::InternalError(absl::StrCat("the converted checkpoint in '", out_dir,
                                            "' does not load: ", reloaded.status().message()));
  }
  double largest = 0, largest_relative = 0;
  for (const auto& [name, tensor] : model::ModelTensors(reloaded->model)) {
    auto it = magnitude.find(name);
    if (it == magnitude.end()) continue;
    const double change =
        (tensor.to(torch::kFloat32) - original.at(name)).abs().max().item<double>();
    largest = std::max(largest, change);
    if (it->second > 0) largest_relative = std::max(largest_relative, change / it->second);
  }
  LogInfo(absl::StrFormat(
      "%s: %d floating-point values stored as %s; largest change of a weight %.3g (%.3g of its "
      "tensor's largest magnitude)",
      out_dir, values, absl::GetFlag(FLAGS_storage_dtype), largest, largest_relative));
  return absl::OkStatus();
}

}  // namespace ner::tools
