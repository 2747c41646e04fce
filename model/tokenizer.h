#ifndef NER_MODEL_TOKENIZER_H_
#define NER_MODEL_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "model/vocab.h"

namespace ner::model {

// One model token and the characters it covers.
// Invariant: 0 <= begin_char < end_char <= text size, in Unicode code points, end exclusive;
// tokens of one text are ordered and never overlap.
struct Token {
  int32_t id;
  int32_t begin_char;
  int32_t end_char;
};

// Character-level tokenizer for Chinese NER over a BERT-style vocabulary.
//
// - Each CJK character, punctuation mark, symbol or emoji is one token.
// - Maximal runs of word characters (Latin letters and digits, see IsWordChar) are split by
//   greedy longest-match-first WordPiece (continuations prefixed "##"), as BERT does; a run that
//   cannot be fully split, or is longer than `max_word_chars`, becomes one [UNK] token.
// - Whitespace and control characters are not tokens. Extending characters (combining marks,
//   ZWJ, variation selectors) join the token before them, so offsets stay exact.
// - Lookup tries the character as written, then its NormalizeForLookup form (lower case,
//   full-width -> half-width); word runs are always looked up normalised. Unknown -> [UNK].
//
// Labels are per character; how multi-character tokens ("2021", "iphone") take and give labels
// is defined in label_alignment.h. Immutable; thread-safe.
class Tokenizer {
 public:
  explicit Tokenizer(std::shared_ptr<const Vocab> vocab, int max_word_chars = 100);

  // Tokenizes decoded text (code points). Never fails: any input gives tokens.
  std::vector<Token> Tokenize(std::u32string_view text) const;

  const Vocab& vocab() const { return *vocab_; }
  std::shared_ptr<const Vocab> shared_vocab() const { return vocab_; }

 private:
  void AppendWordPieces(std::u32string_view text, int32_t begin, int32_t end,
                        std::vector<Token>* tokens) const;

  std::shared_ptr<const Vocab> vocab_;
  int max_word_chars_;
};

}  // namespace ner::model

#endif  // NER_MODEL_TOKENIZER_H_
