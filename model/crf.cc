#include "model/crf.h"

#include <ATen/Dispatch.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "model/crf_cpu.h"

namespace ner::model {
namespace {

// Score given to disallowed starts, ends and transitions during Viterbi. Finite (not -inf) so
// that a sequence with no allowed path still decodes to something; large enough that any allowed
// path beats every disallowed one for realistic emissions, and representable in float32, the
// narrowest dtype Viterbi runs in.
constexpr double kDisallowedScore = -1e9;

// ---- Label parsing for BuildTransitionConstraints. ----

enum class Prefix { kO, kB, kI, kE, kS };  // M is parsed as kI.

struct ParsedLabel {
  Prefix prefix;
  std::string type;  // Empty for O.
};

absl::StatusOr<ParsedLabel> ParseLabel(const std::string& label) {
  if (label == "O") return ParsedLabel{Prefix::kO, ""};
  if (label.size() < 3 || label[1] != '-') {
    return absl::InvalidArgumentError(
        absl::StrCat("label '", label, "' is neither 'O' nor '<B|I|M|E|S>-<type>'"));
  }
  ParsedLabel parsed{Prefix::kO, label.substr(2)};
  switch (label[0]) {
    case 'B':
      parsed.prefix = Prefix::kB;
      break;
    case 'I':
    case 'M':
      parsed.prefix = Prefix::kI;
      break;
    case 'E':
      parsed.prefix = Prefix::kE;
      break;
    case 'S':
      parsed.prefix = Prefix::kS;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("label '", label, "' has an unknown prefix (expected B, I, M, E or S)"));
  }
  return parsed;
}

// True for tags that continue an entity (I/M/E): they must follow B or I/M of the same type.
bool IsInside(const ParsedLabel& l) { return l.prefix == Prefix::kI || l.prefix == Prefix::kE; }

// True for tags after which an entity is closed in an E-scheme.
bool IsClosed(const ParsedLabel& l) {
  return l.prefix == Prefix::kO || l.prefix == Prefix::kE || l.prefix == Prefix::kS;
}

// ---- Input validation shared by the CRF methods. ----

// Checks emissions and mask (see CrfImpl's class comment) and returns the mask as bool.
torch::Tensor CheckEmissionsAndMask(const torch::Tensor& emissions, const torch::Tensor& mask,
                                    int64_t num_tags, const torch::Tensor& parameter) {
  TORCH_CHECK(emissions.defined(), "CRF: emissions is undefined");
  TORCH_CHECK(emissions.dim() == 3, "CRF: emissions must be [B, T, K], got ", emissions.sizes());
  TORCH_CHECK(emissions.is_floating_point(), "CRF: emissions must be floating point, got ",
              emissions.scalar_type());
  TORCH_CHECK(emissions.size(2) == num_tags, "CRF: emissions has ", emissions.size(2),
              " tags, the CRF has ", num_tags);
  TORCH_CHECK(emissions.size(1) >= 1, "CRF: emissions must have T >= 1 steps");
  TORCH_CHECK(emissions.device() == parameter.device(), "CRF: emissions on ", emissions.device(),
              " but the CRF parameters on ", parameter.device());
  TORCH_CHECK(mask.defined(), "CRF: mask is undefined");
  TORCH_CHECK(
      mask.dim() == 2 && mask.size(0) == emissions.size(0) && mask.size(1) == emissions.size(1),
      "CRF: mask must be [B, T] = [", emissions.size(0), ", ", emissions.size(1), "], got ",
      mask.sizes());
  TORCH_CHECK(!mask.is_floating_point() && !mask.is_complex(),
              "CRF: mask must be bool or integer, got ", mask.scalar_type());
  TORCH_CHECK(mask.device() == emissions.device(), "CRF: mask on ", mask.device(),
              " but emissions on ", emissions.device());
  torch::Tensor m = mask.to(torch::kBool);
  if (m.size(0) == 0) return m;
  TORCH_CHECK(m.select(1, 0).all().item<bool>(),
              "CRF: every sequence needs length >= 1 (mask[:, 0] must be true)");
  if (m.size(1) > 1) {
    const torch::Tensor rises = m.slice(1, 1).logical_and(m.slice(1, 0, -1).logical_not());
    TORCH_CHECK(!rises.any().item<bool>(), "CRF: each mask row must be a prefix of ones");
  }
  return m;
}

// Runs the forward algorithm and returns alpha at each sequence's last step, [B, K]. When
// `alphas` is given, appends alpha_t for every t (carried unchanged over padded steps).
torch::Tensor RunForward(const torch::Tensor& em, const torch::Tensor& m,
                         const torch::Tensor& start, const torch::Tensor& trans,
                         std::vector<torch::Tensor>* alphas) {
  torch::Tensor alpha = start.unsqueeze(0) + em.select(1, 0);
  if (alphas != nullptr) alphas->push_back(alpha);
  const torch::Tensor trans_b = trans.unsqueeze(0);  // [1, K(from), K(to)]
  for (int64_t t = 1; t < em.size(1); ++t) {
    const torch::Tensor next =
        torch::logsumexp(alpha.unsqueeze(2) + trans_b, /*dim=*/1) + em.select(1, t);
    alpha = torch::where(m.select(1, t).unsqueeze(1), next, alpha);
    if (alphas != nullptr) alphas->push_back(alpha);
  }
  return alpha;
}

// Copies a std::vector<bool> into a bool tensor of the given shape on `device`.
torch::Tensor ToBoolTensor(const std::vector<bool>& values, torch::IntArrayRef shape,
                           const torch::Device& device) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return torch::from_blob(bytes.data(), {static_cast<int64_t>(bytes.size())}, torch::kUInt8)
      .to(torch::kBool)  // Copies, so `bytes` may go.
      .reshape(shape)
      .to(device);
}

}  // namespace

