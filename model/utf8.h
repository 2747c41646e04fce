#ifndef NER_MODEL_UTF8_H_
#define NER_MODEL_UTF8_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// A UTF-8 text decoded into Unicode code points, keeping both offset systems.
// Invariant: code_points.size() + 1 == byte_offsets.size(); code point i occupies
// bytes [byte_offsets[i], byte_offsets[i + 1]) of the original string, and
// byte_offsets.back() is the original size in bytes.
struct DecodedText {
  std::u32string code_points;
  std::vector<int64_t> byte_offsets;

  // Number of code points.
  int64_t size() const { return static_cast<int64_t>(code_points.size()); }
};

// Decodes and validates UTF-8 (RFC 3629): rejects overlong forms, surrogates (U+D800..U+DFFF),
// values above U+10FFFF, truncated sequences and stray continuation bytes. The error is
// INVALID_ARGUMENT and names the byte offset of the offending sequence. Pure; thread-safe.
absl::StatusOr<DecodedText> DecodeUtf8(absl::string_view bytes);

// Returns OK when `bytes` is valid UTF-8, else the same error DecodeUtf8 gives.
absl::Status ValidateUtf8(absl::string_view bytes);

// Appends the UTF-8 encoding of `cp` to `out`. `cp` must be a valid scalar value.
void AppendUtf8(char32_t cp, std::string* out);

// Encodes code points to UTF-8.
std::string EncodeUtf8(std::u32string_view code_points);

// Number of code points in valid UTF-8 `bytes` (counts lead bytes; no validation).
int64_t CountCodePoints(absl::string_view bytes);

}  // namespace ner::model

#endif  // NER_MODEL_UTF8_H_
