#include "model/linear_cpu.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "model/cpu_clones.h"

// The loops below are built per ISA (NER_CPU_CLONES), as lstm_cpu.cc's.

namespace ner::model::linear_cpu {
namespace {

// 16 floats: one AVX-512 register, two AVX2 ones or four SSE ones, by the clone being compiled.
typedef float Vec16 __attribute__((vector_size(64), aligned(4)));

// acc[R rows, C * 16 columns] = x[R, k] · wt[k, c0 .. c0 + 16C) (wt row stride mp): the
// accumulators stay in registers while k runs, so each weight vector is loaded once per R rows.
template <int R, int C>
__attribute__((always_inline)) inline void Block(const float* x, int64_t k, const float* wt,
                                                 int64_t mp, int64_t c0, float* acc_out) {
  Vec16 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = Vec16{};
  }
  for (int64_t kk = 0; kk < k; ++kk) {
    Vec16 w[C];
    for (int c = 0; c < C; ++c) w[c] = *reinterpret_cast<const Vec16*>(wt + kk * mp + c0 + 16 * c);
    for (int r = 0; r < R; ++r) {
      const float xv = x[r * k + kk];
      for (int c = 0; c < C; ++c) acc[r][c] += xv * w[c];
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) *reinterpret_cast<Vec16*>(acc_out + r * 64 + 16 * c) = acc[r][c];
  }
}

template <int R>
__attribute__((always_inline)) inline void Rows(const float* x, int64_t k, const float* wt,
                                                int64_t mp, int64_t c0, int blocks,
                                                float* acc_out) {
  switch (blocks) {
    case 1:
      Block<R, 1>(x, k, wt, mp, c0, acc_out);
      break;
    case 2:
      Block<R, 2>(x, k, wt, mp, c0, acc_out);
      break;
    case 3:
      Block<R, 3>(x, k, wt, mp, c0, acc_out);
      break;
    default:
      Block<R, 4>(x, k, wt, mp, c0, acc_out);
      break;
  }
}

NER_CPU_CLONES void Run(const float* x, int64_t n, int64_t k, const float* wt, int64_t mp,
                        const float* b, int64_t m, float* out) {
  alignas(64) float acc[4 * 64];
  for (int64_t c0 = 0; c0 < m; c0 += 64) {
    const int blocks = static_cast<int>(std::min<int64_t>(4, (m - c0 + 15) / 16));
    const int64_t width = std::min<int64_t>(64, m - c0);
    int64_t r0 = 0;
    auto emit = [&](int64_t rows) {
      for (int64_t r = 0; r < rows; ++r) {
        float* o = out + (r0 + r) * m + c0;
        for (int64_t j = 0; j < width; ++j) o[j] = acc[r * 64 + j] + (b ? b[c0 + j] : 0.0f);
      }
    };
    for (; r0 + 4 <= n; r0 += 4) {
      Rows<4>(x + r0 * k, k, wt, mp, c0, blocks, acc);
      emit(4);
    }
    for (; r0 < n; ++r0) {
      Rows<1>(x + r0 * k, k, wt, mp, c0, blocks, acc);
      emit(1);
    }
  }
}

}  // namespace

void SmallLinear(const float* x, int64_t n, int64_t k, const float* w, const float* b, int64_t m,
                 float* out) {
  if (n <= 0 || m <= 0) return;
  // wt[k, mp] = w^T, columns past m zero: ~16 KB for 2H = 256 and up to 16 labels.
  const int64_t mp = (m + 15) / 16 * 16;
  std::vector<float> wt(static_cast<size_t>(k * mp), 0.0f);
  for (int64_t j = 0; j < m; ++j) {
    for (int64_t kk = 0; kk < k; ++kk) wt[kk * mp + j] = w[j * k + kk];
  }
  Run(x, n, k, wt.data(), mp, b, m, out);
}

}  // namespace ner::model::linear_cpu
