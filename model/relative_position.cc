#include "model/relative_position.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace ner::model {
namespace {

// Rows of one [T, T] x [T, W] pair handed to one thread at a time: ~64 K elements.
int64_t GrainRows(int64_t length) {
  return std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(length, 1));
}

// Query i's keys j fall into three runs: j < lo use distance bucket 0 (j - i <= -R),
// lo <= j < hi use bucket j - i + R (the band, strictly inside (-R, R)), j >= hi use bucket 2R
// (j - i >= R). Empty band when R == 0.
struct Band {
  int64_t lo;
  int64_t hi;
};
Band BandOf(int64_t i, int64_t length, int64_t r) {
  const int64_t lo = std::clamp<int64_t>(i - r + 1, 0, length);
  return {lo, std::clamp<int64_t>(i + r, lo, length)};
}

void CheckWindow(int64_t window) {
  TORCH_CHECK(window >= 1 && window % 2 == 1,
              "relative positions: the distance axis must have 2R + 1 entries, got ", window);
}

torch::Tensor ExpandRaw(const torch::Tensor& by_distance, int64_t length) {
  const int64_t window = by_distance.size(-1);
  CheckWindow(window);
  TORCH_CHECK(by_distance.dim() >= 2 && by_distance.size(-2) == length,
              "ExpandByDistance: input must be [..., T=", length, ", W], got ",
              by_distance.sizes());
  std::vector<int64_t> sizes = by_distance.sizes().vec();
  sizes.back() = length;
  if (!by_distance.device().is_cpu()) {
    const torch::Tensor index =
        RelativePositionIndex(length, (window - 1) / 2).to(by_distance.device());
    return by_distance.gather(-1, index.expand(sizes));
  }
  const torch::Tensor in = by_distance.contiguous();
  torch::Tensor out = torch::empty(sizes, in.options());
  const int64_t rows = in.numel() / window;
  const int64_t r = (window - 1) / 2;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "ExpandByDistance",
                                  [&] {
    const scalar_t* src = in.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    at::parallel_for(0, rows, GrainRows(length), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t i = row % length;
        const scalar_t* s = src + row * window;
        scalar_t* o = dst + row * length;
        const Band band = BandOf(i, length, r);
        std::fill(o, o + band.lo, s[0]);
        std::copy(s + (band.lo - i + r), s + (band.hi - i + r), o + band.lo);
        std::fill(o + band.hi, o + length, s[window - 1]);
      }
    });
  });
  return out;
}

torch::Tensor SumRaw(const torch::Tensor& by_key, int64_t window) {
  CheckWindow(window);
  TORCH_CHECK(by_key.dim() >= 2 && by_key.size(-1) == by_key.size(-2),
              "SumByDistance: input must be [..., T, T], got ", by_key.sizes());
  const int64_t length = by_key.size(-1);
  std::vector<int64_t> sizes = by_key.sizes().vec();
  sizes.back() = window;
  if (!by_key.device().is_cpu()) {
    const torch::Tensor index =
        RelativePositionIndex(length, (window - 1) / 2).to(by_key.device());
    return torch::zeros(sizes, by_key.options())
        .scatter_add(-1, index.expand(by_key.sizes()), by_key);
  }
  const torch::Tensor in = by_key.contiguous();
  torch::Tensor out = torch::empty(sizes, in.options());
  const int64_t rows = length == 0 ? 0 : in.numel() / length;
  const int64_t r = (window - 1) / 2;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, in.scalar_type(), "SumByDistance",
                                  [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* src = in.data_ptr<scalar_t>();
    scalar_t* dst = out.data_ptr<scalar_t>();
    at::parallel_for(0, rows, GrainRows(length), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t i = row % length;
        const scalar_t* p = src + row * length;
        scalar_t* o = dst + row * window;
        const Band band = BandOf(i, length, r);
        acc_t left = 0;
        for (int64_t j = 0; j < band.lo; ++j) left += static_cast<acc_t>(p[j]);
        acc_t right = 0;
        for (int64_t j = band.hi; j < length; ++j) right += static_cast<acc_t>(p[j]);
        std::fill(o, o + window, scalar_t(0));
        std::copy(p + band.lo, p + band.hi, o + (band.lo - i + r));
        // The band never touches buckets 0 and 2R; with R == 0 they are one bucket.
        if (window == 1) {
          o[0] = static_cast<scalar_t>(left + right);
        } else {
          o[0] = static_cast<scalar_t>(left);
          o[window - 1] = static_cast<scalar_t>(right);
        }
      }
    });
  });
  return out;
}

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

