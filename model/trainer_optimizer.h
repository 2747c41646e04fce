#ifndef NER_MODEL_TRAINER_OPTIMIZER_H_
#define NER_MODEL_TRAINER_OPTIMIZER_H_

#include <torch/optim/adamw.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "model/ner_model.h"
#include "model/state_dict.h"
#include "model/train_config.h"

namespace ner::model {

// Whether AdamW's weight decay applies to the parameter at module path `name`: everything but
// biases (names containing "bias", e.g. "emissions.bias", "bilstm.lstm.bias_ih_l0") and
// LayerNorm weights (names containing "layer_norm"). Pure.
bool DecaysWeight(absl::string_view name);

// AdamW over a NerModel with the paper's two learning rates: parameters under "encoder." use
// encoder_lr, all others (fusion, BiLSTM, emissions, CRF, character embeddings) head_lr; each
// of the two is split by DecaysWeight into a group with weight_decay and one without.
//
// Not thread-safe: one per training run, used from the training thread.
class TrainingOptimizer {
 public:
  // The model's trainable parameters must stay the same tensors (do not call model->to() after).
  TrainingOptimizer(NerModel model, const TrainConfig& config);

  // Sets every group's learning rate to its peak (encoder_lr or head_lr) times `factor`.
  void SetLrFactor(double factor);
  double head_lr() const;

  // Clears all gradients (to undefined).
  void ZeroGrad();
  // Clips the global L2 norm of all gradients to `max_norm` and takes an AdamW step.
  // Throws c10::Error from LibTorch.
  void Step(double max_norm);

  const std::vector<torch::Tensor>& parameters() const { return parameters_; }

  // The AdamW state as tensors named "<parameter path>.exp_avg", ".exp_avg_sq" and ".step"
  // (int64 [1]); parameters that have not been stepped yet are absent. CPU copies.
  TensorMap State() const;
  // Restores a State(). INVALID_ARGUMENT when a name is unknown, a shape differs or a moment
  // lacks its partner.
  absl::Status LoadState(const TensorMap& state);

 private:
  NerModel model_;
  std::vector<std::string> names_;         // trainable parameter paths, in group order
  std::vector<torch::Tensor> parameters_;  // same order
  std::vector<double> peak_lr_;            // per param group
  std::unique_ptr<torch::optim::AdamW> adamw_;
};

}  // namespace ner::model

#endif  // NER_MODEL_TRAINER_OPTIMIZER_H_
