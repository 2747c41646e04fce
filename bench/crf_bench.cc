// CRF inference cost per sequence: Viterbi decoding (CrfImpl::Decode, the tags the server
// returns) and forward-backward marginals (CrfImpl::Marginals, the confidences), float32
// emissions on the CPU, every sequence of the batch full length (a mask of ones).
//
// Rows: BM_Crf{Decode,Marginals}/B:<batch>/T:<length>/K:<tags>, K = 7 (BIO over PER/LOC/ORG) and
// 13 (BIO over 6 types; Resume's BMES with 8 types has 33). Counters:
//   items_per_second  sequences/s
//   time/seq          wall time per sequence (the inverse)
//   chars/s           positions (characters) per second
// Both algorithms step through T in a loop of small [B, K, K] tensor ops, so their cost is
// about T times a per-step overhead that batching shares: per-sequence time falls with B.
// The rows use the calling thread's CPU time (Google Benchmark's default), which other
// processes' load inflates less than wall time; with more than one intra-op thread some of those
// small ops still enter OpenMP regions (Viterbi gets ~2x slower at 2 threads, far more on a busy
// machine: docs/performance.md), and the barrier waits count as the caller's CPU time.

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "model/crf.h"

namespace ner::bench {
namespace {

// Random emissions and transitions of the scale a trained model produces (a few units).
struct CrfInput {
  model::Crf crf{nullptr};
  torch::Tensor emissions;  // [B, T, K] float32
  torch::Tensor mask;       // [B, T] bool, all true
};

CrfInput MakeInput(int64_t batch, int64_t length, int64_t tags) {
  torch::manual_seed(0);
  CrfInput input;
  input.crf = model::Crf(tags);
  {
    torch::NoGradGuard no_grad;
    input.crf->transitions.normal_(0.0, 2.0);
  }
  input.emissions = 3.0 * torch::randn({batch, length, tags});
  input.mask = torch::ones({batch, length}, torch::kBool);
  return input;
}

void ReportPerSequence(benchmark::State& state, int64_t batch, int64_t length) {
  const auto sequences = static_cast<double>(state.iterations() * batch);
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["time/seq"] = benchmark::Counter(
      sequences, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["chars/s"] =
      benchmark::Counter(sequences * static_cast<double>(length), benchmark::Counter::kIsRate);
}

void BM_CrfDecode(benchmark::State& state) {
  const int64_t batch = state.range(0), length = state.range(1), tags = state.range(2);
  const CrfInput input = MakeInput(batch, length, tags);
  torch::InferenceMode inference;
  input.crf->Decode(input.emissions, input.mask);  // Warm-up.
  for (auto _ : state) {
    std::vector<model::ViterbiResult> paths = input.crf->Decode(input.emissions, input.mask);
    benchmark::DoNotOptimize(paths.data());
  }
  ReportPerSequence(state, batch, length);
}

void BM_CrfMarginals(benchmark::State& state) {
  const int64_t batch = state.range(0), length = state.range(1), tags = state.range(2);
  const CrfInput input = MakeInput(batch, length, tags);
  torch::InferenceMode inference;
  input.crf->Marginals(input.emissions, input.mask);  // Warm-up.
  for (auto _ : state) {
    torch::Tensor marginals = input.crf->Marginals(input.emissions, input.mask);
    benchmark::DoNotOptimize(marginals.data_ptr());
  }
  ReportPerSequence(state, batch, length);
}

void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "T", "K"})
      ->ArgsProduct({{1, 16, 64}, {32, 128, 512}, {7, 13}})
      ->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_CrfDecode)->Apply(Shapes);
BENCHMARK(BM_CrfMarginals)->Apply(Shapes);

}  // namespace
}  // namespace ner::bench
