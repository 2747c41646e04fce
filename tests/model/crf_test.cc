#include "model/crf.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/shared_data.h"

namespace ner::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Flattens a nested JSON array of numbers into a float64 tensor of the given shape.
torch::Tensor JsonTensor(const nlohmann::json& j, std::vector<int64_t> shape,
                         torch::ScalarType dtype) {
  std::vector<double> flat;
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& node) {
    if (node.is_array()) {
      for (const auto& child : node) walk(child);
    } else {
      flat.push_back(node.get<double>());
    }
  };
  walk(j);
  return torch::tensor(flat, torch::kDouble).reshape(shape).to(dtype);
}

// Sets the CRF's parameters (kept in the module's dtype).
void SetParameters(Crf& crf, const torch::Tensor& start, const torch::Tensor& end,
                   const torch::Tensor& trans) {
  torch::NoGradGuard no_grad;
  crf->start_transitions.copy_(start);
  crf->end_transitions.copy_(end);
  crf->transitions.copy_(trans);
}

// Unnormalised score of `path` under the CRF for sequence b's first path.size() steps.
double PathScore(const Crf& crf, const torch::Tensor& emissions, int64_t b,
                 const std::vector<int64_t>& path) {
  auto em = emissions.to(torch::kDouble);
  auto start = crf->start_transitions.to(torch::kDouble);
  auto end = crf->end_transitions.to(torch::kDouble);
  auto trans = crf->transitions.to(torch::kDouble);
  double s = start[path[0]].item<double>() + end[path.back()].item<double>();
  for (size_t t = 0; t < path.size(); ++t) {
    s += em[b][static_cast<int64_t>(t)][path[t]].item<double>();
    if (t > 0) s += trans[path[t - 1]][path[t]].item<double>();
  }
  return s;
}

// Calls f(path) for every path of `len` tags over `k` tags.
void ForEachPath(int64_t k, int64_t len,
                 const std::function<void(const std::vector<int64_t>&)>& f) {
  std::vector<int64_t> path(len, 0);
  while (true) {
    f(path);
    int64_t i = len - 1;
    while (i >= 0 && ++path[i] == k) path[i--] = 0;
    if (i < 0) return;
  }
}

TEST(CrfTest, MatchesGoldenVectors) {
  NER_REQUIRE_SHARED(path, "golden/crf/golden.json");
  std::ifstream in(path);
  const nlohmann::json g = nlohmann::json::parse(in);
  const torch::Tensor emissions = JsonTensor(g["emissions"], {4, 9, 5}, torch::kDouble);
  const torch::Tensor mask = JsonTensor(g["mask"], {4, 9}, torch::kDouble).to(torch::kBool);
  const torch::Tensor tags = JsonTensor(g["tags"], {4, 9}, torch::kLong);

  Crf crf(5);
  crf->to(torch::kDouble);
  SetParameters(crf, JsonTensor(g["start_transitions"], {5}, torch::kDouble),
                JsonTensor(g["end_transitions"], {5}, torch::kDouble),
                JsonTensor(g["transitions"], {5, 5}, torch::kDouble));

  const torch::Tensor ll = crf->LogLikelihood(emissions, tags, mask);
  ASSERT_EQ(ll.scalar_type(), torch::kDouble);
  const std::vector<double> want_ll = g["log_likelihood"].get<std::vector<double>>();
  ASSERT_EQ(ll.size(0), static_cast<int64_t>(want_ll.size()));
  for (size_t b = 0; b < want_ll.size(); ++b) {
    EXPECT_NEAR(ll[static_cast<int64_t>(b)].item<double>(), want_ll[b], 1e-6) << "sequence " << b;
  }

  const std::vector<ViterbiResult> decoded = crf->Decode(emissions, mask);
  const auto want_paths = g["viterbi_paths"].get<std::vector<std::vector<int64_t>>>();
  const auto want_scores = g["viterbi_scores"].get<std::vector<double>>();
  ASSERT_EQ(decoded.size(), want_paths.size());
  for (size_t b = 0; b < decoded.size(); ++b) {
    EXPECT_EQ(decoded[b].path, want_paths[b]) << "sequence " << b;
    EXPECT_NEAR(decoded[b].score, want_scores[b], 1e-6) << "sequence " << b;
  }
}

