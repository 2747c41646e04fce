#include "model/lstm_cpu.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "model/cpu_clones.h"
#include "model/lstm_cpu_bf16.h"
#include "model/lstm_cpu_fp32.h"

// The gate loops are built per ISA (NER_CPU_CLONES; scalar on the baseline), and by hand for
// AVX-512 below.
#if defined(__x86_64__) && defined(__GNUC__)
#define NER_LSTM_CPU_AVX512 1
#include <immintrin.h>
#endif

namespace ner::model::lstm_cpu {
namespace {

// e^x in float: x = n·ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial to degree 7
// (truncation < 1e-8 relative), times 2^n. The input is clamped to [kExpMin, kExpMax], where 2^n
// stays a normal float: e^-87 ~ 1.6e-38 and e^88 ~ 1.7e38, both far enough that the sigmoid and
// tanh below are exactly saturated in float. Exp below and Exp16 (AVX-512) share these constants.
constexpr float kExpMin = -87.0f;
constexpr float kExpMax = 88.0f;
constexpr float kLog2e = 1.44269504088896341f;
// ln 2 split into a part exact in float and the rest, so that n * kLn2High is exact.
constexpr float kLn2High = 0.693145751953125f;
constexpr float kLn2Low = 1.428606765330187045e-06f;
// The Taylor coefficients 1/7! .. 1/0!, in Horner order.
constexpr float kExpTaylor[8] = {1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f,
                                 1.0f / 6.0f,    0.5f,          1.0f,          1.0f};

// Written so that loops over it vectorise; 2^n from the exponent bits.
inline float Exp(float x) {
  x = x < kExpMin ? kExpMin : x;
  x = x > kExpMax ? kExpMax : x;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * kLog2e + kRound) - kRound;
  const float r = (x - n * kLn2High) - n * kLn2Low;
  float p = kExpTaylor[0];
  for (int i = 1; i < 8; ++i) p = p * r + kExpTaylor[i];
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
NER_CPU_CLONES void StepRow(int64_t hidden, const float* __restrict__ rec,
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

NER_CPU_CLONES void SigmoidLoop(const float* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = SigmoidOf(in[i]);
}

NER_CPU_CLONES void TanhLoop(const float* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = TanhOf(in[i]);
}

#ifdef NER_LSTM_CPU_AVX512
// The gate loop written for AVX-512 by hand: the same e^x (the same reduction, polynomial and
// clamp; 2^n by vscalefps), and each of the five divisions per unit replaced by vrcp14ps and one
// Newton step (relative error ~2^-28 before rounding; a 16-lane vdivps blocks the divider for
// ~10 cycles). Measured side by side against the compiled loop above, the BiLSTM alone (D 200,
// H 128, one thread) ran 13% / 17% faster at batch 16 / 64 with AMX products and 17% faster in
// float32 at batch 64. At the clamped ends: d <= 1 + e^87 for the sigmoid keeps 1/d a normal
// float, and where the tanh's 1/d underflows (d ~ e^88) the result is 1 - 0 = 1 either way.
#define NER_AVX512_TARGET __attribute__((target("avx512f")))

NER_AVX512_TARGET inline __m512 Exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpMin)), _mm512_set1_ps(kExpMax));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2High), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Low), r);
  __m512 p = _mm512_set1_ps(kExpTaylor[0]);
  for (int i = 1; i < 8; ++i) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpTaylor[i]));
  return _mm512_scalef_ps(p, n);
}

// 1 / d for finite d >= 1.
NER_AVX512_TARGET inline __m512 Reciprocal16(__m512 d) {
  const __m512 y = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(y, _mm512_fnmadd_ps(d, y, _mm512_set1_ps(1.0f)), y);
}

NER_AVX512_TARGET inline __m512 Sigmoid16(__m512 x) {
  return Reciprocal16(
      _mm512_add_ps(Exp16(_mm512_sub_ps(_mm512_setzero_ps(), x)), _mm512_set1_ps(1.0f)));
}

