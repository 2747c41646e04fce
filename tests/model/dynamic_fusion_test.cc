#include "model/dynamic_fusion.h"

#include <cmath>
#include <cstdint>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "gtest/gtest.h"

namespace ner::model {
namespace {

std::vector<torch::Tensor> RandomLayers(int64_t n) {
  std::vector<torch::Tensor> layers;
  for (int64_t i = 0; i < n; ++i) layers.push_back(torch::randn({2, 5, 8}));
  return layers;
}

TEST(DynamicFusionTest, InitialisedToMeanOfLayers) {
  torch::manual_seed(0);
  DynamicFusion fusion(3);
  const auto layers = RandomLayers(3);
  const torch::Tensor want = (layers[0] + layers[1] + layers[2]) / 3;
  EXPECT_TRUE(torch::allclose(fusion(layers), want, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(fusion->LayerWeights(), torch::full({3}, 1.0 / 3), 1e-6, 1e-7));
}

TEST(DynamicFusionTest, MatchesManualComputationWithCustomParameters) {
  torch::manual_seed(1);
  DynamicFusion fusion(3);
  {
    torch::NoGradGuard no_grad;
    fusion->alpha.copy_(torch::tensor({0.5, -1.0, 2.0}));
    fusion->gamma.fill_(1.7);
  }
  const auto layers = RandomLayers(3);
  const double e0 = std::exp(0.5), e1 = std::exp(-1.0), e2 = std::exp(2.0);
  const double z = e0 + e1 + e2;
  const torch::Tensor want =
      1.7 * (layers[0] * (e0 / z) + layers[1] * (e1 / z) + layers[2] * (e2 / z));
  EXPECT_TRUE(torch::allclose(fusion(layers), want, 1e-5, 1e-6));
  const torch::Tensor w = fusion->LayerWeights();
  EXPECT_NEAR(w[2].item<double>(), e2 / z, 1e-6);
  EXPECT_FALSE(w.requires_grad());
}

TEST(DynamicFusionTest, DisabledReturnsLastLayer) {
  DynamicFusion fusion(4, /*enabled=*/false);
  EXPECT_FALSE(fusion->enabled());
  const auto layers = RandomLayers(4);
  EXPECT_TRUE(torch::equal(fusion(layers), layers[3]));
}

TEST(DynamicFusionTest, GradientsReachAlphaAndGamma) {
  torch::manual_seed(2);
  DynamicFusion fusion(3);
  auto layers = RandomLayers(3);
  layers[0].requires_grad_(true);
  (fusion(layers) * torch::randn({2, 5, 8})).sum().backward();
  ASSERT_TRUE(fusion->alpha.grad().defined());
  ASSERT_TRUE(fusion->gamma.grad().defined());
  EXPECT_GT(fusion->alpha.grad().abs().sum().item<double>(), 0.0);
  EXPECT_NE(fusion->gamma.grad().item<double>(), 0.0);
  EXPECT_GT(layers[0].grad().abs().sum().item<double>(), 0.0);
}

TEST(DynamicFusionTest, Float64LayersStayFloat64) {
  DynamicFusion fusion(2);
  const std::vector<torch::Tensor> layers = {torch::randn({1, 2, 3}, torch::kDouble),
                                             torch::randn({1, 2, 3}, torch::kDouble)};
  const torch::Tensor out = fusion(layers);
  EXPECT_EQ(out.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(out, (layers[0] + layers[1]) / 2, 1e-12, 1e-12));
}

TEST(DynamicFusionTest, RejectsWrongLayerCountOrShape) {
  DynamicFusion fusion(3);
  EXPECT_THROW(fusion(RandomLayers(2)), c10::Error);
  auto layers = RandomLayers(3);
  layers[1] = torch::randn({2, 5, 7});
  EXPECT_THROW(fusion(layers), c10::Error);
}

}  // namespace
}  // namespace ner::model
