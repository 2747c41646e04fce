#include "model/lstm_cpu_bf16.h"

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

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "model/lstm_cpu.h"
#include "model/lstm_cpu_blocks.h"

namespace ner::model::lstm_cpu {
namespace {

// LibTorch's bfloat16 conversions: to nearest with ties to even, and back.
using c10::detail::f32_from_bits;
using c10::detail::round_to_nearest_even;

#ifdef NER_LSTM_CPU_BF16
#define NER_LSTM_CPU_BF16_TARGET __attribute__((target("avx512f,avx512bf16")))

// The bf16 twin of lstm_cpu.cc's MatMulBlock: out[R, 64] = init + x[R, K] · wt[K, G] over k
// pairs (init = 0 when null, else rows of ld_init floats), with `x` rows as bf16 pairs (one uint32
// per pair, row stride ldx pairs) and `wt` in PackDirectionBf16's layout.
// One vdpbf16ps multiplies and adds two k's for 16 columns: twice the FMA rate of float32.
template <int R>
NER_LSTM_CPU_BF16_TARGET __attribute__((always_inline)) inline void MatMulBlockBf16(
    const uint32_t* x, int64_t ldx, const uint16_t* wt, int64_t pairs, int64_t g_dim, int64_t g0,
    float* out, const float* init, int64_t ld_init) {
  __m512 acc[R][4];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < 4; ++c) {
      acc[r][c] =
          init != nullptr ? _mm512_loadu_ps(init + r * ld_init + g0 + 16 * c) : _mm512_setzero_ps();
    }
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

// Columns g_from .. G-1 of x[n, K] · wt[K, G] one by one (the bf16 kernels' tail, for hidden
// sizes whose 4H is not a multiple of their column block).
void ColumnsBf16(const uint32_t* x, int64_t ldx, int64_t n, const uint16_t* wt, int64_t pairs,
                 int64_t g_dim, int64_t g_from, float* out, const float* init, int64_t ld_init) {
  for (int64_t r = 0; r < n; ++r) {
    const uint16_t* xr = reinterpret_cast<const uint16_t*>(x + r * ldx);
    for (int64_t g = g_from; g < g_dim; ++g) {
      float sum = init != nullptr ? init[r * ld_init + g] : 0.0f;
      for (int64_t k = 0; k < 2 * pairs; ++k) {
        sum += f32_from_bits(xr[k]) * f32_from_bits(wt[((k / 2) * g_dim + g) * 2 + k % 2]);
      }
      out[r * g_dim + g] = sum;
    }
  }
}
#endif  // NER_LSTM_CPU_BF16

#ifdef NER_LSTM_CPU_AMX
#define NER_LSTM_CPU_AMX_TARGET __attribute__((target("amx-tile,amx-bf16")))

// The AMX tile configuration (palette 1): tiles 0 and 1 accumulate out[16 rows, 16 columns]
// each (float32), tile 2 holds 16 rows of x by 16 pairs of k's, tiles 3 and 4 a 16-pair by
// 16-column tile of the weights (PackDirectionAmx's layout, one pair of k's per tile row). Tiles
// 5, 6 (sums) and 7 (x) are the same for a last block of fewer rows, `partial_rows` of them:
// a tdpbf16ps costs the same for any row count, but its tiles' loads and stores (most of a
// small product's time) only move the rows configured.
struct alignas(64) TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row
  uint8_t rows[16] = {};
};

// The partial_rows of the configuration this thread has loaded; 0 when none.
thread_local int loaded_partial_rows = 0;

// ldtilecfg as an asm statement that reads `config`: GCC 12's _tile_loadconfig builtin does not
// tell the optimiser that it reads the memory, so the stores that fill the configuration were
// dropped as dead (seen: an all-zero configuration, then SIGILL at the first tile instruction).
// Loading a configuration zeroes every tile (~50 ns).
NER_LSTM_CPU_AMX_TARGET void LoadProductTiles(int partial_rows) {
  TileConfig config;
  for (int t = 0; t < 8; ++t) {
    config.rows[t] = t < 5 ? 16 : static_cast<uint8_t>(partial_rows);
    config.colsb[t] = 64;
  }
  __asm__ volatile("ldtilecfg %0" : : "m"(config));
  loaded_partial_rows = partial_rows;
}
NER_LSTM_CPU_AMX_TARGET void ReleaseTiles() {
  _tile_release();
  loaded_partial_rows = 0;
}

// One block of rows times two column tiles: out = init + x · [w0 w1], in the sum tiles C0 and
// C1 and the x tile X. A macro because the tile intrinsics paste their tile numbers into the
// instruction text: FullTileBlock (tiles 0, 1, 2) for a block of 16 rows, PartialTileBlock
// (tiles 5, 6, 7) for the last, shorter one.
#define NER_LSTM_CPU_TILE_BLOCK(NAME, C0, C1, X)                                                 \
  NER_LSTM_CPU_AMX_TARGET inline void NAME(                                                      \
      const uint32_t* xb, int64_t x_stride, const uint16_t* w0, const uint16_t* w1,              \
      int64_t k_tiles, const float* init, int64_t init_stride, float* out, int64_t out_stride) { \
    constexpr int64_t kTile = 16 * 16 * 2;                                                       \
    if (init != nullptr) {                                                                       \
      _tile_loadd(C0, init, init_stride);                                                        \
      _tile_loadd(C1, init + 16, init_stride);                                                   \
    } else {                                                                                     \
      _tile_zero(C0);                                                                            \
      _tile_zero(C1);                                                                            \
    }                                                                                            \
    for (int64_t k = 0; k < k_tiles; ++k) {                                                      \
      _tile_loadd(X, xb + 16 * k, x_stride);                                                     \
      _tile_loadd(3, w0 + k * kTile, 64);                                                        \
      _tile_loadd(4, w1 + k * kTile, 64);                                                        \
      _tile_dpbf16ps(C0, X, 3);                                                                  \
      _tile_dpbf16ps(C1, X, 4);                                                                  \
    }                                                                                            \
    _tile_stored(C0, out, out_stride);                                                           \
    _tile_stored(C1, out + 16, out_stride);                                                      \
  }
NER_LSTM_CPU_TILE_BLOCK(FullTileBlock, 0, 1, 2)
NER_LSTM_CPU_TILE_BLOCK(PartialTileBlock, 5, 6, 7)
#undef NER_LSTM_CPU_TILE_BLOCK

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

}  // namespace