// A tiny batch (K = 3, lengths 4 and 2) small enough to enumerate every path.
class CrfTinyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(7);
    crf_->to(torch::kDouble);
    SetParameters(crf_, torch::randn({3}, torch::kDouble), torch::randn({3}, torch::kDouble),
                  torch::randn({3, 3}, torch::kDouble));
    emissions_ = torch::randn({2, 4, 3}, torch::kDouble);
    mask_ = torch::tensor({1, 1, 1, 1, 1, 1, 0, 0}, torch::kBool).view({2, 4});
  }

  Crf crf_{3};
  torch::Tensor emissions_;
  torch::Tensor mask_;
  const std::vector<int64_t> lengths_ = {4, 2};
};

TEST_F(CrfTinyTest, MarginalsMatchBruteForce) {
  const torch::Tensor marginals = crf_->Marginals(emissions_, mask_);
  ASSERT_EQ(marginals.sizes(), (std::vector<int64_t>{2, 4, 3}));
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t len = lengths_[b];
    std::vector<std::vector<double>> want(len, std::vector<double>(3, 0.0));
    double z = 0.0;
    ForEachPath(3, len, [&](const std::vector<int64_t>& path) {
      const double p = std::exp(PathScore(crf_, emissions_, b, path));
      z += p;
      for (int64_t t = 0; t < len; ++t) want[t][path[t]] += p;
    });
    for (int64_t t = 0; t < 4; ++t) {
      double row_sum = 0.0;
      for (int64_t k = 0; k < 3; ++k) {
        const double got = marginals[b][t][k].item<double>();
        row_sum += got;
        if (t < len) {
          EXPECT_NEAR(got, want[t][k] / z, 1e-9) << b << "," << t << "," << k;
        } else {
          EXPECT_EQ(got, 0.0) << "padded step " << b << "," << t;
        }
      }
      if (t < len) {
        EXPECT_NEAR(row_sum, 1.0, 1e-9);
      }
    }
  }
}

TEST_F(CrfTinyTest, LogLikelihoodAndViterbiMatchBruteForce) {
  const torch::Tensor tags =
      torch::tensor({0, 2, 1, 1, 2, 0, -100, -100}, torch::kLong).view({2, 4});
  const torch::Tensor ll = crf_->LogLikelihood(emissions_, tags, mask_);
  const std::vector<ViterbiResult> decoded = crf_->Decode(emissions_, mask_);
  for (int64_t b = 0; b < 2; ++b) {
    const int64_t len = lengths_[b];
    double z = 0.0;
    double best = -std::numeric_limits<double>::infinity();
    std::vector<int64_t> best_path;
    ForEachPath(3, len, [&](const std::vector<int64_t>& path) {
      const double s = PathScore(crf_, emissions_, b, path);
      z += std::exp(s);
      if (s > best) best = s, best_path = path;
    });
    std::vector<int64_t> gold(len);
    for (int64_t t = 0; t < len; ++t) gold[t] = tags[b][t].item<int64_t>();
    EXPECT_NEAR(ll[b].item<double>(), PathScore(crf_, emissions_, b, gold) - std::log(z), 1e-9);
    EXPECT_EQ(decoded[b].path, best_path);
    EXPECT_NEAR(decoded[b].score, best, 1e-9);
  }
}

TEST_F(CrfTinyTest, ConstrainedViterbiIsBestAllowedPath) {
  TransitionConstraints c;
  c.num_tags = 3;
  c.allowed_start = {true, false, true};
  c.allowed_end = {true, true, false};
  c.allowed = {true,  true,  false,  //
               false, true,  true,   //
               true,  false, true};
  const std::vector<ViterbiResult> decoded = crf_->Decode(emissions_, mask_, &c);
  for (int64_t b = 0; b < 2; ++b) {
    double best = -std::numeric_limits<double>::infinity();
    std::vector<int64_t> best_path;
    ForEachPath(3, lengths_[b], [&](const std::vector<int64_t>& path) {
      bool ok = c.allowed_start[path.front()] && c.allowed_end[path.back()];
      for (size_t t = 1; t < path.size(); ++t) ok = ok && c.Allowed(path[t - 1], path[t]);
      const double s = PathScore(crf_, emissions_, b, path);
      if (ok && s > best) best = s, best_path = path;
    });
    EXPECT_EQ(decoded[b].path, best_path);
    EXPECT_NEAR(decoded[b].score, best, 1e-9);
  }
}

TEST(CrfTest, GradientsFlow) {
  torch::manual_seed(1);
  Crf crf(4);
  const torch::Tensor emissions = torch::randn({3, 5, 4}).requires_grad_(true);
  const torch::Tensor tags = torch::randint(0, 4, {3, 5}, torch::kLong);
  const torch::Tensor mask = torch::tensor({5, 3, 1}, torch::kLong)
                                 .unsqueeze(1)
                                 .gt(torch::arange(5, torch::kLong).unsqueeze(0));
  const torch::Tensor loss = -crf->LogLikelihood(emissions, tags, mask).mean();
  loss.backward();
  for (const torch::Tensor& p :
       {emissions, crf->start_transitions, crf->end_transitions, crf->transitions}) {
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(p.grad().abs().sum().item<double>(), 0.0);
    EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
  }
  // Padded emissions get no gradient.
  EXPECT_EQ(emissions.grad().slice(1, 1).select(0, 2).abs().sum().item<double>(), 0.0);
}

