#include "model/label_alignment.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ner::model {
namespace {

using ::testing::ElementsAre;

// Tokens of "我买了iPhone12 在2021年" as the tokenizer gives them: one per CJK char, word pieces
// "iphone" [3,9) and "##12" [9,11), a skipped space at 11, "2021" [13,17).
std::vector<Token> Tokens() {
  return {{1, 0, 1}, {1, 1, 2},  {1, 2, 3},   {1, 3, 9},   {1, 9, 11},
          {1, 12, 13}, {1, 13, 17}, {1, 17, 18}};
}

TEST(LabelAlignmentTest, MultiCharTokensTakeLabels) {
  // "iPhone12" (PRODUCT), "2021年" (DATE).
  TokenTags tags = CharSpansToTokenTags(Tokens(), {{3, 11, "PROD"}, {13, 18, "DATE"}},
                                        TagScheme::kBio);
  EXPECT_THAT(tags.tags, ElementsAre("O", "O", "O", "B-PROD", "I-PROD", "O", "B-DATE", "I-DATE"));
  EXPECT_EQ(tags.widened, 0);
  EXPECT_EQ(tags.dropped, 0);
}

TEST(LabelAlignmentTest, BoundaryInsideTokenWidens) {
  // A label on "20" only (chars [13,15)) widens to the whole token "2021".
  TokenTags tags = CharSpansToTokenTags(Tokens(), {{13, 15, "NUM"}}, TagScheme::kBmes);
  EXPECT_THAT(tags.tags, ElementsAre("O", "O", "O", "O", "O", "O", "S-NUM", "O"));
  EXPECT_EQ(tags.widened, 1);
}

TEST(LabelAlignmentTest, WhitespaceOnlyEntityDropped) {
  TokenTags tags = CharSpansToTokenTags(Tokens(), {{11, 12, "X"}}, TagScheme::kBio);
  EXPECT_EQ(tags.dropped, 1);
  EXPECT_THAT(tags.tags, ::testing::Each("O"));
}

TEST(LabelAlignmentTest, EntitiesSharingATokenAfterWideningDropTheSecond) {
  TokenTags tags = CharSpansToTokenTags(Tokens(), {{13, 14, "A"}, {15, 16, "B"}}, TagScheme::kBio);
  EXPECT_EQ(tags.widened, 1);
  EXPECT_EQ(tags.dropped, 1);
}

TEST(LabelAlignmentTest, TokenSpansGiveCharacterSpans) {
  EXPECT_THAT(TokenSpansToCharSpans(Tokens(), {{3, 5, "PROD"}, {5, 8, "X"}}),
              ElementsAre(EntitySpan{3, 11, "PROD"}, EntitySpan{12, 18, "X"}));
}

TEST(LabelAlignmentTest, RoundTripOnAlignedEntities) {
  const std::vector<EntitySpan> entities = {{0, 1, "PER"}, {3, 11, "PROD"}, {13, 18, "DATE"}};
  for (TagScheme scheme : {TagScheme::kBio, TagScheme::kBioes, TagScheme::kBmes}) {
    TokenTags tags = CharSpansToTokenTags(Tokens(), entities, scheme);
    EXPECT_EQ(TokenSpansToCharSpans(Tokens(), TagsToSpans(tags.tags)), entities);
  }
}

}  // namespace
}  // namespace ner::model
