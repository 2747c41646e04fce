#include "model/tag_scheme.h"

#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ner::model {
namespace {

std::vector<std::string> Tags(const std::string& spaced) {
  if (spaced.empty()) return {};
  return absl::StrSplit(spaced, ' ');
}

TEST(TagSchemeTest, ParseNames) {
  EXPECT_EQ(*ParseTagScheme("BIO"), TagScheme::kBio);
  EXPECT_EQ(*ParseTagScheme("iob2"), TagScheme::kBio);
  EXPECT_EQ(*ParseTagScheme("bioes"), TagScheme::kBioes);
  EXPECT_EQ(*ParseTagScheme("IOBES"), TagScheme::kBioes);
  EXPECT_EQ(*ParseTagScheme("bmes"), TagScheme::kBmes);
  EXPECT_FALSE(ParseTagScheme("bilou").ok());
}

TEST(TagSchemeTest, LabelsFor) {
  EXPECT_THAT(LabelsFor(TagScheme::kBio, {"LOC", "PER"}),
              ::testing::ElementsAre("O", "B-LOC", "I-LOC", "B-PER", "I-PER"));
  EXPECT_THAT(LabelsFor(TagScheme::kBmes, {"X"}),
              ::testing::ElementsAre("O", "B-X", "M-X", "E-X", "S-X"));
  EXPECT_THAT(LabelsFor(TagScheme::kBioes, {"X"}),
              ::testing::ElementsAre("O", "B-X", "I-X", "E-X", "S-X"));
}

struct EncodeCase {
  const char* name;
  TagScheme scheme;
  std::string tags;
};

class SpansToTagsTest : public ::testing::TestWithParam<EncodeCase> {};

// The same spans in every scheme: PER [0,1), LOC [2,5), ORG [5,7).
TEST_P(SpansToTagsTest, EncodesAndRoundTrips) {
  const std::vector<TagSpan> spans = {{0, 1, "PER"}, {2, 5, "LOC"}, {5, 7, "ORG"}};
  absl::StatusOr<std::vector<std::string>> tags = SpansToTags(8, spans, GetParam().scheme);
  ASSERT_TRUE(tags.ok()) << tags.status();
  EXPECT_EQ(*tags, Tags(GetParam().tags));
  EXPECT_EQ(TagsToSpans(*tags), spans);
  for (const std::string& tag : *tags) EXPECT_TRUE(ValidateTag(tag, GetParam().scheme).ok());
  EXPECT_EQ(DetectTagScheme(*tags), GetParam().scheme);
}

INSTANTIATE_TEST_SUITE_P(
    Table, SpansToTagsTest,
    ::testing::Values(
        EncodeCase{"bio", TagScheme::kBio, "B-PER O B-LOC I-LOC I-LOC B-ORG I-ORG O"},
        EncodeCase{"bioes", TagScheme::kBioes, "S-PER O B-LOC I-LOC E-LOC B-ORG E-ORG O"},
        EncodeCase{"bmes", TagScheme::kBmes, "S-PER O B-LOC M-LOC E-LOC B-ORG E-ORG O"}),
    [](const ::testing::TestParamInfo<EncodeCase>& info) { return std::string(info.param.name); });

TEST(TagSchemeTest, SpansToTagsRejectsBadSpans) {
  EXPECT_FALSE(SpansToTags(3, {{0, 4, "X"}}, TagScheme::kBio).ok());
  EXPECT_FALSE(SpansToTags(3, {{2, 2, "X"}}, TagScheme::kBio).ok());
  EXPECT_FALSE(SpansToTags(3, {{0, 2, ""}}, TagScheme::kBio).ok());
  EXPECT_FALSE(SpansToTags(3, {{0, 2, "X"}, {1, 3, "Y"}}, TagScheme::kBio).ok());
}

TEST(TagSchemeTest, ValidateTag) {
  EXPECT_TRUE(ValidateTag("I-PER", TagScheme::kBio).ok());
  EXPECT_FALSE(ValidateTag("E-PER", TagScheme::kBio).ok());
  EXPECT_FALSE(ValidateTag("M-PER", TagScheme::kBioes).ok());
  EXPECT_FALSE(ValidateTag("I-PER", TagScheme::kBmes).ok());
  EXPECT_FALSE(ValidateTag("B-", TagScheme::kBio).ok());
  EXPECT_FALSE(ValidateTag("PER", TagScheme::kBio).ok());
  EXPECT_TRUE(ValidateTag("B-人名", TagScheme::kBio).ok());
  // Types a char-per-line file cannot hold (found by fuzz_dataset).
  EXPECT_FALSE(ValidateTag("B-PER\r", TagScheme::kBio).ok());
  EXPECT_FALSE(ValidateTag("S-A B", TagScheme::kBioes).ok());
  EXPECT_FALSE(ValidateTag(absl::string_view("M-\0X", 4), TagScheme::kBmes).ok());
}

struct DecodeCase {
  const char* name;
  std::string tags;
  std::vector<TagSpan> spans;
};

class TagsToSpansTest : public ::testing::TestWithParam<DecodeCase> {};

// Invalid sequences decode as conlleval reads them (checked by hand against conlleval.pl's
// startOfChunk/endOfChunk).
TEST_P(TagsToSpansTest, DecodesLikeConlleval) {
  EXPECT_EQ(TagsToSpans(Tags(GetParam().tags)), GetParam().spans);
}

INSTANTIATE_TEST_SUITE_P(
    Table, TagsToSpansTest,
    ::testing::Values(
        DecodeCase{"empty", "", {}},
        DecodeCase{"all_o", "O O", {}},
        DecodeCase{"orphan_i_starts", "O I-PER I-PER O", {{1, 3, "PER"}}},
        DecodeCase{"orphan_i_at_start", "I-LOC O", {{0, 1, "LOC"}}},
        DecodeCase{"type_change_splits", "B-PER I-LOC", {{0, 1, "PER"}, {1, 2, "LOC"}}},
        DecodeCase{"b_after_b", "B-PER B-PER", {{0, 1, "PER"}, {1, 2, "PER"}}},
        DecodeCase{"entity_at_end", "O B-ORG I-ORG", {{1, 3, "ORG"}}},
        DecodeCase{"e_closes", "B-X E-X I-X", {{0, 2, "X"}, {2, 3, "X"}}},
        DecodeCase{"orphan_e", "O E-X O", {{1, 2, "X"}}},
        DecodeCase{"e_after_e", "E-X E-X", {{0, 1, "X"}, {1, 2, "X"}}},
        DecodeCase{"s_then_m", "S-X M-X E-X", {{0, 1, "X"}, {1, 3, "X"}}},
        DecodeCase{"b_without_e_bmes", "B-X M-X O", {{0, 2, "X"}}},
        DecodeCase{"malformed_read_as_o", "B-X FOO I-X", {{0, 1, "X"}, {2, 3, "X"}}}),
    [](const ::testing::TestParamInfo<DecodeCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ner::model
