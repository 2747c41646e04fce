#include "model/mlm_masking.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/vocab.h"

namespace ner::model {
namespace {

// ids: 0 [PAD] 1 [UNK] 2 [CLS] 3 [SEP] 4 [MASK] 5 [unused1], then for each letter x: "x", "##x".
Vocab LetterVocab() {
  std::string contents = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n[unused1]\n";
  for (char c = 'a'; c <= 'z'; ++c) {
    contents += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  }
  absl::StatusOr<Vocab> vocab = Vocab::Parse(contents, "letters");
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  return *std::move(vocab);
}

constexpr int32_t kCls = 2, kSep = 3, kMask = 4;
int32_t Word(int letter) { return 6 + 2 * letter; }
int32_t Continuation(int letter) { return 7 + 2 * letter; }

// [CLS] + `length` word-start tokens chosen by `random` + [SEP].
std::vector<int32_t> RandomSequence(MlmRandom& random, int length) {
  std::vector<int32_t> ids = {kCls};
  for (int i = 0; i < length; ++i) ids.push_back(Word(static_cast<int>(random.Below(26))));
  ids.push_back(kSep);
  return ids;
}

TEST(MlmRandomTest, MatchesTheSplitMix64ReferenceSequence) {
  // First outputs of Vigna's splitmix64.c for seed 0.
  MlmRandom random(0);
  EXPECT_EQ(random.Next(), 0xE220A8397B1DCDAFULL);
  EXPECT_EQ(random.Next(), 0x6E789E6AA1B965F4ULL);
  EXPECT_EQ(random.Next(), 0x06C45D188009454FULL);
}

TEST(MlmRandomTest, BelowStaysInRangeAndCoversIt) {
  MlmRandom random(5);
  std::vector<int> counts(7);
  for (int i = 0; i < 7000; ++i) {
    const uint64_t x = random.Below(7);
    ASSERT_LT(x, 7u);
    ++counts[x];
  }
  for (int c : counts) EXPECT_NEAR(c, 1000, 150);
}

TEST(MaskingVocabTest, ClassifiesSpecialAndContinuationTokens) {
  const Vocab vocab = LetterVocab();
  const MaskingVocab masking(vocab);
  for (int32_t id = 0; id <= 5; ++id) EXPECT_TRUE(masking.is_special(id)) << id;
  EXPECT_FALSE(masking.is_special(Word(0)));
  EXPECT_TRUE(masking.is_continuation(Continuation(0)));
  EXPECT_FALSE(masking.is_continuation(Word(0)));
  EXPECT_TRUE(masking.is_special(-1));
  EXPECT_TRUE(masking.is_special(vocab.size()));
  EXPECT_EQ(masking.random_ids().size(), 26u);  // Word starts only.
  EXPECT_EQ(masking.mask_id(), kMask);
  MaskingVocab restricted(vocab);
  EXPECT_FALSE(restricted.set_random_ids({kCls}).ok());
  EXPECT_FALSE(restricted.set_random_ids({}).ok());
  EXPECT_TRUE(restricted.set_random_ids({Word(1), Word(2)}).ok());
  EXPECT_EQ(restricted.random_ids().size(), 2u);
}

TEST(MaskTokensTest, SelectsFifteenPercentAndReplacesEightyTenTen) {
  const Vocab vocab = LetterVocab();
  const MaskingVocab masking(vocab);
  const MaskingOptions options;
  MlmRandom data(11);
  int64_t maskable = 0, targets = 0, masked = 0, random_other = 0, kept = 0;
  for (int n = 0; n < 2000; ++n) {
    const std::vector<int32_t> ids = RandomSequence(data, 126);
    const MaskedSequence out = MaskTokens(ids, masking, options, /*seed=*/1000 + n);
    ASSERT_EQ(out.input_ids.size(), ids.size());
    ASSERT_EQ(out.labels.size(), ids.size());
    maskable += 126;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (out.labels[i] == kIgnoreLabel) {
        EXPECT_EQ(out.input_ids[i], ids[i]) << "a non-target changed";
        continue;
      }
      EXPECT_EQ(out.labels[i], ids[i]);
      ++targets;
      if (out.input_ids[i] == kMask) {
        ++masked;
      } else if (out.input_ids[i] == ids[i]) {
        ++kept;
      } else {
        ++random_other;
        EXPECT_FALSE(masking.is_special(out.input_ids[i]));
      }
    }
  }
  const double selected = static_cast<double>(targets) / static_cast<double>(maskable);
  EXPECT_NEAR(selected, 0.15, 0.005);
  const double t = static_cast<double>(targets);
  EXPECT_NEAR(masked / t, 0.8, 0.01);
  // A random replacement equals the original 1 time in 26.
  EXPECT_NEAR(random_other / t, 0.1 * 25.0 / 26.0, 0.01);
  EXPECT_NEAR(kept / t, 0.1 + 0.1 / 26.0, 0.01);
}

TEST(MaskTokensTest, NeverSelectsSpecialTokens) {
  const Vocab vocab = LetterVocab();
  const MaskingVocab masking(vocab);
  MaskingOptions options;
  options.mask_prob = 1.0;  // Everything maskable becomes a target.
  const std::vector<int32_t> ids = {kCls, Word(0), 1, Word(1), 5, kSep, Word(2), 0, kSep, 0};
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const MaskedSequence out = MaskTokens(ids, masking, options, seed);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (masking.is_special(ids[i])) {
        EXPECT_EQ(out.labels[i], kIgnoreLabel) << "position " << i;
        EXPECT_EQ(out.input_ids[i], ids[i]) << "position " << i;
      } else {
        EXPECT_EQ(out.labels[i], ids[i]) << "position " << i;
      }
    }
  }
}

