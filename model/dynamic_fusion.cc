#include "model/dynamic_fusion.h"

#include <cstddef>
#include <cstdint>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

namespace ner::model {

DynamicFusionImpl::DynamicFusionImpl(int64_t num_layers, bool enabled)
    : num_layers_(num_layers), enabled_(enabled) {
  TORCH_CHECK(num_layers >= 1, "DynamicFusion: num_layers must be >= 1, got ", num_layers);
  alpha = register_parameter("alpha", torch::zeros({num_layers}));
  gamma = register_parameter("gamma", torch::ones({1}));
}

torch::Tensor DynamicFusionImpl::forward(const std::vector<torch::Tensor>& layers) {
  TORCH_CHECK(static_cast<int64_t>(layers.size()) == num_layers_, "DynamicFusion: expected ",
              num_layers_, " layer outputs, got ", layers.size());
  const torch::Tensor& first = layers.front();
  TORCH_CHECK(first.defined() && first.dim() == 3 && first.is_floating_point(),
              "DynamicFusion: layer outputs must be floating point [B, T, D]");
  for (size_t i = 1; i < layers.size(); ++i) {
    TORCH_CHECK(layers[i].defined() && layers[i].sizes() == first.sizes() &&
                    layers[i].scalar_type() == first.scalar_type() &&
                    layers[i].device() == first.device(),
                "DynamicFusion: layer ", i, " differs from layer 0 in shape, dtype or device");
  }
  if (!enabled_) return layers.back();

  const torch::Tensor weights = torch::softmax(alpha, /*dim=*/0).to(first.scalar_type());
  torch::Tensor sum = layers[0] * weights[0];
  for (int64_t i = 1; i < num_layers_; ++i) sum = sum + layers[i] * weights[i];
  return sum * gamma.to(first.scalar_type());
}

torch::Tensor DynamicFusionImpl::LayerWeights() const {
  torch::NoGradGuard no_grad;
  return torch::softmax(alpha.detach(), /*dim=*/0).to(torch::kCPU, torch::kFloat).clone();
}

}  // namespace ner::model
