// Fuzzes SegmentText. The first input byte picks max_chars (1..64), the rest is text (any bytes;
// see LossyDecodeUtf8). Checks that the pieces cover the text exactly, in order, none empty nor
// longer than max_chars, and that a cut falls before an extending character (a combining mark,
// ZWJ) only when the piece could not be cut anywhere else: a piece of one character.

#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "model/char_class.h"
#include "model/segmenter.h"

namespace ner::fuzz {
namespace {

void FuzzSegmenter(absl::string_view bytes) {
  if (bytes.empty()) return;
  const int32_t max_chars = 1 + static_cast<uint8_t>(bytes[0]) % 64;
  const std::u32string text = LossyDecodeUtf8(bytes.substr(1));
  const auto n = static_cast<int32_t>(text.size());

  const std::vector<model::TextPiece> pieces = model::SegmentText(text, max_chars);
  FUZZ_CHECK(pieces.empty() == text.empty());
  int32_t expected_begin = 0;
  for (const model::TextPiece& piece : pieces) {
    FUZZ_CHECK(piece.begin_char == expected_begin);
    FUZZ_CHECK(piece.size() >= 1 && piece.size() <= max_chars);
    if (piece.end_char < n && model::IsExtending(text[piece.end_char])) {
      FUZZ_CHECK(piece.size() == 1);
    }
    expected_begin = piece.end_char;
  }
  FUZZ_CHECK(expected_begin == n);
}

}  // namespace
}  // namespace ner::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ner::fuzz::FuzzSegmenter(ner::fuzz::Bytes(data, size));
  return 0;
}
