#ifndef NER_MODEL_LSTM_CPU_H_
#define NER_MODEL_LSTM_CPU_H_

// The BiLSTM's inference recurrence as plain loops over contiguous float arrays, for
// BiLstmImpl::forward on the CPU without autograd. LibTorch's packed LSTM runs every time step as
// a dozen tensor operations (an input GEMM, a recurrent GEMM, the gate activations, the state
// update) with a dispatch overhead each: at batch 1 and H = 128 the overhead is ~80% of the
// time. Here one step is one small matrix product for both the input and the recurrent part of
// the gates and one fused loop for the activations and the state, vectorised (AVX-512 or AVX2,
// chosen at load time; scalar on older x86).
//
// Layouts (row-major, contiguous), PyTorch's nn.LSTM names and gate order (i, f, g, o):
//   input     [B, T, D]
//   Weights   w_ih [4H, D], w_hh [4H, H], b_ih and b_hh [4H]: one direction's weight_ih_l0,
//             weight_hh_l0, bias_ih_l0, bias_hh_l0 (the `_reverse` ones for the backward one),
//             packed by PackDirection;
//   lengths   [B]         1 <= lengths[b] <= T;
//   out       [B, T, 2H]  the forward state in [0, H), the backward one in [H, 2H); written at
//                         t < lengths[b] only.
// Each sequence runs over its own length (the backward direction starts at its last character),
// so the result equals LibTorch's packed LSTM up to float rounding (activations to ~1e-7).
// Thread-safe; runs the two directions on two intra-op threads when there are two.

#include <cstdint>

namespace ner::model::lstm_cpu {

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

// `wt` [K, G] (PackDirection's) rounded to bfloat16 (to nearest, ties to even) in the pair layout
// the bf16 product reads: out[(p * G + g) * 2 + e] = wt[2p + e, g], p < ceil(K / 2), the odd K's
// last pair padded with zero. `out` holds ceil(K / 2) * G * 2 values.
void PackDirectionBf16(const float* wt, int64_t k_dim, int64_t g_dim, uint16_t* out);

struct PackedDirection {
  const float* wt;    // [D + H, 4H]
  const float* bias;  // [4H]
  // When set (PackDirectionBf16 of `wt`; only where Bf16ProductsSupported()), each step's product
  // runs in bfloat16: [x_t, h] rounded to bf16, float32 accumulation; the gates and the cell state
  // stay float32. About twice the multiply rate, half the weight bytes, ~3 significant digits
  // per product term.
  const uint16_t* wt_bf16 = nullptr;
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
