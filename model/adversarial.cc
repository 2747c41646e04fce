#include "model/adversarial.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace ner::model {
namespace {

// Puts the embeddings back to their saved values when it goes out of scope, so that an
// exception thrown by a forward pass never leaves the model perturbed.
class EmbeddingRestorer {
 public:
  explicit EmbeddingRestorer(torch::Tensor embeddings) : embeddings_(std::move(embeddings)) {
    torch::NoGradGuard no_grad;
    backup_ = embeddings_.detach().clone();
  }
  ~EmbeddingRestorer() {
    torch::NoGradGuard no_grad;
    embeddings_.detach().copy_(backup_);
  }
  EmbeddingRestorer(const EmbeddingRestorer&) = delete;
  EmbeddingRestorer& operator=(const EmbeddingRestorer&) = delete;

  const torch::Tensor& backup() const { return backup_; }

 private:
  torch::Tensor embeddings_;
  torch::Tensor backup_;
};

// Adds `delta` to the embeddings in place (a leaf: outside autograd).
void AddInPlace(const torch::Tensor& embeddings, const torch::Tensor& delta) {
  torch::NoGradGuard no_grad;
  embeddings.detach().add_(delta);
}

}  // namespace

absl::string_view AdversarialMethodName(AdversarialMethod method) {
  switch (method) {
    case AdversarialMethod::kNone:
      return "none";
    case AdversarialMethod::kFgm:
      return "fgm";
    case AdversarialMethod::kFgsm:
      return "fgsm";
    case AdversarialMethod::kPgd:
      return "pgd";
  }
  return "?";
}

absl::StatusOr<AdversarialMethod> ParseAdversarialMethod(absl::string_view name) {
  for (AdversarialMethod m : {AdversarialMethod::kNone, AdversarialMethod::kFgm,
                              AdversarialMethod::kFgsm, AdversarialMethod::kPgd}) {
    if (name == AdversarialMethodName(m)) return m;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("adversarial must be none, fgm, fgsm or pgd, not '", name, "'"));
}

absl::Status AdversarialConfig::Validate() const {
  if (!(epsilon > 0 && std::isfinite(epsilon))) {
    return absl::InvalidArgumentError(absl::StrCat("epsilon must be > 0, not ", epsilon));
  }
  if (pgd_steps < 1) {
    return absl::InvalidArgumentError(absl::StrCat("pgd_steps must be >= 1, not ", pgd_steps));
  }
  if (!(pgd_alpha > 0 && std::isfinite(pgd_alpha))) {
    return absl::InvalidArgumentError(absl::StrCat("pgd_alpha must be > 0, not ", pgd_alpha));
  }
  return absl::OkStatus();
}

torch::Tensor FgmPerturbation(const torch::Tensor& grad, double epsilon) {
  torch::NoGradGuard no_grad;
  const torch::Tensor g = grad.detach();
  const double norm = g.norm().item<double>();
  if (!(norm > 0) || !std::isfinite(norm)) return torch::zeros_like(g);
  return g * (epsilon / norm);
}

torch::Tensor FgsmPerturbation(const torch::Tensor& grad, double epsilon) {
  torch::NoGradGuard no_grad;
  const torch::Tensor g = grad.detach();
  if (!g.isfinite().all().item<bool>()) return torch::zeros_like(g);
  return g.sign() * epsilon;
}

torch::Tensor ProjectToL2Ball(const torch::Tensor& delta, double epsilon) {
  torch::NoGradGuard no_grad;
  const double norm = delta.norm().item<double>();
  if (norm <= epsilon) return delta;
  return delta * (epsilon / norm);
}

StepLosses AdversarialBackward(const std::function<torch::Tensor()>& loss,
                               const torch::Tensor& embeddings,
                               const std::vector<torch::Tensor>& parameters,
                               const AdversarialConfig& config) {
  StepLosses losses;
  {
    torch::Tensor clean = loss();
    clean.backward();
    losses.clean = clean.item<double>();
    losses.adversarial = losses.clean;
  }
  if (config.method == AdversarialMethod::kNone || !embeddings.grad().defined()) return losses;

  EmbeddingRestorer restorer(embeddings);
  if (config.method == AdversarialMethod::kFgm || config.method == AdversarialMethod::kFgsm) {
    const torch::Tensor r = config.method == AdversarialMethod::kFgm
                                ? FgmPerturbation(embeddings.grad(), config.epsilon)
                                : FgsmPerturbation(embeddings.grad(), config.epsilon);
    AddInPlace(embeddings, r);
    torch::Tensor adversarial = loss();
    adversarial.backward();  // Accumulates onto the clean gradients.
    losses.adversarial = adversarial.item<double>();
    return losses;  // The restorer puts the embeddings back.
  }

  // PGD: keep the clean gradients aside; each attack step follows the gradient of the previous
  // perturbed pass; only the last perturbed pass's gradient is added to the clean one.
  std::vector<torch::Tensor> clean_grads;
  clean_grads.reserve(parameters.size());
  {
    torch::NoGradGuard no_grad;
    for (const torch::Tensor& p : parameters) {
      clean_grads.push_back(p.grad().defined() ? p.grad().detach().clone() : torch::Tensor());
    }
  }
  for (int k = 0; k < config.pgd_steps; ++k) {
    {
      torch::NoGradGuard no_grad;
      if (embeddings.grad().defined()) {
        AddInPlace(embeddings, FgmPerturbation(embeddings.grad(), config.pgd_alpha));
      }
      const torch::Tensor delta =
          ProjectToL2Ball(embeddings.detach() - restorer.backup(), config.epsilon);
      embeddings.detach().copy_(restorer.backup() + delta);
      const bool last = k + 1 == config.pgd_steps;
      for (size_t i = 0; i < parameters.size(); ++i) {
        torch::Tensor p = parameters[i];
        if (last) {
          p.mutable_grad() = std::move(clean_grads[i]);  // Undefined stays undefined.
        } else if (p.grad().defined()) {
          p.mutable_grad().zero_();
        }
      }
    }
    torch::Tensor adversarial = loss();
    adversarial.backward();
    losses.adversarial = adversarial.item<double>();
  }
  return losses;
}

}  // namespace ner::model
