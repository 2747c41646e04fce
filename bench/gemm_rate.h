#ifndef NER_BENCH_GEMM_RATE_H_
#define NER_BENCH_GEMM_RATE_H_

#include <torch/types.h>

#include <cstdint>

namespace ner::bench {

// The shape of the encoder's largest GEMM at batch 16 x 128 tokens, base size: the FFN's
// intermediate dense, x [2048, 768] times W^T with W [3072, 768] (torch::linear's layout).
inline constexpr int64_t kReferenceGemmM = 2048;
inline constexpr int64_t kReferenceGemmK = 768;
inline constexpr int64_t kReferenceGemmN = 3072;

// Seconds of CPU time used so far by all threads of this process (CLOCK_PROCESS_CPUTIME_ID).
// On a machine shared with other work, FLOPs per CPU-second is the rate the code would reach
// on cores of its own, whereas FLOPs per wall second also measures how many cores the
// neighbours left us. Thread-safe.
double ProcessCpuSeconds();

// A measured FLOP rate, both ways (see ProcessCpuSeconds).
struct GemmRate {
  double flops_per_second = 0;      // per wall-clock second
  double flops_per_cpu_second = 0;  // per second of process CPU time, i.e. per busy core
};

// Measures torch::matmul(x [m, k], w [n, k]^T) in `dtype` on the CPU with the process's current
// intra-op threads: `warmup` untimed runs, then the median rate (2 m k n FLOPs per run) of
// `reps` timed runs, each way. The median, not the best, so that one quiet moment on a shared
// machine does not set the bar. Measures the whole process: run nothing else meanwhile.
GemmRate MeasureGemmRate(torch::Dtype dtype, int64_t m, int64_t k, int64_t n, int warmup,
                         int reps);

// The MFU denominator: MeasureGemmRate of the reference shape in `dtype` (bfloat16, else
// float32) over `reps` timed runs after one warm-up. Call it right before and right after the
// timed code and combine the two (Combine): on a shared machine the load changes within
// seconds, so a rate measured once at start-up would be compared with a different machine.
GemmRate MeasureReferenceGemmRate(torch::Dtype dtype, int reps);

// The mean of two measurements of one rate.
GemmRate Combine(const GemmRate& a, const GemmRate& b);

}  // namespace ner::bench

#endif  // NER_BENCH_GEMM_RATE_H_
