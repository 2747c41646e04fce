#include "model/mlm_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace ner::model {
namespace {

using ::testing::Contains;
using ::testing::Pair;

EncoderConfig Small() {
  EncoderConfig config;
  config.vocab_size = 40;
  config.hidden_size = 16;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 2;
  config.intermediate_size = 32;
  config.max_relative_position = 4;
  return config;
}

TEST(MakeMlmBatchTest, PadsToTheLongestSequence) {
  const MlmBatch batch =
      MakeMlmBatch({{{2, 10, 4, 3}, {kIgnoreLabel, kIgnoreLabel, 11, kIgnoreLabel}},
                    {{2, 12, 3}, {-100, 12, -100}}},
                   /*pad_id=*/0);
  EXPECT_TRUE(
      torch::equal(batch.input_ids, torch::tensor({2, 10, 4, 3, 2, 12, 3, 0}).view({2, 4})));
  EXPECT_TRUE(torch::equal(batch.attention_mask,
                           torch::tensor({1, 1, 1, 1, 1, 1, 1, 0}).view({2, 4}).to(torch::kBool)));
  EXPECT_TRUE(torch::equal(
      batch.labels, torch::tensor({-100, -100, 11, -100, -100, 12, -100, -100}).view({2, 4})));
  EXPECT_EQ(batch.num_tokens, 7);
}

TEST(MlmModelTest, StartsNearUniformAndTrainsTheTiedEmbeddings) {
  torch::manual_seed(1);
  MlmModel model(Small());
  model->eval();
  const MlmBatch batch = MakeMlmBatch(
      {{{2, 10, 4, 3}, {-100, -100, 11, -100}}, {{2, 4, 13, 3}, {-100, 20, -100, -100}}}, 0);
  const MlmOutput out = model->Forward(batch);
  EXPECT_EQ(out.num_targets, 2);
  EXPECT_NEAR(out.loss.item<double>(), std::log(40.0), 0.5);
  out.loss.backward();
  torch::Tensor embeddings;
  for (const auto& [name, p] : model->NamedParameters()) {
    if (name == "encoder.embeddings.word_embeddings.weight") embeddings = p;
  }
  ASSERT_TRUE(embeddings.defined() && embeddings.grad().defined());
  // Token 20 never occurs in the input: only the tied decoder gives its row a gradient.
  EXPECT_GT(embeddings.grad()[20].abs().sum().item<double>(), 0.0);
}

TEST(MlmModelTest, NamesTheHeadLikeHuggingFaceAndLoadsItBack) {
  torch::manual_seed(2);
  MlmModel a(Small());
  torch::manual_seed(3);
  MlmModel b(Small());
  std::map<std::string, torch::Tensor> weights;
  for (const auto& [name, p] : a->NamedParameters()) weights[name] = p.detach().clone();
  EXPECT_THAT(weights, Contains(Pair("cls.predictions.bias", ::testing::_)));
  EXPECT_THAT(weights, Contains(Pair("cls.predictions.transform.LayerNorm.weight", ::testing::_)));
  EXPECT_THAT(weights, Contains(Pair("encoder.layers.1.query.weight", ::testing::_)));
  ASSERT_TRUE(b->LoadWeights(weights).ok());
  for (const auto& [name, p] : b->NamedParameters()) {
    EXPECT_TRUE(torch::equal(p, weights.at(name))) << name;
  }
  weights.erase("cls.predictions.transform.dense.bias");
  const absl::Status missing = b->LoadWeights(weights);
  EXPECT_EQ(missing.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(missing.message()), ::testing::HasSubstr("transform.dense.bias"));
}

}  // namespace
}  // namespace ner::model
