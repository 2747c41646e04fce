#ifndef NER_MODEL_LSTM_CPU_BLOCKS_H_
#define NER_MODEL_LSTM_CPU_BLOCKS_H_

#include <cstdint>
#include <type_traits>

namespace ner::model::lstm_cpu {

// The row-block walk of the register-blocked step products (lstm_cpu_fp32.cc, and the bf16
// vector kernel of lstm_cpu_bf16.cc): block(rows, r0, g0) for rows [r0, r0 + rows) and columns
// [g0, g0 + 64), g0 < g_full, in blocks of 4 rows, then one block of the 1-3 rows left; `rows` is
// a std::integral_constant, so each block size is its own instantiation with its accumulators in
// registers. Always inlined, so that it is compiled for the caller's target (the float32 kernel
// is built once per ISA by target_clones) and, with `block` an always-inline lambda, so is the
// block. A block built for a target of its own (the bf16 kernel's AVX512-BF16) cannot be forced
// inline into this function's baseline body; GCC inlines some of its calls and calls the rest.
template <typename Block>
__attribute__((always_inline)) inline void ForEachRowBlock(int64_t n, int64_t g_full,
                                                           const Block& block) {
  int64_t r0 = 0;
  for (; r0 + 4 <= n; r0 += 4) {
    for (int64_t g0 = 0; g0 < g_full; g0 += 64) block(std::integral_constant<int, 4>{}, r0, g0);
  }
  for (int64_t g0 = 0; g0 < g_full; g0 += 64) {
    switch (n - r0) {
      case 1:
        block(std::integral_constant<int, 1>{}, r0, g0);
        break;
      case 2:
        block(std::integral_constant<int, 2>{}, r0, g0);
        break;
      case 3:
        block(std::integral_constant<int, 3>{}, r0, g0);
        break;
      default:
        break;
    }
  }
}

}  // namespace ner::model::lstm_cpu

#endif  // NER_MODEL_LSTM_CPU_BLOCKS_H_
