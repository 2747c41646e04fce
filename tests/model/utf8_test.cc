#include "model/utf8.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

TEST(Utf8Test, DecodesWithBothOffsets) {
  const std::string text = "a中😀é";  // 1 + 3 + 4 + 2 bytes
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->code_points, std::u32string(U"a中😀é"));
  EXPECT_THAT(decoded->byte_offsets, ::testing::ElementsAre(0, 1, 4, 8, 10));
  EXPECT_EQ(decoded->size(), 4);
}

TEST(Utf8Test, EmptyInput) {
  absl::StatusOr<DecodedText> decoded = DecodeUtf8("");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), 0);
  EXPECT_THAT(decoded->byte_offsets, ::testing::ElementsAre(0));
}

struct BadCase {
  const char* name;
  std::string bytes;
  int offset;
  const char* reason;
};

class Utf8InvalidTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(Utf8InvalidTest, ErrorNamesByteOffset) {
  const BadCase& c = GetParam();
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(c.bytes);
  ASSERT_FALSE(decoded.ok()) << c.name;
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(decoded.status().message(), HasSubstr("at byte " + std::to_string(c.offset)));
  EXPECT_THAT(decoded.status().message(), HasSubstr(c.reason));
  EXPECT_EQ(ValidateUtf8(c.bytes), decoded.status());
}

INSTANTIATE_TEST_SUITE_P(
    Table, Utf8InvalidTest,
    ::testing::Values(
        BadCase{"overlong_slash", std::string("ab\xC0\xAF"), 2, "overlong"},
        BadCase{"overlong_3byte", std::string("\xE0\x80\xAF"), 0, "overlong"},
        BadCase{"overlong_4byte", std::string("x\xF0\x82\x82\xAC"), 1, "overlong"},
        BadCase{"surrogate_high", std::string("中\xED\xA0\x80"), 3, "surrogate"},
        BadCase{"surrogate_low", std::string("\xED\xBF\xBF"), 0, "surrogate"},
        BadCase{"above_max", std::string("\xF4\x90\x80\x80"), 0, "above U+10FFFF"},
        BadCase{"lone_continuation", std::string("a\x80"), 1, "continuation"},
        BadCase{"truncated_at_end", std::string("中\xE4\xB8"), 3, "truncated"},
        BadCase{"truncated_middle", std::string("\xE4\xB8z"), 0, "truncated"},
        BadCase{"invalid_lead_f8", std::string("\xF8\x88\x80\x80\x80"), 0, "invalid lead"},
        BadCase{"invalid_lead_ff", std::string("ok\xFF"), 2, "invalid lead"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(Utf8Test, NulAndControlAreValid) {
  const std::string text("a\0b\x01", 4);
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(text);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->size(), 4);
}

TEST(Utf8Test, EncodeRoundTripsAllPlanes) {
  std::u32string cps = {U'A', 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF, U'中'};
  const std::string bytes = EncodeUtf8(cps);
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->code_points, cps);
  EXPECT_EQ(CountCodePoints(bytes), static_cast<int64_t>(cps.size()));
}

}  // namespace
}  // namespace ner::model
