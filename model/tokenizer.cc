#include "model/tokenizer.h"

#include <string>

#include "model/char_class.h"
#include "model/utf8.h"

namespace ner::model {

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab, int max_word_chars)
    : vocab_(std::move(vocab)), max_word_chars_(max_word_chars) {}

std::vector<Token> Tokenizer::Tokenize(std::u32string_view text) const {
  std::vector<Token> tokens;
  tokens.reserve(text.size());
  const auto n = static_cast<int32_t>(text.size());
  std::string piece;
  int32_t i = 0;
  while (i < n) {
    const char32_t cp = text[i];
    if (IsWhitespace(cp) || IsControl(cp)) {
      ++i;
      continue;
    }
    if (IsExtending(cp)) {
      // Joins the token that ends right here; otherwise (after a space, or at the start) it is
      // dropped like a control character.
      if (!tokens.empty() && tokens.back().end_char == i) tokens.back().end_char = i + 1;
      ++i;
      continue;
    }
    const char32_t normalized = NormalizeForLookup(cp);
    if (IsWordChar(normalized)) {
      int32_t end = i + 1;
      while (end < n) {
        const char32_t next = text[end];
        if (IsWordChar(NormalizeForLookup(next))) {
          ++end;
        } else {
          break;
        }
      }
      AppendWordPieces(text, i, end, &tokens);
      i = end;
      continue;
    }
    piece.clear();
    AppendUtf8(cp, &piece);
    int32_t id = vocab_->Find(piece);
    if (id < 0 && normalized != cp) {
      piece.clear();
      AppendUtf8(normalized, &piece);
      id = vocab_->Find(piece);
    }
    tokens.push_back({id < 0 ? vocab_->unk_id() : id, i, i + 1});
    ++i;
  }
  return tokens;
}

void Tokenizer::AppendWordPieces(std::u32string_view text, int32_t begin, int32_t end,
                                 std::vector<Token>* tokens) const {
  if (end - begin > max_word_chars_) {
    tokens->push_back({vocab_->unk_id(), begin, end});
    return;
  }
  std::u32string normalized;
  normalized.reserve(end - begin);
  for (int32_t i = begin; i < end; ++i) normalized.push_back(NormalizeForLookup(text[i]));

  const size_t first_new = tokens->size();
  std::string candidate;
  int32_t start = 0;
  const auto length = static_cast<int32_t>(normalized.size());
  while (start < length) {
    int32_t found_id = -1;
    int32_t found_end = start;
    // Greedy longest match first.
    for (int32_t stop = length; stop > start; --stop) {
      candidate = start > 0 ? "##" : "";
      for (int32_t k = start; k < stop; ++k) AppendUtf8(normalized[k], &candidate);
      const int32_t id = vocab_->Find(candidate);
      if (id >= 0) {
        found_id = id;
        found_end = stop;
        break;
      }
    }
    if (found_id < 0) {
      // BERT: a word that cannot be fully split becomes a single [UNK].
      tokens->resize(first_new);
      tokens->push_back({vocab_->unk_id(), begin, end});
      return;
    }
    tokens->push_back({found_id, begin + start, begin + found_end});
    start = found_end;
  }
}

}  // namespace ner::model
