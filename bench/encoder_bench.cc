// Encoder forward throughput per preset, length and dtype, against the GEMM rate of the same
// process (MFU), plus the GEMM benchmarks that rate comes from.
//
// Rows:
//   Gemm/<dtype>/<m>x<k>x<n>                x [m, k] times W^T, W [n, k]: the encoder's GEMMs at
//                                           B x T = 2048 tokens, base size.
//   Encoder/<preset>/<dtype>/B<b>xT<t>      TransformerEncoder::Forward, eval mode, InferenceMode,
//                                           all tokens real (no padding).
// Counters of the encoder rows:
//   items_per_second  tokens/s
//   GFLOP/s           CountEncoderFlops (bench/flops.h) / wall time
//   gemm_GFLOP/s      the reference GEMM (bench/gemm_rate.h) in that dtype, measured in this
//                     process right before and right after the row's timed loop
//   MFU               GFLOP/s / gemm_GFLOP/s: the fraction of this process's own GEMM rate the
//                     whole forward achieves (attention, softmax, LayerNorm and GELU included)
//   GFLOP/cpu-s, gemm_GFLOP/cpu-s, MFU_cpu
//                     the same per second of process CPU time (all threads): on a machine
//                     shared with other work the wall-time figures also measure how much CPU
//                     the neighbours left, the CPU-time ones much less so
//   model_FLOP/char   CountNerModelFlops / characters for the whole NER model built on this
//                     encoder (nezha: nezha-df-bilstm-crf, bert: bert-bilstm-crf; BIO over
//                     PER/LOC/ORG, K = 7) on pieces of T characters
// All rows time wall-clock ("Time") and the process's CPU time of all threads ("CPU"): LibTorch's
// intra-op threads do the work, not the timing thread. Each runs one untimed warm-up call, then
// Google Benchmark's default 0.5 s: a base-size forward takes seconds on two cores, so those
// rows time a single call; --benchmark_repetitions gives the spread.

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/flops.h"
#include "bench/gemm_rate.h"
#include "model/encoder_config.h"
#include "model/model_config.h"
#include "model/tag_scheme.h"
#include "model/transformer_encoder.h"

namespace ner::bench {
namespace {

constexpr int64_t kBatch = 16;
constexpr int64_t kLengths[] = {32, 128, 512};

struct Preset {
  const char* name;
  model::EncoderConfig (*make)();
};

// Tiny and base, each as NEZHA and as BERT of the same size, so that every NEZHA row has a
// plain-attention twin in the same run.
constexpr Preset kPresets[] = {
    {"nezha-tiny", &model::NezhaTinyPreset},
    {"bert-tiny", &model::BertTinyPreset},
    {"nezha-base", &model::NezhaBasePreset},
    {"bert-base", &model::BertBasePreset},
};

struct DtypeName {
  torch::Dtype dtype;
  const char* name;
};
constexpr DtypeName kDtypes[] = {{torch::kFloat32, "fp32"}, {torch::kBFloat16, "bf16"}};

void BM_Gemm(benchmark::State& state, torch::Dtype dtype, int64_t m, int64_t k, int64_t n) {
  torch::InferenceMode inference;
  const auto options = torch::TensorOptions().dtype(dtype);
  const torch::Tensor x = torch::randn({m, k}, options);
  const torch::Tensor w = torch::randn({n, k}, options);
  for (int i = 0; i < 2; ++i) torch::matmul(x, w.t());  // Warm-up: allocator, packing buffers.
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    torch::Tensor y = torch::matmul(x, w.t());
    benchmark::DoNotOptimize(y.data_ptr());
  }
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(k) *
                       static_cast<double>(n) * static_cast<double>(state.iterations());
  state.counters["GFLOP/s"] = benchmark::Counter(flops / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/cpu-s"] = flops / cpu_seconds / 1e9;
}

// The NER model built on `encoder`, for the FLOPs-per-character counter.
model::ModelConfig NerConfigFor(const model::EncoderConfig& encoder) {
  const model::Variant variant = encoder.kind == model::EncoderKind::kNezha
                                     ? model::Variant::kNezhaDfBiLstmCrf
                                     : model::Variant::kBertBiLstmCrf;
  return model::MakeModelConfig(variant, encoder, model::TagScheme::kBio, {"PER", "LOC", "ORG"});
}

// GEMM runs measured before and after each encoder row for its MFU (5 + 5: about 1 s in float32
// on one core).
constexpr int kGemmReps = 5;

void BM_Encoder(benchmark::State& state, const Preset& preset, torch::Dtype dtype, int64_t batch,
                int64_t length) {
  const model::EncoderConfig config = preset.make();
  torch::manual_seed(0);
  model::TransformerEncoder encoder(config);
  encoder->eval();
  encoder->to(dtype);
  torch::InferenceMode inference;
  // Ids away from the special tokens; the values do not change the cost.
  const torch::Tensor ids = torch::randint(1000, 8000, {batch, length}, torch::kInt64);
  const torch::Tensor mask = torch::ones({batch, length}, torch::kBool);
  encoder->Forward(ids, mask);  // Warm-up: the first forward pays for allocations.
  const GemmRate gemm_before = MeasureReferenceGemmRate(dtype, kGemmReps);
  const auto wall_start = std::chrono::steady_clock::now();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    model::EncoderOutput out = encoder->Forward(ids, mask);
    benchmark::DoNotOptimize(out.last_hidden_state().data_ptr());
  }
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  const double wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  const GemmRate gemm = Combine(gemm_before, MeasureReferenceGemmRate(dtype, kGemmReps));

  const double flops =
      CountEncoderFlops(config, batch, length).Total() * static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * batch * length);
  state.counters["GFLOP/s"] = flops / wall_seconds / 1e9;
  state.counters["GFLOP/cpu-s"] = flops / cpu_seconds / 1e9;
  state.counters["gemm_GFLOP/s"] = gemm.flops_per_second / 1e9;
  state.counters["gemm_GFLOP/cpu-s"] = gemm.flops_per_cpu_second / 1e9;
  state.counters["MFU"] = flops / wall_seconds / gemm.flops_per_second;
  state.counters["MFU_cpu"] = flops / cpu_seconds / gemm.flops_per_cpu_second;
  state.counters["model_FLOP/char"] =
      CountNerModelFlops(NerConfigFor(config), 1, length) / static_cast<double>(length);
}

bool RegisterAll() {
  const int64_t tokens = kReferenceGemmM;
  const int64_t h = kReferenceGemmK;
  const int64_t f = kReferenceGemmN;
  const int64_t shapes[][3] = {{tokens, h, h}, {tokens, h, f}, {tokens, f, h}};
  for (const DtypeName& d : kDtypes) {
    for (const auto& s : shapes) {
      benchmark::RegisterBenchmark(
          absl::StrCat("Gemm/", d.name, "/", s[0], "x", s[1], "x", s[2]).c_str(), &BM_Gemm,
          d.dtype, s[0], s[1], s[2])
          ->UseRealTime()
          ->MeasureProcessCPUTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (const Preset& preset : kPresets) {
    for (const DtypeName& d : kDtypes) {
      for (const int64_t length : kLengths) {
        benchmark::RegisterBenchmark(
            absl::StrCat("Encoder/", preset.name, "/", d.name, "/B", kBatch, "xT", length)
                .c_str(),
            &BM_Encoder, preset, d.dtype, kBatch, length)
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
