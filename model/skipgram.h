#ifndef NER_MODEL_SKIPGRAM_H_
#define NER_MODEL_SKIPGRAM_H_

// Character and character-bigram vectors learned from raw text by skip-gram with negative
// sampling (word2vec's SGNS), for the bilstm-crf variant's embedding tables: the pretrained
// inputs that published character BiLSTM-CRF baselines start from. `ner embed` runs it; `ner
// train --char_vectors/--bigram_vectors` loads its output (or published vectors in the same
// word2vec text format). No LibTorch: plain loops over float arrays.

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "model/mlm_corpus.h"
#include "model/text_vectors.h"
#include "model/tokenizer.h"

namespace ner::model {

struct SkipGramOptions {
  int32_t dim = 100;        // character vectors (bilstm-crf's char_embedding_dim default)
  int32_t bigram_dim = 50;  // bigram vectors (bigram_embedding_dim's default); 0 = none
  int32_t window = 5;       // context characters on each side (shrunk at random per position)
  int32_t negative = 5;     // negative samples per context, drawn from counts^0.75
  int32_t epochs = 5;
  int64_t min_count = 5;         // characters and bigrams seen fewer times get no vector
  double sample = 1e-4;          // frequent-token subsampling threshold (0 = off)
  double learning_rate = 0.025;  // decays linearly to 1e-4 of itself over the run
  int32_t threads = 1;           // > 1: lock-free parallel updates (Hogwild), not bit-repeatable
  uint64_t seed = 42;

  absl::Status Validate() const;
};

struct SkipGramProgress {
  int32_t epoch = 0;           // 1-based
  int64_t positions_done = 0;  // over the whole run
  int64_t positions_total = 0;
  double learning_rate = 0;
  double seconds = 0;
};

struct SkipGramResult {
  // One row per vocabulary token seen >= min_count times, keyed by its vocabulary text, the
  // most frequent first.
  TextVectors chars;
  // One row per bigram of two adjacent one-character tokens seen >= min_count times, keyed by
  // the two characters (e.g. "北京"), the most frequent first; only bigrams that the tokenizer
  // splits back into the same two tokens. Empty when bigram_dim is 0.
  TextVectors bigrams;
  int64_t positions = 0;     // training positions per epoch (non-special tokens)
  int64_t char_types = 0;    // characters with a vector
  int64_t bigram_types = 0;  // bigrams trained (before the key filter)
  double seconds = 0;
  double positions_per_second = 0;  // per epoch position, both tables together
};

// Trains on `corpus` (special tokens [CLS]/[SEP]/[PAD]/[MASK] are boundaries no window
// crosses). For each position i, the character's input vector predicts the characters within a
// random window of up to `window` positions on each side, and the bigram (i, i+1)'s vector
// predicts those around the pair; each against `negative` characters drawn from the unigram
// distribution raised to 0.75. Frequent characters and bigrams are subsampled as centres.
// `on_progress` (may be empty) is called from the calling thread every few seconds and after
// each epoch; `cancel` (may be null) stops the run: CANCELLED. INVALID_ARGUMENT for invalid
// options or when no character is seen min_count times.
absl::StatusOr<SkipGramResult> TrainSkipGram(
    const PackedCorpus& corpus, const Tokenizer& tokenizer, const SkipGramOptions& options,
    const std::function<void(const SkipGramProgress&)>& on_progress = {},
    const std::atomic<bool>* cancel = nullptr);

}  // namespace ner::model

#endif  // NER_MODEL_SKIPGRAM_H_
