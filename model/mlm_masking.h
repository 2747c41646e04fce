#ifndef NER_MODEL_MLM_MASKING_H_
#define NER_MODEL_MLM_MASKING_H_

// Masked-language-model inputs: which tokens are hidden and what replaces them (BERT's rule).
// Pure functions over token ids with an explicit seed, so the masks of a sequence depend only on
// (seed, sequence) and not on batching, threads or the standard library's distributions.

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "model/vocab.h"

namespace ner::model {

// The label of a position that is not a prediction target (PyTorch's cross-entropy ignore_index).
inline constexpr int32_t kIgnoreLabel = -100;

// How tokens are chosen and replaced.
struct MaskingOptions {
  double mask_prob = 0.15;    // Share of maskable tokens chosen as targets (at least one).
  double mask_token = 0.8;    // Of the targets: share replaced by [MASK] ...
  double random_token = 0.1;  // ... by a random token; the rest stay unchanged.
  // Chooses whole words: a WordPiece token together with its "##" continuations. The Tokenizer
  // makes every CJK character its own token and there is no word segmenter here, so for Chinese
  // text this is per-character masking; it matters for Latin/digit runs ("iphone" "##12").
  bool whole_word = false;

  // OK, or INVALID_ARGUMENT when mask_prob is not in (0, 1] or the shares are not in [0, 1] with
  // mask_token + random_token <= 1.
  absl::Status Validate() const;
};

// Per-vocabulary facts the masking needs. Immutable; thread-safe.
class MaskingVocab {
 public:
  // Special tokens are those written "[...]" (at least 3 bytes): [PAD] [UNK] [CLS] [SEP] [MASK]
  // and [unusedN]; they are never chosen and never drawn as random replacements. [UNK] is not
  // worth predicting. Continuations are the tokens starting with "##". Random replacements are
  // drawn uniformly from the ids that are neither (use set_random_ids to draw from, e.g., the ids
  // that actually occur in a corpus).
  explicit MaskingVocab(const Vocab& vocab);

  bool is_special(int32_t id) const { return id < 0 || id >= size() || special_[id]; }
  bool is_continuation(int32_t id) const { return id >= 0 && id < size() && continuation_[id]; }
  int32_t mask_id() const { return mask_id_; }
  int32_t size() const { return static_cast<int32_t>(special_.size()); }
  const std::vector<int32_t>& random_ids() const { return random_ids_; }

  // Replaces the pool of random replacements; ids must be non-special and the pool non-empty
  // (otherwise it is left unchanged and INVALID_ARGUMENT returned). Not thread-safe.
  absl::Status set_random_ids(std::vector<int32_t> ids);

 private:
  std::vector<bool> special_;
  std::vector<bool> continuation_;
  std::vector<int32_t> random_ids_;
  int32_t mask_id_;
};

// A masked sequence: `input_ids` is what the model sees; labels[i] is the original id where
// position i is a target, kIgnoreLabel elsewhere. Both have the input's length.
struct MaskedSequence {
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;
};

// SplitMix64 (Steele et al.): a tiny seeded generator with a fixed output on every platform.
class MlmRandom {
 public:
  explicit MlmRandom(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, n), n >= 1 (rejection sampling, unbiased).
  uint64_t Below(uint64_t n);
  // Uniform in [0, 1).
  double Fraction();

 private:
  uint64_t state_;
};

// Mixes values into one well-spread seed (SplitMix64 finaliser over a running hash).
uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c = 0);

// Chooses targets among the non-special tokens of `ids` (a whole packed sequence, [CLS] ...
// [SEP]) and replaces them by BERT's rule. The number of targets is round(maskable * mask_prob),
// at least 1 when anything is maskable; the units (tokens, or whole words) are taken in a seeded
// random order, skipping a word that would overshoot the count as BERT's reference does. Each
// target independently becomes [MASK] (mask_token), a random token (random_token) or stays.
// Ids outside the vocabulary count as special. Deterministic in (`ids`, `options`, `seed`).
MaskedSequence MaskTokens(absl::Span<const int32_t> ids, const MaskingVocab& vocab,
                          const MaskingOptions& options, uint64_t seed);

}  // namespace ner::model

#endif  // NER_MODEL_MLM_MASKING_H_
