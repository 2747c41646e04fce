// Skip-gram character and bigram vectors: what gets a vector, that they learn co-occurrence, that
// one thread repeats bit for bit, cancellation.

#include "model/skipgram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "model/utf8.h"
#include "model/vocab.h"

namespace ner::model {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// [PAD] [UNK] [CLS] [SEP] [MASK], then one token per character of `chars`, then "##x".
std::shared_ptr<const Vocab> CharVocab(std::u32string_view chars) {
  std::string contents = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  for (char32_t c : chars) contents += EncodeUtf8(std::u32string(1, c)) + "\n";
  contents += "##x\n";
  absl::StatusOr<Vocab> vocab = Vocab::Parse(contents, "chars");
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  return std::make_shared<const Vocab>(*std::move(vocab));
}

// Sentences over two groups of characters that never meet: ids 5-8 ("一二三四") and 9-12
// ("五六七八"); [CLS] s [SEP] s [SEP] ... as PackCorpus packs them. Id 13 ("九") appears once.
PackedCorpus TwoTopics(int sentences, uint64_t seed) {
  std::mt19937 random(seed);
  std::vector<int32_t> ids = {2};
  for (int s = 0; s < sentences; ++s) {
    const int32_t base = s % 2 == 0 ? 5 : 9;
    for (int i = 0; i < 12; ++i) ids.push_back(base + static_cast<int32_t>(random() % 4));
    ids.push_back(3);
  }
  ids.push_back(13);
  ids.push_back(3);
  return PackedCorpus(ids, {0, static_cast<int64_t>(ids.size())}, sentences);
}

double Cosine(absl::Span<const float> a, absl::Span<const float> b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

int64_t Find(const TextVectors& vectors, const std::string& key) {
  auto it = std::find(vectors.keys.begin(), vectors.keys.end(), key);
  return it == vectors.keys.end() ? -1 : it - vectors.keys.begin();
}

SkipGramOptions Small() {
  SkipGramOptions options;
  options.dim = 16;
  options.bigram_dim = 8;
  options.window = 3;
  options.epochs = 3;
  options.sample = 0;
  options.min_count = 2;
  return options;
}

TEST(SkipGramTest, VectorsSeparateCharactersThatNeverCoOccur) {
  const Tokenizer tokenizer(CharVocab(U"一二三四五六七八九"));
  absl::StatusOr<SkipGramResult> result = TrainSkipGram(TwoTopics(400, 1), tokenizer, Small());
  ASSERT_TRUE(result.ok()) << result.status();
  const TextVectors& chars = result->chars;
  EXPECT_EQ(chars.dim, 16);
  EXPECT_EQ(result->char_types, 8) << "九 is below min_count; specials are never vectors";
  EXPECT_THAT(chars.keys, Not(Contains("九")));
  EXPECT_THAT(chars.keys, Not(Contains("[SEP]")));
  // Same group: similar contexts; different groups: none shared.
  double within = 0, across = 0;
  const std::vector<std::string> a = {"一", "二", "三", "四"}, b = {"五", "六", "七", "八"};
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      if (i != j) within += Cosine(chars.row(Find(chars, a[i])), chars.row(Find(chars, a[j])));
      across += Cosine(chars.row(Find(chars, a[i])), chars.row(Find(chars, b[j])));
    }
  }
  within /= 12;
  across /= 16;
  EXPECT_GT(within, 0.5);
  EXPECT_LT(across, within - 0.5);
  EXPECT_GT(result->positions, 0);
}

TEST(SkipGramTest, BigramsOfTwoCharacterTokensMostFrequentFirst) {
  const Tokenizer tokenizer(CharVocab(U"一二三四五六七八九"));
  absl::StatusOr<SkipGramResult> result = TrainSkipGram(TwoTopics(400, 2), tokenizer, Small());
  ASSERT_TRUE(result.ok()) << result.status();
  const TextVectors& bigrams = result->bigrams;
  EXPECT_EQ(bigrams.dim, 8);
  // Pairs within a group (16 per group); none across a [SEP]; 九 has no neighbour pair.
  EXPECT_EQ(result->bigram_types, 32);
  EXPECT_EQ(bigrams.size(), 32);
  EXPECT_THAT(bigrams.keys, Contains("一二"));
  EXPECT_THAT(bigrams.keys, Not(Contains("四五")));
  for (const std::string& key : bigrams.keys) {
    absl::StatusOr<DecodedText> decoded = DecodeUtf8(key);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(tokenizer.Tokenize(decoded->code_points).size(), 2u) << key;
  }
  // No bigram table when bigram_dim is 0.
  SkipGramOptions options = Small();
  options.bigram_dim = 0;
  result = TrainSkipGram(TwoTopics(50, 2), tokenizer, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->bigrams.size(), 0);
}

