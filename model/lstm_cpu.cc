#include "model/lstm_cpu.h"

#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Exception.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <cpuid.h>
#include <immintrin.h>
#define NER_LSTM_CPU_BF16 1
#endif
#if defined(NER_LSTM_CPU_BF16) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#define NER_LSTM_CPU_AMX 1
#endif

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string_view>
#include <vector>

// The gate loops are compiled for AVX-512 and AVX2 (vectorised) and the x86-64 baseline (scalar);
// the loader picks one (GNU ifunc). Elsewhere they are compiled once for the target.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define NER_LSTM_CPU_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NER_LSTM_CPU_CLONES
#endif

namespace ner::model::lstm_cpu {
namespace {

// e^x in float, written so that loops over it vectorise: x = n·ln2 + r with |r| <= ln2/2, e^r by
// its Taylor polynomial to degree 7 (truncation < 1e-8 relative), 2^n from the exponent bits.
// Clamped to [-87, 88], where 2^n stays a normal float: e^-87 ~ 1.6e-38 and e^88 ~ 1.7e38, both
// far enough that the sigmoid and tanh below are exactly saturated in float.
inline float Exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * kLog2e + kRound) - kRound;
  // ln 2 split into a part exact in float and the rest, so that n * kLn2High is exact.
  constexpr float kLn2High = 0.693145751953125f;
  constexpr float kLn2Low = 1.428606765330187045e-06f;
  const float r = (x - n * kLn2High) - n * kLn2Low;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

inline float SigmoidOf(float x) { return 1.0f / (1.0f + Exp(-x)); }

// 1 - 2 / (e^2x + 1): exact at the saturated ends; absolute error ~1e-7 near 0.
inline float TanhOf(float x) { return 1.0f - 2.0f / (Exp(2.0f * x) + 1.0f); }

// One time step of one sequence: gates = rec + bias (the product with [x_t, h] + both biases),
// then c = f·c + i·g and h = o·tanh(c), h written to both `h` and `out`.
NER_LSTM_CPU_CLONES void StepRow(int64_t hidden, const float* __restrict__ rec,
                                 const float* __restrict__ bias, float* __restrict__ c,
                                 float* __restrict__ h, float* __restrict__ out) {
  const float* __restrict__ rec_f = rec + hidden;
  const float* __restrict__ rec_g = rec + 2 * hidden;
  const float* __restrict__ rec_o = rec + 3 * hidden;
  const float* __restrict__ bias_f = bias + hidden;
  const float* __restrict__ bias_g = bias + 2 * hidden;
  const float* __restrict__ bias_o = bias + 3 * hidden;
  for (int64_t j = 0; j < hidden; ++j) {
    const float input_gate = SigmoidOf(rec[j] + bias[j]);
    const float forget_gate = SigmoidOf(rec_f[j] + bias_f[j]);
    const float candidate = TanhOf(rec_g[j] + bias_g[j]);
    const float output_gate = SigmoidOf(rec_o[j] + bias_o[j]);
    const float cell = forget_gate * c[j] + input_gate * candidate;
    c[j] = cell;
    const float state = output_gate * TanhOf(cell);
    h[j] = state;
    out[j] = state;
  }
}

NER_LSTM_CPU_CLONES void SigmoidLoop(const float* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = SigmoidOf(in[i]);
}

NER_LSTM_CPU_CLONES void TanhLoop(const float* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = TanhOf(in[i]);
}

// GCC vector extensions: 16 floats, lowered to one AVX-512 register, two AVX2 ones or four SSE
// ones by the clone being compiled. aligned(4): loads and stores need not be 64-byte aligned.
typedef float Vec16 __attribute__((vector_size(64), aligned(4)));

// out[R, 64] (columns g0 .. g0 + 63 of rows 0 .. R-1) = x[R, K] · wt[K, G] (the same columns):
// the R x 4 accumulators stay in registers while k runs, so wt is read once per R rows.
template <int R>
__attribute__((always_inline)) inline void MatMulBlock(const float* x, int64_t ldx,
                                                       const float* wt, int64_t k_dim,
                                                       int64_t g_dim, int64_t g0, float* out) {
  Vec16 acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 4; ++c) acc[r][c] = Vec16{};
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

// out[n, G] = x[n, K] (row stride ldx) · wt[K, G]. The step's product is small (n <= batch,
// G = 4H = 512, K = D + H = 228 by default): a BLAS call spends more on packing wt and on its
// thread hand-off than on the arithmetic (measured: OpenBLAS sgemm 32 us at n = 1 and 156 us at
// n = 64, against 6 and 89 us here, 167 GFLOP/s from n = 4 on one AVX-512 core).
NER_LSTM_CPU_CLONES void MatMul(const float* x, int64_t ldx, int64_t n, const float* wt,
                                int64_t k_dim, int64_t g_dim, float* out) {
  const int64_t g_full = g_dim / 64 * 64;
  int64_t r0 = 0;
  for (; r0 + 4 <= n; r0 += 4) {
    for (int64_t g0 = 0; g0 < g_full; g0 += 64) {
      MatMulBlock<4>(x + r0 * ldx, ldx, wt, k_dim, g_dim, g0, out + r0 * g_dim);
    }
  }
  for (int64_t g0 = 0; g0 < g_full; g0 += 64) {
    const float* xr = x + r0 * ldx;
    float* o = out + r0 * g_dim;
    switch (n - r0) {
      case 1: MatMulBlock<1>(xr, ldx, wt, k_dim, g_dim, g0, o); break;
      case 2: MatMulBlock<2>(xr, ldx, wt, k_dim, g_dim, g0, o); break;
      case 3: MatMulBlock<3>(xr, ldx, wt, k_dim, g_dim, g0, o); break;
      default: break;
    }
  }
  // Columns past the last multiple of 64 (hidden sizes that are not multiples of 16).
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t g = g_full; g < g_dim; ++g) {
      float sum = 0.0f;
      for (int64_t k = 0; k < k_dim; ++k) sum += x[r * ldx + k] * wt[k * g_dim + g];
      out[r * g_dim + g] = sum;
    }
  }
}

