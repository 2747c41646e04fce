#ifndef NER_MODEL_LSTM_CPU_H_
#define NER_MODEL_LSTM_CPU_H_

// The BiLSTM's inference recurrence as plain loops over contiguous float arrays, for
// BiLstmImpl::forward on the CPU without autograd. LibTorch's packed LSTM runs every time step as
// a dozen tensor operations (an input GEMM, a recurrent GEMM, the gate activations, the state
// update) with a dispatch overhead each: at batch 1 and H = 128 the overhead is ~80% of the
// time. Here the input part of the gates is one small matrix product per chunk of steps, the
// recurrent part one per step, and the activations and the state one fused loop, vectorised
// (AVX-512 or AVX2, chosen at load time; scalar on older x86). On request (PackedDirection) the
// products run in bfloat16, on AVX512-BF16 vectors or on AMX tiles.
//
// Layouts (row-major, contiguous), PyTorch's nn.LSTM names and gate order (i, f, g, o):
//   input     [B, T, D]
//   Weights   w_ih [4H, D], w_hh [4H, H], b_ih and b_hh [4H]: one direction's weight_ih_l0,
//             weight_hh_l0, bias_ih_l0, bias_hh_l0 (the `_reverse` ones for the backward one),
//             packed by PackDirection;
//   lengths   [B]         1 <= lengths[b] <= T;
//   out       [B, T, 2H]  the forward state in [0, H), the backward one in [H, 2H); zero at
//                         t >= lengths[b] (every value is written: `out` may come uninitialised).
// Each sequence runs over its own length (the backward direction starts at its last character),
// so the result equals LibTorch's packed LSTM up to float rounding (activations to ~1e-7).
// Thread-safe; runs the two directions on two intra-op threads when there are two.

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace ner::model::lstm_cpu {

// std::vector storage on 64-byte boundaries: AMX tile loads and stores of unaligned rows split
// cache lines and ran ~3x slower (measured: a tile from L1 in ~6.5 ns aligned, ~20 ns off by 16).
template <typename T>
struct Aligned64Allocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};
  Aligned64Allocator() = default;
  template <typename U>
  explicit Aligned64Allocator(const Aligned64Allocator<U>& /*other*/) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, size_t /*n*/) { ::operator delete(p, kAlignment); }
  template <typename U>
  bool operator==(const Aligned64Allocator<U>& /*other*/) const {
    return true;
  }
  template <typename U>
  bool operator!=(const Aligned64Allocator<U>& /*other*/) const {
    return false;
  }
};
template <typename T>
using AlignedVector = std::vector<T, Aligned64Allocator<T>>;

struct Weights {
  const float* w_ih;
  const float* w_hh;
  const float* b_ih;
  const float* b_hh;
};

// One direction's weights in the layout BiLstmInference reads: wt = [W_ih W_hh]^T, [D + H, 4H],
// and bias = b_ih + b_hh, [4H]. Callers pack once per weight version (the transposition costs
// about as much as a whole forward at batch 1).
void PackDirection(const Weights& weights, int64_t input_dim, int64_t hidden, float* wt,
                   float* bias);

// Whether this CPU runs bfloat16 products (AVX512-BF16: x86-64 with GCC only).
bool Bf16ProductsSupported();

// Whether this CPU and OS run bfloat16 products on AMX tiles (AMX-BF16, e.g. Xeon Sapphire
// Rapids; Linux grants the process the tile state on the first call), and the environment does
// not say NER_AMX=0. Implies Bf16ProductsSupported(). Decided once per process.
bool AmxProductsSupported();

// `wt` [K, G] (PackDirection's) rounded to bfloat16 (to nearest, ties to even) in the pair layout
// the bf16 product reads: out[(p * G + g) * 2 + e] = wt[2p + e, g], p < ceil(K / 2), the odd K's
// last pair padded with zero. `out` holds PackedBf16Size = ceil(K / 2) * G * 2 values.
int64_t PackedBf16Size(int64_t k_dim, int64_t g_dim);
void PackDirectionBf16(const float* wt, int64_t k_dim, int64_t g_dim, uint16_t* out);
// The vector layout BiLstmInference reads (PackedDirection::wt_bf16): PackDirectionBf16 of wt's
// first input_dim rows (W_ih^T) followed by PackDirectionBf16 of its last `hidden` rows
// (W_hh^T). `out` holds PackedBf16SplitSize values.
int64_t PackedBf16SplitSize(int64_t input_dim, int64_t hidden);
void PackDirectionBf16Split(const float* wt, int64_t input_dim, int64_t hidden, uint16_t* out);

// `wt` [K, G] rounded to bfloat16 in AMX weight tiles: K padded with zeros to a multiple of 32
// (16 pairs), G to a multiple of 16; tile (c, t) = pairs 16t .. 16t+15 by columns 16c .. 16c+15,
// stored pair-major (out[((c * T + t) * 256 + p * 16 + j) * 2 + e] = wt[2(16t + p) + e, 16c + j],
// T = K tiles), the tiles of one column block consecutive. `out` holds PackedAmxSize values.
int64_t PackedAmxSize(int64_t k_dim, int64_t g_dim);
void PackDirectionAmx(const float* wt, int64_t k_dim, int64_t g_dim, uint16_t* out);
// The tile layout BiLstmInference reads (PackedDirection::wt_amx): PackDirectionAmx of wt's
// first input_dim rows (W_ih^T) followed by PackDirectionAmx of its last `hidden` rows
// (W_hh^T), each padded on its own. `out` holds PackedAmxSplitSize values.
int64_t PackedAmxSplitSize(int64_t input_dim, int64_t hidden);
void PackDirectionAmxSplit(const float* wt, int64_t input_dim, int64_t hidden, uint16_t* out);

// Whatever the products, the input half of the gates (x_t · W_ih^T) is computed for a chunk of
// steps at once and each step adds only its recurrent half (h · W_hh^T): W_ih is read once per
// chunk instead of once per step, which is what a step of a lone text was bound by
// (model/lstm_cpu.cc).
struct PackedDirection {
  const float* wt;    // [D + H, 4H]
  const float* bias;  // [4H]
  // When set (PackDirectionBf16Split of `wt`; only where Bf16ProductsSupported()), the products
  // run in bfloat16: x_t and h rounded to bf16, float32 accumulation; the gates and the cell
  // state stay float32. About twice the multiply rate, half the weight bytes, ~3 significant digits
  // per product term.
  const uint16_t* wt_bf16 = nullptr;
  // When set (PackDirectionAmxSplit of `wt`, 64-byte aligned: an AlignedVector; only where
  // AmxProductsSupported()), the bf16 products run on AMX tiles instead (wt_bf16 is then not
  // read): the same roundings, float32 sums in another order, ~15x the AVX512-BF16 multiply
  // rate, so a step of 16 rows costs about what a step of one row does.
  const uint16_t* wt_amx = nullptr;
};

// Both directions of a one-layer bidirectional LSTM, states starting at zero.
void BiLstmInference(const float* input, int64_t input_dim, const PackedDirection& forward,
                     const PackedDirection& backward, const int64_t* lengths, int64_t batch,
                     int64_t steps, int64_t hidden, float* out);

// The gate activations used above, exposed for tests: logistic sigmoid and tanh of `n` values
// (in and out may alias). Relative error ~1e-7 (absolute for tanh near 0); saturate cleanly.
void Sigmoid(const float* in, int64_t n, float* out);
void Tanh(const float* in, int64_t n, float* out);

}  // namespace ner::model::lstm_cpu

#endif  // NER_MODEL_LSTM_CPU_H_