absl::StatusOr<TransitionConstraints> BuildTransitionConstraints(
    const std::vector<std::string>& labels) {
  if (labels.empty()) return absl::InvalidArgumentError("no labels");
  std::vector<ParsedLabel> parsed;
  std::set<std::string> seen;
  bool e_scheme = false;
  for (const std::string& label : labels) {
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(absl::StrCat("duplicate label '", label, "'"));
    }
    absl::StatusOr<ParsedLabel> p = ParseLabel(label);
    if (!p.ok()) return p.status();
    e_scheme |= p->prefix == Prefix::kE || p->prefix == Prefix::kS;
    parsed.push_back(*std::move(p));
  }

  const auto k = static_cast<int64_t>(parsed.size());
  TransitionConstraints c;
  c.num_tags = k;
  c.allowed_start.resize(k);
  c.allowed_end.resize(k);
  c.allowed.resize(k * k);
  for (int64_t j = 0; j < k; ++j) {
    c.allowed_start[j] = !IsInside(parsed[j]);
    c.allowed_end[j] = !e_scheme || IsClosed(parsed[j]);
  }
  for (int64_t i = 0; i < k; ++i) {
    const ParsedLabel& from = parsed[i];
    for (int64_t j = 0; j < k; ++j) {
      const ParsedLabel& to = parsed[j];
      bool ok;
      if (IsInside(to)) {
        ok = (from.prefix == Prefix::kB || from.prefix == Prefix::kI) && from.type == to.type;
      } else {
        // O, B or S opens nothing that must be continued; in E-schemes the previous entity
        // must have been closed.
        ok = !e_scheme || IsClosed(from);
      }
      c.allowed[i * k + j] = ok;
    }
  }
  return c;
}

CrfImpl::CrfImpl(int64_t num_tags) : num_tags_(num_tags) {
  TORCH_CHECK(num_tags >= 1, "CRF: num_tags must be >= 1, got ", num_tags);
  start_transitions =
      register_parameter("start_transitions", torch::empty({num_tags}).uniform_(-0.1, 0.1));
  end_transitions =
      register_parameter("end_transitions", torch::empty({num_tags}).uniform_(-0.1, 0.1));
  transitions =
      register_parameter("transitions", torch::empty({num_tags, num_tags}).uniform_(-0.1, 0.1));
}

