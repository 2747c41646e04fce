#ifndef NER_MODEL_LINEAR_CPU_H_
#define NER_MODEL_LINEAR_CPU_H_

// The emission projection (BiLSTM states to label scores: out = x · W^T + b with a handful of
// output columns) as a plain loop for inference on the CPU. For 7 labels OpenBLAS's sgemm spent
// more time packing the [B·T, 2H] input than multiplying (~6% of a served batch's cycles, half of
// it in sgemm_oncopy); here the transposed weights (2H × a multiple of 16 columns, ~16 KB) stay in
// L1 while the rows stream through once, four at a time.

#include <cstdint>

namespace ner::model::linear_cpu {

// out[n, m] = x[n, k] · w[m, k]^T + b[m]: x row-major [n, k], w nn::Linear's weight [m, k], b [m]
// (or null: no bias), out [n, m]. Each output row depends only on its own input row, in the same
// order of operations whatever n is (a text gets the same bits alone as in a batch). Float32 sums
// over k in order; vectorised for AVX-512 / AVX2 where the CPU has them. Thread-safe.
void SmallLinear(const float* x, int64_t n, int64_t k, const float* w, const float* b, int64_t m,
                 float* out);

}  // namespace ner::model::linear_cpu

#endif  // NER_MODEL_LINEAR_CPU_H_
