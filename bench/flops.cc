#include "bench/flops.h"

#include <algorithm>

namespace ner::bench {

EncoderFlops CountEncoderFlops(const model::EncoderConfig& config, int64_t batch,
                               int64_t length) {
  const double n = static_cast<double>(batch) * static_cast<double>(length);
  const double h = static_cast<double>(config.hidden_size);
  const double f = static_cast<double>(config.intermediate_size);
  const double t = static_cast<double>(length);
  const double layers = static_cast<double>(config.num_hidden_layers);
  EncoderFlops flops;
  flops.projections = layers * 8.0 * n * h * h;
  flops.attention = layers * 4.0 * n * t * h;
  if (config.kind == model::EncoderKind::kNezha) {
    const double w =
        2.0 * static_cast<double>(std::min(config.max_relative_position, length - 1)) + 1.0;
    flops.relative_position = layers * 4.0 * n * w * h;
  }
  flops.feed_forward = layers * 4.0 * n * h * f;
  return flops;
}

double CountNerModelFlops(const model::ModelConfig& config, int64_t batch, int64_t length) {
  const double n = static_cast<double>(batch) * static_cast<double>(length);
  const double lstm = static_cast<double>(config.lstm_hidden);
  const double tags = static_cast<double>(config.labels.size());
  double flops = 0;
  double features = static_cast<double>(config.char_embedding_dim);
  if (model::HasEncoder(config.variant) && config.encoder.has_value()) {
    const model::EncoderConfig& encoder = *config.encoder;
    flops += CountEncoderFlops(encoder, batch, length + 2).Total();
    features = static_cast<double>(encoder.hidden_size);
    if (config.dynamic_fusion()) {
      flops += 2.0 * n * static_cast<double>(encoder.num_hidden_layers) * features;
    }
  }
  flops += 16.0 * n * lstm * (features + lstm);
  flops += 4.0 * n * lstm * tags;
  flops += 6.0 * n * tags * tags;
  return flops;
}

}  // namespace ner::bench