torch::Tensor CrfImpl::LogLikelihood(const torch::Tensor& emissions, const torch::Tensor& tags,
                                     const torch::Tensor& mask) const {
  const torch::Tensor m = CheckEmissionsAndMask(emissions, mask, num_tags_, transitions);
  TORCH_CHECK(tags.defined() && tags.sizes() == m.sizes(), "CRF: tags must be [B, T] = ", m.sizes(),
              ", got ", tags.defined() ? tags.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(tags.scalar_type() == torch::kLong, "CRF: tags must be int64, got ",
              tags.scalar_type());
  TORCH_CHECK(tags.device() == emissions.device(), "CRF: tags on ", tags.device(),
              " but emissions on ", emissions.device());
  // Padded steps may hold anything (e.g. an ignore index); point them at tag 0 for gathers.
  const torch::Tensor safe_tags = tags.masked_fill(m.logical_not(), 0);
  TORCH_CHECK(safe_tags.ge(0).logical_and(safe_tags.lt(num_tags_)).all().item<bool>(),
              "CRF: tags at unmasked steps must be in [0, ", num_tags_, ")");

  const auto dtype = emissions.scalar_type();
  const torch::Tensor start = start_transitions.to(dtype);
  const torch::Tensor end = end_transitions.to(dtype);
  const torch::Tensor trans = transitions.to(dtype);
  const int64_t t_max = emissions.size(1);

  // Gold path score, vectorised over batch and time.
  const torch::Tensor em_gold = emissions.gather(2, safe_tags.unsqueeze(2)).squeeze(2);  // [B,T]
  torch::Tensor score = em_gold.masked_fill(m.logical_not(), 0).sum(1);
  score = score + start.index_select(0, safe_tags.select(1, 0));
  if (t_max > 1) {
    const torch::Tensor flat = safe_tags.slice(1, 0, -1) * num_tags_ + safe_tags.slice(1, 1);
    const torch::Tensor tr =
        trans.reshape({-1}).index_select(0, flat.reshape({-1})).view(flat.sizes());  // [B, T-1]
    score = score + tr.masked_fill(m.slice(1, 1).logical_not(), 0).sum(1);
  }
  const torch::Tensor last = m.sum(1).sub(1).unsqueeze(1);  // [B, 1], index of last step
  score = score + end.index_select(0, safe_tags.gather(1, last).squeeze(1));

  const torch::Tensor alpha = RunForward(emissions, m, start, trans, nullptr);
  return score - torch::logsumexp(alpha + end.unsqueeze(0), /*dim=*/1);
}

bool CrfImpl::UseCpuLoops(const torch::Tensor& emissions) const {
  const auto dtype = emissions.scalar_type();
  return backend_ == Backend::kAuto && emissions.device().is_cpu() &&
         (dtype == torch::kFloat || dtype == torch::kDouble);
}

std::vector<ViterbiResult> CrfImpl::Decode(const torch::Tensor& emissions,
                                           const torch::Tensor& mask,
                                           const TransitionConstraints* constraints) const {
  const torch::Tensor m = CheckEmissionsAndMask(emissions, mask, num_tags_, transitions);
  torch::NoGradGuard no_grad;
  const auto dtype = emissions.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  const torch::Tensor em = emissions.to(dtype);
  torch::Tensor start = start_transitions.to(dtype);
  torch::Tensor end = end_transitions.to(dtype);
  torch::Tensor trans = transitions.to(dtype);
  if (constraints != nullptr) {
    const int64_t k = num_tags_;
    const auto uk = static_cast<size_t>(k);
    TORCH_CHECK(constraints->num_tags == k && constraints->allowed_start.size() == uk &&
                    constraints->allowed_end.size() == uk && constraints->allowed.size() == uk * uk,
                "CRF: constraints are for ", constraints->num_tags, " tags, the CRF has ", k);
    const torch::Device device = em.device();
    start = start.masked_fill(ToBoolTensor(constraints->allowed_start, {k}, device).logical_not(),
                              kDisallowedScore);
    end = end.masked_fill(ToBoolTensor(constraints->allowed_end, {k}, device).logical_not(),
                          kDisallowedScore);
    trans = trans.masked_fill(ToBoolTensor(constraints->allowed, {k, k}, device).logical_not(),
                              kDisallowedScore);
  }

  const int64_t batch = em.size(0);
  const int64_t t_max = em.size(1);
  if (UseCpuLoops(em)) {
    const torch::Tensor lengths = m.sum(1).to(torch::kLong).contiguous();
    const torch::Tensor em_c = em.contiguous();
    const torch::Tensor start_c = start.contiguous();
    const torch::Tensor end_c = end.contiguous();
    const torch::Tensor trans_c = trans.contiguous();
    std::vector<int64_t> paths(static_cast<size_t>(batch * t_max));
    std::vector<double> scores(static_cast<size_t>(batch));
    AT_DISPATCH_FLOATING_TYPES(em_c.scalar_type(), "CrfDecode", [&] {
      crf_cpu::Viterbi<scalar_t>(em_c.data_ptr<scalar_t>(), lengths.data_ptr<int64_t>(),
                                 start_c.data_ptr<scalar_t>(), end_c.data_ptr<scalar_t>(),
                                 trans_c.data_ptr<scalar_t>(), batch, t_max, num_tags_,
                                 paths.data(), scores.data());
    });
    const int64_t* lengths_p = lengths.data_ptr<int64_t>();
    std::vector<ViterbiResult> results(batch);
    for (int64_t b = 0; b < batch; ++b) {
      results[b].score = scores[b];
      results[b].path.assign(paths.begin() + b * t_max, paths.begin() + b * t_max + lengths_p[b]);
    }
    return results;
  }
  torch::Tensor score = start.unsqueeze(0) + em.select(1, 0);  // [B, K]
  std::vector<torch::Tensor> history;  // history[t-1][b][j]: best previous tag for j at step t.
  history.reserve(t_max - 1);
  const torch::Tensor trans_b = trans.unsqueeze(0);
  for (int64_t t = 1; t < t_max; ++t) {
    auto [best, best_prev] = (score.unsqueeze(2) + trans_b).max(/*dim=*/1);
    score = torch::where(m.select(1, t).unsqueeze(1), best + em.select(1, t), score);
    history.push_back(std::move(best_prev));
  }
  auto [best_score, best_last] = (score + end.unsqueeze(0)).max(/*dim=*/1);

  // Backtrack on the CPU: one transfer, then plain index arithmetic.
  const torch::Tensor lengths = m.sum(1).to(torch::kCPU).contiguous();
  const torch::Tensor last_cpu = best_last.to(torch::kCPU).contiguous();
  const torch::Tensor score_cpu = best_score.to(torch::kCPU, torch::kDouble).contiguous();
  torch::Tensor bp;  // [B, T-1, K] int64
  if (t_max > 1) bp = torch::stack(history, /*dim=*/1).to(torch::kCPU).contiguous();
  const int64_t* lengths_p = lengths.data_ptr<int64_t>();
  const int64_t* last_p = last_cpu.data_ptr<int64_t>();
  const double* score_p = score_cpu.data_ptr<double>();
  const int64_t* bp_p = t_max > 1 ? bp.data_ptr<int64_t>() : nullptr;
  const int64_t k = num_tags_;

  std::vector<ViterbiResult> results(batch);
  for (int64_t b = 0; b < batch; ++b) {
    ViterbiResult& r = results[b];
    const int64_t len = lengths_p[b];
    r.score = score_p[b];
    r.path.resize(len);
    r.path[len - 1] = last_p[b];
    const int64_t* bp_b = bp_p == nullptr ? nullptr : bp_p + b * (t_max - 1) * k;
    for (int64_t t = len - 1; t >= 1; --t) {
      r.path[t - 1] = bp_b[(t - 1) * k + r.path[t]];
    }
  }
  return results;
}

torch::Tensor CrfImpl::Marginals(const torch::Tensor& emissions, const torch::Tensor& mask) const {
  const torch::Tensor m = CheckEmissionsAndMask(emissions, mask, num_tags_, transitions);
  const auto dtype = emissions.scalar_type();
  const torch::Tensor start = start_transitions.to(dtype);
  const torch::Tensor end = end_transitions.to(dtype);
  const torch::Tensor trans = transitions.to(dtype);
  const int64_t t_max = emissions.size(1);
  if (UseCpuLoops(emissions)) {
    torch::NoGradGuard no_grad;
    const torch::Tensor lengths = m.sum(1).to(torch::kLong).contiguous();
    const torch::Tensor em_c = emissions.contiguous();
    const torch::Tensor start_c = start.contiguous();
    const torch::Tensor end_c = end.contiguous();
    const torch::Tensor trans_c = trans.contiguous();
    torch::Tensor out = torch::empty_like(em_c);
    AT_DISPATCH_FLOATING_TYPES(em_c.scalar_type(), "CrfMarginals", [&] {
      crf_cpu::Marginals<scalar_t>(em_c.data_ptr<scalar_t>(), lengths.data_ptr<int64_t>(),
                                   start_c.data_ptr<scalar_t>(), end_c.data_ptr<scalar_t>(),
                                   trans_c.data_ptr<scalar_t>(), em_c.size(0), t_max, num_tags_,
                                   out.data_ptr<scalar_t>());
    });
    return out;
  }

  std::vector<torch::Tensor> alphas;
  alphas.reserve(t_max);
  const torch::Tensor alpha_last = RunForward(emissions, m, start, trans, &alphas);
  const torch::Tensor log_z = torch::logsumexp(alpha_last + end.unsqueeze(0), /*dim=*/1);

  // beta_t[b][i]: log-sum of all continuations after tag i at step t (end score included,
  // emission at t excluded). At a sequence's last step (and beyond) it is just `end`.
  const torch::Tensor end_b = end.unsqueeze(0).expand_as(alpha_last);
  std::vector<torch::Tensor> betas(t_max);
  betas[t_max - 1] = end_b;
  const torch::Tensor trans_b = trans.unsqueeze(0);  // [1, K(from), K(to)]
  for (int64_t t = t_max - 2; t >= 0; --t) {
    const torch::Tensor next = torch::logsumexp(
        trans_b + (emissions.select(1, t + 1) + betas[t + 1]).unsqueeze(1), /*dim=*/2);
    betas[t] = torch::where(m.select(1, t + 1).unsqueeze(1), next, end_b);
  }
  const torch::Tensor log_p =
      torch::stack(alphas, 1) + torch::stack(betas, 1) - log_z.view({-1, 1, 1});
  return log_p.exp().masked_fill(m.logical_not().unsqueeze(2), 0);
}

double SpanConfidence(const torch::Tensor& marginals, int64_t begin_token, int64_t end_token,
                      const std::vector<int64_t>& path) {
  TORCH_CHECK(marginals.defined() && marginals.dim() == 2,
              "SpanConfidence: marginals must be [T, K]");
  const int64_t k = marginals.size(1);
  TORCH_CHECK(0 <= begin_token && begin_token < end_token && end_token <= marginals.size(0) &&
                  end_token <= static_cast<int64_t>(path.size()),
              "SpanConfidence: bad span [", begin_token, ", ", end_token,
              ") for T = ", marginals.size(0), " and a path of ", path.size(), " tags");
  const torch::Tensor rows = marginals.slice(0, begin_token, end_token)
                                 .detach()
                                 .to(torch::kCPU, torch::kDouble)
                                 .contiguous();
  const auto acc = rows.accessor<double, 2>();
  double confidence = 1.0;
  for (int64_t t = begin_token; t < end_token; ++t) {
    const int64_t tag = path[t];
    TORCH_CHECK(0 <= tag && tag < k, "SpanConfidence: tag ", tag, " at ", t, " not in [0, ", k,
                ")");
    confidence = std::min(confidence, acc[t - begin_token][tag]);
  }
  return confidence;
}

}  // namespace ner::model
