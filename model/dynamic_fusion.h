#ifndef NER_MODEL_DYNAMIC_FUSION_H_
#define NER_MODEL_DYNAMIC_FUSION_H_

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace ner::model {

// Dynamic fusion of the encoder's L layer outputs (the embedding output excluded):
//   h = gamma * sum_i softmax(alpha)_i * h_i,
// with trainable `alpha` [L] (initialised to 0, i.e. the mean) and scalar `gamma` (initialised to
// 1), both computed in the layers' dtype. With `enabled` false (ablation) forward() returns the
// last layer unchanged; alpha and gamma are still registered so that checkpoints have one layout.
//
// Thread safety: forward() and LayerWeights() only read the parameters; concurrent calls are safe
// while nobody modifies the module (training, load, .to()).
class DynamicFusionImpl : public torch::nn::Module {
 public:
  // `num_layers` (L) must be >= 1.
  explicit DynamicFusionImpl(int64_t num_layers, bool enabled = true);

  // `layers`: exactly L tensors of one shape [B, T, D], dtype and device, first layer first.
  // Returns [B, T, D]. Throws c10::Error on a wrong count or mismatched shapes.
  torch::Tensor forward(const std::vector<torch::Tensor>& layers);

  // Returns softmax(alpha), [L] float, detached copy on the CPU (for logging).
  torch::Tensor LayerWeights() const;

  int64_t num_layers() const { return num_layers_; }
  bool enabled() const { return enabled_; }

  // Registered parameters: alpha [L] and gamma [1].
  torch::Tensor alpha;
  torch::Tensor gamma;

 private:
  int64_t num_layers_;
  bool enabled_;
};
TORCH_MODULE(DynamicFusion);

}  // namespace ner::model

#endif  // NER_MODEL_DYNAMIC_FUSION_H_
