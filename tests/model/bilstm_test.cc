#include "model/bilstm.h"

#include <torch/types.h>
#include <torch/utils.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "model/lstm_cpu.h"

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

// Without autograd the CPU runs model/lstm_cpu.h's fused recurrence; with it, LibTorch's packed
// LSTM. Same numbers either way, for hidden sizes on and off the vector width, sequences of
// length 1 and T, and inputs large enough to saturate the gates.
TEST(BiLstmTest, InferencePathMatchesAutogradPath) {
  for (const int64_t hidden : {128, 5, 33}) {
    torch::manual_seed(hidden);
    BiLstm lstm(6, hidden);
    // Up to 37 steps: the fused path computes the input half of the gates 16 steps at a time.
    const std::vector<int64_t> lengths = {13, 37, 1, 24, 37, 16};
    const torch::Tensor mask = PrefixMask(lengths, 37);
    for (const double scale : {1.0, 30.0}) {
      torch::Tensor input = torch::randn({6, 37, 6}) * scale;
      input = torch::where(mask.unsqueeze(2), input, torch::full_like(input, 100.0));
      const torch::Tensor reference = lstm(input, mask);
      ASSERT_TRUE(reference.requires_grad());  // Really the autograd path.
      torch::Tensor fused;
      {
        torch::NoGradGuard no_grad;
        fused = lstm(input, mask);
      }
      ASSERT_EQ(fused.sizes(), reference.sizes());
      const double diff = (fused - reference.detach()).abs().max().item<double>();
      EXPECT_LT(diff, 2e-6) << "hidden " << hidden << " scale " << scale;
      // Padding stays exactly zero.
      EXPECT_EQ(fused[2].slice(0, 1).abs().sum().item<double>(), 0.0);
    }
  }
}

TEST(BiLstmTest, InferencePathIsTheSameAloneAndInABatch) {
  torch::manual_seed(4);
  BiLstm lstm(6, 16);
  torch::NoGradGuard no_grad;
  const std::vector<int64_t> lengths = {20, 37, 37, 1};
  const torch::Tensor input = torch::randn({4, 37, 6});
  const torch::Tensor mask = PrefixMask(lengths, 37);
  const torch::Tensor batched = lstm(input, mask);
  for (int64_t b = 0; b < 4; ++b) {
    const int64_t len = lengths[b];
    const torch::Tensor alone =
        lstm(input.slice(0, b, b + 1).slice(1, 0, len), torch::ones({1, len}, torch::kBool));
    EXPECT_TRUE(torch::equal(alone[0], batched[b].slice(0, 0, len))) << "sequence " << b;
  }
  // In a batch of 40 the steps go in chunks of another size: still the same bits.
  const torch::Tensor forty = lstm(input.repeat({10, 1, 1}), mask.repeat({10, 1}));
  EXPECT_TRUE(torch::equal(forty.slice(0, 36, 40), batched));
}

// The packed weights follow in-place updates (optimizer steps, checkpoint loads).
TEST(BiLstmTest, InferencePathSeesWeightUpdates) {
  torch::manual_seed(5);
  BiLstm lstm(4, 16);
  const torch::Tensor input = torch::randn({2, 5, 4});
  const torch::Tensor mask = PrefixMask({5, 3}, 5);
  torch::NoGradGuard no_grad;
  const torch::Tensor before = lstm(input, mask);
  for (auto& p : lstm->parameters()) p.mul_(0.5);
  const torch::Tensor after = lstm(input, mask);
  EXPECT_GT((after - before).abs().max().item<double>(), 1e-3);
  torch::Tensor reference;
  {
    torch::AutoGradMode grad(true);
    reference = lstm(input, mask).detach();
  }
  EXPECT_LT((after - reference).abs().max().item<double>(), 2e-6);
}

// A module built under InferenceMode has inference-tensor parameters, which have no version
// counter: the fused path must still run (and match the autograd-free reference).
TEST(BiLstmTest, InferencePathWithInferenceTensorParameters) {
  torch::manual_seed(6);
  const torch::Tensor input = torch::randn({2, 5, 4});
  const torch::Tensor mask = PrefixMask({5, 2}, 5);
  torch::InferenceMode inference;
  BiLstm lstm(4, 16);
  ASSERT_TRUE(lstm->parameters().front().is_inference());
  const torch::Tensor first = lstm(input, mask);
  EXPECT_TRUE(torch::equal(first, lstm(input, mask)));
  EXPECT_EQ(first[1].slice(0, 2).abs().sum().item<double>(), 0.0);
}

