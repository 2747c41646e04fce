// The BiLSTM's inference forward (no autograd, float32, CPU), the default model's size (D = 200
// inputs: a 100-wide character embedding and two 50-wide bigram embeddings; H = 128 per
// direction; D was 100 for the default model before 2026-11-30 05:20): LibTorch's packed
// nn::LSTM (what BiLstmImpl::forward ran before model/lstm_cpu.h, and still runs with autograd
// on) against the fused recurrence BiLstmImpl::forward runs now, on the same module, weights and
// inputs.
//
// Rows: BM_BiLstm/impl:<0 LibTorch, 1 fused, 2 fused with bf16 products on AVX512-BF16 vectors
// (skipped without AVX512-BF16), 3 the same on AMX tiles (skipped without AMX-BF16)>/B:<batch>/
// T:<longest length> (B 20: the batches of a server at concurrency 64); the lengths of a batch are
// spread over [T/2, T] (mixed ~100-character texts), so the packed sequences shrink as they end.
// Wall time (the fused path runs the two directions on two intra-op threads when the process has
// two: --ner_threads=2). Counter chars/s = valid positions per second.

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <tuple>

#include "model/bilstm.h"

namespace ner::bench {
namespace {

constexpr int64_t kInputDim = 200;
constexpr int64_t kHidden = 128;

void BM_BiLstm(benchmark::State& state) {
  const bool fused = state.range(0) >= 1;
  const int64_t batch = state.range(1), steps = state.range(2);
  torch::manual_seed(0);
  model::BiLstm lstm(kInputDim, kHidden);
  if (state.range(0) == 2 && !lstm->SetBf16Products(true, /*tiles=*/false)) {
    state.SkipWithError("no AVX512-BF16 on this CPU");
    return;
  }
  if (state.range(0) == 3 && !(lstm->SetBf16Products(true) && lstm->amx_products())) {
    state.SkipWithError("no AMX-BF16 on this CPU");
    return;
  }
  const torch::Tensor input = torch::randn({batch, steps, kInputDim});
  torch::Tensor lengths = torch::randint(steps / 2, steps + 1, {batch}, torch::kLong);
  lengths[0] = steps;
  const torch::Tensor mask = lengths.unsqueeze(1).gt(torch::arange(steps).unsqueeze(0));
  // The module's own nn::LSTM child, driven the way BiLstmImpl::forward drove it before.
  const auto lstm_child =
      std::dynamic_pointer_cast<torch::nn::LSTMImpl>(lstm->named_children()["lstm"]);
  namespace rnn = torch::nn::utils::rnn;
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    torch::Tensor out;
    if (fused) {
      out = lstm(input, mask);
    } else {
      const rnn::PackedSequence packed =
          rnn::pack_padded_sequence(input, lengths, /*batch_first=*/true, /*enforce_sorted=*/false);
      out = std::get<0>(
          rnn::pad_packed_sequence(std::get<0>(lstm_child->forward_with_packed_input(packed)),
                                   /*batch_first=*/true, 0.0, steps));
    }
    benchmark::DoNotOptimize(out.data_ptr<float>());
  }
  state.counters["chars/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * lengths.sum().item<double>(),
                         benchmark::Counter::kIsRate);
}

BENCHMARK(BM_BiLstm)
    ->ArgNames({"impl", "B", "T"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 16, 20, 64}, {128}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ner::bench
