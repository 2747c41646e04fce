#ifndef NER_MODEL_ENTITY_H_
#define NER_MODEL_ENTITY_H_

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace ner::model {

// A typed entity mention in a text.
// Invariant: 0 <= begin_char < end_char <= number of code points of the text, end exclusive,
// so the mention is text[begin_char, end_char) counted in Unicode code points.
struct EntitySpan {
  int32_t begin_char = 0;
  int32_t end_char = 0;
  std::string type;

  friend bool operator==(const EntitySpan& a, const EntitySpan& b) {
    return a.begin_char == b.begin_char && a.end_char == b.end_char && a.type == b.type;
  }
  friend bool operator<(const EntitySpan& a, const EntitySpan& b) {
    return std::tie(a.begin_char, a.end_char, a.type) < std::tie(b.begin_char, b.end_char, b.type);
  }
};

// A document (or sentence) with its gold or predicted entities. `text` is valid UTF-8 and the
// entity offsets are in code points of `text`.
struct Document {
  std::string id;
  std::string text;
  std::vector<EntitySpan> entities;
};

}  // namespace ner::model

#endif  // NER_MODEL_ENTITY_H_
