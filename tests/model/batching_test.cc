#include "model/batching.h"

#include <torch/torch.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

using ::testing::ElementsAre;

std::vector<int64_t> Lengths(int n) {
  std::vector<int64_t> lengths;
  for (int i = 0; i < n; ++i) lengths.push_back(1 + (i * 37) % 101);  // 1..101, scrambled
  return lengths;
}

TEST(BatchingTest, EveryIndexInExactlyOneBatch) {
  const std::vector<int64_t> lengths = Lengths(203);
  const auto batches = PlanBatches(lengths, 16, 4, 42);
  std::multiset<int64_t> seen;
  for (const auto& b : batches) {
    EXPECT_GE(b.size(), 1u);
    EXPECT_LE(b.size(), 16u);
    seen.insert(b.begin(), b.end());
  }
  EXPECT_EQ(seen.size(), 203u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 203u);
  // 203 = 3 full pools of 64 (12 batches) + a pool of 11 (1 batch).
  EXPECT_EQ(batches.size(), 13u);
}

TEST(BatchingTest, SameSeedSameBatchesOtherSeedOtherOrder) {
  const std::vector<int64_t> lengths = Lengths(100);
  EXPECT_EQ(PlanBatches(lengths, 8, 5, 7), PlanBatches(lengths, 8, 5, 7));
  EXPECT_NE(PlanBatches(lengths, 8, 5, 7), PlanBatches(lengths, 8, 5, 8));
}

TEST(BatchingTest, BucketingCutsPadding) {
  const std::vector<int64_t> lengths = Lengths(1000);
  const int64_t plain = PaddingPositions(PlanBatches(lengths, 16, 1, 3), lengths);
  const int64_t bucketed = PaddingPositions(PlanBatches(lengths, 16, 50, 3), lengths);
  EXPECT_LT(bucketed * 5, plain) << "plain " << plain << ", bucketed " << bucketed;
  // Inside a pool the batches are length-sorted: each batch spans a narrow range.
  for (const auto& batch : PlanBatches(lengths, 16, 1000, 3)) {
    int64_t lo = 1000, hi = 0;
    for (int64_t i : batch) {
      lo = std::min(lo, lengths[i]);
      hi = std::max(hi, lengths[i]);
    }
    EXPECT_LE(hi - lo, 3);
  }
}

TEST(BatchingTest, PaddingPositionsCountsTheGap) {
  EXPECT_EQ(PaddingPositions({{0, 1}, {2}}, {3, 5, 4}), 2);
}

TEST(BatchingTest, SeededShuffleIsAPermutationAndStable) {
  std::vector<int64_t> a(50);
  std::iota(a.begin(), a.end(), 0);
  std::vector<int64_t> b = a;
  SeededShuffle(a, 11);
  SeededShuffle(b, 11);
  EXPECT_EQ(a, b);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_NE(DeriveSeed(1, 0), DeriveSeed(1, 1));
  EXPECT_NE(DeriveSeed(1, 0), DeriveSeed(2, 0));
}

TEST(BatchingTest, MakeTrainingBatchPadsRight) {
  std::vector<LabelledSequence> seqs(2);
  seqs[0] = {{5, 6, 7}, {1, 2, 0}, 3};
  seqs[1] = {{8}, {3}, 2};
  const TrainingBatch batch = MakeTrainingBatch(seqs, {1, 0}, torch::kCPU);
  EXPECT_EQ(batch.input.token_ids.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(batch.input.token_ids.equal(torch::tensor({{8, 0, 0}, {5, 6, 7}}, torch::kInt64)));
  EXPECT_TRUE(batch.tags.equal(torch::tensor({{3, 0, 0}, {1, 2, 0}}, torch::kInt64)));
  EXPECT_TRUE(batch.input.mask.equal(
      torch::tensor({{true, false, false}, {true, true, true}}, torch::kBool)));
  EXPECT_EQ(batch.characters, 5);
  EXPECT_EQ(batch.tokens, 4);
}

TEST(BatchingTest, EncodeDocumentsMapsEntitiesToLabelIds) {
  const Checkpoint tiny = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf);
  ModelConfig config = tiny.config;  // BIO over PER, LOC, ORG
  const Tokenizer tokenizer(tiny.vocab);
  const auto label = [&](const std::string& tag) {
    return static_cast<int64_t>(std::find(config.labels.begin(), config.labels.end(), tag) -
                                config.labels.begin());
  };
  std::vector<Document> docs = {
      {"a", "张三在北京", {{0, 2, "PER"}, {3, 5, "LOC"}}},
      {"b", "   ", {}},                      // no tokens: skipped
      {"c", "李四去东西", {{3, 5, "FAC"}}},  // a type the model lacks
  };
  EncodingStats stats;
  absl::StatusOr<std::vector<LabelledSequence>> seqs =
      EncodeDocuments(docs, tokenizer, config, &stats);
  ASSERT_TRUE(seqs.ok()) << seqs.status();
  ASSERT_EQ(seqs->size(), 2u);
  EXPECT_THAT((*seqs)[0].label_ids, ElementsAre(label("B-PER"), label("I-PER"), label("O"),
                                                label("B-LOC"), label("I-LOC")));
  EXPECT_EQ((*seqs)[0].token_ids.size(), 5u);
  EXPECT_EQ((*seqs)[0].num_chars, 5);
  EXPECT_THAT((*seqs)[1].label_ids, ElementsAre(0, 0, 0, 0, 0));
  EXPECT_EQ(stats.documents, 3);
  EXPECT_EQ(stats.sequences, 2);
  EXPECT_EQ(stats.empty_pieces, 1);
  EXPECT_EQ(stats.unknown_labels, 2);
  EXPECT_EQ(stats.entities, 3);
}

TEST(BatchingTest, EncodeDocumentsSegmentsLongDocuments) {
  const Checkpoint tiny = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf);
  ModelConfig config = tiny.config;
  config.max_chars = 4;
  const Tokenizer tokenizer(tiny.vocab);
  // "张三。李四。王五" splits after each "。" into pieces of at most 4 characters.
  std::vector<Document> docs = {{"d", "张三。李四。王五", {{3, 5, "PER"}, {6, 8, "PER"}}}};
  absl::StatusOr<std::vector<LabelledSequence>> seqs =
      EncodeDocuments(docs, tokenizer, config, nullptr);
  ASSERT_TRUE(seqs.ok());
  ASSERT_EQ(seqs->size(), 3u);
  for (const LabelledSequence& s : *seqs) EXPECT_LE(s.token_ids.size(), 4u);
}

TEST(BatchingTest, EncodeDocumentsRejectsInvalidUtf8) {
  const Checkpoint tiny = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf);
  const Tokenizer tokenizer(tiny.vocab);
  absl::StatusOr<std::vector<LabelledSequence>> seqs =
      EncodeDocuments({{"bad-doc", "ab\xff", {}}}, tokenizer, tiny.config);
  EXPECT_EQ(seqs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(seqs.status().message()), ::testing::HasSubstr("bad-doc"));
}

}  // namespace
}  // namespace ner::model
