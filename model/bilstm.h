#ifndef NER_MODEL_BILSTM_H_
#define NER_MODEL_BILSTM_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ner::model {

// One-layer bidirectional LSTM over padded batches: input [B, T, D] -> output [B, T, 2H], the
// forward direction's state in [..., 0:H) and the backward one's in [..., H:2H).
//
// Masked: each sequence is run over its own length only (packed sequences), so padding never
// reaches the backward direction and a sequence gives the same output alone or padded inside a
// batch. Outputs at padded steps are 0.
//
// The LSTM is registered as "lstm" (parameters lstm.weight_ih_l0, lstm.weight_hh_l0_reverse, ...,
// as a PyTorch nn.LSTM attribute named `lstm` would be). Default LibTorch initialisation.
//
// Without autograd (inference, evaluation) on the CPU in float, the recurrence runs as fused loops
// (model/lstm_cpu.h); with autograd, or on other devices and dtypes, as LibTorch's packed LSTM.
//
// Thread safety: forward() only reads the parameters; concurrent calls are safe while nobody
// modifies the module (training, load, .to()).
class BiLstmImpl : public torch::nn::Module {
 public:
  // `input_dim` (D) and `hidden_dim` (H, per direction) must be >= 1.
  explicit BiLstmImpl(int64_t input_dim, int64_t hidden_dim = 128);

  // `input` [B, T, D] floating point; `mask` [B, T] bool (integer accepted), each row a prefix of
  // ones of length >= 1, on the input's device. Returns [B, T, 2H] in the input's dtype. Throws
  // c10::Error on a bad shape, dtype or mask.
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& mask);

  // Runs the fused CPU recurrence's step products in bfloat16 (weights and [x_t, h] rounded to
  // bf16, float32 accumulation, gates and cell state in float32) when `on` and the CPU has
  // AVX512-BF16 (lstm_cpu::Bf16ProductsSupported); the autograd path never does. The products
  // run on AMX tiles where the CPU has them (lstm_cpu::AmxProductsSupported) unless `tiles` is
  // false (benchmarks compare the two). Returns whether bf16 products are now used. Call it while
  // no forward runs (at load time).
  bool SetBf16Products(bool on, bool tiles = true);
  bool bf16_products() const { return bf16_products_.load(); }
  // Whether the bf16 products run on AMX tiles.
  bool amx_products() const { return bf16_products_.load() && amx_products_.load(); }

  int64_t input_dim() const { return input_dim_; }
  int64_t hidden_dim() const { return hidden_dim_; }
  int64_t output_dim() const { return 2 * hidden_dim_; }

 private:
  // forward() without autograd on the CPU in float: model/lstm_cpu.h's fused recurrence, equal to
  // the packed nn::LSTM up to float rounding and several times faster (per-step dispatch gone).
  // `lengths` [B] on the CPU.
  torch::Tensor InferenceForward(const torch::Tensor& input, const torch::Tensor& lengths);

  // The weights in lstm_cpu's layout (with the bf16 copy for vectors when `bf16`, for AMX tiles
  // when `tiles`), repacked when a parameter changed (storage or version counter: optimizer
  // steps, checkpoint loads, .to()).
  struct PackedWeights;
  std::shared_ptr<const PackedWeights> Packed(bool bf16, bool tiles);

  int64_t input_dim_;
  int64_t hidden_dim_;
  torch::nn::LSTM lstm_{nullptr};
  std::mutex packed_mutex_;
  std::shared_ptr<const PackedWeights> packed_;  // guarded by packed_mutex_
  std::atomic<bool> bf16_products_{false};
  std::atomic<bool> amx_products_{false};
};
TORCH_MODULE(BiLstm);

}  // namespace ner::model

#endif  // NER_MODEL_BILSTM_H_
