#include "model/recognizer.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/dataset.h"
#include "model/segmenter.h"
#include "tests/testing/shared_data.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<const Checkpoint> Tiny(int32_t max_chars = 512) {
  auto ckpt = std::make_shared<Checkpoint>(ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf));
  ckpt->config.max_chars = max_chars;
  return ckpt;
}

void ExpectOffsetsExact(const std::string& text, const std::vector<RecognizedEntity>& entities) {
  absl::StatusOr<DecodedText> decoded = DecodeUtf8(text);
  ASSERT_TRUE(decoded.ok());
  for (const RecognizedEntity& e : entities) {
    ASSERT_LT(e.begin_char, e.end_char);
    ASSERT_LE(e.end_char, decoded->size());
    EXPECT_EQ(e.text, EncodeUtf8(std::u32string_view(decoded->code_points)
                                     .substr(e.begin_char, e.end_char - e.begin_char)));
    EXPECT_EQ(e.text, text.substr(e.begin_byte, e.end_byte - e.begin_byte));
    EXPECT_GE(e.score, 0.0f);
    EXPECT_LE(e.score, 1.0f + 1e-6f);
  }
}

TEST(RecognizerTest, OffsetsAreExactOnMixedText) {
  auto recognizer = Recognizer::Create(Tiny());
  ASSERT_TRUE(recognizer.ok()) << recognizer.status();
  const std::vector<std::string> texts = {
      "张三在北京大学工作。",
      "👨\u200D👩 李四，ｈｅｌｌｏ 王五\u0301去上海！",
      "  ",
      "",
      "华为公司2021年在中国人民银行说了"};
  absl::StatusOr<std::vector<std::vector<RecognizedEntity>>> results =
      (*recognizer)->Recognize(texts);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), texts.size());
  int64_t total = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    ExpectOffsetsExact(texts[i], (*results)[i]);
    total += static_cast<int64_t>((*results)[i].size());
  }
  EXPECT_GT(total, 0) << "the random model should tag something";
  EXPECT_TRUE((*results)[2].empty());
  EXPECT_TRUE((*results)[3].empty());
}

TEST(RecognizerTest, InvalidUtf8NamesByteOffset) {
  auto recognizer = Recognizer::Create(Tiny());
  ASSERT_TRUE(recognizer.ok());
  auto results = (*recognizer)->Recognize({"好", "ab\xC0\xAF"});
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(results.status().message(), HasSubstr("document 1"));
  EXPECT_THAT(results.status().message(), HasSubstr("at byte 2"));
}

// The result for a long text equals recognising each of its pieces on its own.
TEST(RecognizerTest, LongTextEqualsPiecesOneByOne) {
  auto recognizer = Recognizer::Create(Tiny(/*max_chars=*/40));
  ASSERT_TRUE(recognizer.ok());
  std::string text;
  for (int i = 0; i < 12; ++i) {
    text += i % 3 == 0 ? "张三在北京大学工作，他说：“我去上海。”" : "李四和王五到中国人民银行！";
  }
  text += std::string(100, 'a');  // A run without any break: hard cuts.
  absl::StatusOr<PreparedDocument> doc = (*recognizer)->Prepare(text);
  ASSERT_TRUE(doc.ok());
  ASSERT_GT(doc->pieces.size(), 5u);

  auto whole = (*recognizer)->Recognize({text}, /*max_batch_pieces=*/7);
  ASSERT_TRUE(whole.ok());
  std::vector<RecognizedEntity> one_by_one;
  for (const PreparedPiece& piece : doc->pieces) {
    std::string piece_text = EncodeUtf8(std::u32string_view(doc->decoded.code_points)
                                            .substr(piece.begin_char, piece.end_char - piece.begin_char));
    auto alone = (*recognizer)->Recognize({piece_text});
    ASSERT_TRUE(alone.ok());
    for (RecognizedEntity e : (*alone)[0]) {
      e.begin_char += piece.begin_char;
      e.end_char += piece.begin_char;
      e.begin_byte += doc->decoded.byte_offsets[piece.begin_char];
      e.end_byte += doc->decoded.byte_offsets[piece.begin_char];
      one_by_one.push_back(e);
    }
  }
  ASSERT_GT(one_by_one.size(), 10u) << "the random model should tag something";
  ASSERT_EQ((*whole)[0].size(), one_by_one.size());
  for (size_t i = 0; i < one_by_one.size(); ++i) {
    EXPECT_EQ((*whole)[0][i].begin_char, one_by_one[i].begin_char);
    EXPECT_EQ((*whole)[0][i].end_char, one_by_one[i].end_char);
    EXPECT_EQ((*whole)[0][i].begin_byte, one_by_one[i].begin_byte);
    EXPECT_EQ((*whole)[0][i].type, one_by_one[i].type);
    EXPECT_NEAR((*whole)[0][i].score, one_by_one[i].score, 1e-4);
  }
  ExpectOffsetsExact(text, (*whole)[0]);
}