// LibTorch's bfloat16 conversions: to nearest with ties to even, and back.
using c10::detail::f32_from_bits;
using c10::detail::round_to_nearest_even;

#ifdef NER_LSTM_CPU_BF16
#define NER_LSTM_CPU_BF16_TARGET __attribute__((target("avx512f,avx512bf16")))

// The bf16 twin of MatMulBlock: out[R, 64] = x[R, K] · wt[K, G] over k pairs, with `x` rows as
// bf16 pairs (one uint32 per pair, row stride ldx pairs) and `wt` in PackDirectionBf16's layout.
// One vdpbf16ps multiplies and adds two k's for 16 columns: twice the FMA rate of float32.
template <int R>
NER_LSTM_CPU_BF16_TARGET __attribute__((always_inline)) inline void MatMulBlockBf16(
    const uint32_t* x, int64_t ldx, const uint16_t* wt, int64_t pairs, int64_t g_dim, int64_t g0,
    float* out) {
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < pairs; ++p) {
    const uint16_t* w = wt + (p * g_dim + g0) * 2;
    const __m512bh w0 = (__m512bh)_mm512_loadu_si512(w);
    const __m512bh w1 = (__m512bh)_mm512_loadu_si512(w + 32);
    const __m512bh w2 = (__m512bh)_mm512_loadu_si512(w + 64);
    const __m512bh w3 = (__m512bh)_mm512_loadu_si512(w + 96);
    for (int r = 0; r < R; ++r) {
      const __m512bh xv = (__m512bh)_mm512_set1_epi32(static_cast<int>(x[r * ldx + p]));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], xv, w0);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], xv, w1);
      acc[r][2] = _mm512_dpbf16_ps(acc[r][2], xv, w2);
      acc[r][3] = _mm512_dpbf16_ps(acc[r][3], xv, w3);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 4; ++c) _mm512_storeu_ps(out + r * g_dim + g0 + 16 * c, acc[r][c]);
  }
}

