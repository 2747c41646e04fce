#ifndef NER_BENCH_FLOPS_H_
#define NER_BENCH_FLOPS_H_

#include <cstdint>

#include "model/encoder_config.h"
#include "model/model_config.h"

namespace ner::bench {

// Analytic forward FLOPs of a TransformerEncoder over `batch` sequences of `length` tokens
// (the tokens the encoder sees, [CLS]/[SEP] included). A multiply-add counts 2 FLOPs. Only
// the matrix products are counted, as MFU figures conventionally do: embeddings (lookups),
// biases, LayerNorm, softmax, GELU, dropout, the gather/scatter of the relative terms and the
// residual adds are O(n H) or O(n T) element-wise work, below 2% of the total at H = 768.
//
// With n = batch * length tokens, H = hidden, F = intermediate, T = length, per layer:
//   projections        8 n H^2     Q, K, V and the attention-output dense (4 x 2 n H^2)
//   attention          4 n T H     scores q.k^T and context p.v (2 x 2 n T H over all heads)
//   relative_position  4 n W H     NEZHA only: q.table^T and buckets.table (2 x 2 n W H), with
//                                  W = 2 min(R, T - 1) + 1 table rows (the encoder trims the
//                                  table to the distances that occur)
//   feed_forward       4 n H F     intermediate and output dense (2 x 2 n H F)
// times L layers. For NEZHA-base at T = 128 (F = 4H, W = 129) that is 24 n H^2 + 4 n (T + W) H
// per layer: 14.9 MFLOP per token per layer, 179 MFLOP per token (BERT-base: 175).
struct EncoderFlops {
  double projections = 0;
  double attention = 0;
  double relative_position = 0;
  double feed_forward = 0;

  double Total() const { return projections + attention + relative_position + feed_forward; }
};

// Returns the FLOPs of one forward, by part (see EncoderFlops). `batch`, `length` >= 1.
// Pure; thread-safe.
EncoderFlops CountEncoderFlops(const model::EncoderConfig& config, int64_t batch,
                               int64_t length);

// Returns the FLOPs of one whole NerModel inference over `batch` pieces of `length` content
// characters (one character = one token for Chinese text), i.e. what the server spends:
//   encoder      CountEncoderFlops at length + 2 ([CLS] and [SEP] are added), transformer
//                variants only; the char embedding of bilstm-crf is a lookup (0 FLOPs)
//   fusion       2 n L H      weighted sum of the L layer outputs (n = batch * length)
//   BiLSTM       16 n h (D + h)   2 directions x 4 gates x (input D + recurrent h) x h x 2
//   emissions    4 n h K      the linear layer from 2h features to K tags
//   CRF          6 n K^2      Viterbi, then the forward and the backward pass of the marginals,
//                             each one add and one max/log-sum-exp term per tag pair and step
// Pure; thread-safe.
double CountNerModelFlops(const model::ModelConfig& config, int64_t batch, int64_t length);

}  // namespace ner::bench

#endif  // NER_BENCH_FLOPS_H_