TEST(SkipGramTest, BigramsThatDoNotReadBackAsTheSameTokensAreNotWritten) {
  // "a" and "b" are single-character tokens, but "ab" reads back as one word run ([UNK]
  // here); "##x" is not a single character.
  std::string contents = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n中\n##x\n";
  absl::StatusOr<Vocab> vocab = Vocab::Parse(contents, "mixed");
  ASSERT_TRUE(vocab.ok());
  const Tokenizer tokenizer(std::make_shared<const Vocab>(*std::move(vocab)));
  std::vector<int32_t> ids = {2};
  for (int i = 0; i < 20; ++i) {
    for (int32_t id : {5, 6, 7, 8, 7}) ids.push_back(id);  // a b 中 ##x 中
  }
  ids.push_back(3);
  SkipGramOptions options = Small();
  absl::StatusOr<SkipGramResult> result = TrainSkipGram(
      PackedCorpus(ids, {0, static_cast<int64_t>(ids.size())}, 1), tokenizer, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(result->bigrams.keys, Contains("b中"));
  EXPECT_THAT(result->bigrams.keys, Not(Contains("ab")));
  EXPECT_EQ(result->bigrams.size(), 2) << "b中 and 中a; not ab, 中##x, ##x中";
  EXPECT_EQ(result->bigram_types, 5);
}

TEST(SkipGramTest, OneThreadRepeatsBitForBit) {
  const Tokenizer tokenizer(CharVocab(U"一二三四五六七八九"));
  SkipGramOptions options = Small();
  options.sample = 1e-3;
  absl::StatusOr<SkipGramResult> first = TrainSkipGram(TwoTopics(100, 3), tokenizer, options);
  absl::StatusOr<SkipGramResult> second = TrainSkipGram(TwoTopics(100, 3), tokenizer, options);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->chars.values, second->chars.values);
  EXPECT_EQ(first->bigrams.values, second->bigrams.values);
  options.seed = 7;
  absl::StatusOr<SkipGramResult> other = TrainSkipGram(TwoTopics(100, 3), tokenizer, options);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(first->chars.values, other->chars.values);
  // Two threads run too (lock-free updates: not bit-repeatable).
  options.threads = 2;
  EXPECT_TRUE(TrainSkipGram(TwoTopics(100, 3), tokenizer, options).ok());
}

TEST(SkipGramTest, ReportsProgressAndCanBeCancelled) {
  const Tokenizer tokenizer(CharVocab(U"一二三四五六七八九"));
  int reports = 0;
  absl::StatusOr<SkipGramResult> result =
      TrainSkipGram(TwoTopics(100, 4), tokenizer, Small(), [&](const SkipGramProgress& p) {
        ++reports;
        EXPECT_LE(p.positions_done, p.positions_total);
        EXPECT_GE(p.epoch, 1);
      });
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(reports, 3) << "one per epoch at least";

  std::atomic<bool> cancel{true};
  result = TrainSkipGram(TwoTopics(2000, 4), tokenizer, Small(), {}, &cancel);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
}

TEST(SkipGramTest, InvalidOptionsAndEmptyCorporaAreRefused) {
  const Tokenizer tokenizer(CharVocab(U"一二三四五六七八九"));
  for (auto change : std::vector<void (*)(SkipGramOptions&)>{
           [](SkipGramOptions& o) { o.dim = 0; },
           [](SkipGramOptions& o) { o.bigram_dim = -1; },
           [](SkipGramOptions& o) { o.window = 0; },
           [](SkipGramOptions& o) { o.negative = 0; },
           [](SkipGramOptions& o) { o.epochs = 0; },
           [](SkipGramOptions& o) { o.min_count = 0; },
           [](SkipGramOptions& o) { o.sample = 1; },
           [](SkipGramOptions& o) { o.learning_rate = 0; },
           [](SkipGramOptions& o) { o.threads = 0; },
       }) {
    SkipGramOptions options = Small();
    change(options);
    EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(TrainSkipGram(TwoTopics(10, 5), tokenizer, options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  SkipGramOptions rare = Small();
  rare.min_count = 1000000;
  absl::StatusOr<SkipGramResult> result = TrainSkipGram(TwoTopics(10, 5), tokenizer, rare);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("min_count"));
}

}  // namespace
}  // namespace ner::model
