#include "server/inference_queue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/server/fake_clock.h"
#include "tests/server/server_test_util.h"

namespace ner::server {
namespace {

using model::PreparedDocument;
using model::RecognizedEntity;

void ExpectSameEntities(const std::vector<RecognizedEntity>& actual,
                        const std::vector<RecognizedEntity>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_EQ(actual[i].type, expected[i].type) << i;
    EXPECT_EQ(actual[i].text, expected[i].text) << i;
    EXPECT_EQ(actual[i].begin_char, expected[i].begin_char) << i;
    EXPECT_EQ(actual[i].end_char, expected[i].end_char) << i;
    EXPECT_EQ(actual[i].begin_byte, expected[i].begin_byte) << i;
    EXPECT_EQ(actual[i].end_byte, expected[i].end_byte) << i;
    // Padding to a longer piece may change the last float bits, not the decision.
    EXPECT_NEAR(actual[i].score, expected[i].score, 1e-4) << i;
  }
}

// Collects one submission's result.
struct Outcome {
  Submission Make(std::shared_ptr<const ServedModel> model) {
    Submission submission;
    submission.model = std::move(model);
    submission.done = [this](RecognizeResult r) {
      result = std::move(r);
      done.Notify();
    };
    return submission;
  }
  RecognizeResult result = absl::UnknownError("not done");
  absl::Notification done;
};

class InferenceQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ModelRegistryOptions options;
    options.model_root = testing::TestModelRoot();
    registry_ = *ModelRegistry::Create(options);
    a_ = *registry_->Load("a", "tiny");
    b_ = *registry_->Load("b", "tiny2");
  }
  static std::vector<PreparedDocument> Prepare(const ServedModel& model,
                                               const std::vector<std::string>& texts) {
    std::vector<PreparedDocument> documents;
    for (const std::string& text : texts) documents.push_back(*model.recognizer->Prepare(text));
    return documents;
  }

  std::unique_ptr<ModelRegistry> registry_;
  std::shared_ptr<const ServedModel> a_, b_;
};

TEST_F(InferenceQueueTest, LongDocumentEqualsItsPiecesRecognisedAlone) {
  std::string text;
  while (model::CountCodePoints(text) < 1500) {
    text += "张三在北京大学工作，李四去上海中国人民银行。王五说：“华为公司在东南西北！”\n";
  }
  std::vector<PreparedDocument> documents = Prepare(*a_, {text});
  ASSERT_GE(documents[0].pieces.size(), 3u);
  // Reference: each piece alone, in a batch of one.
  std::vector<RecognizedEntity> expected;
  for (const model::PreparedPiece& piece : documents[0].pieces) {
    auto alone = a_->recognizer->RunBatch({&piece}, {&documents[0]});
    ASSERT_TRUE(alone.ok());
    for (RecognizedEntity& e : alone->front()) expected.push_back(std::move(e));
  }
  ASSERT_FALSE(expected.empty()) << "the tiny model should find something in this text";

  BatcherOptions options;
  options.max_queue_delay = absl::Milliseconds(1);
  auto queue = *InferenceQueue::Create(options, nullptr);
  Outcome outcome;
  ASSERT_TRUE(queue->Submit(std::move(documents), outcome.Make(a_)).ok());
  outcome.done.WaitForNotification();
  ASSERT_TRUE(outcome.result.ok()) << outcome.result.status();
  ASSERT_EQ(outcome.result->size(), 1u);
  ExpectSameEntities(outcome.result->front(), expected);
  EXPECT_EQ(queue->GetStats().batches, 1);  // All pieces went into one padded batch.
}

