#include "model/crf_cpu.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace ner::model::crf_cpu {
namespace {

// log(sum_i exp(x_i)) of `n` values, in double.
double LogSumExp(const double* x, int64_t n) {
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; ++i) top = std::max(top, x[i]);
  if (std::isinf(top)) return top;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - top);
  return top + std::log(sum);
}

}  // namespace

template <typename T>
void Viterbi(const T* emissions, const int64_t* lengths, const T* start, const T* end,
             const T* transitions, int64_t batch, int64_t steps, int64_t tags, int64_t* paths,
             double* scores) {
  std::vector<T> score(tags);
  std::vector<T> next(tags);
  std::vector<int32_t> back;
  for (int64_t b = 0; b < batch; ++b) {
    const T* em = emissions + b * steps * tags;
    const int64_t length = lengths[b];
    back.resize(static_cast<size_t>(std::max<int64_t>(length - 1, 0) * tags));
    for (int64_t j = 0; j < tags; ++j) score[j] = start[j] + em[j];
    for (int64_t t = 1; t < length; ++t) {
      int32_t* back_t = back.data() + (t - 1) * tags;
      for (int64_t j = 0; j < tags; ++j) {
        T best = score[0] + transitions[j];
        int32_t best_prev = 0;
        for (int64_t i = 1; i < tags; ++i) {
          const T candidate = score[i] + transitions[i * tags + j];
          if (candidate > best) {
            best = candidate;
            best_prev = static_cast<int32_t>(i);
          }
        }
        next[j] = best + em[t * tags + j];
        back_t[j] = best_prev;
      }
      score.swap(next);
    }
    T best = score[0] + end[0];
    int64_t last = 0;
    for (int64_t j = 1; j < tags; ++j) {
      const T candidate = score[j] + end[j];
      if (candidate > best) {
        best = candidate;
        last = j;
      }
    }
    scores[b] = static_cast<double>(best);
    int64_t* path = paths + b * steps;
    path[length - 1] = last;
    for (int64_t t = length - 1; t >= 1; --t) path[t - 1] = back[(t - 1) * tags + path[t]];
  }
}

namespace {

// One sequence's marginals in log space (exact for any scores; ~2 exp per K^2 term).
template <typename T>
void LogSpaceMarginals(const T* em, int64_t length, const T* start, const T* end,
                       const T* transitions, int64_t tags, T* out) {
  std::vector<double> alpha(static_cast<size_t>(length * tags));
  std::vector<double> beta(static_cast<size_t>(length * tags));
  std::vector<double> terms(tags);
  for (int64_t j = 0; j < tags; ++j) alpha[j] = double(start[j]) + double(em[j]);
  for (int64_t t = 1; t < length; ++t) {
    for (int64_t j = 0; j < tags; ++j) {
      for (int64_t i = 0; i < tags; ++i) {
        terms[i] = alpha[(t - 1) * tags + i] + double(transitions[i * tags + j]);
      }
      alpha[t * tags + j] = LogSumExp(terms.data(), tags) + double(em[t * tags + j]);
    }
  }
  double* beta_last = beta.data() + (length - 1) * tags;
  for (int64_t i = 0; i < tags; ++i) {
    beta_last[i] = double(end[i]);
    terms[i] = alpha[(length - 1) * tags + i] + beta_last[i];
  }
  const double log_z = LogSumExp(terms.data(), tags);
  for (int64_t t = length - 2; t >= 0; --t) {
    for (int64_t i = 0; i < tags; ++i) {
      for (int64_t j = 0; j < tags; ++j) {
        terms[j] = double(transitions[i * tags + j]) + double(em[(t + 1) * tags + j]) +
                   beta[(t + 1) * tags + j];
      }
      beta[t * tags + i] = LogSumExp(terms.data(), tags);
    }
  }
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t k = 0; k < tags; ++k) {
      out[t * tags + k] = static_cast<T>(std::exp(alpha[t * tags + k] + beta[t * tags + k] - log_z));
    }
  }
}

// Divides v[0, n) by its sum; false when the sum is not a positive finite number.
bool Normalize(double* v, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += v[i];
  if (!(sum > 0) || !std::isfinite(sum)) return false;
  for (int64_t i = 0; i < n; ++i) v[i] /= sum;
  return true;
}