NER_AVX512_TARGET inline __m512 Tanh16(__m512 x) {
  const __m512 d = _mm512_add_ps(Exp16(_mm512_add_ps(x, x)), _mm512_set1_ps(1.0f));
  return _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), Reciprocal16(d), _mm512_set1_ps(1.0f));
}

NER_AVX512_TARGET inline __mmask16 TailMask(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
}

NER_AVX512_TARGET void StepRowAvx512(int64_t hidden, const float* rec, const float* bias, float* c,
                                     float* h, float* out) {
  for (int64_t j = 0; j < hidden; j += 16) {
    const __mmask16 m = TailMask(hidden - j);
    const __m512 i_pre =
        _mm512_add_ps(_mm512_maskz_loadu_ps(m, rec + j), _mm512_maskz_loadu_ps(m, bias + j));
    const __m512 f_pre = _mm512_add_ps(_mm512_maskz_loadu_ps(m, rec + hidden + j),
                                       _mm512_maskz_loadu_ps(m, bias + hidden + j));
    const __m512 g_pre = _mm512_add_ps(_mm512_maskz_loadu_ps(m, rec + 2 * hidden + j),
                                       _mm512_maskz_loadu_ps(m, bias + 2 * hidden + j));
    const __m512 o_pre = _mm512_add_ps(_mm512_maskz_loadu_ps(m, rec + 3 * hidden + j),
                                       _mm512_maskz_loadu_ps(m, bias + 3 * hidden + j));
    const __m512 cell = _mm512_fmadd_ps(Sigmoid16(f_pre), _mm512_maskz_loadu_ps(m, c + j),
                                        _mm512_mul_ps(Sigmoid16(i_pre), Tanh16(g_pre)));
    _mm512_mask_storeu_ps(c + j, m, cell);
    const __m512 state = _mm512_mul_ps(Sigmoid16(o_pre), Tanh16(cell));
    _mm512_mask_storeu_ps(h + j, m, state);
    _mm512_mask_storeu_ps(out + j, m, state);
  }
}

NER_AVX512_TARGET void SigmoidAvx512(const float* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(out + i, m, Sigmoid16(_mm512_maskz_loadu_ps(m, in + i)));
  }
}

NER_AVX512_TARGET void TanhAvx512(const float* in, int64_t n, float* out) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = TailMask(n - i);
    _mm512_mask_storeu_ps(out + i, m, Tanh16(_mm512_maskz_loadu_ps(m, in + i)));
  }
}

bool Avx512Gates() {
  static const bool supported = __builtin_cpu_supports("avx512f");
  return supported;
}
#else
bool Avx512Gates() { return false; }
void StepRowAvx512(int64_t hidden, const float* rec, const float* bias, float* c, float* h,
                   float* out) {
  StepRow(hidden, rec, bias, c, h, out);
}
void SigmoidAvx512(const float* in, int64_t n, float* out) { SigmoidLoop(in, n, out); }
void TanhAvx512(const float* in, int64_t n, float* out) { TanhLoop(in, n, out); }
#endif  // NER_LSTM_CPU_AVX512

using StepRowFn = void (*)(int64_t, const float*, const float*, float*, float*, float*);

// Steps per chunk of RunDirectionChunked: enough that a chunk's input product has ~512 rows to
// share W_ih, few enough that its output (RoundUp16(batch) * chunk * 4H floats: 1 MB at H = 128)
// stays in L2.
int64_t ChunkSteps(int64_t batch) {
  return std::clamp<int64_t>(512 / bf16::RoundUp16(batch), 4, 16);
}

