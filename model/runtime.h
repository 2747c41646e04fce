#ifndef NER_MODEL_RUNTIME_H_
#define NER_MODEL_RUNTIME_H_

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace ner::model {

// Process-wide LibTorch settings. LibTorch defaults to one intra-op thread on some machines and
// Debian's build links whichever BLAS the alternatives system selects, so both are set and
// reported explicitly at start-up.
struct RuntimeOptions {
  // Intra-op threads for LibTorch (and OpenMP/OpenBLAS); nullopt = number of online cores.
  std::optional<int> intra_op_threads;
  // Inter-op threads; nullopt leaves LibTorch's default. Can be set once per process only.
  std::optional<int> inter_op_threads;

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
  bool cuda_available = false;
  int cuda_devices = 0;
};

// Applies `options`. Call once at start-up, before any tensor work. Not thread-safe.
absl::Status ConfigureRuntime(const RuntimeOptions& options);

// Reads the current settings. Thread-safe.
RuntimeInfo GetRuntimeInfo();

// One line: "LibTorch 1.13.1, BLAS: ..., intra-op threads: 2 of 2 cores, inter-op: 2, CUDA: no".
std::string DescribeRuntime(const RuntimeInfo& info);

}  // namespace ner::model

#endif  // NER_MODEL_RUNTIME_H_