// Rounds rows of x[n, width] to bf16 (to nearest, ties to even) into `out`, one row per `ldo`
// pairs: 32 values per vcvtne2ps2bf16 (which, like the products, treats denormals as zero).
NER_LSTM_CPU_BF16_TARGET void RoundRowsBf16(const float* x, int64_t width, int64_t n,
                                            uint32_t* out, int64_t ldo) {
  for (int64_t r = 0; r < n; ++r) {
    const float* in = x + r * width;
    uint16_t* row = reinterpret_cast<uint16_t*>(out + r * ldo);
    int64_t k = 0;
    for (; k + 32 <= width; k += 32) {
      const __m512bh both =
          _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + k + 16), _mm512_loadu_ps(in + k));
      _mm512_storeu_si512(row + k, (__m512i)both);
    }
    for (; k < width; ++k) row[k] = round_to_nearest_even(in[k]);
  }
}

// Columns g_from .. G-1 of x[n, K] · wt[K, G] one by one (the bf16 kernels' tail, for hidden
// sizes whose 4H is not a multiple of their column block).
void ColumnsBf16(const uint32_t* x, int64_t ldx, int64_t n, const uint16_t* wt, int64_t pairs,
                 int64_t g_dim, int64_t g_from, float* out) {
  for (int64_t r = 0; r < n; ++r) {
    const uint16_t* xr = reinterpret_cast<const uint16_t*>(x + r * ldx);
    for (int64_t g = g_from; g < g_dim; ++g) {
      float sum = 0.0f;
      for (int64_t k = 0; k < 2 * pairs; ++k) {
        sum += f32_from_bits(xr[k]) * f32_from_bits(wt[((k / 2) * g_dim + g) * 2 + k % 2]);
      }
      out[r * g_dim + g] = sum;
    }
  }
}

// out[n, G] = x[n, K] · wt[K, G] in bf16 with float32 accumulation (see MatMul).
NER_LSTM_CPU_BF16_TARGET void MatMulBf16(const uint32_t* x, int64_t ldx, int64_t n,
                                         const uint16_t* wt, int64_t pairs, int64_t g_dim,
                                         float* out) {
  const int64_t g_full = g_dim / 64 * 64;
  int64_t r0 = 0;
  for (; r0 + 4 <= n; r0 += 4) {
    for (int64_t g0 = 0; g0 < g_full; g0 += 64) {
      MatMulBlockBf16<4>(x + r0 * ldx, ldx, wt, pairs, g_dim, g0, out + r0 * g_dim);
    }
  }
  for (int64_t g0 = 0; g0 < g_full; g0 += 64) {
    const uint32_t* xr = x + r0 * ldx;
    float* o = out + r0 * g_dim;
    switch (n - r0) {
      case 1: MatMulBlockBf16<1>(xr, ldx, wt, pairs, g_dim, g0, o); break;
      case 2: MatMulBlockBf16<2>(xr, ldx, wt, pairs, g_dim, g0, o); break;
      case 3: MatMulBlockBf16<3>(xr, ldx, wt, pairs, g_dim, g0, o); break;
      default: break;
    }
  }
  ColumnsBf16(x, ldx, n, wt, pairs, g_dim, g_full, out);
}
#endif  // NER_LSTM_CPU_BF16

#ifdef NER_LSTM_CPU_AMX
#define NER_LSTM_CPU_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

// The AMX tile configuration (palette 1): tiles 0 and 1 accumulate out[16 rows, 16 columns]
// each (float32), tile 2 holds 16 rows of x by 16 pairs of k's, tiles 3 and 4 a 16-pair by
// 16-column tile of the weights (PackDirectionAmx's layout, one pair of k's per tile row).
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row
  uint8_t rows[16] = {};
};

// ldtilecfg as an asm statement that reads `config`: GCC 12's _tile_loadconfig builtin does not
// tell the optimiser that it reads the memory, so the stores that fill the configuration were
// dropped as dead (seen: an all-zero configuration, then SIGILL at the first tile instruction).
NER_LSTM_CPU_AMX_TARGET void LoadProductTiles() {
  TileConfig config;
  for (int t = 0; t < 5; ++t) {
    config.rows[t] = 16;
    config.colsb[t] = 64;
  }
  __asm__ volatile("ldtilecfg %0" : : "m"(config));
}
NER_LSTM_CPU_AMX_TARGET void ReleaseTiles() { _tile_release(); }

