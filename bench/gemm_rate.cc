#include "bench/gemm_rate.h"

#include <time.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace ner::bench {
namespace {

double Median(std::vector<double> values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

}  // namespace

double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

GemmRate MeasureGemmRate(torch::Dtype dtype, int64_t m, int64_t k, int64_t n, int warmup,
                         int reps) {
  torch::InferenceMode inference;
  const auto options = torch::TensorOptions().dtype(dtype);
  const torch::Tensor x = torch::randn({m, k}, options);
  const torch::Tensor w = torch::randn({n, k}, options);
  for (int i = 0; i < warmup; ++i) torch::matmul(x, w.t());
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(k) *
                       static_cast<double>(n);
  std::vector<double> wall_rates, cpu_rates;
  for (int i = 0; i < std::max(1, reps); ++i) {
    const auto wall_start = std::chrono::steady_clock::now();
    const double cpu_start = ProcessCpuSeconds();
    const torch::Tensor y = torch::matmul(x, w.t());
    const double cpu = ProcessCpuSeconds() - cpu_start;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    wall_rates.push_back(flops / wall);
    cpu_rates.push_back(flops / cpu);
  }
  return {Median(wall_rates), Median(cpu_rates)};
}

GemmRate MeasureReferenceGemmRate(torch::Dtype dtype, int reps) {
  return MeasureGemmRate(dtype == torch::kBFloat16 ? torch::kBFloat16 : torch::kFloat32,
                         kReferenceGemmM, kReferenceGemmK, kReferenceGemmN, /*warmup=*/1, reps);
}

GemmRate Combine(const GemmRate& a, const GemmRate& b) {
  return {(a.flops_per_second + b.flops_per_second) / 2,
          (a.flops_per_cpu_second + b.flops_per_cpu_second) / 2};
}

}  // namespace ner::bench