TEST(LstmCpuTest, ActivationsMatchLibm) {
  std::vector<float> x;
  for (float v = -100.0f; v <= 100.0f; v += 0.01f) x.push_back(v);
  for (const float v : {-1e30f, -88.5f, -1e-6f, 0.0f, 1e-6f, 88.5f, 1e30f}) x.push_back(v);
  std::vector<float> sig(x.size()), th(x.size());
  lstm_cpu::Sigmoid(x.data(), static_cast<int64_t>(x.size()), sig.data());
  lstm_cpu::Tanh(x.data(), static_cast<int64_t>(x.size()), th.data());
  double sig_rel = 0, sig_abs = 0, tanh_abs = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(x[i])));
    sig_abs = std::max(sig_abs, std::abs(sig[i] - s));
    // Relative down to e^-80; below it the result is clamped to ~1e-38 (error < 1e-37).
    if (x[i] >= -80.0f) sig_rel = std::max(sig_rel, std::abs(sig[i] - s) / s);
    tanh_abs = std::max(tanh_abs, std::abs(th[i] - std::tanh(static_cast<double>(x[i]))));
  }
  EXPECT_LT(sig_rel, 5e-7);
  EXPECT_LT(sig_abs, 2e-7);
  EXPECT_LT(tanh_abs, 5e-7);
  float big[2] = {1e30f, -1e30f}, out[2];
  lstm_cpu::Tanh(big, 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -1.0f);
  lstm_cpu::Sigmoid(big, 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_GE(out[1], 0.0f);
  EXPECT_LT(out[1], 1e-37f);
}

// One direction of one sequence x [T, D] as the bf16 path computes it, in double: [x_t, h] and
// the weights rounded to bf16 for the product, biases summed in float, everything else exact.
torch::Tensor Bf16Reference(const torch::Tensor& x, const torch::Tensor& w_ih,
                            const torch::Tensor& w_hh, const torch::Tensor& b_ih,
                            const torch::Tensor& b_hh, bool backward) {
  const int64_t steps = x.size(0), hidden = w_hh.size(1);
  auto bf16 = [](const torch::Tensor& t) { return t.to(torch::kBFloat16).to(torch::kDouble); };
  const torch::Tensor w = bf16(torch::cat({w_ih, w_hh}, 1));
  const torch::Tensor bias = (b_ih + b_hh).to(torch::kDouble);
  torch::Tensor h = torch::zeros({hidden}, torch::kFloat);
  torch::Tensor c = torch::zeros({hidden}, torch::kDouble);
  torch::Tensor out = torch::zeros({steps, hidden}, torch::kFloat);
  for (int64_t s = 0; s < steps; ++s) {
    const int64_t t = backward ? steps - 1 - s : s;
    const torch::Tensor gates = w.mv(bf16(torch::cat({x[t], h}))) + bias;
    const auto g = gates.chunk(4);
    c = torch::sigmoid(g[1]) * c + torch::sigmoid(g[0]) * torch::tanh(g[2]);
    h = (torch::sigmoid(g[3]) * torch::tanh(c)).to(torch::kFloat);
    out[t] = h;
  }
  return out;
}

