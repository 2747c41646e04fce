#ifndef NER_MODEL_CRF_H_
#define NER_MODEL_CRF_H_

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ner::model {

// Which tag transitions a decoder may use, over K tags. Plain data; built by
// BuildTransitionConstraints or by hand. Invariant: allowed_start.size() ==
// allowed_end.size() == num_tags and allowed.size() == num_tags * num_tags.
struct TransitionConstraints {
  int64_t num_tags = 0;
  std::vector<bool> allowed_start;  // [K]: a sequence may begin with tag k.
  std::vector<bool> allowed_end;    // [K]: a sequence may end with tag k.
  std::vector<bool> allowed;        // [K*K] row-major: tag i may be followed by tag j.

  // Returns whether tag `from` may be followed by tag `to`; both in [0, num_tags).
  bool Allowed(int64_t from, int64_t to) const { return allowed[from * num_tags + to]; }
};

// Builds the constraints for label names "O" or "<P>-<type>" with P in {B, I, M, E, S}; M is
// treated like I. The scheme is BIO unless some label has an E- or S- prefix (BIOES / BMES):
//   - a sequence never starts with I/M/E-x, and I/M/E-x only follows B-x or I/M-x (same type);
//   - in E-schemes, B-x and I/M-x must be followed by I/M/E-x of the same type (so O, B, S and
//     the end of the sequence only follow O, E or S).
// Returns INVALID_ARGUMENT for an empty list, a duplicate or a malformed label. Thread-safe.
absl::StatusOr<TransitionConstraints> BuildTransitionConstraints(
    const std::vector<std::string>& labels);

// One decoded sequence.
struct ViterbiResult {
  std::vector<int64_t> path;  // Tag index for each unmasked step (size == sequence length).
  double score = 0.0;         // Unnormalised path score: start + emissions + transitions + end.
};

// Linear-chain conditional random field over K tags.
//
// Shapes used throughout: emissions [B, T, K] floating point (computed in that dtype; float16 and
// bfloat16 are decoded in float32), tags [B, T] int64, mask [B, T] bool (integer masks are
// accepted) where every row is a prefix of ones of length >= 1. Values at padded steps are ignored.
// Inputs are validated; a bad shape, dtype, mask or tag index throws c10::Error with a message
// naming the argument (convert to a Status at the non-torch boundary).
//
// Parameters (names match pytorch-crf): start_transitions [K], end_transitions [K] and
// transitions [K, K], where transitions[i][j] scores tag i followed by tag j. Initialised
// uniform(-0.1, 0.1).
//
// Thread safety: the const methods only read the parameters, so concurrent calls are safe while
// nobody modifies the module (training, load, .to()). Not thread-safe against such modification.
class CrfImpl : public torch::nn::Module {
 public:
  // `num_tags` (K) must be >= 1.
  explicit CrfImpl(int64_t num_tags);

  int64_t num_tags() const { return num_tags_; }

  // Returns [B]: log p(tags | emissions) per sequence, i.e. the gold path score minus the log
  // partition function. Differentiable w.r.t. emissions and the parameters (loss = -mean).
  torch::Tensor LogLikelihood(const torch::Tensor& emissions, const torch::Tensor& tags,
                              const torch::Tensor& mask) const;

  // Returns the best path of each sequence (Viterbi). With `constraints` (num_tags must match),
  // disallowed starts, ends and transitions get a large negative score, so a path that breaks
  // them is only returned when no allowed path exists. The reported score never includes that
  // penalty for an allowed path. Does not record gradients.
  std::vector<ViterbiResult> Decode(const torch::Tensor& emissions, const torch::Tensor& mask,
                                    const TransitionConstraints* constraints = nullptr) const;

  // Returns [B, T, K] posterior marginals p(y_t = k | x) from forward-backward, in the emissions'
  // dtype and device; rows sum to 1 at unmasked steps and are 0 at padded steps.
  torch::Tensor Marginals(const torch::Tensor& emissions, const torch::Tensor& mask) const;

  // Registered parameters (see class comment).
  torch::Tensor start_transitions;
  torch::Tensor end_transitions;
  torch::Tensor transitions;

  // How Decode and Marginals run: kAuto = plain loops (crf_cpu.h) for float and double
  // emissions on the CPU, tensor operations otherwise (GPU, half types); kTensorOps always uses
  // the latter, so tests can compare the two on the CPU. Not thread-safe against calls.
  enum class Backend { kAuto, kTensorOps };
  void set_backend(Backend backend) { backend_ = backend; }

 private:
  // Whether Decode / Marginals take the plain-loop path for emissions of this dtype and device.
  bool UseCpuLoops(const torch::Tensor& emissions) const;

  int64_t num_tags_;
  Backend backend_ = Backend::kAuto;
};
TORCH_MODULE(Crf);

// Confidence of a decoded span: the minimum over t in [begin_token, end_token) of
// marginals[t][path[t]], where `marginals` is one sequence's [T, K] output of Marginals and `path`
// the decoded tags of that sequence (indexed by the same token positions).
//
// The minimum, not the product: the tags inside an entity are strongly correlated (I-x follows
// B-x almost surely), so the product of per-token marginals double-counts the same uncertainty and
// shrinks with span length, whereas the true joint probability p(y_span) is bounded above by the
// minimum and close to it under such correlation. The minimum is also length-independent, so one
// threshold means the same for a 2- and a 10-character entity.
//
// Requires 0 <= begin_token < end_token <= min(T, path.size()) and path tags in [0, K); throws
// c10::Error otherwise. Thread-safe.
double SpanConfidence(const torch::Tensor& marginals, int64_t begin_token, int64_t end_token,
                      const std::vector<int64_t>& path);

}  // namespace ner::model

#endif  // NER_MODEL_CRF_H_