namespace bf16 {

int64_t RoundUp16(int64_t n) { return (n + 15) / 16 * 16; }

#ifdef NER_LSTM_CPU_BF16
// Rounds rows of x[n, width] to bf16 (to nearest, ties to even) into `out`, one row per `ldo`
// pairs: 32 values per vcvtne2ps2bf16 (which, like the products, treats denormals as zero).
NER_LSTM_CPU_BF16_TARGET void RoundRows(const float* x, int64_t width, int64_t n, uint32_t* out,
                                        int64_t ldo) {
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

// out[n, G] = init + x[n, K] · wt[K, G] in bf16 with float32 accumulation (see lstm_cpu.cc's
// MatMul).
NER_LSTM_CPU_BF16_TARGET void MatMulVectors(const uint32_t* x, int64_t ldx, int64_t n,
                                            const uint16_t* wt, int64_t pairs, int64_t g_dim,
                                            float* out, const float* init, int64_t ld_init) {
  const int64_t g_full = g_dim / 64 * 64;
  ForEachRowBlock(n, g_full,
                  // Built for AVX512-BF16, so not always-inline (ForEachRowBlock's own body is
                  // not): GCC may call it, once per block of up to 4 rows by 64 columns, each
                  // a few hundred vdpbf16ps.
                  [&](auto rows, int64_t r0, int64_t g0) NER_LSTM_CPU_BF16_TARGET {
                    MatMulBlockBf16<decltype(rows)::value>(
                        x + r0 * ldx, ldx, wt, pairs, g_dim, g0, out + r0 * g_dim,
                        init != nullptr ? init + r0 * ld_init : nullptr, ld_init);
                  });
  ColumnsBf16(x, ldx, n, wt, pairs, g_dim, g_full, out, init, ld_init);
}
#else
void RoundRows(const float*, int64_t, int64_t, uint32_t*, int64_t) {
  TORCH_CHECK(false, "lstm_cpu: bf16 products need a CPU with AVX512-BF16");
}
void MatMulVectors(const uint32_t*, int64_t, int64_t, const uint16_t*, int64_t, int64_t, float*,
                   const float*, int64_t) {
  TORCH_CHECK(false, "lstm_cpu: bf16 products need a CPU with AVX512-BF16");
}
#endif  // NER_LSTM_CPU_BF16

#ifdef NER_LSTM_CPU_AMX
// out[n, G] = x[n, 32 * k_tiles] · W on AMX tiles (a TileScope open in this thread), W in
// PackDirectionAmx's layout: one tdpbf16ps multiplies 16 rows by 16 pairs by 16 columns, ~15x
// the vdpbf16ps rate of MatMulVectors on one core, and the weights stream from memory in the order
// they are used. Rows go in blocks of 16, the last one (n % 16 rows) on tiles configured for that
// many rows (the configuration reloaded when the count changes): a lone text's product loads and
// stores one row instead of 16. `x` and `out` hold ceil(n / 16) * 16 rows (a last column tile
// narrower than 16 computes the rows past n from whatever they hold; they are never read
// back). Each output value is the
// same function of its own row whatever n is: a sequence gets the same bits alone as in a batch.
// With `init`, the sums start from init's rows (row stride ld_init floats) instead of zero.
NER_LSTM_CPU_AMX_TARGET void MatMulTiles(const uint32_t* x, int64_t ldx, int64_t n,
                                         const uint16_t* wt, int64_t k_tiles, int64_t g_dim,
                                         float* out, const float* init, int64_t ld_init) {
  constexpr int64_t kTile = 16 * 16 * 2;  // bf16 values in one weight tile
  const int64_t blocks = (n + 15) / 16;
  const int64_t x_stride = 4 * ldx, out_stride = 4 * g_dim;
  const int64_t full_tiles = g_dim / 16;
  int64_t c = 0;
  const int64_t full_blocks = n / 16, partial = n % 16;
  if (partial != 0 && partial != loaded_partial_rows) LoadProductTiles(static_cast<int>(partial));
  // Two column tiles at a time; their weights (2 KB per 16 pairs) stay in L1 across row blocks.
  for (; c + 2 <= full_tiles; c += 2) {
    const uint16_t* w0 = wt + c * k_tiles * kTile;
    const uint16_t* w1 = w0 + k_tiles * kTile;
    for (int64_t b = 0; b <= full_blocks; ++b) {
      const float* init_b = init != nullptr ? init + b * 16 * ld_init + 16 * c : nullptr;
      float* out_b = out + b * 16 * g_dim + 16 * c;
      if (b < full_blocks) {
        FullTileBlock(x + b * 16 * ldx, x_stride, w0, w1, k_tiles, init_b, 4 * ld_init, out_b,
                      out_stride);
      } else if (partial != 0) {
        PartialTileBlock(x + b * 16 * ldx, x_stride, w0, w1, k_tiles, init_b, 4 * ld_init, out_b,
                         out_stride);
      }
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
      if (init != nullptr) {
        for (int64_t r = 0; r < 16; ++r) {
          std::memset(scratch + 16 * r, 0, sizeof(float) * 16);
          if (b * 16 + r < n) {
            std::memcpy(scratch + 16 * r, init + (b * 16 + r) * ld_init + 16 * c,
                        sizeof(float) * static_cast<size_t>(width));
          }
        }
        _tile_loadd(0, scratch, 64);
      } else {
        _tile_zero(0);
      }
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

TileScope::TileScope(bool on) : on_(on) {
  if (on_) LoadProductTiles(16);
}
TileScope::~TileScope() {
  if (on_) ReleaseTiles();
}
#else
void MatMulTiles(const uint32_t*, int64_t, int64_t, const uint16_t*, int64_t, int64_t, float*,
                 const float*, int64_t) {
  TORCH_CHECK(false, "lstm_cpu: tile products need a CPU and OS with AMX-BF16");
}
TileScope::TileScope(bool on) : on_(on) {
  TORCH_CHECK(!on_, "lstm_cpu: tile products need a CPU and OS with AMX-BF16");
}
TileScope::~TileScope() = default;
#endif  // NER_LSTM_CPU_AMX

}  // namespace bf16

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

int64_t PackedBf16Size(int64_t k_dim, int64_t g_dim) { return (k_dim + 1) / 2 * g_dim * 2; }

int64_t PackedBf16SplitSize(int64_t input_dim, int64_t hidden) {
  return PackedBf16Size(input_dim, 4 * hidden) + PackedBf16Size(hidden, 4 * hidden);
}

void PackDirectionBf16Split(const float* wt, int64_t input_dim, int64_t hidden, uint16_t* out) {
  const int64_t gates = 4 * hidden;
  PackDirectionBf16(wt, input_dim, gates, out);
  PackDirectionBf16(wt + input_dim * gates, hidden, gates, out + PackedBf16Size(input_dim, gates));
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
  return bf16::RoundUp16((k_dim + 1) / 2) * 2 * bf16::RoundUp16(g_dim);
}

int64_t PackedAmxSplitSize(int64_t input_dim, int64_t hidden) {
  return PackedAmxSize(input_dim, 4 * hidden) + PackedAmxSize(hidden, 4 * hidden);
}

void PackDirectionAmxSplit(const float* wt, int64_t input_dim, int64_t hidden, uint16_t* out) {
  const int64_t gates = 4 * hidden;
  PackDirectionAmx(wt, input_dim, gates, out);
  PackDirectionAmx(wt + input_dim * gates, hidden, gates, out + PackedAmxSize(input_dim, gates));
}

void PackDirectionAmx(const float* wt, int64_t k_dim, int64_t g_dim, uint16_t* out) {
  const int64_t k_tiles = bf16::RoundUp16((k_dim + 1) / 2) / 16;
  const int64_t col_tiles = bf16::RoundUp16(g_dim) / 16;
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

}  // namespace ner::model::lstm_cpu
