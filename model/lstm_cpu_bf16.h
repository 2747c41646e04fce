#ifndef NER_MODEL_LSTM_CPU_BF16_H_
#define NER_MODEL_LSTM_CPU_BF16_H_

// The bf16 step-product kernels behind model/lstm_cpu.h (internal to it): AVX512-BF16 vectors and
// AMX tiles, compiled for those instruction sets whatever the build's target, and used only where
// lstm_cpu::Bf16ProductsSupported() / AmxProductsSupported() say the CPU has them (elsewhere, and
// in builds without them, calling one throws). Row and weight layouts: model/lstm_cpu.h
// (PackDirectionBf16, PackDirectionAmx); a row of `x` is bf16 pairs, one uint32 per pair.

#include <cstdint>

namespace ner::model::lstm_cpu::bf16 {

// n rounded up to a multiple of 16 (AMX tiles take rows and pairs of k's in blocks of 16).
int64_t RoundUp16(int64_t n);

// Rounds rows of x[n, width] to bf16 (to nearest, ties to even) into `out`, one row per `ldo`
// pairs; the pad halves past `width` are left as they are.
void RoundRows(const float* x, int64_t width, int64_t n, uint32_t* out, int64_t ldo);

// out[n, G] = init + x[n, 2 * pairs] · wt (PackDirectionBf16's layout), float32 sums, by
// vdpbf16ps; init = 0 when null, else rows of ld_init floats.
void MatMulVectors(const uint32_t* x, int64_t ldx, int64_t n, const uint16_t* wt, int64_t pairs,
                   int64_t g_dim, float* out, const float* init = nullptr, int64_t ld_init = 0);

// out[n, G] = init + x[n, 32 * k_tiles] · wt (PackDirectionAmx's layout) on AMX tiles, inside
// a TileScope of this thread; init = 0 when null, else rows of ld_init floats (RoundUp16(n) of
// them readable). `x` (row stride ldx pairs, a multiple of 16) and `out` hold RoundUp16(n) rows,
// 64-byte aligned.
void MatMulTiles(const uint32_t* x, int64_t ldx, int64_t n, const uint16_t* wt, int64_t k_tiles,
                 int64_t g_dim, float* out, const float* init = nullptr, int64_t ld_init = 0);

// Loads the tile configuration MatMulTiles needs into this thread (when `on`) and releases it
// on destruction, so that the thread's context switches stop saving ~8 KB of tile state.
class TileScope {
 public:
  explicit TileScope(bool on);
  ~TileScope();
  TileScope(const TileScope&) = delete;
  TileScope& operator=(const TileScope&) = delete;

 private:
  bool on_;
};

}  // namespace ner::model::lstm_cpu::bf16

#endif  // NER_MODEL_LSTM_CPU_BF16_H_
