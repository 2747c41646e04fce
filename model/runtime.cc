#include "model/runtime.h"

#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

// Finds the BLAS shared object mapped into this process and, for OpenBLAS, its build config.
std::string DetectBlas(bool* slow) {
  *slow = false;
  std::string library;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string name = std::filesystem::path(path).filename().string();
    if (absl::StrContains(name, "blas")) {
      std::error_code ec;
      const std::string real = std::filesystem::canonical(path, ec).string();
      library = ec ? path : real;
      if (absl::StrContains(library, "openblas")) break;  // Prefer the OpenBLAS mapping.
    }
  }
  using ConfigFn = char* (*)();
  auto config = reinterpret_cast<ConfigFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  if (config != nullptr) {
    return absl::StrCat("OpenBLAS (", config(), ")", library.empty() ? "" : " at ", library);
  }
  if (library.empty()) return "none found (LibTorch's own kernels)";
  if (absl::StrContains(library, "/blas/")) {
    *slow = true;
    return absl::StrCat("reference BLAS at ", library,
                        " (slow: install libopenblas0-openmp, see scripts/install_deps.sh)");
  }
  return library;
}

}  // namespace

absl::Status RuntimeOptions::Validate() const {
  if (intra_op_threads && *intra_op_threads < 1) {
    return absl::InvalidArgumentError("intra-op threads must be >= 1");
  }
  if (inter_op_threads && *inter_op_threads < 1) {
    return absl::InvalidArgumentError("inter-op threads must be >= 1");
  }
  return absl::OkStatus();
}

absl::Status ConfigureRuntime(const RuntimeOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const int cores = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(options.intra_op_threads.value_or(cores));
  if (options.inter_op_threads) {
    try {
      at::set_num_interop_threads(*options.inter_op_threads);
    } catch (const c10::Error& e) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot set inter-op threads (already started?): ", e.what_without_backtrace()));
    }
  }
  return absl::OkStatus();
}

RuntimeInfo GetRuntimeInfo() {
  RuntimeInfo info;
  info.torch_version = TORCH_VERSION;
  info.blas = DetectBlas(&info.slow_blas);
  info.intra_op_threads = at::get_num_threads();
  info.inter_op_threads = at::get_num_interop_threads();
  info.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  return info;
}

std::string DescribeRuntime(const RuntimeInfo& info) {
  return absl::StrCat("LibTorch ", info.torch_version, ", BLAS: ", info.blas,
                      ", intra-op threads: ", info.intra_op_threads, " of ", info.cores,
                      " cores, inter-op threads: ", info.inter_op_threads, ", CUDA: ",
                      info.cuda_available ? absl::StrCat(info.cuda_devices, " device(s)") : "no");
}

}  // namespace ner::model
