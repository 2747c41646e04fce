// Fuzzes the UTF-8 decoder against an independent reference: the well-formed byte sequences of
// the Unicode Standard, Table 3-7. Checks that DecodeUtf8 and ValidateUtf8 agree with it and with
// each other, that valid text keeps the DecodedText invariant and re-encodes to the same bytes,
// and that CountCodePoints counts the same code points.

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fuzz/fuzz_util.h"
#include "model/utf8.h"

namespace ner::fuzz {
namespace {

// One row of the Unicode Standard's Table 3-7, "Well-Formed UTF-8 Byte Sequences", for the
// multi-byte forms: a lead byte range, the range of the byte after it, and how many more
// continuation bytes (80..BF) follow.
struct Row {
  uint8_t lead_low, lead_high, second_low, second_high;
  size_t tail;
};
constexpr Row kTable3_7[] = {
    {0xC2, 0xDF, 0x80, 0xBF, 0}, {0xE0, 0xE0, 0xA0, 0xBF, 1}, {0xE1, 0xEC, 0x80, 0xBF, 1},
    {0xED, 0xED, 0x80, 0x9F, 1}, {0xEE, 0xEF, 0x80, 0xBF, 1}, {0xF0, 0xF0, 0x90, 0xBF, 2},
    {0xF1, 0xF3, 0x80, 0xBF, 2}, {0xF4, 0xF4, 0x80, 0x8F, 2},
};

bool ByteIn(absl::string_view bytes, size_t i, uint8_t low, uint8_t high) {
  return i < bytes.size() && static_cast<uint8_t>(bytes[i]) >= low &&
         static_cast<uint8_t>(bytes[i]) <= high;
}

bool ReferenceIsValid(absl::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<uint8_t>(bytes[i]);
    if (lead <= 0x7F) {
      ++i;
      continue;
    }
    const Row* row = nullptr;
    for (const Row& r : kTable3_7) {
      if (lead >= r.lead_low && lead <= r.lead_high) row = &r;
    }
    if (row == nullptr || !ByteIn(bytes, i + 1, row->second_low, row->second_high)) return false;
    for (size_t k = 0; k < row->tail; ++k) {
      if (!ByteIn(bytes, i + 2 + k, 0x80, 0xBF)) return false;
    }
    i += 2 + row->tail;
  }
  return true;
}

void FuzzUtf8(absl::string_view bytes) {
  const absl::StatusOr<model::DecodedText> decoded = model::DecodeUtf8(bytes);
  const absl::Status valid = model::ValidateUtf8(bytes);
  FUZZ_CHECK(decoded.ok() == ReferenceIsValid(bytes));
  FUZZ_CHECK(decoded.status() == valid);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }

  const model::DecodedText& text = *decoded;
  FUZZ_CHECK(text.code_points.size() + 1 == text.byte_offsets.size());
  FUZZ_CHECK(text.byte_offsets.front() == 0);
  FUZZ_CHECK(text.byte_offsets.back() == static_cast<int64_t>(bytes.size()));
  FUZZ_CHECK(model::CountCodePoints(bytes) == text.size());
  for (int64_t i = 0; i < text.size(); ++i) {
    const char32_t cp = text.code_points[i];
    FUZZ_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF));
    const int64_t begin = text.byte_offsets[i];
    const int64_t length = text.byte_offsets[i + 1] - begin;
    FUZZ_CHECK(length >= 1 && length <= 4);
    // Each code point re-encodes to exactly its bytes: the shortest form, nothing lost.
    std::string one;
    model::AppendUtf8(cp, &one);
    FUZZ_CHECK(one == bytes.substr(begin, length));
  }
  FUZZ_CHECK(model::EncodeUtf8(text.code_points) == bytes);
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzUtf8(ner::fuzz::Bytes(data, size));
  return 0;
}
