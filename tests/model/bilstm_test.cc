#include "model/bilstm.h"

#include <cstdint>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "gtest/gtest.h"

namespace ner::model {
namespace {

torch::Tensor PrefixMask(const std::vector<int64_t>& lengths, int64_t t_max) {
  return torch::tensor(lengths, torch::kLong)
      .unsqueeze(1)
      .gt(torch::arange(t_max, torch::kLong).unsqueeze(0));
}

TEST(BiLstmTest, OutputShapeAndZeroPadding) {
  torch::manual_seed(0);
  BiLstm lstm(6, 4);
  EXPECT_EQ(lstm->output_dim(), 8);
  const torch::Tensor out = lstm(torch::randn({3, 5, 6}), PrefixMask({5, 2, 3}, 5));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{3, 5, 8}));
  EXPECT_EQ(out[1].slice(0, 2).abs().sum().item<double>(), 0.0);
  EXPECT_GT(out[1].slice(0, 0, 2).abs().sum().item<double>(), 0.0);
}

TEST(BiLstmTest, PaddedSequenceMatchesSequenceAlone) {
  torch::manual_seed(1);
  BiLstm lstm(6, 128);
  const std::vector<int64_t> lengths = {3, 9, 1, 6};
  // Large padding values: any leak into the backward direction would show.
  torch::Tensor input = torch::randn({4, 9, 6});
  const torch::Tensor mask = PrefixMask(lengths, 9);
  input = torch::where(mask.unsqueeze(2), input, torch::full_like(input, 100.0));
  const torch::Tensor batched = lstm(input, mask);
  for (int64_t b = 0; b < 4; ++b) {
    const int64_t len = lengths[b];
    const torch::Tensor alone =
        lstm(input.slice(0, b, b + 1).slice(1, 0, len), torch::ones({1, len}, torch::kBool));
    EXPECT_TRUE(torch::allclose(alone[0], batched[b].slice(0, 0, len), /*rtol=*/0, /*atol=*/1e-5))
        << "sequence " << b << " max diff "
        << (alone[0] - batched[b].slice(0, 0, len)).abs().max().item<double>();
  }
}

TEST(BiLstmTest, GradientsFlow) {
  torch::manual_seed(2);
  BiLstm lstm(5, 7);
  const torch::Tensor input = torch::randn({2, 4, 5}).requires_grad_(true);
  lstm(input, PrefixMask({4, 2}, 4)).pow(2).sum().backward();
  ASSERT_TRUE(input.grad().defined());
  EXPECT_GT(input.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(input.grad()[1].slice(0, 2).abs().sum().item<double>(), 0.0);  // Padding.
  for (const auto& p : lstm->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
  EXPECT_TRUE(lstm->named_parameters().contains("lstm.weight_hh_l0_reverse"));
}

TEST(BiLstmTest, RejectsBadInputs) {
  BiLstm lstm(5, 7);
  EXPECT_THROW(lstm(torch::randn({2, 4, 6}), PrefixMask({4, 4}, 4)), c10::Error);
  EXPECT_THROW(lstm(torch::randn({2, 4, 5}), PrefixMask({4, 4}, 3)), c10::Error);
  EXPECT_THROW(lstm(torch::randn({2, 4, 5}), PrefixMask({4, 0}, 4)), c10::Error);
  EXPECT_THROW(lstm(torch::randn({1, 3, 5}), torch::tensor({1, 0, 1}, torch::kBool).view({1, 3})),
               c10::Error);
}

}  // namespace
}  // namespace ner::model