// out[n, G] = x[n, 32 * k_tiles] · W on AMX tiles (LoadProductTiles() done in this thread), W in
// PackDirectionAmx's layout: one tdpbf16ps multiplies 16 rows by 16 pairs by 16 columns, ~15x
// the vdpbf16ps rate of MatMulBf16 on one core, and the weights stream from memory in the order
// they are used. Rows go in blocks of 16: `x` and `out` hold ceil(n / 16) * 16 rows (the rows
// past n are computed from whatever they hold and never read back). Each output value is the
// same function of its own row whatever n is: a sequence gets the same bits alone as in a batch.
NER_LSTM_CPU_AMX_TARGET void MatMulAmx(const uint32_t* x, int64_t ldx, int64_t n,
                                       const uint16_t* wt, int64_t k_tiles, int64_t g_dim,
                                       float* out) {
  constexpr int64_t kTile = 16 * 16 * 2;  // bf16 values in one weight tile
  const int64_t blocks = (n + 15) / 16;
  const int64_t x_stride = 4 * ldx, out_stride = 4 * g_dim;
  const int64_t full_tiles = g_dim / 16;
  int64_t c = 0;
  // Two column tiles at a time; their weights (2 KB per 16 pairs) stay in L1 across row blocks.
  for (; c + 2 <= full_tiles; c += 2) {
    const uint16_t* w0 = wt + c * k_tiles * kTile;
    const uint16_t* w1 = w0 + k_tiles * kTile;
    for (int64_t b = 0; b < blocks; ++b) {
      const uint32_t* xb = x + b * 16 * ldx;
      _tile_zero(0);
      _tile_zero(1);
      for (int64_t k = 0; k < k_tiles; ++k) {
        _tile_loadd(2, xb + 16 * k, x_stride);
        _tile_loadd(3, w0 + k * kTile, 64);
        _tile_loadd(4, w1 + k * kTile, 64);
        _tile_dpbf16ps(0, 2, 3);
        _tile_dpbf16ps(1, 2, 4);
      }
      _tile_stored(0, out + b * 16 * g_dim + 16 * c, out_stride);
      _tile_stored(1, out + b * 16 * g_dim + 16 * c + 16, out_stride);
    }
  }
  // A last column tile, full or (hidden sizes with 4H not a multiple of 16) partial: its
  // columns past G are zero weights, computed into a scratch tile and not copied.
  if (c * 16 < g_dim) {
    const uint16_t* w0 = wt + c * k_tiles * kTile;
    const int64_t width = g_dim - 16 * c;
    alignas(64) float scratch[16 * 16];
    for (int64_t b = 0; b < blocks; ++b) {
      const uint32_t* xb = x + b * 16 * ldx;
      _tile_zero(0);
      for (int64_t k = 0; k < k_tiles; ++k) {
        _tile_loadd(2, xb + 16 * k, x_stride);
        _tile_loadd(3, w0 + k * kTile, 64);
        _tile_dpbf16ps(0, 2, 3);
      }
      _tile_stored(0, scratch, 64);
      for (int64_t r = 0; r < 16 && b * 16 + r < n; ++r) {
        std::memcpy(out + (b * 16 + r) * g_dim + 16 * c, scratch + 16 * r,
                    sizeof(float) * static_cast<size_t>(width));
      }
    }
  }
}

// AMX-BF16 present, its state enabled by the OS (XCR0 bits 17 and 18), and this process granted
// the tile data state (Linux 5.16+: arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), asked
// once; without it the first tile instruction would kill the process).
bool DetectAmx() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool amx_bf16 = (edx >> 22) & 1, amx_tile = (edx >> 24) & 1;
  if (!amx_bf16 || !amx_tile || !__builtin_cpu_supports("avx512bf16")) return false;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0 || ((ecx >> 27) & 1) == 0) return false;
  uint32_t xcr0_low = 0, xcr0_high = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  if (((xcr0_low >> 17) & 3) != 3) return false;
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif  // NER_LSTM_CPU_AMX

int64_t RoundUp16(int64_t n) { return (n + 15) / 16 * 16; }