TEST(CrfTest, BatchEqualsEachSequenceAlone) {
  torch::manual_seed(3);
  Crf crf(5);
  const std::vector<int64_t> lengths = {7, 2, 5, 1};
  const torch::Tensor emissions = torch::randn({4, 7, 5});
  const torch::Tensor tags = torch::randint(0, 5, {4, 7}, torch::kLong);
  const torch::Tensor mask = torch::tensor(lengths, torch::kLong)
                                 .unsqueeze(1)
                                 .gt(torch::arange(7, torch::kLong).unsqueeze(0));
  const torch::Tensor ll = crf->LogLikelihood(emissions, tags, mask);
  const torch::Tensor marginals = crf->Marginals(emissions, mask);
  const std::vector<ViterbiResult> decoded = crf->Decode(emissions, mask);
  for (int64_t b = 0; b < 4; ++b) {
    const int64_t len = lengths[b];
    const torch::Tensor em1 = emissions.slice(0, b, b + 1).slice(1, 0, len);
    const torch::Tensor mask1 = torch::ones({1, len}, torch::kBool);
    const torch::Tensor tags1 = tags.slice(0, b, b + 1).slice(1, 0, len);
    EXPECT_NEAR(crf->LogLikelihood(em1, tags1, mask1).item<double>(), ll[b].item<double>(), 1e-5);
    EXPECT_TRUE(
        torch::allclose(crf->Marginals(em1, mask1)[0], marginals[b].slice(0, 0, len), 1e-5, 1e-6));
    const ViterbiResult alone = crf->Decode(em1, mask1)[0];
    EXPECT_EQ(alone.path, decoded[b].path);
    EXPECT_NEAR(alone.score, decoded[b].score, 1e-5);
  }
}

TEST(CrfTest, ConstraintsRespectedOnRandomEmissions) {
  const std::vector<std::string> labels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  auto c = BuildTransitionConstraints(labels);
  ASSERT_TRUE(c.ok()) << c.status();
  torch::manual_seed(11);
  Crf crf(5);
  {
    // Make forbidden moves attractive so that the constraints must do the work.
    torch::NoGradGuard no_grad;
    crf->transitions.normal_(0.0, 3.0);
    crf->start_transitions.normal_(0.0, 3.0);
  }
  const torch::Tensor emissions = torch::randn({64, 12, 5}) * 4;
  const torch::Tensor mask =
      torch::randint(1, 13, {64, 1}, torch::kLong).gt(torch::arange(12, torch::kLong).unsqueeze(0));
  int unconstrained_violations = 0;
  const auto count_violations = [&](const std::vector<int64_t>& path) {
    int n = c->allowed_start[path.front()] ? 0 : 1;
    for (size_t t = 1; t < path.size(); ++t) n += c->Allowed(path[t - 1], path[t]) ? 0 : 1;
    return n;
  };
  for (const ViterbiResult& r : crf->Decode(emissions, mask)) {
    unconstrained_violations += count_violations(r.path);
  }
  EXPECT_GT(unconstrained_violations, 0) << "the test would not exercise the constraints";
  for (const ViterbiResult& r : crf->Decode(emissions, mask, &*c)) {
    EXPECT_EQ(count_violations(r.path), 0);
  }
}

