#ifndef NER_MODEL_RUNTIME_H_
#define NER_MODEL_RUNTIME_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// Process-wide LibTorch settings. LibTorch defaults to one intra-op thread on some machines and
// Debian's build links whichever BLAS the alternatives system selects, so both are set and
// reported explicitly at start-up.
struct RuntimeOptions {
  // Intra-op threads for LibTorch (and OpenMP/OpenBLAS); nullopt = number of online cores.
  std::optional<int> intra_op_threads;
  // Inter-op threads; nullopt leaves LibTorch's default. Can be set once per process only.
  std::optional<int> inter_op_threads;
  // Keep freed blocks in the process: below 32 MiB in every arena (glibc M_MMAP_THRESHOLD), of
  // any size in the main thread's heap (M_MMAP_MAX 0; thread arenas still map blocks larger than
  // their 64 MiB heaps), and return heap memory to the kernel only above 512 MiB free
  // (M_TRIM_THRESHOLD), so that a model's activations and gradients, allocated and freed on every
  // forward or step, are not page-faulted in again each time (the default BiLSTM-CRF served 2.8x
  // faster at batch 64; training with a 300,007-row bigram table ran 14x faster:
  // docs/performance.md). Not applied when $GLIBC_TUNABLES sets malloc options: the operator's
  // choice wins.
  bool retain_freed_memory = true;

  absl::Status Validate() const;
};

// What the process runs on, for the start-up log line.
struct RuntimeInfo {
  std::string torch_version;
  std::string blas;     // e.g. "OpenBLAS (openblas-openmp) 0.3.21 ..." or "reference BLAS ..."
  bool slow_blas = false;  // true when the reference BLAS is in use
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  int cores = 0;
  std::string malloc;  // e.g. "glibc, mmap threshold 32 MiB (main heap: none), trim ..."
  bool cuda_available = false;
  int cuda_devices = 0;
  // What runs the BiLSTM's step products under bf16 (--dtype / --encoder_dtype bfloat16):
  // "AMX tiles", "AVX512-BF16" or "float32 (no bf16 instructions)".
  std::string bf16_products;
};

// The cores this process may use, at least 1: the online cores, fewer when the CPU affinity
// mask (taskset, docker --cpuset-cpus) or a cgroup CPU quota (a container's CPU limit, rounded
// up) allows fewer. Read once per process. Thread-safe.
int OnlineCores();

// The CPU limit in a cgroup v2 `cpu.max` file's contents ("max 100000" -> none,
// "150000 100000" -> 2: quota / period rounded up); nullopt when unlimited or unreadable.
std::optional<int> CpuLimitFromCgroupCpuMax(absl::string_view contents);

// Applies `options`. Call once at start-up, before any tensor work. Not thread-safe.
absl::Status ConfigureRuntime(const RuntimeOptions& options);

// Reads the current settings. Thread-safe.
RuntimeInfo GetRuntimeInfo();

// One line: "LibTorch 1.13.1, BLAS: ..., intra-op threads: 2 of 2 cores, inter-op: 2, CUDA: no".
std::string DescribeRuntime(const RuntimeInfo& info);

}  // namespace ner::model

#endif  // NER_MODEL_RUNTIME_H_