TEST(RecognizerTest, ConstrainedDecodingNeverStartsWithInside) {
  auto recognizer = Recognizer::Create(Tiny());
  ASSERT_TRUE(recognizer.ok());
  auto doc = (*recognizer)->Prepare("张三李四王五在北京上海大学工作中国人民银行华为公司");
  ASSERT_TRUE(doc.ok());
  // Entities come from TagsToSpans over a constrained path, so each starts with B-: check by
  // comparing against an unconstrained recognizer, which may differ but never the other way.
  auto results = (*recognizer)->RunBatch({&doc->pieces[0]}, {&*doc});
  ASSERT_TRUE(results.ok());
  ExpectOffsetsExact(doc->text, (*results)[0]);
}

Recognizer::Options ForwardTokens(int64_t n) {
  Recognizer::Options options;
  options.max_forward_tokens = n;
  return options;
}

// Pieces of mixed lengths give the same entities, in the caller's order, whether they run in one
// padded forward or sorted by length in forwards of at most N padded tokens.
TEST(RecognizerTest, ForwardsBoundedByTokensMatchOneForward) {
  std::vector<std::string> texts;
  const char* sentences[] = {"张三在北京大学工作。", "李四和王五到中国人民银行！",
                             "华为公司2021年在上海说了", "好", "他说：“我去上海。”"};
  for (int i = 0; i < 23; ++i) {
    std::string text;
    for (int j = 0; j <= i % 5; ++j) text += sentences[(i + j) % 5];
    texts.push_back(text);
  }
  std::vector<PreparedDocument> documents;
  auto reference = Recognizer::Create(Tiny(), ForwardTokens(0));
  ASSERT_TRUE(reference.ok());
  EXPECT_EQ((*reference)->max_forward_tokens(), 0);
  for (const std::string& text : texts) documents.push_back(*(*reference)->Prepare(text));
  std::vector<const PreparedPiece*> pieces;
  std::vector<const PreparedDocument*> owners;
  for (const PreparedDocument& d : documents) {
    for (const PreparedPiece& p : d.pieces) pieces.push_back(&p), owners.push_back(&d);
  }
  auto one_forward = (*reference)->RunBatch(pieces, owners);
  ASSERT_TRUE(one_forward.ok());
  int64_t tagged = 0;
  for (const auto& entities : *one_forward) tagged += static_cast<int64_t>(entities.size());
  ASSERT_GT(tagged, 10) << "the random model should tag something";
  // 1: every piece alone; 40: a few per forward; the longest piece alone exceeds 40 tokens.
  for (int64_t bound : {int64_t{1}, int64_t{40}, int64_t{100}, Recognizer::kAutoForwardTokens}) {
    auto recognizer = Recognizer::Create(Tiny(), ForwardTokens(bound));
    ASSERT_TRUE(recognizer.ok());
    auto split = (*recognizer)->RunBatch(pieces, owners);
    ASSERT_TRUE(split.ok()) << split.status();
    ASSERT_EQ(split->size(), one_forward->size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      const auto& a = (*one_forward)[i];
      const auto& b = (*split)[i];
      ASSERT_EQ(a.size(), b.size()) << "bound " << bound << ", piece " << i;
      for (size_t k = 0; k < a.size(); ++k) {
        EXPECT_EQ(a[k].begin_char, b[k].begin_char);
        EXPECT_EQ(a[k].end_char, b[k].end_char);
        EXPECT_EQ(a[k].type, b[k].type);
        EXPECT_EQ(a[k].text, b[k].text);
        EXPECT_NEAR(a[k].score, b[k].score, 1e-4);
      }
    }
  }
}

