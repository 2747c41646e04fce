#include "model/runtime.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/intra_op_threads.h"
#include "model/lstm_cpu.h"

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

// What ConfigureRuntime did to malloc, for the start-up log line.
std::string& MallocSetting() {
  static std::string* setting = new std::string("default");
  return *setting;
}

std::string RetainFreedMemory(bool wanted) {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && absl::StrContains(tunables, "glibc.malloc.")) {
    return absl::StrCat("glibc, from GLIBC_TUNABLES=", tunables);
  }
  if (!wanted) return "glibc defaults";
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 512 << 20;
  // M_MMAP_MAX 0: blocks over the threshold come from the heap too (a 300,007 x 50 embedding's
  // gradient is 60 MB, allocated and freed on every training step). A thread arena cannot hold a
  // block larger than its 64 MiB heap; glibc still maps those.
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 ||
      mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1 || mallopt(M_MMAP_MAX, 0) != 1) {
    return "glibc defaults (mallopt refused the thresholds)";
  }
  return "glibc, mmap threshold 32 MiB (main heap: none), trim threshold 512 MiB";
#else
  (void)wanted;
  return "the C library's defaults";
#endif
}

// The contents of a small file (a cgroup control), or "" when it cannot be read.
std::string ReadSmallFile(const char* path) {
  std::ifstream in(path);
  std::string contents;
  std::getline(in, contents);
  return contents;
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

std::optional<int> CpuLimitFromCgroupCpuMax(absl::string_view contents) {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(contents), ' ', absl::SkipEmpty());
  int64_t quota = 0;
  int64_t period = 0;
  if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &quota) ||
      !absl::SimpleAtoi(fields[1], &period) || quota <= 0 || period <= 0) {
    return std::nullopt;  // "max ..." (no limit) or not a cpu.max file
  }
  return static_cast<int>(std::min<int64_t>((quota + period - 1) / period, 1 << 20));
}

int OnlineCores() {
  static const int cores = [] {
    int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
      n = std::min(n, CPU_COUNT(&set));
    }
    std::optional<int> limit = CpuLimitFromCgroupCpuMax(ReadSmallFile("/sys/fs/cgroup/cpu.max"));
    if (!limit) {  // cgroup v1
      const std::string quota = ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
      const std::string period = ReadSmallFile("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
      limit = CpuLimitFromCgroupCpuMax(absl::StrCat(absl::StripAsciiWhitespace(quota), " ",
                                                    absl::StripAsciiWhitespace(period)));
    }
    if (limit) n = std::min(n, *limit);
    return std::max(1, n);
  }();
  return cores;
}

namespace {
// What ConfigureRuntime chose for serving threads; 0 = not configured (LibTorch's default).
std::atomic<int> serving_intra_op_threads{0};
}  // namespace

void SetThreadIntraOpThreads(int threads) {
  // Consume this thread's lazy initialisation first (it would otherwise re-read the process-wide
  // default at the first parallel operation), then set the thread's own count.
  at::internal::lazy_init_num_threads();
  at::set_num_threads(std::max(1, threads));
}

void UseServingIntraOpThreads() {
  thread_local bool applied = false;
  if (applied) return;
  applied = true;
  const int threads = serving_intra_op_threads.load();
  if (threads > 0) SetThreadIntraOpThreads(threads);
}

absl::Status ConfigureRuntime(const RuntimeOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const int cores = OnlineCores();
  MallocSetting() = RetainFreedMemory(options.retain_freed_memory);
  serving_intra_op_threads = options.intra_op_threads.value_or(cores);
  SetThreadIntraOpThreads(serving_intra_op_threads);
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
  info.cores = OnlineCores();
  info.malloc = MallocSetting();
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = info.cuda_available ? static_cast<int>(torch::cuda::device_count()) : 0;
  info.bf16_products = lstm_cpu::AmxProductsSupported()    ? "AMX tiles"
                       : lstm_cpu::Bf16ProductsSupported() ? "AVX512-BF16"
                                                           : "float32 (no bf16 instructions)";
  return info;
}

std::string DescribeRuntime(const RuntimeInfo& info) {
  return absl::StrCat("LibTorch ", info.torch_version, ", BLAS: ", info.blas,
                      ", intra-op threads: ", info.intra_op_threads, " of ", info.cores,
                      " cores, inter-op threads: ", info.inter_op_threads, ", malloc: ",
                      info.malloc, ", CUDA: ",
                      info.cuda_available ? absl::StrCat(info.cuda_devices, " device(s)") : "no",
                      ", bf16 BiLSTM products: ", info.bf16_products);
}

}  // namespace ner::model