// The products of RunDirectionChunked in float32 (weights.wt: [W_ih W_hh]^T, whose first D rows
// are W_ih^T and last H rows W_hh^T).
class Fp32Products {
 public:
  Fp32Products(const PackedDirection& weights, int64_t input_dim, int64_t hidden)
      : wt_ih_(weights.wt),
        wt_hh_(weights.wt + input_dim * 4 * hidden),
        input_dim_(input_dim),
        hidden_(hidden) {}
  // Rows the outputs (and inits) must hold for n rows.
  static int64_t Rows(int64_t n) { return n; }
  // out[n, 4H] = x[n, D] · W_ih^T.
  void Input(const float* x, int64_t n, float* out) {
    fp32::MatMul(x, input_dim_, n, wt_ih_, input_dim_, 4 * hidden_, out);
  }
  // out[n, 4H] = init + h[n, H] · W_hh^T.
  void Recurrent(const float* h, int64_t n, const float* init, int64_t ld_init, float* out) {
    fp32::MatMul(h, hidden_, n, wt_hh_, hidden_, 4 * hidden_, out, init, ld_init);
  }

 private:
  const float* wt_ih_;
  const float* wt_hh_;
  int64_t input_dim_, hidden_;
};

// ... in bf16 on AVX512-BF16 vectors (weights.wt_bf16: PackDirectionBf16Split's layout), the
// rows rounded to bf16 first ...
class VectorProducts {
 public:
  // For up to `batch` sequences, `chunk` steps at a time.
  VectorProducts(const PackedDirection& weights, int64_t input_dim, int64_t hidden, int64_t batch,
                 int64_t chunk)
      : wt_ih_(weights.wt_bf16),
        wt_hh_(weights.wt_bf16 + PackedBf16Size(input_dim, 4 * hidden)),
        input_dim_(input_dim),
        hidden_(hidden),
        in_pairs_((input_dim + 1) / 2),
        h_pairs_((hidden + 1) / 2),
        x_bf16_(static_cast<size_t>(batch * chunk * in_pairs_), 0u),
        h_bf16_(static_cast<size_t>(batch * h_pairs_), 0u) {}
  static int64_t Rows(int64_t n) { return n; }
  void Input(const float* x, int64_t n, float* out) {
    bf16::RoundRows(x, input_dim_, n, x_bf16_.data(), in_pairs_);
    bf16::MatMulVectors(x_bf16_.data(), in_pairs_, n, wt_ih_, in_pairs_, 4 * hidden_, out);
  }
  void Recurrent(const float* h, int64_t n, const float* init, int64_t ld_init, float* out) {
    bf16::RoundRows(h, hidden_, n, h_bf16_.data(), h_pairs_);
    bf16::MatMulVectors(h_bf16_.data(), h_pairs_, n, wt_hh_, h_pairs_, 4 * hidden_, out, init,
                        ld_init);
  }

 private:
  const uint16_t* wt_ih_;
  const uint16_t* wt_hh_;
  int64_t input_dim_, hidden_, in_pairs_, h_pairs_;
  AlignedVector<uint32_t> x_bf16_;  // an odd width's last pad half stays zero
  AlignedVector<uint32_t> h_bf16_;
};

// ... and on AMX tiles (weights.wt_amx: PackDirectionAmxSplit's layout), the rows rounded to
// bf16 first.
class TileProducts {
 public:
  // For up to `batch` sequences, `chunk` steps at a time.
  TileProducts(const PackedDirection& weights, int64_t input_dim, int64_t hidden, int64_t batch,
               int64_t chunk)
      : wt_ih_(weights.wt_amx),
        wt_hh_(weights.wt_amx + PackedAmxSize(input_dim, 4 * hidden)),
        input_dim_(input_dim),
        hidden_(hidden),
        in_pairs_(bf16::RoundUp16((input_dim + 1) / 2)),
        h_pairs_(bf16::RoundUp16((hidden + 1) / 2)),
        x_bf16_(static_cast<size_t>(bf16::RoundUp16(batch * chunk) * in_pairs_), 0u),
        h_bf16_(static_cast<size_t>(bf16::RoundUp16(batch) * h_pairs_), 0u),
        tile_scope_(true) {}
  static int64_t Rows(int64_t n) { return bf16::RoundUp16(n); }
  void Input(const float* x, int64_t n, float* out) {
    bf16::RoundRows(x, input_dim_, n, x_bf16_.data(), in_pairs_);
    bf16::MatMulTiles(x_bf16_.data(), in_pairs_, n, wt_ih_, in_pairs_ / 16, 4 * hidden_, out);
  }
  void Recurrent(const float* h, int64_t n, const float* init, int64_t ld_init, float* out) {
    bf16::RoundRows(h, hidden_, n, h_bf16_.data(), h_pairs_);
    bf16::MatMulTiles(h_bf16_.data(), h_pairs_, n, wt_hh_, h_pairs_ / 16, 4 * hidden_, out, init,
                      ld_init);
  }