// One sequence's marginals by the scaled forward-backward in probability space: exp() once per
// emission and transition, then only multiply-adds, each step renormalised. The marginal at t is
// alpha_t * beta_t normalised, so the scale factors cancel. False (out undefined) when a step
// underflows to all zeros (scores hundreds apart), for the log-space fallback.
template <typename T>
bool ScaledMarginals(const T* em, int64_t length, const double* trans_exp, const T* start,
                     const T* end, int64_t tags, std::vector<double>& alpha,
                     std::vector<double>& beta, std::vector<double>& emit, T* out) {
  alpha.resize(static_cast<size_t>(length * tags));
  beta.resize(static_cast<size_t>(length * tags));
  emit.resize(static_cast<size_t>(length * tags));
  for (int64_t t = 0; t < length; ++t) {
    const T* row = em + t * tags;
    const double top = double(*std::max_element(row, row + tags));
    for (int64_t j = 0; j < tags; ++j) emit[t * tags + j] = std::exp(double(row[j]) - top);
  }
  const double start_top = double(*std::max_element(start, start + tags));
  for (int64_t j = 0; j < tags; ++j) {
    alpha[j] = std::exp(double(start[j]) - start_top) * emit[j];
  }
  if (!Normalize(alpha.data(), tags)) return false;
  for (int64_t t = 1; t < length; ++t) {
    double* a = alpha.data() + t * tags;
    const double* prev = a - tags;
    std::fill(a, a + tags, 0.0);
    for (int64_t i = 0; i < tags; ++i) {
      const double* row = trans_exp + i * tags;
      for (int64_t j = 0; j < tags; ++j) a[j] += prev[i] * row[j];
    }
    for (int64_t j = 0; j < tags; ++j) a[j] *= emit[t * tags + j];
    if (!Normalize(a, tags)) return false;
  }
  const double end_top = double(*std::max_element(end, end + tags));
  double* last = beta.data() + (length - 1) * tags;
  for (int64_t i = 0; i < tags; ++i) last[i] = std::exp(double(end[i]) - end_top);
  if (!Normalize(last, tags)) return false;
  for (int64_t t = length - 2; t >= 0; --t) {
    double* b = beta.data() + t * tags;
    const double* next = b + tags;
    const double* e = emit.data() + (t + 1) * tags;
    for (int64_t i = 0; i < tags; ++i) {
      const double* row = trans_exp + i * tags;
      double sum = 0;
      for (int64_t j = 0; j < tags; ++j) sum += row[j] * e[j] * next[j];
      b[i] = sum;
    }
    if (!Normalize(b, tags)) return false;
  }
  std::vector<double> product(tags);
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t k = 0; k < tags; ++k) product[k] = alpha[t * tags + k] * beta[t * tags + k];
    if (!Normalize(product.data(), tags)) return false;
    for (int64_t k = 0; k < tags; ++k) out[t * tags + k] = static_cast<T>(product[k]);
  }
  return true;
}

}  // namespace

template <typename T>
void Marginals(const T* emissions, const int64_t* lengths, const T* start, const T* end,
               const T* transitions, int64_t batch, int64_t steps, int64_t tags, T* out) {
  std::fill(out, out + batch * steps * tags, T(0));
  // exp(transitions) shifted by their maximum: the shift is a constant factor per step, which
  // the normalisation removes.
  const double top = double(*std::max_element(transitions, transitions + tags * tags));
  std::vector<double> trans_exp(static_cast<size_t>(tags * tags));
  for (int64_t i = 0; i < tags * tags; ++i) trans_exp[i] = std::exp(double(transitions[i]) - top);
  std::vector<double> alpha, beta, emit;
  for (int64_t b = 0; b < batch; ++b) {
    const T* em = emissions + b * steps * tags;
    T* o = out + b * steps * tags;
    if (!ScaledMarginals(em, lengths[b], trans_exp.data(), start, end, tags, alpha, beta, emit,
                         o)) {
      LogSpaceMarginals(em, lengths[b], start, end, transitions, tags, o);
    }
  }
}

template void Viterbi<float>(const float*, const int64_t*, const float*, const float*,
                             const float*, int64_t, int64_t, int64_t, int64_t*, double*);
template void Viterbi<double>(const double*, const int64_t*, const double*, const double*,
                              const double*, int64_t, int64_t, int64_t, int64_t*, double*);
template void Marginals<float>(const float*, const int64_t*, const float*, const float*,
                               const float*, int64_t, int64_t, int64_t, float*);
template void Marginals<double>(const double*, const int64_t*, const double*, const double*,
                                const double*, int64_t, int64_t, int64_t, double*);

}  // namespace ner::model::crf_cpu
