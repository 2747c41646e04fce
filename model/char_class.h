#ifndef NER_MODEL_CHAR_CLASS_H_
#define NER_MODEL_CHAR_CLASS_H_

namespace ner::model {

// Character classes used by the tokenizer and the segmenter. All pure and thread-safe.
// They are table-free range checks covering what Chinese text in the wild contains; they are not
// a full Unicode database (no ICU dependency).

// Whitespace: ASCII space/tab/newlines, NBSP, U+2000..U+200A, U+2028/9, U+202F, U+205F, U+3000.
bool IsWhitespace(char32_t cp);

// Invisible characters that are never tokens: C0/C1 controls (except whitespace), soft hyphen,
// zero-width space, direction marks, word joiner, BOM, U+FFFD replacement char.
bool IsControl(char32_t cp);

// Characters that extend the preceding character instead of standing alone: combining marks,
// ZWNJ/ZWJ (emoji sequences), variation selectors, emoji skin-tone modifiers.
bool IsExtending(char32_t cp);

// CJK unified ideographs (all extensions) and compatibility ideographs, as BERT defines them.
bool IsCjk(char32_t cp);

// Punctuation: ASCII punctuation and symbols (as BERT treats them) plus general, CJK, full-width
// and vertical-form punctuation blocks.
bool IsPunctuation(char32_t cp);

// Characters that form multi-character word runs (WordPiece input) after NormalizeForLookup:
// ASCII letters and digits and Latin-1/Latin Extended-A/B letters.
bool IsWordChar(char32_t cp);

// Lookup normalisation: full-width ASCII variants U+FF01..U+FF5E -> U+0021..U+007E, U+3000 ->
// space, then ASCII and Latin-1 upper case -> lower case. Other code points are returned as is.
// Used only for vocabulary lookup; offsets always refer to the original text.
char32_t NormalizeForLookup(char32_t cp);

}  // namespace ner::model

#endif  // NER_MODEL_CHAR_CLASS_H_