// One direction over all sequences. `order` lists the sequences by decreasing length, so the
// ones still running at step s are always its first `active` entries and keep their state rows.
// Each row of `xh` holds [x_t, h] (D + H values): one product with [W_ih W_hh]^T gives both the
// input and the recurrent part of the gates, and no [B, T, 4H] projection is ever materialised
// (at batch 64 it would be ~40 MB of fresh pages per forward).
void RunDirection(bool backward, const float* input, int64_t input_dim,
                  const PackedDirection& weights,
                  const int64_t* lengths, const std::vector<int64_t>& order, int64_t batch,
                  int64_t steps, int64_t hidden, float* out) {
  const int64_t gates = 4 * hidden;
  const int64_t width = input_dim + hidden;
  std::vector<float> xh(static_cast<size_t>(batch * width), 0.0f);  // h starts at zero
  std::vector<float> c(static_cast<size_t>(batch * hidden), 0.0f);
  // AMX tiles read and write rows in blocks of 16, and k's in blocks of 16 pairs.
  const bool tiles = weights.wt_amx != nullptr;
  const int64_t rows = tiles ? RoundUp16(batch) : batch;
  AlignedVector<float> rec(static_cast<size_t>(rows * gates));
  // bf16 products: the rows of xh rounded to bf16 pairs before each product.
  const int64_t pairs = tiles ? RoundUp16((width + 1) / 2) : (width + 1) / 2;
  const bool bf16 = weights.wt_bf16 != nullptr || tiles;
  AlignedVector<uint32_t> xh_bf16(bf16 ? static_cast<size_t>(rows * pairs) : 0, 0u);
#ifdef NER_LSTM_CPU_AMX
  // The tile configuration is per thread; released at the end so that the thread's context
  // switches stop saving ~8 KB of tile state.
  if (tiles) LoadProductTiles();
#endif
  const int64_t out_offset = backward ? hidden : 0;
  int64_t active = batch;
  const int64_t longest = lengths[order[0]];
  for (int64_t s = 0; s < longest; ++s) {
    while (active > 0 && lengths[order[active - 1]] <= s) --active;
    for (int64_t r = 0; r < active; ++r) {
      const int64_t b = order[r];
      const int64_t t = backward ? lengths[b] - 1 - s : s;
      std::memcpy(xh.data() + r * width, input + (b * steps + t) * input_dim,
                  sizeof(float) * static_cast<size_t>(input_dim));
    }
    if (bf16) {
#ifdef NER_LSTM_CPU_BF16
      RoundRowsBf16(xh.data(), width, active, xh_bf16.data(), pairs);
#ifdef NER_LSTM_CPU_AMX
      if (tiles) {
        MatMulAmx(xh_bf16.data(), pairs, active, weights.wt_amx, pairs / 16, gates, rec.data());
      } else {
        MatMulBf16(xh_bf16.data(), pairs, active, weights.wt_bf16, pairs, gates, rec.data());
      }
#else
      MatMulBf16(xh_bf16.data(), pairs, active, weights.wt_bf16, pairs, gates, rec.data());
#endif
#endif
    } else {
      MatMul(xh.data(), width, active, weights.wt, width, gates, rec.data());
    }
    for (int64_t r = 0; r < active; ++r) {
      const int64_t b = order[r];
      const int64_t t = backward ? lengths[b] - 1 - s : s;
      StepRow(hidden, rec.data() + r * gates, weights.bias, c.data() + r * hidden,
              xh.data() + r * width + input_dim, out + (b * steps + t) * 2 * hidden + out_offset);
    }
  }
#ifdef NER_LSTM_CPU_AMX
  if (tiles) ReleaseTiles();
#endif
}

}  // namespace

void PackDirection(const Weights& weights, int64_t input_dim, int64_t hidden, float* wt,
                   float* bias) {
  const int64_t gates = 4 * hidden;
  for (int64_t g = 0; g < gates; ++g) {
    for (int64_t k = 0; k < input_dim; ++k) wt[k * gates + g] = weights.w_ih[g * input_dim + k];
    for (int64_t k = 0; k < hidden; ++k) {
      wt[(input_dim + k) * gates + g] = weights.w_hh[g * hidden + k];
    }
    bias[g] = weights.b_ih[g] + weights.b_hh[g];
  }
}

