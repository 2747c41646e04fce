#include "model/char_class.h"

namespace ner::model {
namespace {

constexpr bool In(char32_t cp, char32_t lo, char32_t hi) { return cp >= lo && cp <= hi; }

}  // namespace

bool IsWhitespace(char32_t cp) {
  return cp == U' ' || cp == U'\t' || cp == U'\n' || cp == U'\r' || cp == 0x0B || cp == 0x0C ||
         cp == 0x85 || cp == 0xA0 || cp == 0x1680 || In(cp, 0x2000, 0x200A) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool IsControl(char32_t cp) {
  if (IsWhitespace(cp)) return false;
  return cp < 0x20 || In(cp, 0x7F, 0x9F) || cp == 0xAD || cp == 0x200B || cp == 0x200E ||
         cp == 0x200F || In(cp, 0x202A, 0x202E) || In(cp, 0x2060, 0x2064) ||
         In(cp, 0x2066, 0x206F) || cp == 0xFEFF || cp == 0xFFFD || In(cp, 0xFFF9, 0xFFFB);
}

bool IsExtending(char32_t cp) {
  return In(cp, 0x0300, 0x036F) || In(cp, 0x1AB0, 0x1AFF) || In(cp, 0x1DC0, 0x1DFF) ||
         In(cp, 0x20D0, 0x20FF) || In(cp, 0xFE20, 0xFE2F) || cp == 0x200C || cp == 0x200D ||
         In(cp, 0xFE00, 0xFE0F) || In(cp, 0xE0100, 0xE01EF) || In(cp, 0x1F3FB, 0x1F3FF) ||
         In(cp, 0x3099, 0x309A);
}

bool IsCjk(char32_t cp) {
  return In(cp, 0x4E00, 0x9FFF) || In(cp, 0x3400, 0x4DBF) || In(cp, 0x20000, 0x2A6DF) ||
         In(cp, 0x2A700, 0x2B73F) || In(cp, 0x2B740, 0x2B81F) || In(cp, 0x2B820, 0x2CEAF) ||
         In(cp, 0x2CEB0, 0x2EBEF) || In(cp, 0x30000, 0x3134F) || In(cp, 0xF900, 0xFAFF) ||
         In(cp, 0x2F800, 0x2FA1F);
}

bool IsPunctuation(char32_t cp) {
  // BERT counts all non-alphanumeric ASCII as punctuation.
  if (In(cp, 33, 47) || In(cp, 58, 64) || In(cp, 91, 96) || In(cp, 123, 126)) return true;
  return cp == 0xA1 || cp == 0xA7 || cp == 0xAB || cp == 0xB6 || cp == 0xB7 || cp == 0xBB ||
         cp == 0xBF || In(cp, 0x2010, 0x2027) || In(cp, 0x2030, 0x205E) ||
         In(cp, 0x3001, 0x3003) || In(cp, 0x3008, 0x3011) || In(cp, 0x3014, 0x301F) ||
         cp == 0x3030 || cp == 0x303D || cp == 0x30A0 || cp == 0x30FB || In(cp, 0xFE10, 0xFE19) ||
         In(cp, 0xFE30, 0xFE52) || In(cp, 0xFE54, 0xFE6B) || In(cp, 0xFF01, 0xFF0F) ||
         In(cp, 0xFF1A, 0xFF20) || In(cp, 0xFF3B, 0xFF40) || In(cp, 0xFF5B, 0xFF65);
}

bool IsWordChar(char32_t cp) {
  if (In(cp, U'a', U'z') || In(cp, U'A', U'Z') || In(cp, U'0', U'9')) return true;
  // Latin-1 letters (without × and ÷) and Latin Extended-A/B.
  return (In(cp, 0xC0, 0x24F) && cp != 0xD7 && cp != 0xF7);
}

char32_t NormalizeForLookup(char32_t cp) {
  if (In(cp, 0xFF01, 0xFF5E)) cp = cp - 0xFF01 + 0x21;
  if (cp == 0x3000) cp = U' ';
  if (In(cp, U'A', U'Z')) return cp + 32;
  if (In(cp, 0xC0, 0xDE) && cp != 0xD7) return cp + 32;
  return cp;
}

}  // namespace ner::model
