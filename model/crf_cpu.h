#ifndef NER_MODEL_CRF_CPU_H_
#define NER_MODEL_CRF_CPU_H_

// The CRF's inference algorithms as plain loops over contiguous CPU arrays, for CrfImpl::Decode
// and CrfImpl::Marginals on the CPU. Tensor operations step through T with a dispatch overhead
// per step (~6 us for Viterbi, ~25 us for a log-sum-exp at batch 1) for ~K^2 = 49 additions;
// these loops do the same arithmetic in nanoseconds. No LibTorch here.
//
// Layouts (row-major, contiguous): emissions [B, T, K], start/end [K], transitions [K, K] with
// transitions[i * K + j] scoring tag i followed by tag j, lengths [B] with 1 <= lengths[b] <= T.
// Steps at and beyond a sequence's length are ignored. All functions are thread-safe.

#include <cstdint>

namespace ner::model::crf_cpu {

// Best path per sequence. Writes paths [B, T] (tags at t < lengths[b]; later entries untouched)
// and scores [B] (start + emissions + transitions + end of that path). The arithmetic is the
// tensor implementation's, in the same order and type T, so paths and scores are identical to
// it; ties go to the lowest tag index.
template <typename T>
void Viterbi(const T* emissions, const int64_t* lengths, const T* start, const T* end,
             const T* transitions, int64_t batch, int64_t steps, int64_t tags, int64_t* paths,
             double* scores);

// Posterior marginals p(y_t = k | x) by the scaled forward-backward in probability space (in
// double; a sequence whose scores are too far apart for it falls back to log space).
// Writes out [B, T, K]: rows sum to 1 at t < lengths[b] and are 0 beyond.
template <typename T>
void Marginals(const T* emissions, const int64_t* lengths, const T* start, const T* end,
               const T* transitions, int64_t batch, int64_t steps, int64_t tags, T* out);

}  // namespace ner::model::crf_cpu

#endif  // NER_MODEL_CRF_CPU_H_
