#include "model/segmenter.h"

#include <algorithm>

#include "model/char_class.h"

namespace ner::model {
namespace {

bool IsSoftBreak(char32_t cp) {
  return cp == U'，' || cp == U',' || cp == U'、' || cp == U'：' || cp == U':' ||
         IsWhitespace(cp);
}

// A cut at k (between text[k-1] and text[k]) ends a sentence when text[k-1] is a sentence end or
// a closer following one, and text[k] does not continue that run of ends and closers.
bool IsSentenceBoundary(std::u32string_view text, int32_t k, int32_t piece_begin) {
  const auto n = static_cast<int32_t>(text.size());
  if (k < n && (IsSentenceEnd(text[k]) || IsSentenceCloser(text[k]) || IsExtending(text[k]))) {
    return false;
  }
  int32_t j = k - 1;
  while (j >= piece_begin && (IsSentenceCloser(text[j]) || IsExtending(text[j]))) --j;
  return j >= piece_begin && IsSentenceEnd(text[j]);
}

}  // namespace

bool IsSentenceEnd(char32_t cp) {
  return cp == U'。' || cp == U'！' || cp == U'？' || cp == U'!' || cp == U'?' || cp == U'；' ||
         cp == U';' || cp == U'\n' || cp == U'\r' || cp == 0x2028 || cp == 0x2029 ||
         cp == U'｡';
}

bool IsSentenceCloser(char32_t cp) {
  return cp == U'”' || cp == U'’' || cp == U'"' || cp == U'\'' || cp == U'」' || cp == U'』' ||
         cp == U'）' || cp == U')' || cp == U'】' || cp == U'》' || cp == U'〉' || cp == U']' ||
         cp == U'}' || cp == U'〕' || cp == U'〗' || cp == U'］' || cp == U'｝';
}

std::vector<TextPiece> SegmentText(std::u32string_view text, int32_t max_chars) {
  std::vector<TextPiece> pieces;
  max_chars = std::max<int32_t>(max_chars, 1);
  const auto n = static_cast<int32_t>(text.size());
  int32_t begin = 0;
  while (n - begin > max_chars) {
    const int32_t limit = begin + max_chars;
    int32_t cut = -1;
    // The boundary test looks back over closers, so this scan is O(max_chars) amortised per
    // piece except for pathological runs of closers.
    for (int32_t k = limit; k > begin && cut < 0; --k) {
      if (IsSentenceBoundary(text, k, begin)) cut = k;
    }
    for (int32_t k = limit; k > begin && cut < 0; --k) {
      if (IsSoftBreak(text[k - 1]) && !IsExtending(text[k])) cut = k;
    }
    if (cut < 0) {
      cut = limit;
      while (cut > begin + 1 && IsExtending(text[cut])) --cut;
    }
    pieces.push_back({begin, cut});
    begin = cut;
  }
  if (begin < n) pieces.push_back({begin, n});
  return pieces;
}

}  // namespace ner::model