TEST(MaskTokensTest, HandlesSequencesWithLittleToMask) {
  const Vocab vocab = LetterVocab();
  const MaskingVocab masking(vocab);
  const MaskedSequence none = MaskTokens({kCls, kSep}, masking, {}, 3);
  EXPECT_THAT(none.labels, ::testing::Each(kIgnoreLabel));
  const MaskedSequence one = MaskTokens({kCls, Word(3), kSep}, masking, {}, 3);
  EXPECT_EQ(one.labels[1], Word(3)) << "at least one target when anything is maskable";
}

// Returns, per word (a start and its continuations), whether all, none or some pieces are targets.
struct WordCoverage {
  int whole = 0, none = 0, partial = 0;
};
WordCoverage Coverage(const std::vector<int32_t>& ids, const MaskedSequence& out,
                      const MaskingVocab& masking) {
  WordCoverage coverage;
  size_t i = 1;
  while (i + 1 < ids.size()) {
    size_t end = i + 1;
    while (end + 1 < ids.size() && masking.is_continuation(ids[end])) ++end;
    int chosen = 0;
    for (size_t j = i; j < end; ++j) chosen += out.labels[j] != kIgnoreLabel;
    if (chosen == 0) {
      ++coverage.none;
    } else if (chosen == static_cast<int>(end - i)) {
      ++coverage.whole;
    } else {
      ++coverage.partial;
    }
    i = end;
  }
  return coverage;
}

// [CLS] words of 1-4 pieces [SEP], about `pieces` tokens in all.
std::vector<int32_t> WordSequence(MlmRandom& random, int pieces) {
  std::vector<int32_t> ids = {kCls};
  while (static_cast<int>(ids.size()) < pieces) {
    ids.push_back(Word(static_cast<int>(random.Below(26))));
    const uint64_t extra = random.Below(4);
    for (uint64_t k = 0; k < extra; ++k) {
      ids.push_back(Continuation(static_cast<int>(random.Below(26))));
    }
  }
  ids.push_back(kSep);
  return ids;
}

TEST(MaskTokensTest, WholeWordMaskingTakesEveryPieceOfAWord) {
  const Vocab vocab = LetterVocab();
  const MaskingVocab masking(vocab);
  MaskingOptions options;
  options.whole_word = true;
  MlmRandom data(21);
  int64_t tokens = 0, targets = 0;
  WordCoverage total;
  for (int n = 0; n < 500; ++n) {
    const std::vector<int32_t> ids = WordSequence(data, 120);
    const MaskedSequence out = MaskTokens(ids, masking, options, 77 + n);
    const WordCoverage c = Coverage(ids, out, masking);
    total.whole += c.whole;
    total.partial += c.partial;
    tokens += static_cast<int64_t>(ids.size()) - 2;
    for (int32_t label : out.labels) targets += label != kIgnoreLabel;
  }
  EXPECT_EQ(total.partial, 0);
  EXPECT_GT(total.whole, 1000);
  EXPECT_NEAR(static_cast<double>(targets) / static_cast<double>(tokens), 0.15, 0.01);

  // Token-level masking on the same data does split words: the check above can fail.
  options.whole_word = false;
  MlmRandom again(21);
  int partial = 0;
  for (int n = 0; n < 500; ++n) {
    const std::vector<int32_t> ids = WordSequence(again, 120);
    partial += Coverage(ids, MaskTokens(ids, masking, options, 77 + n), masking).partial;
  }
  EXPECT_GT(partial, 100);
}

TEST(MaskTokensTest, IsRepeatableForASeed) {
  const Vocab vocab = LetterVocab();
  const MaskingVocab masking(vocab);
  MlmRandom data(4);
  const std::vector<int32_t> ids = RandomSequence(data, 100);
  const MaskedSequence a = MaskTokens(ids, masking, {}, 99);
  const MaskedSequence b = MaskTokens(ids, masking, {}, 99);
  const MaskedSequence c = MaskTokens(ids, masking, {}, 100);
  EXPECT_EQ(a.input_ids, b.input_ids);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.labels, c.labels);
  EXPECT_EQ(MixSeed(1, 2, 3), MixSeed(1, 2, 3));
  EXPECT_NE(MixSeed(1, 2, 3), MixSeed(1, 3, 2));
}

TEST(MaskingOptionsTest, Validates) {
  EXPECT_TRUE(MaskingOptions().Validate().ok());
  MaskingOptions options;
  options.mask_prob = 0;
  EXPECT_FALSE(options.Validate().ok());
  options = MaskingOptions();
  options.mask_token = 0.95;
  EXPECT_FALSE(options.Validate().ok());
}

}  // namespace
}  // namespace ner::model
