#include "model/ner_model.h"

#include <torch/torch.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

TokenBatch RandomBatch(int64_t vocab, const std::vector<int64_t>& lengths) {
  const int64_t t = *std::max_element(lengths.begin(), lengths.end());
  TokenBatch batch{torch::randint(5, vocab, {static_cast<int64_t>(lengths.size()), t}),
                   torch::zeros({static_cast<int64_t>(lengths.size()), t}, torch::kBool)};
  for (size_t b = 0; b < lengths.size(); ++b) {
    batch.mask[b].narrow(0, 0, lengths[b]).fill_(true);
  }
  return batch;
}

class NerModelVariantTest : public ::testing::TestWithParam<Variant> {};

// Every variant of Table 4 builds from its config and runs forward and backward on a batch.
TEST_P(NerModelVariantTest, ForwardBackward) {
  Checkpoint ckpt = ner::testing::TinyCheckpoint(GetParam());
  ckpt.model->train();
  const int64_t labels = static_cast<int64_t>(ckpt.config.labels.size());
  TokenBatch batch = RandomBatch(ckpt.vocab->size(), {7, 3, 5});
  torch::Tensor emissions = ckpt.model->Emissions(batch);
  EXPECT_EQ(emissions.sizes(), (std::vector<int64_t>{3, 7, labels}));
  torch::Tensor tags = torch::randint(0, labels, {3, 7});
  torch::Tensor loss = ckpt.model->Loss(batch, tags);
  ASSERT_TRUE(torch::isfinite(loss).item<bool>());
  loss.backward();
  int64_t with_grad = 0;
  for (const auto& p : ckpt.model->parameters()) {
    if (p.grad().defined() && p.grad().abs().sum().item<double>() > 0) ++with_grad;
  }
  // Everything but possibly unused rows gets gradient; at least the head and the embeddings.
  EXPECT_GE(with_grad, static_cast<int64_t>(ckpt.model->HeadParameters().size()));
  EXPECT_TRUE(ckpt.model->word_embeddings().grad().defined());
  EXPECT_EQ(ckpt.model->EncoderParameters().empty(), GetParam() == Variant::kBiLstmCrf);
}

// Padding never leaks: a sequence gives the same emissions alone and inside a padded batch.
TEST_P(NerModelVariantTest, PaddingInvariant) {
  Checkpoint ckpt = ner::testing::TinyCheckpoint(GetParam());
  torch::NoGradGuard no_grad;
  TokenBatch batch = RandomBatch(ckpt.vocab->size(), {9, 4});
  TokenBatch alone{batch.token_ids.narrow(0, 1, 1).narrow(1, 0, 4),
                   batch.mask.narrow(0, 1, 1).narrow(1, 0, 4)};
  torch::Tensor together = ckpt.model->Emissions(batch)[1].narrow(0, 0, 4);
  torch::Tensor single = ckpt.model->Emissions(alone)[0];
  EXPECT_TRUE(torch::allclose(together, single, 1e-5, 1e-5))
      << (together - single).abs().max().item<double>();
}

