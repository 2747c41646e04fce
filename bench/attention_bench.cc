// NEZHA's relative-position attention against plain attention of the same size, the attention
// alone (RelativePositionAttention with and without a table); the whole-encoder comparison is
// Encoder/nezha-* vs Encoder/bert-* in encoder_bench.cc.
//
// Rows: Attention/<relative|plain>/<dtype>/B<b>xT<t>, base heads (12 x 64), eval (no dropout),
// InferenceMode, no padding; wall time ("Time") and process CPU time of all threads ("CPU").
// The relative rows use the table as TransformerEncoder::Forward does: W = 2 min(R, T - 1) + 1
// rows of the R = 64 table.
// Counters: GFLOP/s from the matrix products only:
//   plain      4 B N T^2 d        q.k^T and p.v
//   relative   + 4 B N T W d      q.table^T and buckets.table
// ExpandByDistance, SumByDistance and the extra score and context adds are element-wise and not
// counted, so the relative rows' GFLOP/s shows how well those products run, and their time
// over the plain row's is the overhead the issue bounds (<= 15%).

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "model/encoder_config.h"
#include "model/transformer_encoder.h"

namespace ner::bench {
namespace {

constexpr int64_t kBatch = 16;
constexpr int64_t kLengths[] = {128, 512};

void BM_Attention(benchmark::State& state, bool relative, torch::Dtype dtype, int64_t batch,
                  int64_t length) {
  const model::EncoderConfig config = model::NezhaBasePreset();
  const int64_t heads = config.num_attention_heads;
  const int64_t d = config.HeadSize();
  const int64_t big_r = config.max_relative_position;
  torch::InferenceMode inference;
  torch::manual_seed(0);
  const auto options = torch::TensorOptions().dtype(dtype);
  // [B, N, T, d] views of a [B, T, H] projection, as the encoder layer passes them.
  auto head_view = [&] {
    return torch::randn({batch, length, heads, d}, options).transpose(1, 2);
  };
  const torch::Tensor query = head_view();
  const torch::Tensor key = head_view();
  const torch::Tensor value = head_view();
  const torch::Tensor additive_mask = torch::zeros({batch, 1, 1, length}, options);
  torch::Tensor table;
  int64_t rows = 0;
  if (relative) {
    const int64_t r = std::min(big_r, length - 1);
    rows = 2 * r + 1;
    table = model::RelativePositionTable(big_r, d).narrow(0, big_r - r, rows).to(dtype);
  }
  auto run = [&] {
    return model::RelativePositionAttention(query, key, value, additive_mask, table,
                                            /*dropout_prob=*/0.0, /*training=*/false);
  };
  run();  // Warm-up.
  for (auto _ : state) {
    torch::Tensor context = run();
    benchmark::DoNotOptimize(context.data_ptr());
  }
  const double bnd = static_cast<double>(batch * heads * d);
  const double t = static_cast<double>(length);
  const double flops = (4.0 * bnd * t * t + 4.0 * bnd * t * static_cast<double>(rows)) *
                       static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * batch * length);
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
}

bool RegisterAll() {
  const std::pair<torch::Dtype, const char*> dtypes[] = {{torch::kFloat32, "fp32"},
                                                         {torch::kBFloat16, "bf16"}};
  for (const auto& [dtype, dtype_name] : dtypes) {
    for (const int64_t length : kLengths) {
      for (const bool relative : {true, false}) {
        benchmark::RegisterBenchmark(absl::StrCat("Attention/", relative ? "relative" : "plain",
                                                  "/", dtype_name, "/B", kBatch, "xT", length)
                                         .c_str(),
                                     &BM_Attention, relative, dtype, kBatch, length)
            ->UseRealTime()
            ->MeasureProcessCPUTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  return true;
}

// Registration at static-initialisation time, as the BENCHMARK macro does.
const bool kRegistered = RegisterAll();

}  // namespace
}  // namespace ner::bench
