#ifndef NER_MODEL_LSTM_CPU_FP32_H_
#define NER_MODEL_LSTM_CPU_FP32_H_

// The float32 step-product kernel behind model/lstm_cpu.h (internal to it; the bf16 ones are in
// lstm_cpu_bf16.h).

#include <cstdint>

namespace ner::model::lstm_cpu::fp32 {

// out[n, G] = init + x[n, K] (row stride ldx) · wt[K, G], init = 0 when null, else rows of
// ld_init floats. The products are small (n <= batch rows for a step's h · W_hh^T, batch × chunk
// for a chunk's x · W_ih^T; G = 4H = 512, K = D or H by default): a BLAS call spends more on
// packing wt and on its thread hand-off than on the arithmetic (measured: OpenBLAS sgemm 32 us at n
// = 1 and 156 us at n = 64, against 6 and 89 us here, 167 GFLOP/s from n = 4 on one AVX-512 core).
// Each row's sums run in the same order whatever n is.
void MatMul(const float* x, int64_t ldx, int64_t n, const float* wt, int64_t k_dim, int64_t g_dim,
            float* out, const float* init = nullptr, int64_t ld_init = 0);

}  // namespace ner::model::lstm_cpu::fp32

#endif  // NER_MODEL_LSTM_CPU_FP32_H_
