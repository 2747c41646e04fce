#include "model/tokenizer.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/utf8.h"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

// A small vocabulary with the special tokens and a few word pieces.
std::shared_ptr<const Vocab> SmallVocab() {
  const char* contents =
      "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n中\n国\n，\n,\n2021\n##21\n20\n年\niphone\n##12\n"
      "a\n##b\n😀\n。\n";
  absl::StatusOr<Vocab> vocab = Vocab::Parse(contents, "small");
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  return std::make_shared<const Vocab>(*std::move(vocab));
}

struct Piece {
  std::string token;
  int32_t begin_char;
  int32_t end_char;
  friend bool operator==(const Piece& a, const Piece& b) {
    return a.token == b.token && a.begin_char == b.begin_char && a.end_char == b.end_char;
  }
  friend std::ostream& operator<<(std::ostream& os, const Piece& p) {
    return os << "{" << p.token << " [" << p.begin_char << "," << p.end_char << ")}";
  }
};

std::vector<Piece> TokenizeToPieces(const Tokenizer& tokenizer, const std::string& text) {
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(text);
  EXPECT_TRUE(decoded.ok());
  std::vector<Piece> out;
  for (const Token& t : tokenizer.Tokenize(decoded->code_points)) {
    out.push_back({tokenizer.vocab().Token(t.id), t.begin_char, t.end_char});
  }
  return out;
}

struct Case {
  const char* name;
  std::string text;
  std::vector<Piece> expected;
};

class TokenizerTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(TokenizerTableTest, TokensAndOffsets) {
  Tokenizer tokenizer(SmallVocab());
  EXPECT_THAT(TokenizeToPieces(tokenizer, GetParam().text), ::testing::ElementsAreArray(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Table, TokenizerTableTest,
    ::testing::Values(
        Case{"cjk_each_char", "中国", {{"中", 0, 1}, {"国", 1, 2}}},
        Case{"unknown_char", "中华", {{"中", 0, 1}, {"[UNK]", 1, 2}}},
        Case{"digits_run_whole", "2021年", {{"2021", 0, 4}, {"年", 4, 5}}},
        Case{"wordpiece_split", "2121", {{"[UNK]", 0, 4}}},
        Case{"wordpiece_continuation", "20212", {{"[UNK]", 0, 5}}},
        Case{"wordpiece_two_pieces", "iPhone12", {{"iphone", 0, 6}, {"##12", 6, 8}}},
        Case{"fullwidth_letters", "ｉＰｈｏｎｅ", {{"iphone", 0, 6}}},
        Case{"fullwidth_digits", "２０２１年", {{"2021", 0, 4}, {"年", 4, 5}}},
        Case{"fullwidth_comma_kept_when_in_vocab", "中，国",
             {{"中", 0, 1}, {"，", 1, 2}, {"国", 2, 3}}},
        Case{"whitespace_skipped", " 中\t 国\u3000", {{"中", 1, 2}, {"国", 4, 5}}},
        Case{"control_skipped", std::string("中\x01\0国", 8), {{"中", 0, 1}, {"国", 3, 4}}},
        Case{"zero_width_space_skipped", "中\u200B国", {{"中", 0, 1}, {"国", 2, 3}}},
        Case{"combining_mark_joins", "ab\u0301中", {{"a", 0, 1}, {"##b", 1, 3}, {"中", 3, 4}}},
        Case{"zwj_emoji_sequence", "😀\u200D😀", {{"😀", 0, 2}, {"😀", 2, 3}}},
        Case{"variation_selector", "😀\uFE0F。", {{"😀", 0, 2}, {"。", 2, 3}}},
        Case{"leading_combining_dropped", "\u0301中", {{"中", 1, 2}}},
        Case{"punctuation_splits_words", "ab,ab", {{"a", 0, 1}, {"##b", 1, 2}, {",", 2, 3},
                                                   {"a", 3, 4}, {"##b", 4, 5}}},
        Case{"empty", "", {}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

TEST(TokenizerTest, OverlongWordIsOneUnknown) {
  Tokenizer tokenizer(SmallVocab(), /*max_word_chars=*/5);
  EXPECT_THAT(TokenizeToPieces(tokenizer, "aaaaaa中"),
              ::testing::ElementsAre(Piece{"[UNK]", 0, 6}, Piece{"中", 6, 7}));
}

TEST(VocabTest, RejectsMissingSpecialTokens) {
  absl::StatusOr<Vocab> vocab = Vocab::Parse("[PAD]\n[UNK]\n", "tiny");
  ASSERT_FALSE(vocab.ok());
  EXPECT_THAT(vocab.status().message(), ::testing::HasSubstr("[CLS]"));
}

TEST(VocabTest, RejectsInvalidUtf8) {
  EXPECT_FALSE(Vocab::Parse("[PAD]\n\xFF\n", "bad").ok());
}

TEST(VocabTest, SharedChineseVocab) {
  NER_REQUIRE_SHARED(path, "data/vocab/bert-base-chinese-vocab.txt");
  absl::StatusOr<Vocab> vocab = Vocab::Load(path);
  ASSERT_TRUE(vocab.ok()) << vocab.status();
  EXPECT_EQ(vocab->size(), 21128);
  EXPECT_EQ(vocab->pad_id(), 0);
  EXPECT_EQ(vocab->unk_id(), 100);
  EXPECT_EQ(vocab->cls_id(), 101);
  EXPECT_EQ(vocab->sep_id(), 102);
  EXPECT_EQ(vocab->mask_id(), 103);
  // Line 343 is U+2028: splitting on every Unicode line break would shift all later ids.
  EXPECT_EQ(vocab->Token(343), "\u2028");

  Tokenizer tokenizer(std::make_shared<const Vocab>(*std::move(vocab)));
  auto pieces = TokenizeToPieces(tokenizer, "我在2021年买了iPhone。");
  std::vector<std::string> texts;
  for (const Piece& p : pieces) texts.push_back(p.token);
  EXPECT_THAT(texts, ::testing::Contains("2021"));
  EXPECT_THAT(texts, ::testing::Contains("年"));
  EXPECT_EQ(pieces.back().token, "。");
  for (const Piece& p : pieces) EXPECT_NE(p.token, "[UNK]") << p;
}

}  // namespace
}  // namespace ner::model
