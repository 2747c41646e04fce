#ifndef NER_MODEL_RECOGNIZER_H_
#define NER_MODEL_RECOGNIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/checkpoint.h"
#include "model/crf.h"
#include "model/tokenizer.h"
#include "model/utf8.h"

namespace ner::model {

// An entity found in a document.
// Invariants: text == document[begin_char, end_char) in code points ==
// document bytes [begin_byte, end_byte); 0 <= score <= 1.
struct RecognizedEntity {
  std::string type;
  std::string text;
  int32_t begin_char = 0;
  int32_t end_char = 0;
  int64_t begin_byte = 0;
  int64_t end_byte = 0;
  // Confidence from the CRF's forward-backward marginals: the smallest marginal probability of
  // the decoded tags over the entity's tokens (see SpanConfidence).
  float score = 0;
};

// One segment of a document, tokenized: the unit the model (and the server's batcher) runs.
// Token offsets are in code points of the whole document.
struct PreparedPiece {
  int32_t begin_char = 0;
  int32_t end_char = 0;
  std::vector<Token> tokens;
};

// A validated, segmented and tokenized document.
struct PreparedDocument {
  std::string text;          // the original UTF-8
  DecodedText decoded;       // code points and byte offsets
  std::vector<PreparedPiece> pieces;  // pieces with at least one token
};

// Turns text into entities with a loaded checkpoint: validate UTF-8 -> segment (the paper's
// 512-character sentence-boundary rule, bounded by the encoder window) -> tokenize -> batch ->
// model -> constrained Viterbi + marginals -> character/byte offsets in the original text.
// The result for a long text equals recognising each of its pieces on its own.
//
// Thread-safe: all methods are const and the model is only read (under InferenceMode), so one
// Recognizer may serve many threads.
class Recognizer {
 public:
  struct Options {
    // Forbid transitions the tag scheme does not allow (O -> I-x, ...) in Viterbi.
    bool constrained_decoding = true;
    // Most padded tokens (pieces x longest piece) per forward pass of the network. RunBatch sorts
    // its pieces by length and runs them in consecutive forwards under this bound, so one batch
    // of mixed lengths pays little padding and no forward allocates huge activations. 0 = one
    // forward per batch; kAutoForwardTokens = kTransformerForwardTokens for the transformer
    // variants and 0 for bilstm-crf, whose per-time-step cost wants the widest batch (measured:
    // docs/performance.md, "Batches through a transformer").
    int64_t max_forward_tokens = kAutoForwardTokens;
  };
  static constexpr int64_t kAutoForwardTokens = -1;
  static constexpr int64_t kTransformerForwardTokens = 2048;

  static absl::StatusOr<std::unique_ptr<Recognizer>> Create(
      std::shared_ptr<const Checkpoint> checkpoint, const Options& options);
  static absl::StatusOr<std::unique_ptr<Recognizer>> Create(
      std::shared_ptr<const Checkpoint> checkpoint) {
    return Create(std::move(checkpoint), Options());
  }

  // Validates (INVALID_ARGUMENT naming the byte offset of bad UTF-8), segments and tokenizes.
  absl::StatusOr<PreparedDocument> Prepare(std::string text) const;

  // Runs the model on pieces (in forwards of at most max_forward_tokens padded tokens, see
  // Options) and returns, per piece, its entities (character and byte offsets set from
  // `documents[i]`, which must be the document of pieces[i]).
  // INTERNAL with the LibTorch message if the computation fails.
  absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> RunBatch(
      const std::vector<const PreparedPiece*>& pieces,
      const std::vector<const PreparedDocument*>& documents) const;

  // Convenience: prepares every text and runs pieces in batches of at most `max_batch_pieces`,
  // returning entities per text in order.
  absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> Recognize(
      const std::vector<std::string>& texts, int max_batch_pieces = 32) const;

  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const Tokenizer& tokenizer() const { return tokenizer_; }
  // The bound in effect (kAutoForwardTokens resolved); 0 = unbounded.
  int64_t max_forward_tokens() const { return max_forward_tokens_; }

 private:
  Recognizer(std::shared_ptr<const Checkpoint> checkpoint, const Options& options,
             std::unique_ptr<TransitionConstraints> constraints);

  // One padded forward over pieces[order[i]] for i in [begin, end), entities into results.
  void RunForward(const std::vector<const PreparedPiece*>& pieces,
                  const std::vector<const PreparedDocument*>& documents,
                  const std::vector<size_t>& order, size_t begin, size_t end,
                  std::vector<std::vector<RecognizedEntity>>& results) const;

  std::shared_ptr<const Checkpoint> checkpoint_;
  // Shares checkpoint_->model; a non-const pointer because LibTorch forward() is non-const.
  std::shared_ptr<NerModelImpl> model_;
  Options options_;
  Tokenizer tokenizer_;
  std::unique_ptr<TransitionConstraints> constraints_;
  torch::Device device_;
  int64_t max_forward_tokens_ = 0;
};

}  // namespace ner::model

#endif  // NER_MODEL_RECOGNIZER_H_