TEST_F(InferenceQueueTest, ModelsShareABatchAndKeepTheirOwnWeights) {
  ::ner::testing::FakeClock clock;
  BatcherOptions options;
  options.max_queue_delay = absl::Milliseconds(5);
  auto queue = *InferenceQueue::Create(options, nullptr, &clock);
  const std::vector<std::string> texts = {"张三在北京大学工作。", "李四去上海中国人民银行。"};
  Outcome on_a, on_b;
  ASSERT_TRUE(queue->Submit(Prepare(*a_, texts), on_a.Make(a_)).ok());
  ASSERT_TRUE(queue->Submit(Prepare(*b_, texts), on_b.Make(b_)).ok());
  EXPECT_EQ(queue->GetStats().queued_tasks, 4);
  clock.Advance(absl::Milliseconds(5));
  on_a.done.WaitForNotification();
  on_b.done.WaitForNotification();
  EXPECT_EQ(queue->GetStats().batches, 1);
  ASSERT_TRUE(on_a.result.ok() && on_b.result.ok());
  const auto expected_a = *a_->recognizer->Recognize(texts);
  const auto expected_b = *b_->recognizer->Recognize(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    ExpectSameEntities((*on_a.result)[i], expected_a[i]);
    ExpectSameEntities((*on_b.result)[i], expected_b[i]);
  }
}

TEST_F(InferenceQueueTest, BlankDocumentsCompleteAtOnce) {
  auto queue = *InferenceQueue::Create(BatcherOptions(), nullptr);
  Outcome outcome;
  ASSERT_TRUE(queue->Submit(Prepare(*a_, {"  \n ", ""}), outcome.Make(a_)).ok());
  ASSERT_TRUE(outcome.done.HasBeenNotified());  // Before Submit returned.
  ASSERT_TRUE(outcome.result.ok());
  EXPECT_EQ(outcome.result->size(), 2u);
  EXPECT_TRUE((*outcome.result)[0].empty() && (*outcome.result)[1].empty());
}

TEST_F(InferenceQueueTest, FullQueueRejectsAllOrNothing) {
  ::ner::testing::FakeClock clock;
  BatcherOptions options;
  options.max_queue_items = 3;
  options.max_queue_delay = absl::Seconds(1);
  auto queue = *InferenceQueue::Create(options, nullptr, &clock);
  Outcome first, second;
  ASSERT_TRUE(queue->Submit(Prepare(*a_, {"张三", "李四"}), first.Make(a_)).ok());
  const absl::Status rejected = queue->Submit(Prepare(*a_, {"王五", "北京"}), second.Make(a_));
  EXPECT_EQ(rejected.code(), absl::StatusCode::kResourceExhausted) << rejected;
  EXPECT_EQ(queue->GetStats().queued_tasks, 2);  // None of the second submission.
  queue->Shutdown(/*drain=*/true);
  EXPECT_TRUE(first.done.HasBeenNotified());
  EXPECT_TRUE(first.result.ok());
  EXPECT_FALSE(second.done.HasBeenNotified());  // Rejected: never called.
}

TEST_F(InferenceQueueTest, ExpiredAndCancelledSubmissionsDoNotRun) {
  ::ner::testing::FakeClock clock;
  BatcherOptions options;
  options.max_queue_delay = absl::Milliseconds(10);
  auto queue = *InferenceQueue::Create(options, nullptr, &clock);
  Outcome expired, cancelled, fine;
  Submission s1 = expired.Make(a_);
  s1.deadline = clock.Now() + absl::Milliseconds(3);
  ASSERT_TRUE(queue->Submit(Prepare(*a_, {"张三在北京。"}), std::move(s1)).ok());
  Submission s2 = cancelled.Make(a_);
  s2.is_cancelled = [] { return true; };
  ASSERT_TRUE(queue->Submit(Prepare(*a_, {"李四在上海。"}), std::move(s2)).ok());
  ASSERT_TRUE(queue->Submit(Prepare(*a_, {"王五。"}), fine.Make(a_)).ok());
  clock.Advance(absl::Milliseconds(10));
  expired.done.WaitForNotification();
  cancelled.done.WaitForNotification();
  fine.done.WaitForNotification();
  EXPECT_EQ(expired.result.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(cancelled.result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(fine.result.ok());
}

}  // namespace
}  // namespace ner::server