class ExpandByDistanceFunction : public torch::autograd::Function<ExpandByDistanceFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& by_distance,
                               int64_t length) {
    ctx->saved_data["window"] = by_distance.size(-1);
    return ExpandRaw(by_distance, length);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    return {SumByDistance(grads[0], ctx->saved_data["window"].toInt()), torch::Tensor()};
  }
};

class SumByDistanceFunction : public torch::autograd::Function<SumByDistanceFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& by_key,
                               int64_t window) {
    ctx->saved_data["length"] = by_key.size(-1);
    return SumRaw(by_key, window);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    return {ExpandByDistance(grads[0], ctx->saved_data["length"].toInt()), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor RelativePositionTable(int64_t max_relative_position, int64_t head_size) {
  TORCH_CHECK(max_relative_position >= 0 && head_size > 0 && head_size % 2 == 0,
              "RelativePositionTable: need R >= 0 and an even head size, got R=",
              max_relative_position, " d=", head_size);
  // float64 like the reference's numpy table, then float32.
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor position = torch::arange(2 * max_relative_position + 1, f64).unsqueeze(1);
  const torch::Tensor frequency =
      torch::pow(10000.0, -torch::arange(0, head_size, 2, f64) / static_cast<double>(head_size));
  const torch::Tensor angle = position * frequency;  // [2R + 1, d / 2]
  return torch::stack({torch::sin(angle), torch::cos(angle)}, /*dim=*/2)
      .reshape({2 * max_relative_position + 1, head_size})
      .to(torch::kFloat32);
}

torch::Tensor RelativePositionIndex(int64_t length, int64_t max_relative_position) {
  const torch::Tensor position = torch::arange(length, torch::kInt64);
  return (position.unsqueeze(0) - position.unsqueeze(1))
             .clamp(-max_relative_position, max_relative_position) +
         max_relative_position;
}

torch::Tensor ExpandByDistance(const torch::Tensor& by_distance, int64_t length) {
  return ExpandByDistanceFunction::apply(by_distance, length);
}

torch::Tensor SumByDistance(const torch::Tensor& by_key, int64_t window) {
  return SumByDistanceFunction::apply(by_key, window);
}

torch::Tensor RelativePositionAttention(const torch::Tensor& query, const torch::Tensor& key,
                                        const torch::Tensor& value,
                                        const torch::Tensor& additive_mask,
                                        const torch::Tensor& table, double dropout_prob,
                                        bool training) {
  TORCH_CHECK(query.dim() == 4, "RelativePositionAttention: query must be [B, N, T, d], got ",
              query.sizes());
  const int64_t batch = query.size(0);
  const int64_t heads = query.size(1);
  const int64_t length = query.size(2);
  const int64_t head_size = query.size(3);
  // [B * N, T, d] (a copy when the heads are a transposed view, as matmul would make anyway),
  // with 1/sqrt(d) applied to the d-wide queries instead of the T-wide scores.
  const torch::Tensor q =
      query.reshape({batch * heads, length, head_size}) /
      std::sqrt(static_cast<double>(head_size));
  const torch::Tensor k_t = key.reshape({batch * heads, length, head_size}).transpose(1, 2);
  const torch::Tensor v = value.reshape({batch * heads, length, head_size});
  torch::Tensor scores;
  if (table.defined()) {
    // q_i . a_ij = (q_i @ table^T)[clip(j - i) + R]: one GEMM against the W rows, expanded, and
    // q . k^T accumulated onto it by the GEMM itself (no separate add pass).
    scores = ExpandByDistance(torch::matmul(q, table.t()), length).baddbmm_(q, k_t);
  } else {
    scores = torch::bmm(q, k_t);
  }
  torch::Tensor probs =
      torch::softmax(scores.view({batch, heads, length, length}) + additive_mask, -1);
  probs = torch::dropout(probs, dropout_prob, training)
              .view({batch * heads, length, length});
  torch::Tensor context;
  if (table.defined()) {
    // sum_j p_ij a_ij = sum_w (sum_{j: clip(j - i) + R = w} p_ij) table_w, then + p @ v.
    context = torch::matmul(SumByDistance(probs, table.size(0)), table).baddbmm_(probs, v);
  } else {
    context = torch::bmm(probs, v);
  }
  return context.view({batch, heads, length, head_size});
}

}  // namespace ner::model
