#include "model/bilstm.h"

#include <torch/autograd.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/options/rnn.h>
#include <torch/nn/utils/rnn.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "model/lstm_cpu.h"

namespace ner::model {

BiLstmImpl::BiLstmImpl(int64_t input_dim, int64_t hidden_dim)
    : input_dim_(input_dim), hidden_dim_(hidden_dim) {
  TORCH_CHECK(input_dim >= 1 && hidden_dim >= 1, "BiLSTM: dims must be >= 1, got input_dim ",
              input_dim, ", hidden_dim ", hidden_dim);
  lstm_ = register_module("lstm", torch::nn::LSTM(torch::nn::LSTMOptions(input_dim, hidden_dim)
                                                      .num_layers(1)
                                                      .bidirectional(true)
                                                      .batch_first(true)));
}

torch::Tensor BiLstmImpl::forward(const torch::Tensor& input, const torch::Tensor& mask) {
  TORCH_CHECK(input.defined() && input.dim() == 3 && input.size(2) == input_dim_,
              "BiLSTM: input must be [B, T, ", input_dim_, "], got ",
              input.defined() ? input.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(input.is_floating_point(), "BiLSTM: input must be floating point, got ",
              input.scalar_type());
  TORCH_CHECK(input.size(1) >= 1, "BiLSTM: input must have T >= 1 steps");
  TORCH_CHECK(mask.defined() && mask.dim() == 2 && mask.size(0) == input.size(0) &&
                  mask.size(1) == input.size(1),
              "BiLSTM: mask must be [B, T] = [", input.size(0), ", ", input.size(1), "]");
  TORCH_CHECK(!mask.is_floating_point() && !mask.is_complex(),
              "BiLSTM: mask must be bool or integer, got ", mask.scalar_type());
  const int64_t t_max = input.size(1);
  if (input.size(0) == 0) return input.new_zeros({0, t_max, output_dim()});

  const torch::Tensor m = mask.to(torch::kBool);
  // Lengths stay on the CPU: pack_padded_sequence wants them there anyway.
  const torch::Tensor lengths = m.sum(1).to(torch::kCPU);
  TORCH_CHECK(lengths.ge(1).all().item<bool>(), "BiLSTM: every sequence needs length >= 1");
  // A prefix mask has exactly `length` leading ones; any other pattern is rejected, since packing
  // would silently use the first `length` steps instead.
  const torch::Tensor steps = torch::arange(t_max, m.options().dtype(torch::kLong));
  TORCH_CHECK(steps.unsqueeze(0).lt(lengths.to(m.device()).unsqueeze(1)).eq(m).all().item<bool>(),
              "BiLSTM: each mask row must be a prefix of ones");

  if (!torch::GradMode::is_enabled() && input.device().is_cpu() &&
      input.scalar_type() == torch::kFloat) {
    return InferenceForward(input, lengths);
  }
  namespace rnn = torch::nn::utils::rnn;
  const rnn::PackedSequence packed =
      rnn::pack_padded_sequence(input, lengths, /*batch_first=*/true, /*enforce_sorted=*/false);
  const rnn::PackedSequence out = std::get<0>(lstm_->forward_with_packed_input(packed));
  return std::get<0>(rnn::pad_packed_sequence(out, /*batch_first=*/true, /*padding_value=*/0.0,
                                              /*total_length=*/t_max));
}

struct BiLstmImpl::PackedWeights {
  std::vector<const void*> storage;  // the 8 parameters it was packed from, and their versions
  std::vector<int64_t> versions;
  std::vector<float> wt[2];
  std::vector<float> bias[2];
  std::vector<uint16_t> wt_bf16[2];             // empty unless packed for bf16 products on vectors
  lstm_cpu::AlignedVector<uint16_t> wt_amx[2];  // empty unless packed for AMX tile products
};

bool BiLstmImpl::SetBf16Products(bool on, bool tiles) {
  bf16_products_ = on && lstm_cpu::Bf16ProductsSupported();
  amx_products_ = tiles && lstm_cpu::AmxProductsSupported();
  return bf16_products_;
}

std::shared_ptr<const BiLstmImpl::PackedWeights> BiLstmImpl::Packed(bool bf16, bool tiles) {
  const auto params = lstm_->named_parameters(/*recurse=*/false);
  std::vector<torch::Tensor> tensors;  // forward w_ih, w_hh, b_ih, b_hh, then the backward ones
  for (const char* suffix : {"", "_reverse"}) {
    for (const char* name : {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}) {
      const torch::Tensor& p = params[std::string(name) + suffix];
      TORCH_CHECK(p.scalar_type() == torch::kFloat && p.device().is_cpu(),
                  "BiLSTM: float CPU input needs float CPU weights, got ", p.scalar_type(), " on ",
                  p.device());
      tensors.push_back(p);
    }
  }
  // Inference tensors (made under InferenceMode) have no version counter: storage only.
  auto version = [](const torch::Tensor& t) { return t.is_inference() ? -1 : t._version(); };
  std::lock_guard<std::mutex> lock(packed_mutex_);
  if (packed_ != nullptr) {
    bool current = true;
    for (size_t i = 0; i < tensors.size() && current; ++i) {
      current = (!bf16 || tiles || !packed_->wt_bf16[0].empty()) &&
                (!tiles || !packed_->wt_amx[0].empty()) &&
                packed_->storage[i] == tensors[i].data_ptr() &&
                packed_->versions[i] == version(tensors[i]);
    }
    if (current) return packed_;
  }
  auto packed = std::make_shared<PackedWeights>();
  for (const torch::Tensor& t : tensors) {
    packed->storage.push_back(t.data_ptr());
    packed->versions.push_back(version(t));
  }
  const int64_t gates = 4 * hidden_dim_;
  for (int d = 0; d < 2; ++d) {
    std::vector<torch::Tensor> c;
    for (int i = 0; i < 4; ++i) c.push_back(tensors[4 * d + i].contiguous());
    packed->wt[d].resize(static_cast<size_t>((input_dim_ + hidden_dim_) * gates));
    packed->bias[d].resize(static_cast<size_t>(gates));
    lstm_cpu::PackDirection({c[0].data_ptr<float>(), c[1].data_ptr<float>(), c[2].data_ptr<float>(),
                             c[3].data_ptr<float>()},
                            input_dim_, hidden_dim_, packed->wt[d].data(), packed->bias[d].data());
    const int64_t width = input_dim_ + hidden_dim_;
    if (tiles) {
      packed->wt_amx[d].resize(
          static_cast<size_t>(lstm_cpu::PackedAmxSplitSize(input_dim_, hidden_dim_)));
      lstm_cpu::PackDirectionAmxSplit(packed->wt[d].data(), input_dim_, hidden_dim_,
                                      packed->wt_amx[d].data());
    } else if (bf16) {
      packed->wt_bf16[d].resize(
          static_cast<size_t>(lstm_cpu::PackedBf16SplitSize(input_dim_, hidden_dim_)));
      lstm_cpu::PackDirectionBf16Split(packed->wt[d].data(), input_dim_, hidden_dim_,
                                       packed->wt_bf16[d].data());
    }
  }
  packed_ = std::move(packed);
  return packed_;
}

torch::Tensor BiLstmImpl::InferenceForward(const torch::Tensor& input,
                                           const torch::Tensor& lengths) {
  const bool bf16 = bf16_products_.load();
  const bool tiles = bf16 && amx_products_.load();
  const std::shared_ptr<const PackedWeights> packed = Packed(bf16, tiles);
  const torch::Tensor x = input.contiguous();
  const torch::Tensor lengths_long = lengths.to(torch::kLong).contiguous();
  torch::Tensor out =
      torch::empty({input.size(0), input.size(1), 2 * hidden_dim_}, input.options());
  lstm_cpu::BiLstmInference(x.data_ptr<float>(), input_dim_,
                            {packed->wt[0].data(), packed->bias[0].data(),
                             bf16 && !tiles ? packed->wt_bf16[0].data() : nullptr,
                             tiles ? packed->wt_amx[0].data() : nullptr},
                            {packed->wt[1].data(), packed->bias[1].data(),
                             bf16 && !tiles ? packed->wt_bf16[1].data() : nullptr,
                             tiles ? packed->wt_amx[1].data() : nullptr},
                            lengths_long.data_ptr<int64_t>(), input.size(0), input.size(1),
                            hidden_dim_, out.data_ptr<float>());
  return out;
}

}  // namespace ner::model