INSTANTIATE_TEST_SUITE_P(Variants, NerModelVariantTest,
                         ::testing::Values(Variant::kBiLstmCrf, Variant::kBertBiLstmCrf,
                                           Variant::kNezhaBiLstmCrf, Variant::kNezhaDfBiLstmCrf),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           std::string name(VariantName(info.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(NerModelTest, BigramBucketsOfEachPosition) {
  const int64_t vocab = 50, buckets = 1009;
  auto bucket = [&](int64_t a, int64_t b) { return ((a + 1) * (vocab + 1) + (b + 1)) % buckets; };
  const torch::Tensor mask = torch::tensor({1, 1, 1, 0}, torch::kBool).view({1, 4});
  for (const int64_t padding_id : {0, 9}) {
    const torch::Tensor ids = torch::tensor(std::vector<int64_t>{5, 6, 7, padding_id}).view({1, 4});
    const auto [left, right] = BigramBuckets(ids, mask, vocab, buckets);
    EXPECT_EQ(left[0][0].item<int64_t>(), bucket(-1, 5));  // nothing before the first
    EXPECT_EQ(left[0][1].item<int64_t>(), bucket(5, 6));
    EXPECT_EQ(left[0][2].item<int64_t>(), bucket(6, 7));
    EXPECT_EQ(right[0][0].item<int64_t>(), bucket(5, 6));
    EXPECT_EQ(right[0][1].item<int64_t>(), bucket(6, 7));
    // Nothing after the last character, whatever the padding holds.
    EXPECT_EQ(right[0][2].item<int64_t>(), bucket(7, -1)) << "padding id " << padding_id;
  }
}

// Bigram features: the model trains through them, a sequence gives the same emissions alone and
// padded in a batch, the config survives a checkpoint, and they change what the model computes.
TEST(NerModelTest, BigramFeatures) {
  Checkpoint ckpt = ner::testing::TinyCheckpoint(Variant::kBiLstmCrf);
  ModelConfig config = ckpt.config;
  config.bigram_buckets = 101;
  config.bigram_embedding_dim = 6;
  absl::StatusOr<NerModel> model = CreateNerModel(config, 2, 3);
  ASSERT_TRUE(model.ok()) << model.status();
  const auto params = (*model)->named_parameters();
  ASSERT_TRUE(params.contains("bigram_embeddings.weight"));
  EXPECT_EQ(params["bigram_embeddings.weight"].sizes(), (std::vector<int64_t>{101, 6}));
  EXPECT_EQ(params["bilstm.lstm.weight_ih_l0"].size(1), config.char_embedding_dim + 12);

  TokenBatch batch = RandomBatch(ckpt.vocab->size(), {9, 4});
  const int64_t labels = static_cast<int64_t>(config.labels.size());
  (*model)->Loss(batch, torch::randint(0, labels, {2, 9})).backward();
  EXPECT_GT(params["bigram_embeddings.weight"].grad().abs().sum().item<double>(), 0.0);

  (*model)->eval();
  // Without autograd the lookups go straight into their concatenation (one prefetching pass):
  // the same features as the three embedding modules and torch::cat give with autograd on.
  const torch::Tensor with_grad = (*model)->Emissions(batch).detach();
  torch::NoGradGuard no_grad;
  const torch::Tensor without = (*model)->Emissions(batch);
  EXPECT_TRUE(torch::allclose(with_grad, without, 1e-5, 1e-5))
      << (with_grad - without).abs().max().item<double>();
  TokenBatch alone{batch.token_ids.narrow(0, 1, 1).narrow(1, 0, 4),
                   batch.mask.narrow(0, 1, 1).narrow(1, 0, 4)};
  const torch::Tensor together = (*model)->Emissions(batch)[1].narrow(0, 0, 4);
  const torch::Tensor single = (*model)->Emissions(alone)[0];
  EXPECT_TRUE(torch::allclose(together, single, 1e-5, 1e-5))
      << (together - single).abs().max().item<double>();
  // Zeroing the bigram table changes the emissions: the features are really used.
  params["bigram_embeddings.weight"].zero_();
  EXPECT_FALSE(torch::allclose((*model)->Emissions(alone)[0], single, 1e-4, 1e-4));

  absl::StatusOr<ModelConfig> back = ParseModelConfig(config.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->bigram_buckets, 101);
  EXPECT_EQ(back->bigram_embedding_dim, 6);
}

TEST(NerModelTest, FusionOnlyInDfVariant) {
  EXPECT_TRUE(ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf).model->fusion()->enabled());
  EXPECT_FALSE(ner::testing::TinyCheckpoint(Variant::kNezhaBiLstmCrf).model->fusion()->enabled());
}

TEST(NerModelTest, Bf16EncoderCloseToFloat32) {
  Checkpoint ckpt = ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf);
  c10::InferenceMode guard;
  TokenBatch batch = RandomBatch(ckpt.vocab->size(), {30, 12});
  torch::Tensor fp32 = ckpt.model->Emissions(batch);
  ckpt.model->SetEncoderDtype(torch::kBFloat16);
  torch::Tensor bf16 = ckpt.model->Emissions(batch);
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat32);  // The head stays float32.
  const double scale = fp32.abs().max().item<double>();
  EXPECT_LT((bf16 - fp32).abs().max().item<double>(), 0.05 * scale);
}

}  // namespace
}  // namespace ner::model