// Decode and Marginals run as plain loops on the CPU and as tensor operations elsewhere: both
// must give the same paths, scores and marginals (float and double, constrained or not, ragged
// lengths including 1, and bfloat16 emissions, which always take the tensor path).
TEST(CrfTest, CpuLoopsMatchTensorOps) {
  const std::vector<std::string> labels = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
  auto constraints = BuildTransitionConstraints(labels);
  ASSERT_TRUE(constraints.ok()) << constraints.status();
  torch::manual_seed(5);
  Crf crf(5);
  {
    torch::NoGradGuard no_grad;
    crf->transitions.normal_(0.0, 2.0);
  }
  torch::Tensor mask =
      torch::randint(1, 20, {48, 1}, torch::kLong).gt(torch::arange(19, torch::kLong).unsqueeze(0));
  mask.index_put_({0}, false);
  mask.index_put_({0, 0}, true);  // a sequence of length 1
  for (const torch::Dtype dtype : {torch::kFloat32, torch::kFloat64, torch::kBFloat16}) {
    const torch::Tensor emissions = (torch::randn({48, 19, 5}) * 3).to(dtype);
    for (const TransitionConstraints* c :
         std::vector<const TransitionConstraints*>{nullptr, &*constraints}) {
      crf->set_backend(CrfImpl::Backend::kAuto);
      const std::vector<ViterbiResult> loops = crf->Decode(emissions, mask, c);
      crf->set_backend(CrfImpl::Backend::kTensorOps);
      const std::vector<ViterbiResult> tensors = crf->Decode(emissions, mask, c);
      ASSERT_EQ(loops.size(), tensors.size());
      for (size_t b = 0; b < loops.size(); ++b) {
        EXPECT_EQ(loops[b].path, tensors[b].path) << "sequence " << b << " " << dtype;
        EXPECT_EQ(loops[b].score, tensors[b].score) << "sequence " << b << " " << dtype;
      }
    }
    crf->set_backend(CrfImpl::Backend::kAuto);
    const torch::Tensor loops = crf->Marginals(emissions, mask);
    crf->set_backend(CrfImpl::Backend::kTensorOps);
    const torch::Tensor tensors = crf->Marginals(emissions, mask);
    EXPECT_EQ(loops.scalar_type(), dtype);
    // The loops accumulate in double; the float tensor path rounds each step to float.
    const double tolerance = dtype == torch::kFloat64   ? 1e-12
                             : dtype == torch::kFloat32 ? 1e-4
                                                        : 0;
    EXPECT_LE((loops.to(torch::kFloat64) - tensors.to(torch::kFloat64)).abs().max().item<double>(),
              tolerance)
        << dtype;
  }
  crf->set_backend(CrfImpl::Backend::kAuto);

  // Scores hundreds apart underflow the scaled forward-backward; the loops then redo that
  // sequence in log space and still agree with the tensor path.
  Crf extreme(3);
  {
    torch::NoGradGuard no_grad;
    extreme->transitions.fill_(-1000.0);
    extreme->transitions[0][0] = 0.0;
  }
  torch::Tensor em = torch::randn({2, 6, 3}, torch::kFloat64);
  em.index_put_({0, torch::indexing::Slice(1), 0}, -900.0);
  const torch::Tensor full = torch::ones({2, 6}, torch::kBool);
  const torch::Tensor loops = extreme->Marginals(em, full);
  extreme->set_backend(CrfImpl::Backend::kTensorOps);
  const torch::Tensor tensors = extreme->Marginals(em, full);
  EXPECT_TRUE(torch::isfinite(loops).all().item<bool>());
  EXPECT_LE((loops - tensors).abs().max().item<double>(), 1e-9);
}

TEST(CrfTest, Float32Works) {
  Crf crf(3);
  const torch::Tensor emissions = torch::randn({2, 3, 3});
  const torch::Tensor mask = torch::ones({2, 3}, torch::kBool);
  EXPECT_EQ(crf->LogLikelihood(emissions, torch::zeros({2, 3}, torch::kLong), mask).scalar_type(),
            torch::kFloat);
  EXPECT_EQ(crf->Marginals(emissions, mask).scalar_type(), torch::kFloat);
  EXPECT_EQ(crf->Decode(emissions, mask).size(), 2u);
}

TEST(CrfTest, RejectsBadInputs) {
  Crf crf(3);
  const torch::Tensor em = torch::randn({2, 4, 3});
  const torch::Tensor mask = torch::ones({2, 4}, torch::kBool);
  const torch::Tensor tags = torch::zeros({2, 4}, torch::kLong);
  const auto message = [&](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const c10::Error& e) {
      return e.what_without_backtrace();
    }
    return "no error";
  };
  EXPECT_THAT(message([&] {
                crf->Decode(torch::randn({2, 4}), mask);
              }),
              HasSubstr("emissions must be [B, T, K]"));
  EXPECT_THAT(message([&] {
                crf->Decode(torch::randn({2, 4, 5}), mask);
              }),
              HasSubstr("emissions has 5 tags"));
  EXPECT_THAT(message([&] {
                crf->Decode(em, torch::ones({2, 3}, torch::kBool));
              }),
              HasSubstr("mask must be [B, T]"));
  EXPECT_THAT(
      message([&] {
        crf->Marginals(em, torch::tensor({1, 0, 1, 0, 1, 1, 1, 1}, torch::kBool).view({2, 4}));
      }),
      HasSubstr("prefix of ones"));
  EXPECT_THAT(message([&] {
                crf->Marginals(em, torch::zeros({2, 4}, torch::kBool));
              }),
              HasSubstr("length >= 1"));
  EXPECT_THAT(message([&] { crf->LogLikelihood(em, tags.to(torch::kInt), mask); }),
              HasSubstr("tags must be int64"));
  EXPECT_THAT(message([&] { crf->LogLikelihood(em, tags + 3, mask); }),
              HasSubstr("tags at unmasked steps must be in [0, 3)"));
  TransitionConstraints wrong = *BuildTransitionConstraints({"O", "B-X"});
  EXPECT_THAT(message([&] { crf->Decode(em, mask, &wrong); }), HasSubstr("constraints are for 2"));
}

