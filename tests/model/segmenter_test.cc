#include "model/segmenter.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/utf8.h"

namespace ner::model {
namespace {

// Returns the pieces as UTF-8 strings.
std::vector<std::string> Pieces(const std::string& text, int32_t max_chars) {
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(text);
  EXPECT_TRUE(decoded.ok());
  std::vector<std::string> out;
  int32_t expected_begin = 0;
  for (const TextPiece& p : SegmentText(decoded->code_points, max_chars)) {
    // Invariants: contiguous, non-empty, within the limit.
    EXPECT_EQ(p.begin_char, expected_begin);
    EXPECT_GT(p.size(), 0);
    EXPECT_LE(p.size(), max_chars);
    expected_begin = p.end_char;
    out.push_back(EncodeUtf8(
        std::u32string_view(decoded->code_points).substr(p.begin_char, p.size())));
  }
  EXPECT_EQ(expected_begin, decoded->size());
  return out;
}

struct Case {
  const char* name;
  std::string text;
  int32_t max_chars;
  std::vector<std::string> expected;
};

class SegmenterTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(SegmenterTableTest, Cuts) {
  EXPECT_THAT(Pieces(GetParam().text, GetParam().max_chars),
              ::testing::ElementsAreArray(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Table, SegmenterTableTest,
    ::testing::Values(
        Case{"fits", "甲乙。丙丁。", 6, {"甲乙。丙丁。"}},
        Case{"empty", "", 5, {}},
        Case{"last_sentence_end_wins", "甲乙。丙丁。戊己庚", 7, {"甲乙。丙丁。", "戊己庚"}},
        Case{"sentence_end_exactly_at_limit", "甲乙丙。丁", 4, {"甲乙丙。", "丁"}},
        Case{"closing_quote_stays", "他说：“好。”然后走了。", 7,
             {"他说：“好。”", "然后走了。"}},
        Case{"closing_quote_over_limit_backs_off", "甲。乙说“好。”丙", 6, {"甲。", "乙说“好。”", "丙"}},
        Case{"run_of_ends_kept", "甲乙？！丙丁", 4, {"甲乙？！", "丙丁"}},
        Case{"ascii_ends", "ab! cd? ef", 4, {"ab!", " cd?", " ef"}},
        Case{"semicolon", "甲；乙丙丁", 3, {"甲；", "乙丙丁"}},
        Case{"newline", "甲乙\n丙丁", 3, {"甲乙\n", "丙丁"}},
        Case{"crlf_not_split", "甲\r\n乙丙", 3, {"甲\r\n", "乙丙"}},
        Case{"comma_fallback", "甲乙，丙丁戊己", 4, {"甲乙，", "丙丁戊己"}},
        Case{"space_fallback", "ab cdef", 4, {"ab ", "cdef"}},
        Case{"hard_cut", "甲乙丙丁戊己庚", 3, {"甲乙丙", "丁戊己", "庚"}},
        Case{"hard_cut_keeps_combining_mark", "abcde\u0301f", 5, {"abcd", "e\u0301f"}},
        Case{"limit_one", "甲。乙", 1, {"甲", "。", "乙"}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(SegmenterTest, NeverSplitsASentenceWhenSentencesFit) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += std::string(i % 7 + 1, 'x') + "。";
  for (const std::string& piece : Pieces(text, 40)) {
    EXPECT_TRUE(piece.size() >= 3 && piece.substr(piece.size() - 3) == "。") << piece;
  }
}

TEST(SegmenterTest, LongTextIsLinear) {
  // 1M characters without punctuation: hard cuts only, and it must finish quickly.
  std::u32string text(1 << 20, U'中');
  const std::vector<TextPiece> pieces = SegmentText(text, 512);
  ASSERT_EQ(pieces.size(), (size_t{1} << 20) / 512);
  EXPECT_EQ(pieces.back().end_char, 1 << 20);
}

}  // namespace
}  // namespace ner::model