// The bf16 products on both kernels: AVX512-BF16 vectors and AMX tiles (where the CPU has them).
// Shapes: H 33 (4H = 132: column tails after 64- and 32-column blocks), H 20 (4H = 80: a lone
// 16-column tile), D 100 / H 128 (the default model's); D 6 + H 33 = 39 inputs (an odd width:
// a padded last pair; 20 pairs: a partial 16-pair tile). 20 sequences: two 16-row tiles. Lengths
// up to 37: the tile kernel computes the input half of the gates 16 steps at a time (10 for the
// 40 sequences below), so sequences end before, at and after chunk boundaries.
TEST(BiLstmTest, Bf16ProductsMatchARoundedReference) {
  if (!lstm_cpu::Bf16ProductsSupported()) {
    GTEST_SKIP() << "this CPU has no AVX512-BF16: the bf16 products are not used";
  }
  const std::vector<int64_t> lengths = {13, 37, 1,  24, 36, 2,  27, 33, 17, 16,
                                        37, 1,  15, 23, 5,  32, 35, 28, 19, 4};
  const int64_t batch = static_cast<int64_t>(lengths.size());
  const int64_t steps = 37;
  const torch::Tensor mask = PrefixMask(lengths, steps);
  for (const bool tiles : {false, true}) {
    if (tiles && !lstm_cpu::AmxProductsSupported()) {
      std::cout << "no AMX-BF16 here: the tile kernel is not tested\n";
      continue;
    }
    for (const auto& [input_dim, hidden] :
         std::vector<std::pair<int64_t, int64_t>>{{6, 33}, {6, 20}, {100, 128}}) {
      SCOPED_TRACE(testing::Message()
                   << "tiles " << tiles << " D " << input_dim << " H " << hidden);
      torch::manual_seed(hidden);
      BiLstm lstm(input_dim, hidden);
      ASSERT_TRUE(lstm->SetBf16Products(true, tiles));
      EXPECT_EQ(lstm->amx_products(), tiles);
      const torch::Tensor input = torch::randn({batch, steps, input_dim});
      torch::NoGradGuard no_grad;
      const torch::Tensor out = lstm(input, mask);
      auto params = lstm->named_parameters();
      auto p = [&](const std::string& name) { return params["lstm." + name]; };
      double max_diff = 0;
      for (int64_t b = 0; b < batch; ++b) {
        const torch::Tensor x = input[b].slice(0, 0, lengths[b]);
        const torch::Tensor fwd = Bf16Reference(x, p("weight_ih_l0"), p("weight_hh_l0"),
                                                p("bias_ih_l0"), p("bias_hh_l0"), false);
        const torch::Tensor bwd =
            Bf16Reference(x, p("weight_ih_l0_reverse"), p("weight_hh_l0_reverse"),
                          p("bias_ih_l0_reverse"), p("bias_hh_l0_reverse"), true);
        const torch::Tensor got = out[b].slice(0, 0, lengths[b]);
        max_diff = std::max(max_diff, (got - torch::cat({fwd, bwd}, 1)).abs().max().item<double>());
        EXPECT_EQ(out[b].slice(0, lengths[b]).abs().sum().item<double>(), 0.0) << "padding";
      }
      // float32 sums against double; a rare flip of an h rounding costs ~1e-4.
      EXPECT_LT(max_diff, 1e-3);
      // Really bf16: off the float32 path by bf16 rounding, not by more.
      lstm->SetBf16Products(false);
      const double off = (lstm(input, mask) - out).abs().max().item<double>();
      EXPECT_GT(off, 1e-5);
      EXPECT_LT(off, 5e-2);
      // A sequence gets the same bits alone as in a batch (the 18th: in the second row tile).
      lstm->SetBf16Products(true, tiles);
      for (const int64_t b : {int64_t{1}, int64_t{17}}) {
        const torch::Tensor alone = lstm(input.slice(0, b, b + 1), PrefixMask({lengths[b]}, steps));
        EXPECT_TRUE(torch::equal(alone[0], out[b])) << "sequence " << b;
      }
      // And in a larger batch (other chunks of steps on tiles).
      const torch::Tensor twice = lstm(torch::cat({input, input}), torch::cat({mask, mask}));
      EXPECT_TRUE(torch::equal(twice.slice(0, batch), out));
    }
  }
}

TEST(LstmCpuTest, PackDirectionBf16RoundsToNearestEvenInPairs) {
  // K = 3 (odd: the last pair padded), G = 2.
  const float wt[6] = {1.0f,
                       -2.0f,
                       1.00390625f /* 1 + 2^-8: a tie, to even (1.0) */,
                       1.01171875f /* 1 + 3 * 2^-8: a tie, to even (1 + 2^-6) */,
                       3.0f,
                       0.5f};
  uint16_t out[8];
  lstm_cpu::PackDirectionBf16(wt, 3, 2, out);
  const uint16_t expected[8] = {0x3F80, 0x3F80, 0xC000, 0x3F82, 0x4040, 0, 0x3F00, 0};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], expected[i]) << i;
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