 private:
  const uint16_t* wt_ih_;
  const uint16_t* wt_hh_;
  int64_t input_dim_, hidden_, in_pairs_, h_pairs_;
  AlignedVector<uint32_t> x_bf16_;  // rows past n keep what they held: computed, never read
  AlignedVector<uint32_t> h_bf16_;
  bf16::TileScope tile_scope_;
};

// One direction over all sequences, with one of the three kinds of products above. `order`
// lists the sequences by decreasing length, so the ones still running at step s are always its
// first `active` entries and keep their state rows. A product of one step streams its weights for
// as little as one row (a lone text's step is bound by that), so the input half of the gates is
// computed for `chunk` steps of every running sequence in one product, W_ih read once per block of
// rows of the chunk instead of once per step; each step then computes only h · W_hh^T, its sums
// starting from its rows of the chunk, and runs the gates. `pre` holds a chunk sequence by sequence
// (row r * chunk + j is sequence order[r] at step s0 + j: a lone text's steps are consecutive rows,
// no padding), so a step's rows are `chunk` rows apart. A lone text's model time -25% (float32 and
// tiles); a batch of ~20, whose steps are bound by their arithmetic, gains nothing
// (docs/performance.md). Each value is the same function of its own sequence whatever the
// batch: a sequence gets the same bits alone as in a batch.
template <typename Products>
void RunDirectionChunked(bool backward, const float* input, int64_t input_dim, const float* bias,
                         const int64_t* lengths, const std::vector<int64_t>& order, int64_t batch,
                         int64_t steps, int64_t hidden, float* out, Products& products) {
  const int64_t gates = 4 * hidden;
  const int64_t rows = Products::Rows(batch);
  const int64_t chunk = ChunkSteps(batch);
  std::vector<float> x_chunk(static_cast<size_t>(batch * chunk * input_dim));
  AlignedVector<float> pre(static_cast<size_t>(Products::Rows(rows * chunk) * gates), 0.0f);
  std::vector<float> h(static_cast<size_t>(rows * hidden), 0.0f);  // states start at zero
  std::vector<float> c(static_cast<size_t>(rows * hidden), 0.0f);
  AlignedVector<float> rec(static_cast<size_t>(rows * gates));
  const StepRowFn step_row = Avx512Gates() ? StepRowAvx512 : StepRow;
  const int64_t out_offset = backward ? hidden : 0;
  int64_t active = batch;
  const int64_t longest = lengths[order[0]];
  for (int64_t s0 = 0; s0 < longest; s0 += chunk) {
    while (active > 0 && lengths[order[active - 1]] <= s0) --active;
    for (int64_t r = 0; r < active; ++r) {
      const int64_t b = order[r];
      for (int64_t j = 0; j < chunk; ++j) {
        float* x = x_chunk.data() + (r * chunk + j) * input_dim;
        const int64_t s = s0 + j;
        if (s < lengths[b]) {
          const int64_t t = backward ? lengths[b] - 1 - s : s;
          std::memcpy(x, input + (b * steps + t) * input_dim,
                      sizeof(float) * static_cast<size_t>(input_dim));
        } else {
          std::memset(x, 0, sizeof(float) * static_cast<size_t>(input_dim));  // ended
        }
      }
    }
    products.Input(x_chunk.data(), active * chunk, pre.data());
    for (int64_t s = s0; s < std::min(s0 + chunk, longest); ++s) {
      while (active > 0 && lengths[order[active - 1]] <= s) --active;
      products.Recurrent(h.data(), active, pre.data() + (s - s0) * gates, chunk * gates,
                         rec.data());
      for (int64_t r = 0; r < active; ++r) {
        const int64_t b = order[r];
        const int64_t t = backward ? lengths[b] - 1 - s : s;
        step_row(hidden, rec.data() + r * gates, bias, c.data() + r * hidden, h.data() + r * hidden,
                 out + (b * steps + t) * 2 * hidden + out_offset);
      }
    }
  }
}

