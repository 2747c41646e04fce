#include "model/metrics.h"

#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/tag_scheme.h"

namespace ner::model {
namespace {

std::vector<EntitySpan> Spans(const std::string& spaced_tags) {
  std::vector<std::string> tags = absl::StrSplit(spaced_tags, ' ');
  std::vector<EntitySpan> out;
  for (const TagSpan& s : TagsToSpans(tags)) out.push_back({s.begin, s.end, s.type});
  return out;
}

// Hand-checked with conlleval.pl on the same two sentences (gold / guessed columns):
//   sentence 1: gold  B-PER I-PER O B-LOC O     B-ORG I-ORG
//               guess B-PER I-PER O B-LOC I-LOC B-ORG O
//   sentence 2: gold  O     B-LOC I-LOC O
//               guess I-LOC I-LOC I-LOC O
// gold chunks 4 (PER, LOC, ORG, LOC), found 5 (PER, LOC[3,5), ORG[5,6), LOC[0,3)) ... see below.
TEST(MetricsTest, AgreesWithConllevalCounts) {
  EntityMetrics metrics;
  metrics.Add(Spans("B-PER I-PER O B-LOC O B-ORG I-ORG"),
              Spans("B-PER I-PER O B-LOC I-LOC B-ORG O"));
  metrics.Add(Spans("O B-LOC I-LOC O"), Spans("I-LOC I-LOC I-LOC O"));
  // conlleval: processed 11 tokens with 4 phrases; found: 4 phrases; correct: 1.
  // Gold: PER[0,2) LOC[3,4) ORG[5,7) | LOC[1,3). Guess: PER[0,2) LOC[3,5) ORG[5,6) | LOC[0,3).
  EXPECT_EQ(metrics.overall().gold, 4);
  EXPECT_EQ(metrics.overall().predicted, 4);
  EXPECT_EQ(metrics.overall().correct, 1);
  EXPECT_DOUBLE_EQ(metrics.overall().precision(), 0.25);
  EXPECT_DOUBLE_EQ(metrics.overall().recall(), 0.25);
  EXPECT_DOUBLE_EQ(metrics.overall().f1(), 0.25);
  const auto& by_type = metrics.by_type();
  EXPECT_EQ(by_type.at("PER").correct, 1);
  EXPECT_DOUBLE_EQ(by_type.at("PER").f1(), 1.0);
  EXPECT_EQ(by_type.at("LOC").gold, 2);
  EXPECT_EQ(by_type.at("LOC").predicted, 2);
  EXPECT_EQ(by_type.at("LOC").correct, 0);
  EXPECT_DOUBLE_EQ(by_type.at("LOC").f1(), 0.0);
  EXPECT_EQ(metrics.documents(), 2);
}

TEST(MetricsTest, PrecisionRecallDiffer) {
  EntityMetrics metrics;
  metrics.Add({{0, 2, "A"}, {3, 4, "B"}, {5, 6, "A"}}, {{0, 2, "A"}, {3, 4, "A"}});
  // gold 3, predicted 2, correct 1: P = 1/2, R = 1/3, F1 = 2 * (1/6) / (5/6) = 0.4.
  EXPECT_DOUBLE_EQ(metrics.overall().precision(), 0.5);
  EXPECT_NEAR(metrics.overall().recall(), 1.0 / 3, 1e-12);
  EXPECT_NEAR(metrics.overall().f1(), 0.4, 1e-12);
  // A type only predicted appears with gold 0; a type only in gold has predicted 0.
  EXPECT_EQ(metrics.by_type().at("B").predicted, 0);
  EXPECT_EQ(metrics.by_type().at("B").gold, 1);
}

TEST(MetricsTest, EmptyIsZeroNotNan) {
  EntityMetrics metrics;
  metrics.Add({}, {});
  EXPECT_EQ(metrics.overall().f1(), 0.0);
  EXPECT_EQ(metrics.overall().precision(), 0.0);
}

TEST(MetricsTest, MergeEqualsSequentialAdds) {
  EntityMetrics a, b, all;
  a.Add({{0, 1, "X"}}, {{0, 1, "X"}});
  b.Add({{0, 2, "Y"}}, {{0, 1, "Y"}});
  all.Add({{0, 1, "X"}}, {{0, 1, "X"}});
  all.Add({{0, 2, "Y"}}, {{0, 1, "Y"}});
  a.Merge(b);
  EXPECT_EQ(a.ToJson(), all.ToJson());
  EXPECT_THAT(a.FormatTable(), ::testing::HasSubstr("overall"));
  EXPECT_THAT(a.FormatTable(), ::testing::HasSubstr("50.00"));
}

}  // namespace
}  // namespace ner::model