TEST(RecognizerTest, ForwardTokensDefaultPerVariantAndValidated) {
  auto transformer = Recognizer::Create(Tiny());
  ASSERT_TRUE(transformer.ok());
  EXPECT_EQ((*transformer)->max_forward_tokens(), Recognizer::kTransformerForwardTokens);
  auto bilstm = Recognizer::Create(std::make_shared<Checkpoint>(
      ner::testing::TinyCheckpoint(Variant::kBiLstmCrf)));
  ASSERT_TRUE(bilstm.ok());
  EXPECT_EQ((*bilstm)->max_forward_tokens(), 0);
  auto bad = Recognizer::Create(Tiny(), ForwardTokens(-2));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("max_forward_tokens"));
}

TEST(RecognizerTest, Bf16PredictionsMatchFloat32OnRealText) {
  NER_REQUIRE_SHARED(path, "data/resume/dev.char.bmes");
  absl::StatusOr<Dataset> dev = ReadDataset(path);
  ASSERT_TRUE(dev.ok());
  std::vector<std::string> texts;
  for (size_t i = 0; i < 60 && i < dev->documents.size(); ++i) {
    texts.push_back(dev->documents[i].text);
  }
  // A checkpoint with the shared vocabulary so that real text maps to real ids.
  NER_REQUIRE_SHARED(vocab_path, "data/vocab/bert-base-chinese-vocab.txt");
  absl::StatusOr<Vocab> vocab = Vocab::Load(vocab_path);
  ASSERT_TRUE(vocab.ok());
  torch::manual_seed(3);
  auto make = [&](torch::Dtype dtype) {
    auto ckpt = std::make_shared<Checkpoint>();
    ckpt->vocab = std::make_shared<const Vocab>(*vocab);
    ckpt->config = MakeModelConfig(
        Variant::kNezhaDfBiLstmCrf,
        ner::testing::TinyEncoderConfig(EncoderKind::kNezha, ckpt->vocab->size()),
        TagScheme::kBmes, {"NAME", "ORG", "TITLE"});
    ckpt->config.lstm_hidden = 16;
    return ckpt;
  };
  auto fp32 = make(torch::kFloat32);
  fp32->model = NerModel(fp32->config, fp32->vocab->cls_id(), fp32->vocab->sep_id());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : fp32->model->named_parameters()) {
      if (p.key().find("crf") != std::string::npos) p.value().uniform_(-1, 1);
    }
  }
  fp32->model->eval();
  auto bf16 = make(torch::kBFloat16);
  bf16->model = NerModel(bf16->config, bf16->vocab->cls_id(), bf16->vocab->sep_id());
  {
    torch::NoGradGuard no_grad;
    auto src = fp32->model->named_parameters();
    for (auto& p : bf16->model->named_parameters()) p.value().copy_(src[p.key()]);
  }
  bf16->model->eval();
  bf16->model->SetEncoderDtype(torch::kBFloat16);

  auto a = (*Recognizer::Create(fp32))->Recognize(texts);
  auto b = (*Recognizer::Create(bf16))->Recognize(texts);
  ASSERT_TRUE(a.ok() && b.ok());
  int64_t same = 0, total = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    for (const RecognizedEntity& e : (*a)[i]) {
      ++total;
      for (const RecognizedEntity& f : (*b)[i]) {
        if (e.begin_char == f.begin_char && e.end_char == f.end_char && e.type == f.type) {
          ++same;
          break;
        }
      }
    }
  }
  ASSERT_GT(total, 20);
  // An untrained model has many near-ties; a trained one agrees more (docs/performance.md).
  EXPECT_GE(static_cast<double>(same) / total, 0.9) << same << " of " << total;
}

}  // namespace
}  // namespace ner::model
