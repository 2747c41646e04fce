#include "model/label_alignment.h"

#include <algorithm>

namespace ner::model {
namespace {

// Index of the first token whose end is after `char_index` (the token containing it or the
// next one).
int32_t FirstTokenEndingAfter(const std::vector<Token>& tokens, int32_t char_index) {
  auto it = std::upper_bound(tokens.begin(), tokens.end(), char_index,
                             [](int32_t c, const Token& t) { return c < t.end_char; });
  return static_cast<int32_t>(it - tokens.begin());
}

}  // namespace

TokenTags CharSpansToTokenTags(const std::vector<Token>& tokens,
                               const std::vector<EntitySpan>& entities, TagScheme scheme) {
  TokenTags result;
  std::vector<EntitySpan> sorted = entities;
  std::sort(sorted.begin(), sorted.end());
  std::vector<TagSpan> spans;
  int32_t last_end_token = 0;
  for (const EntitySpan& e : sorted) {
    const int32_t first = FirstTokenEndingAfter(tokens, e.begin_char);
    // Last token that begins before the entity ends.
    int32_t last = first;
    while (last < static_cast<int32_t>(tokens.size()) && tokens[last].begin_char < e.end_char) {
      ++last;
    }
    if (first >= last || first < last_end_token) {
      ++result.dropped;
      continue;
    }
    if (tokens[first].begin_char != e.begin_char || tokens[last - 1].end_char != e.end_char) {
      // Whitespace at the edges does not count as widening: tokens never start on it.
      const bool widened = tokens[first].begin_char < e.begin_char ||
                           tokens[last - 1].end_char > e.end_char;
      if (widened) ++result.widened;
    }
    spans.push_back({first, last, e.type});
    last_end_token = last;
  }
  absl::StatusOr<std::vector<std::string>> tags =
      SpansToTags(static_cast<int32_t>(tokens.size()), spans, scheme);
  // Spans are in range, non-empty and disjoint by construction.
  result.tags = tags.ok() ? *std::move(tags)
                          : std::vector<std::string>(tokens.size(), "O");
  return result;
}

std::vector<EntitySpan> TokenSpansToCharSpans(const std::vector<Token>& tokens,
                                              const std::vector<TagSpan>& spans) {
  std::vector<EntitySpan> out;
  out.reserve(spans.size());
  for (const TagSpan& span : spans) {
    out.push_back({tokens[span.begin].begin_char, tokens[span.end - 1].end_char, span.type});
  }
  return out;
}

}  // namespace ner::model