bool Bf16ProductsSupported() {
#ifdef NER_LSTM_CPU_BF16
  static const bool supported = __builtin_cpu_supports("avx512bf16");
  return supported;
#else
  return false;
#endif
}

bool AmxProductsSupported() {
#ifdef NER_LSTM_CPU_AMX
  // NER_AMX=0 in the environment turns the tiles off (AVX512-BF16 products instead): for side by
  // side benchmarks, and for hosts whose AMX misbehaves (as ONEDNN_MAX_CPU_ISA does for oneDNN).
  static const bool supported = [] {
    const char* env = std::getenv("NER_AMX");
    return !(env != nullptr && std::string_view(env) == "0") && DetectAmx();
  }();
  return supported;
#else
  return false;
#endif
}

void PackDirectionBf16(const float* wt, int64_t k_dim, int64_t g_dim, uint16_t* out) {
  const int64_t pairs = (k_dim + 1) / 2;
  for (int64_t p = 0; p < pairs; ++p) {
    for (int64_t g = 0; g < g_dim; ++g) {
      for (int64_t e = 0; e < 2; ++e) {
        const int64_t k = 2 * p + e;
        out[(p * g_dim + g) * 2 + e] = k < k_dim ? round_to_nearest_even(wt[k * g_dim + g]) : 0;
      }
    }
  }
}

int64_t PackedAmxSize(int64_t k_dim, int64_t g_dim) {
  return RoundUp16((k_dim + 1) / 2) * 2 * RoundUp16(g_dim);
}

void PackDirectionAmx(const float* wt, int64_t k_dim, int64_t g_dim, uint16_t* out) {
  const int64_t k_tiles = RoundUp16((k_dim + 1) / 2) / 16;
  const int64_t col_tiles = RoundUp16(g_dim) / 16;
  for (int64_t c = 0; c < col_tiles; ++c) {
    for (int64_t t = 0; t < k_tiles; ++t) {
      uint16_t* tile = out + (c * k_tiles + t) * 16 * 16 * 2;
      for (int64_t p = 0; p < 16; ++p) {
        for (int64_t j = 0; j < 16; ++j) {
          for (int64_t e = 0; e < 2; ++e) {
            const int64_t k = 2 * (16 * t + p) + e, g = 16 * c + j;
            tile[(p * 16 + j) * 2 + e] =
                k < k_dim && g < g_dim ? round_to_nearest_even(wt[k * g_dim + g]) : 0;
          }
        }
      }
    }
  }
}

void BiLstmInference(const float* input, int64_t input_dim, const PackedDirection& forward,
                     const PackedDirection& backward, const int64_t* lengths, int64_t batch,
                     int64_t steps, int64_t hidden, float* out) {
  if (batch <= 0) return;
  TORCH_CHECK((forward.wt_bf16 == nullptr && backward.wt_bf16 == nullptr) ||
                  Bf16ProductsSupported(),
              "lstm_cpu: bf16 products need a CPU with AVX512-BF16");
  TORCH_CHECK((forward.wt_amx == nullptr && backward.wt_amx == nullptr) ||
                  AmxProductsSupported(),
              "lstm_cpu: tile products need a CPU and OS with AMX-BF16");
  TORCH_CHECK(reinterpret_cast<uintptr_t>(forward.wt_amx) % 64 == 0 &&
                  reinterpret_cast<uintptr_t>(backward.wt_amx) % 64 == 0,
              "lstm_cpu: AMX weight tiles must be 64-byte aligned");
  std::vector<int64_t> order(static_cast<size_t>(batch));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [lengths](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  // The directions are independent: one per intra-op thread when there are two, one after the
  // other otherwise.
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t direction = begin; direction < end; ++direction) {
      RunDirection(direction == 1, input, input_dim, direction == 1 ? backward : forward,
                   lengths, order, batch, steps, hidden, out);
    }
  });
}

void Sigmoid(const float* in, int64_t n, float* out) { SigmoidLoop(in, n, out); }
void Tanh(const float* in, int64_t n, float* out) { TanhLoop(in, n, out); }

}  // namespace ner::model::lstm_cpu
