// The main() of every micro-benchmark binary. Google Benchmark's own flags work as usual
// (--benchmark_filter, --benchmark_out, --benchmark_repetitions, ...); on top of them:
//
//   --ner_threads=N   intra-op threads for LibTorch/OpenBLAS (default: $NER_BENCH_THREADS, else
//                     the number of online cores).
//
// The thread count is set once, before any tensor work, and written into the benchmark context
// (console header and the JSON "context" object) together with the LibTorch/BLAS description, so
// every result file says what it ran on.

#include <ATen/Config.h>
#include <ATen/Context.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "model/runtime.h"

namespace {

constexpr char kThreadsFlag[] = "--ner_threads=";

// Removes --ner_threads=N from argv (so that benchmark::Initialize does not reject it) and
// returns the thread count it or $NER_BENCH_THREADS asks for; std::nullopt = all cores.
// Returns false in *ok for a value that is not a positive integer.
std::optional<int> TakeThreadsFlag(int* argc, char** argv, bool* ok) {
  *ok = true;
  const char* value = std::getenv("NER_BENCH_THREADS");
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (std::strncmp(argv[i], kThreadsFlag, sizeof(kThreadsFlag) - 1) == 0) {
      value = argv[i] + sizeof(kThreadsFlag) - 1;
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  if (value == nullptr || *value == '\0') return std::nullopt;
  int threads = 0;
  if (!absl::SimpleAtoi(value, &threads) || threads < 1) {
    *ok = false;
    return std::nullopt;
  }
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  bool ok = true;
  ner::model::RuntimeOptions options;
  options.intra_op_threads = TakeThreadsFlag(&argc, argv, &ok);
  if (!ok) {
    std::cerr << "--ner_threads / NER_BENCH_THREADS must be a positive integer\n";
    return 2;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  if (absl::Status s = ner::model::ConfigureRuntime(options); !s.ok()) {
    std::cerr << s << "\n";
    return 2;
  }
  const ner::model::RuntimeInfo info = ner::model::GetRuntimeInfo();
  benchmark::AddCustomContext("ner_runtime", ner::model::DescribeRuntime(info));
  benchmark::AddCustomContext("ner_intra_op_threads", absl::StrCat(info.intra_op_threads));
  // Whether bfloat16 matmuls can go to oneDNN (AVX-512 BF16 kernels) instead of ATen's
  // fallback: the main factor in the bf16 / fp32 ratio.
  benchmark::AddCustomContext("ner_mkldnn", at::hasMKLDNN() ? "yes" : "no");
  // glibc malloc settings change the encoder figures several-fold where page faults are dear
  // (docs/performance.md, "Micro-benchmarks"), so every result names them.
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  benchmark::AddCustomContext("GLIBC_TUNABLES", tunables != nullptr ? tunables : "(unset)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
