#ifndef NER_MODEL_LABEL_ALIGNMENT_H_
#define NER_MODEL_LABEL_ALIGNMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/entity.h"
#include "model/tag_scheme.h"
#include "model/tokenizer.h"

namespace ner::model {

// How per-character labels meet multi-character tokens.
//
// The model tags tokens; datasets and answers use characters. Most Chinese tokens are one
// character; a word-piece such as "2021" or "iphone" covers several.
//
// Taking labels (training): a token belongs to an entity when any of its characters does. The
// entity's token span runs from the token holding its first character to the token holding its
// last one, and is tagged with the scheme (B on the first token, ...). When an entity boundary
// falls inside a token ("iPhone12" labelled only on "iPhone" while the tokenizer gives
// "iphone" + "##12" is fine; "苹果2021年" labelled "2021年" with the run "2021" is fine too; a
// label on "20" of "2021" is not), the entity is widened to the whole token and counted in
// `widened`. Entities covering no token at all (only whitespace) are dropped and counted.
//
// Giving labels (prediction): a decoded token span [i, j) becomes the character span
// [tokens[i].begin_char, tokens[j-1].end_char): every character of the tokens, including the
// skipped whitespace between them, is part of the entity.

struct TokenTags {
  std::vector<std::string> tags;  // one per token
  int64_t widened = 0;            // entities whose bounds moved to token bounds
  int64_t dropped = 0;            // entities covering no token (or overlapping after widening)
};

// Char-level entities -> token tags under `scheme`. Never fails; see the counts.
TokenTags CharSpansToTokenTags(const std::vector<Token>& tokens,
                               const std::vector<EntitySpan>& entities, TagScheme scheme);

// Token-level spans -> char-level entities (see above). Spans must index into `tokens`.
std::vector<EntitySpan> TokenSpansToCharSpans(const std::vector<Token>& tokens,
                                              const std::vector<TagSpan>& spans);

}  // namespace ner::model

#endif  // NER_MODEL_LABEL_ALIGNMENT_H_
