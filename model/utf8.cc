#include "model/utf8.h"

#include "absl/strings/str_format.h"

namespace ner::model {
namespace {

// Decodes one code point starting at bytes[pos]; on success stores it and its length.
// Returns an empty string on success, else the reason.
const char* DecodeOne(absl::string_view bytes, size_t pos, char32_t* cp, int* length) {
  const auto b0 = static_cast<unsigned char>(bytes[pos]);
  if (b0 < 0x80) {
    *cp = b0;
    *length = 1;
    return nullptr;
  }
  int n;
  char32_t value;
  char32_t min_value;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2, value = b0 & 0x1F, min_value = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3, value = b0 & 0x0F, min_value = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4, value = b0 & 0x07, min_value = 0x10000;
  } else if ((b0 & 0xC0) == 0x80) {
    return "unexpected continuation byte";
  } else {
    return "invalid lead byte";
  }
  if (pos + n > bytes.size()) {
    // Report truncation only when every byte that is present is a continuation byte.
    for (size_t i = pos + 1; i < bytes.size(); ++i) {
      if ((static_cast<unsigned char>(bytes[i]) & 0xC0) != 0x80) return "truncated sequence";
    }
    return "truncated sequence at end of input";
  }
  for (int i = 1; i < n; ++i) {
    const auto b = static_cast<unsigned char>(bytes[pos + i]);
    if ((b & 0xC0) != 0x80) return "truncated sequence";
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min_value) return "overlong encoding";
  if (value >= 0xD800 && value <= 0xDFFF) return "encoded surrogate";
  if (value > 0x10FFFF) return "code point above U+10FFFF";
  *cp = value;
  *length = n;
  return nullptr;
}

absl::Status Utf8Error(size_t pos, unsigned char byte, const char* reason) {
  return absl::InvalidArgumentError(
      absl::StrFormat("invalid UTF-8 at byte %d (0x%02X): %s", pos, byte, reason));
}

}  // namespace

absl::StatusOr<DecodedText> DecodeUtf8(absl::string_view bytes) {
  DecodedText text;
  text.code_points.reserve(bytes.size());
  text.byte_offsets.reserve(bytes.size() + 1);
  size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t cp;
    int length;
    if (const char* reason = DecodeOne(bytes, pos, &cp, &length)) {
      return Utf8Error(pos, static_cast<unsigned char>(bytes[pos]), reason);
    }
    text.code_points.push_back(cp);
    text.byte_offsets.push_back(static_cast<int64_t>(pos));
    pos += length;
  }
  text.byte_offsets.push_back(static_cast<int64_t>(bytes.size()));
  return text;
}

absl::Status ValidateUtf8(absl::string_view bytes) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t cp;
    int length;
    if (const char* reason = DecodeOne(bytes, pos, &cp, &length)) {
      return Utf8Error(pos, static_cast<unsigned char>(bytes[pos]), reason);
    }
    pos += length;
  }
  return absl::OkStatus();
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size() * 3);
  for (char32_t cp : code_points) AppendUtf8(cp, &out);
  return out;
}

int64_t CountCodePoints(absl::string_view bytes) {
  int64_t n = 0;
  for (char c : bytes) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace ner::model