void RunDirection(bool backward, const float* input, int64_t input_dim,
                  const PackedDirection& weights, const int64_t* lengths,
                  const std::vector<int64_t>& order, int64_t batch, int64_t steps, int64_t hidden,
                  float* out) {
  if (weights.wt_amx != nullptr) {
    TileProducts products(weights, input_dim, hidden, batch, ChunkSteps(batch));
    RunDirectionChunked(backward, input, input_dim, weights.bias, lengths, order, batch, steps,
                        hidden, out, products);
  } else if (weights.wt_bf16 != nullptr) {
    VectorProducts products(weights, input_dim, hidden, batch, ChunkSteps(batch));
    RunDirectionChunked(backward, input, input_dim, weights.bias, lengths, order, batch, steps,
                        hidden, out, products);
  } else {
    Fp32Products products(weights, input_dim, hidden);
    RunDirectionChunked(backward, input, input_dim, weights.bias, lengths, order, batch, steps,
                        hidden, out, products);
  }
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

void BiLstmInference(const float* input, int64_t input_dim, const PackedDirection& forward,
                     const PackedDirection& backward, const int64_t* lengths, int64_t batch,
                     int64_t steps, int64_t hidden, float* out) {
  if (batch <= 0) return;
  TORCH_CHECK(
      (forward.wt_bf16 == nullptr && backward.wt_bf16 == nullptr) || Bf16ProductsSupported(),
      "lstm_cpu: bf16 products need a CPU with AVX512-BF16");
  TORCH_CHECK((forward.wt_amx == nullptr && backward.wt_amx == nullptr) || AmxProductsSupported(),
              "lstm_cpu: tile products need a CPU and OS with AMX-BF16");
  TORCH_CHECK(reinterpret_cast<uintptr_t>(forward.wt_amx) % 64 == 0 &&
                  reinterpret_cast<uintptr_t>(backward.wt_amx) % 64 == 0,
              "lstm_cpu: AMX weight tiles must be 64-byte aligned");
  // Padding positions are zero (written here, so that callers need not clear the whole output).
  for (int64_t b = 0; b < batch; ++b) {
    TORCH_CHECK(lengths[b] >= 1 && lengths[b] <= steps, "lstm_cpu: length ", lengths[b],
                " outside [1, ", steps, "]");
    if (lengths[b] < steps) {
      std::memset(out + (b * steps + lengths[b]) * 2 * hidden, 0,
                  sizeof(float) * static_cast<size_t>((steps - lengths[b]) * 2 * hidden));
    }
  }
  std::vector<int64_t> order(static_cast<size_t>(batch));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [lengths](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  // The directions are independent: one per intra-op thread when there are two, one after the
  // other otherwise.
  at::parallel_for(0, 2, 1, [&](int64_t begin, int64_t end) {
    for (int64_t direction = begin; direction < end; ++direction) {
      RunDirection(direction == 1, input, input_dim, direction == 1 ? backward : forward, lengths,
                   order, batch, steps, hidden, out);
    }
  });
}

void Sigmoid(const float* in, int64_t n, float* out) {
  Avx512Gates() ? SigmoidAvx512(in, n, out) : SigmoidLoop(in, n, out);
}
void Tanh(const float* in, int64_t n, float* out) {
  Avx512Gates() ? TanhAvx512(in, n, out) : TanhLoop(in, n, out);
}

}  // namespace ner::model::lstm_cpu
