#include "model/bilstm.h"

#include <cstdint>
#include <tuple>

#include <torch/nn/modules/rnn.h>
#include <torch/nn/options/rnn.h>
#include <torch/nn/utils/rnn.h>
#include <torch/types.h>

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

  namespace rnn = torch::nn::utils::rnn;
  const rnn::PackedSequence packed =
      rnn::pack_padded_sequence(input, lengths, /*batch_first=*/true, /*enforce_sorted=*/false);
  const rnn::PackedSequence out = std::get<0>(lstm_->forward_with_packed_input(packed));
  return std::get<0>(rnn::pad_packed_sequence(out, /*batch_first=*/true, /*padding_value=*/0.0,
                                              /*total_length=*/t_max));
}

}  // namespace ner::model