TEST(BuildTransitionConstraintsTest, Bio) {
  auto c = BuildTransitionConstraints({"O", "B-PER", "I-PER", "B-LOC", "I-LOC"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->allowed_start, ElementsAre(true, true, false, true, false));
  EXPECT_THAT(c->allowed_end, ElementsAre(true, true, true, true, true));
  EXPECT_FALSE(c->Allowed(0, 2));  // O -> I-PER
  EXPECT_TRUE(c->Allowed(1, 2));   // B-PER -> I-PER
  EXPECT_TRUE(c->Allowed(2, 2));   // I-PER -> I-PER
  EXPECT_FALSE(c->Allowed(1, 4));  // B-PER -> I-LOC
  EXPECT_FALSE(c->Allowed(2, 4));  // I-PER -> I-LOC
  EXPECT_TRUE(c->Allowed(2, 3));   // I-PER -> B-LOC
  EXPECT_TRUE(c->Allowed(1, 0));   // B-PER -> O
}

TEST(BuildTransitionConstraintsTest, BioesAndBmes) {
  for (const char* inside : {"I", "M"}) {
    const std::string i = inside;
    auto c = BuildTransitionConstraints({"O", "B-PER", i + "-PER", "E-PER", "S-PER", "S-LOC"});
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_THAT(c->allowed_start, ElementsAre(true, true, false, false, true, true));
    EXPECT_THAT(c->allowed_end, ElementsAre(true, false, false, true, true, true));
    EXPECT_FALSE(c->Allowed(1, 0));  // B -> O
    EXPECT_FALSE(c->Allowed(1, 1));  // B -> B
    EXPECT_TRUE(c->Allowed(1, 2));   // B -> I/M
    EXPECT_TRUE(c->Allowed(1, 3));   // B -> E
    EXPECT_FALSE(c->Allowed(2, 4));  // I/M -> S
    EXPECT_TRUE(c->Allowed(2, 3));   // I/M -> E
    EXPECT_FALSE(c->Allowed(3, 2));  // E -> I/M
    EXPECT_FALSE(c->Allowed(3, 3));  // E -> E
    EXPECT_TRUE(c->Allowed(3, 1));   // E -> B
    EXPECT_FALSE(c->Allowed(4, 3));  // S -> E
    EXPECT_TRUE(c->Allowed(4, 5));   // S -> S
    EXPECT_TRUE(c->Allowed(0, 4));   // O -> S
  }
}

TEST(BuildTransitionConstraintsTest, RejectsBadLabels) {
  EXPECT_FALSE(BuildTransitionConstraints({}).ok());
  EXPECT_FALSE(BuildTransitionConstraints({"O", "O"}).ok());
  EXPECT_FALSE(BuildTransitionConstraints({"O", "X-PER"}).ok());
  EXPECT_FALSE(BuildTransitionConstraints({"O", "B-"}).ok());
  EXPECT_FALSE(BuildTransitionConstraints({"O", "BPER"}).ok());
  EXPECT_EQ(BuildTransitionConstraints({"O", "PER"}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SpanConfidenceTest, IsMinimumOfDecodedTagMarginals) {
  const torch::Tensor marginals =
      torch::tensor({0.9, 0.1, 0.2, 0.8, 0.3, 0.7, 0.6, 0.4}, torch::kDouble).view({4, 2});
  const std::vector<int64_t> path = {0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(SpanConfidence(marginals, 1, 3, path), 0.7);
  EXPECT_DOUBLE_EQ(SpanConfidence(marginals, 0, 1, path), 0.9);
  EXPECT_DOUBLE_EQ(SpanConfidence(marginals.to(torch::kFloat), 0, 4, path),
                   static_cast<double>(0.6f));
  EXPECT_THROW(SpanConfidence(marginals, 2, 2, path), c10::Error);
  EXPECT_THROW(SpanConfidence(marginals, 0, 5, path), c10::Error);
}

}  // namespace
}  // namespace ner::model
