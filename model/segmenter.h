#ifndef NER_MODEL_SEGMENTER_H_
#define NER_MODEL_SEGMENTER_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace ner::model {

// A piece of a longer text: characters [begin_char, end_char) in Unicode code points.
struct TextPiece {
  int32_t begin_char;
  int32_t end_char;
  int32_t size() const { return end_char - begin_char; }
};

// True for the characters after which a sentence ends: 。！？!?；; and line breaks.
bool IsSentenceEnd(char32_t cp);
// True for closing quotes and brackets that belong to the sentence before them (” ’ 」 』 ） 】 》
// ...).
bool IsSentenceCloser(char32_t cp);

// Cuts `text` into consecutive pieces of at most `max_chars` code points (the paper's rule, with
// 512 by default):
//   1. cut after the last sentence end at or before max_chars, keeping closing quotes/brackets
//      and further sentence ends that follow it in the same piece, so no sentence is split;
//   2. a single sentence longer than max_chars is cut after the last comma, enumeration comma,
//      colon or whitespace in the window;
//   3. failing that, it is hard-cut at max_chars (never between a character and a combining
//      mark or ZWJ that extends it, when avoidable).
// The pieces cover the text exactly: the first begins at 0, each begins where the previous one
// ends, the last ends at text.size(); none is empty. Empty text gives no pieces.
// `max_chars` must be >= 1. Linear time in the text length. Pure; thread-safe.
//
// Callers bound the piece by a model's token window too: a token covers at least one character,
// so max_chars = min(max_chars, token window) is always safe.
std::vector<TextPiece> SegmentText(std::u32string_view text, int32_t max_chars);

}  // namespace ner::model

#endif  // NER_MODEL_SEGMENTER_H_
