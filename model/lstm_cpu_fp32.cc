#include "model/lstm_cpu_fp32.h"

#include "model/cpu_clones.h"
#include "model/lstm_cpu_blocks.h"

// The float32 step products of model/lstm_cpu.cc, built per ISA (NER_CPU_CLONES).

namespace ner::model::lstm_cpu::fp32 {
namespace {

// GCC vector extensions: 16 floats, lowered to one AVX-512 register, two AVX2 ones or four SSE
// ones by the clone being compiled. aligned(4): loads and stores need not be 64-byte aligned.
typedef float Vec16 __attribute__((vector_size(64), aligned(4)));

// out[R, 64] (columns g0 .. g0 + 63 of rows 0 .. R-1) = init + x[R, K] · wt[K, G] (the same
// columns; init = 0 when null, else rows of ld_init floats): the R x 4 accumulators stay in
// registers while k runs, so wt is read once per R rows.
template <int R>
__attribute__((always_inline)) inline void MatMulBlock(const float* x, int64_t ldx, const float* wt,
                                                       int64_t k_dim, int64_t g_dim, int64_t g0,
                                                       float* out, const float* init,
                                                       int64_t ld_init) {
  Vec16 acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 4; ++c) {
      acc[r][c] = init != nullptr
                      ? *reinterpret_cast<const Vec16*>(init + r * ld_init + g0 + 16 * c)
                      : Vec16{};
    }
  }
  for (int64_t k = 0; k < k_dim; ++k) {
    const float* w = wt + k * g_dim + g0;
    const Vec16 w0 = *reinterpret_cast<const Vec16*>(w);
    const Vec16 w1 = *reinterpret_cast<const Vec16*>(w + 16);
    const Vec16 w2 = *reinterpret_cast<const Vec16*>(w + 32);
    const Vec16 w3 = *reinterpret_cast<const Vec16*>(w + 48);
    for (int r = 0; r < R; ++r) {
      const float xv = x[r * ldx + k];
      acc[r][0] += xv * w0;
      acc[r][1] += xv * w1;
      acc[r][2] += xv * w2;
      acc[r][3] += xv * w3;
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 4; ++c) {
      *reinterpret_cast<Vec16*>(out + r * g_dim + g0 + 16 * c) = acc[r][c];
    }
  }
}

}  // namespace

// out[n, G] = init + x[n, K] (row stride ldx) · wt[K, G], init = 0 when null, else rows of
// ld_init floats. The step's product is small (n <= batch, G = 4H = 512, K = D + H = 228 by
// default): a BLAS call spends more on packing wt and on its thread hand-off than on the
// arithmetic (measured: OpenBLAS sgemm 32 us at n = 1 and 156 us at n = 64, against 6 and 89 us
// here, 167 GFLOP/s from n = 4 on one AVX-512 core). Each row's sums run in the same order
// whatever n is.
NER_CPU_CLONES void MatMul(const float* x, int64_t ldx, int64_t n, const float* wt, int64_t k_dim,
                           int64_t g_dim, float* out, const float* init, int64_t ld_init) {
  const int64_t g_full = g_dim / 64 * 64;
  ForEachRowBlock(
      n, g_full, [&](auto rows, int64_t r0, int64_t g0) __attribute__((always_inline)) {
        MatMulBlock<decltype(rows)::value>(
            x + r0 * ldx, ldx, wt, k_dim, g_dim, g0, out + r0 * g_dim,
            init != nullptr ? init + r0 * ld_init : nullptr, ld_init);
      });
  // Columns past the last multiple of 64 (hidden sizes that are not multiples of 16).
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t g = g_full; g < g_dim; ++g) {
      float sum = init != nullptr ? init[r * ld_init + g] : 0.0f;
      for (int64_t k = 0; k < k_dim; ++k) sum += x[r * ldx + k] * wt[k * g_dim + g];
      out[r * g_dim + g] = sum;
    }
  }
}

}  // namespace ner::model::lstm_cpu::fp32
