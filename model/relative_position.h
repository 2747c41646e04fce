#ifndef NER_MODEL_RELATIVE_POSITION_H_
#define NER_MODEL_RELATIVE_POSITION_H_

// NEZHA's functional relative positions: the table, and attention with relative-position terms
// computed without a [T, T, d] tensor and without index tensors. All functions are thread-safe.

#include <torch/types.h>

#include <cstdint>

namespace ner::model {

// Returns NEZHA's functional relative-position table, [2R + 1, d] float32 on the CPU:
// table[p, 2k] = sin(p / 10000^(2k/d)) and table[p, 2k + 1] = cos(p / 10000^(2k/d)).
// The argument is the shifted row index p = clip(j - i, -R, R) + R, not the signed distance
// j - i: the published NEZHA code builds it that way and the pretrained weights expect it.
// `head_size` (d) must be even.
torch::Tensor RelativePositionTable(int64_t max_relative_position, int64_t head_size);

// Returns [T, T] int64 on the CPU with index[i][j] = clip(j - i, -R, R) + R, the table row that
// query i uses for key j.
torch::Tensor RelativePositionIndex(int64_t length, int64_t max_relative_position);

// The two maps between "per key" [..., T, T] and "per clipped distance" [..., T, W] (W = 2R + 1)
// that the relative terms need; each is the other's adjoint, so each one's gradient is the
// other (both are differentiable, to any order).
//   ExpandByDistance:  out[..., i, j] = in[..., i, clip(j - i, -R, R) + R]   [.., T, W] -> [.., T, T]
//   SumByDistance:     out[..., i, w] = sum of in[..., i, j] over j with clip(j - i, -R, R) + R == w
//                                                                           [.., T, T] -> [.., T, W]
// On the CPU they are single passes over contiguous rows (a constant fill, a copy of the
// 2R - 1 band, a constant fill; a prefix sum, the band, a suffix sum), accumulating in float
// for half types; on other devices they gather / scatter-add with RelativePositionIndex.
torch::Tensor ExpandByDistance(const torch::Tensor& by_distance, int64_t length);
torch::Tensor SumByDistance(const torch::Tensor& by_key, int64_t window);

// Multi-head attention over query/key/value [B, N, T, d] with an additive key mask broadcastable
// to [B, N, T, T] (0 = attend, very negative = masked). Returns the context [B, N, T, d]:
//   scores_ij  = (q_i . k_j + q_i . a_ij) / sqrt(d),  p_i = dropout(softmax_j(scores_i + mask)),
//   context_i  = sum_j p_ij v_j + sum_j p_ij a_ij,    a_ij = table[clip(j - i, -R, R) + R],
// with `table` [W = 2R + 1, d] on the query's device, in its dtype. The relative terms cost two
// GEMMs against the W table rows plus O(T^2) memory passes: q . a is ExpandByDistance of
// q @ table^T, and sum_j p_ij a_ij is SumByDistance(p) @ table. With an undefined table this is
// plain BERT attention.
torch::Tensor RelativePositionAttention(const torch::Tensor& query, const torch::Tensor& key,
                                        const torch::Tensor& value,
                                        const torch::Tensor& additive_mask,
                                        const torch::Tensor& table, double dropout_prob,
                                        bool training);

}  // namespace ner::model

#endif  // NER_MODEL_RELATIVE_POSITION_H_
