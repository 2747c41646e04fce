#include "model/linear_cpu.h"

#include <torch/torch.h>

#include <cmath>

#include <gtest/gtest.h>

namespace ner::model {
namespace {

// Against torch::linear over shapes that exercise every path: 1 to 3 leftover rows after the
// blocks of 4, 1 to 4 column vectors of 16, partial ones (7, 17, 33 labels), more than 64 columns
// (a second group), k = 1 and the default model's 256; with and without a bias.
TEST(LinearCpuTest, MatchesTorchLinear) {
  torch::manual_seed(3);
  for (const int64_t n : {1, 3, 6, 37}) {
    for (const int64_t k : {1, 5, 256}) {
      for (const int64_t m : {1, 7, 16, 17, 33, 64, 70}) {
        const torch::Tensor x = torch::randn({n, k});
        const torch::Tensor w = torch::randn({m, k});
        const torch::Tensor b = torch::randn({m});
        torch::Tensor out = torch::full({n, m}, std::nanf(""));
        linear_cpu::SmallLinear(x.data_ptr<float>(), n, k, w.data_ptr<float>(),
                                b.data_ptr<float>(), m, out.data_ptr<float>());
        const torch::Tensor want = torch::linear(x, w, b);
        EXPECT_TRUE(torch::allclose(out, want, 1e-5, 1e-4))
            << "n " << n << " k " << k << " m " << m << ": "
            << (out - want).abs().max().item<double>();
        linear_cpu::SmallLinear(x.data_ptr<float>(), n, k, w.data_ptr<float>(), nullptr, m,
                                out.data_ptr<float>());
        EXPECT_TRUE(torch::allclose(out, torch::linear(x, w), 1e-5, 1e-4))
            << "no bias, n " << n << " k " << k << " m " << m;
      }
    }
  }
}

// A row gets the same bits alone as anywhere in a batch (blocks of 4 and the leftover rows).
TEST(LinearCpuTest, EachRowIsTheSameAloneAndInABatch) {
  torch::manual_seed(4);
  const int64_t n = 11, k = 256, m = 7;
  const torch::Tensor x = torch::randn({n, k});
  const torch::Tensor w = torch::randn({m, k});
  const torch::Tensor b = torch::randn({m});
  torch::Tensor batch = torch::empty({n, m});
  linear_cpu::SmallLinear(x.data_ptr<float>(), n, k, w.data_ptr<float>(), b.data_ptr<float>(), m,
                          batch.data_ptr<float>());
  for (int64_t r = 0; r < n; ++r) {
    const torch::Tensor row = x[r].contiguous();
    torch::Tensor alone = torch::empty({m});
    linear_cpu::SmallLinear(row.data_ptr<float>(), 1, k, w.data_ptr<float>(), b.data_ptr<float>(),
                            m, alone.data_ptr<float>());
    EXPECT_TRUE(torch::equal(alone, batch[r])) << "row " << r;
  }
}

}  // namespace
}  // namespace ner::model
