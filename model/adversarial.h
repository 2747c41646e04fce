#ifndef NER_MODEL_ADVERSARIAL_H_
#define NER_MODEL_ADVERSARIAL_H_

#include <torch/types.h>

#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ner::model {

// Adversarial training on the word-embedding matrix (the paper's "adversarial training"): the
// embeddings are pushed along the loss gradient, the loss is computed again on the perturbed
// input, and the gradients of both passes train the model.
enum class AdversarialMethod {
  kNone,  // plain training
  kFgm,   // Fast Gradient Method (Miyato et al.): r = epsilon * g / ||g||_2
  kFgsm,  // Fast Gradient Sign Method (Goodfellow et al.): r = epsilon * sign(g)
  kPgd,   // Projected Gradient Descent (Madry et al.): pgd_steps steps of size pgd_alpha,
          // each projected back onto the L2 ball of radius epsilon around the clean embeddings
};

// "none", "fgm", "fgsm", "pgd".
absl::string_view AdversarialMethodName(AdversarialMethod method);
absl::StatusOr<AdversarialMethod> ParseAdversarialMethod(absl::string_view name);

struct AdversarialConfig {
  AdversarialMethod method = AdversarialMethod::kFgm;
  double epsilon = 1.0;    // FGM/PGD: L2 radius of the perturbation; FGSM: its max-norm
  int pgd_steps = 3;       // PGD: attack steps K (>= 1)
  double pgd_alpha = 0.3;  // PGD: L2 length of each attack step

  // OK or INVALID_ARGUMENT (epsilon > 0 and finite, pgd_steps >= 1, pgd_alpha > 0).
  absl::Status Validate() const;
};

// The perturbations, as pure tensor functions of the embedding gradient `grad` (any shape).
// A zero or non-finite gradient gives a zero perturbation (no attack). Throw c10::Error only on
// LibTorch failures.
// FGM: epsilon * grad / ||grad||_2, so the result has L2 norm epsilon (over the whole matrix).
torch::Tensor FgmPerturbation(const torch::Tensor& grad, double epsilon);
// FGSM: epsilon * sign(grad).
torch::Tensor FgsmPerturbation(const torch::Tensor& grad, double epsilon);
// Projects `delta` onto the L2 ball of radius `epsilon`: delta unchanged when ||delta|| <= eps,
// else scaled to norm epsilon.
torch::Tensor ProjectToL2Ball(const torch::Tensor& delta, double epsilon);

// The losses of one training step.
struct StepLosses {
  double clean = 0;        // loss on the unperturbed input
  double adversarial = 0;  // loss on the (last) perturbed input; == clean for kNone
};

// Runs the forward/backward passes of one training step. `loss` computes the scalar loss of the
// current batch (called 1 time for kNone, 2 for FGM/FGSM, 1 + pgd_steps for PGD); `embeddings`
// is the word-embedding parameter (a leaf in `parameters`), `parameters` every trainable
// parameter. The caller zeroes the gradients before and steps the optimizer after.
//
// On return each parameter's .grad() holds
//   kNone:       the clean gradient;
//   kFgm, kFgsm: the clean gradient + the gradient at embeddings + r;
//   kPgd:        the clean gradient + the gradient after the last of K projected steps
//                (intermediate attack gradients are discarded, as Madry et al. do);
// and `embeddings` holds exactly (bit for bit) the values it had on entry, also when an
// exception propagates. Throws c10::Error from LibTorch (convert at the training-loop boundary).
// Not thread-safe: mutates the parameters and their gradients.
StepLosses AdversarialBackward(const std::function<torch::Tensor()>& loss,
                               const torch::Tensor& embeddings,
                               const std::vector<torch::Tensor>& parameters,
                               const AdversarialConfig& config);

}  // namespace ner::model

#endif  // NER_MODEL_ADVERSARIAL_H_
