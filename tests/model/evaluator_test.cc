#include "model/evaluator.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto checkpoint = std::make_shared<const Checkpoint>(
        ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf));
    recognizer_ = *Recognizer::Create(checkpoint);
    documents_ = {
        {"1", "张三在北京大学工作。", {{0, 2, "PER"}, {3, 7, "ORG"}}},
        {"2", "李四去上海", {{0, 2, "PER"}, {3, 5, "LOC"}}},
        {"3", "", {}},
        {"4", "华为公司2021年在中国人民银行说了", {{0, 4, "ORG"}}},
        {"5", "他说了", {}},
    };
  }

  std::unique_ptr<Recognizer> recognizer_;
  std::vector<Document> documents_;
};

TEST_F(EvaluatorTest, MatchesScoringTheRecognizerOutputByHand) {
  absl::StatusOr<Evaluation> evaluation = Evaluate(*recognizer_, documents_);
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();

  std::vector<std::string> texts;
  for (const Document& d : documents_) texts.push_back(d.text);
  auto recognized = recognizer_->Recognize(texts);
  ASSERT_TRUE(recognized.ok());
  EntityMetrics expected;
  int64_t predicted = 0;
  for (size_t i = 0; i < documents_.size(); ++i) {
    expected.Add(documents_[i].entities, ToEntitySpans((*recognized)[i]));
    predicted += static_cast<int64_t>((*recognized)[i].size());
  }
  EXPECT_EQ(evaluation->metrics.overall().gold, 5);
  EXPECT_EQ(evaluation->metrics.overall().predicted, predicted);
  EXPECT_EQ(evaluation->metrics.overall().correct, expected.overall().correct);
  EXPECT_EQ(evaluation->metrics.ToJson(), expected.ToJson());
  EXPECT_EQ(evaluation->metrics.documents(), 5);
  EXPECT_EQ(evaluation->characters, 10 + 5 + 0 + 18 + 3);
}

TEST_F(EvaluatorTest, ChunkingAndBatchSizeDoNotChangeCounts) {
  EvaluationOptions small;
  small.documents_per_chunk = 1;
  small.batch_pieces = 1;
  auto a = Evaluate(*recognizer_, documents_, small);
  auto b = Evaluate(*recognizer_, documents_);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->metrics.overall().predicted, b->metrics.overall().predicted);
  EXPECT_EQ(a->metrics.overall().correct, b->metrics.overall().correct);
}

TEST_F(EvaluatorTest, InvalidUtf8NamesTheDocument) {
  documents_.push_back({"broken", "ab\xc3", {}});
  absl::StatusOr<Evaluation> evaluation = Evaluate(*recognizer_, documents_);
  EXPECT_EQ(evaluation.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(evaluation.status().message()), HasSubstr("broken"));
}

TEST(EvaluatorSpansTest, ToEntitySpans) {
  RecognizedEntity e;
  e.type = "PER";
  e.begin_char = 2;
  e.end_char = 4;
  EXPECT_EQ(ToEntitySpans({e}), (std::vector<EntitySpan>{{2, 4, "PER"}}));
}

}  // namespace
}  // namespace ner::model
