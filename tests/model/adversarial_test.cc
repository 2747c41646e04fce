#include "model/adversarial.h"

#include <torch/torch.h>

#include <stdexcept>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/tiny_model.h"

namespace ner::model {
namespace {

TEST(AdversarialTest, FgmPerturbationHasNormEpsilon) {
  torch::manual_seed(1);
  const torch::Tensor grad = torch::randn({50, 8});
  for (double eps : {0.1, 1.0, 3.0}) {
    const torch::Tensor r = FgmPerturbation(grad, eps);
    EXPECT_NEAR(r.norm().item<double>(), eps, 1e-5 * eps);
    // Same direction as the gradient.
    EXPECT_NEAR(torch::cosine_similarity(r.flatten(), grad.flatten(), 0).item<double>(), 1.0, 1e-5);
  }
}

TEST(AdversarialTest, FgsmIsEpsilonTimesSign) {
  const torch::Tensor grad = torch::tensor({{0.5f, -2.0f}, {0.0f, 1e-9f}});
  EXPECT_TRUE(FgsmPerturbation(grad, 0.25).equal(torch::tensor({{0.25f, -0.25f}, {0.0f, 0.25f}})));
}

TEST(AdversarialTest, ZeroOrNonFiniteGradientGivesNoPerturbation) {
  EXPECT_EQ(FgmPerturbation(torch::zeros({3, 3}), 1.0).abs().sum().item<double>(), 0.0);
  const torch::Tensor nan = torch::full({2}, std::nan(""));
  EXPECT_EQ(FgmPerturbation(nan, 1.0).abs().sum().item<double>(), 0.0);
  EXPECT_EQ(FgsmPerturbation(nan, 1.0).abs().sum().item<double>(), 0.0);
}

TEST(AdversarialTest, ProjectToL2Ball) {
  const torch::Tensor inside = torch::tensor({0.3f, 0.4f});  // norm 0.5
  EXPECT_TRUE(ProjectToL2Ball(inside, 1.0).equal(inside));
  const torch::Tensor outside = torch::tensor({3.0f, 4.0f});  // norm 5
  EXPECT_NEAR(ProjectToL2Ball(outside, 1.0).norm().item<double>(), 1.0, 1e-6);
  EXPECT_TRUE(ProjectToL2Ball(outside, 1.0).allclose(torch::tensor({0.6f, 0.8f})));
}

TEST(AdversarialTest, ConfigAndNames) {
  AdversarialConfig config;
  EXPECT_TRUE(config.Validate().ok());
  config.epsilon = -1;
  EXPECT_FALSE(config.Validate().ok());
  for (auto m : {AdversarialMethod::kNone, AdversarialMethod::kFgm, AdversarialMethod::kFgsm,
                 AdversarialMethod::kPgd}) {
    EXPECT_EQ(*ParseAdversarialMethod(AdversarialMethodName(m)), m);
  }
  EXPECT_FALSE(ParseAdversarialMethod("free").ok());
}

// A tiny NER model and one fixed batch, dropout off, so that every pass is deterministic.
class AdversarialStepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    checkpoint_ = ner::testing::TinyCheckpoint(Variant::kNezhaDfBiLstmCrf, 3);
    model_ = checkpoint_.model;
    model_->eval();
    batch_.token_ids = torch::tensor({{10, 11, 12, 13}, {14, 15, 0, 0}}, torch::kInt64);
    batch_.mask = torch::tensor({{1, 1, 1, 1}, {1, 1, 0, 0}}, torch::kBool);
    tags_ = torch::tensor({{1, 2, 0, 0}, {0, 3, 0, 0}}, torch::kInt64);
    params_ = model_->parameters();
    embeddings_ = model_->word_embeddings();
    original_ = embeddings_.detach().clone();
  }

  torch::Tensor Loss() { return model_->Loss(batch_, tags_); }

  std::vector<torch::Tensor> Grads() {
    std::vector<torch::Tensor> out;
    for (const auto& p : params_) out.push_back(p.grad().defined() ? p.grad().clone() : p.grad());
    return out;
  }

  void ZeroGrads() {
    for (auto& p : params_) p.mutable_grad().reset();
  }

  Checkpoint checkpoint_;
  NerModel model_{nullptr};
  TokenBatch batch_;
  torch::Tensor tags_;
  std::vector<torch::Tensor> params_;
  torch::Tensor embeddings_;
  torch::Tensor original_;
};

TEST_F(AdversarialStepTest, FgmAppliesPerturbationOfNormEpsilonAndRestoresBitExactly) {
  AdversarialConfig config;
  config.method = AdversarialMethod::kFgm;
  config.epsilon = 0.7;
  int calls = 0;
  double applied_norm = -1;
  const StepLosses losses = AdversarialBackward(
      [&] {
        if (++calls == 2) applied_norm = (embeddings_.detach() - original_).norm().item<double>();
        return Loss();
      },
      embeddings_, params_, config);
  EXPECT_EQ(calls, 2);
  EXPECT_NEAR(applied_norm, 0.7, 1e-4);
  EXPECT_TRUE(torch::equal(embeddings_, original_)) << "embeddings not restored bit-exactly";
  EXPECT_GT(losses.adversarial, losses.clean) << "the attack should raise the loss";
}

TEST_F(AdversarialStepTest, FgmGradientIsCleanPlusAdversarialAndDiffersFromPlain) {
  AdversarialConfig plain;
  plain.method = AdversarialMethod::kNone;
  AdversarialBackward([&] { return Loss(); }, embeddings_, params_, plain);
  const std::vector<torch::Tensor> clean = Grads();
  const torch::Tensor r = FgmPerturbation(embeddings_.grad(), 1.0);

  // The gradient at the perturbed embeddings, computed by hand.
  ZeroGrads();
  {
    torch::NoGradGuard no_grad;
    embeddings_.detach().add_(r);
  }
  Loss().backward();
  const std::vector<torch::Tensor> perturbed = Grads();
  {
    torch::NoGradGuard no_grad;
    embeddings_.detach().copy_(original_);
  }

  ZeroGrads();
  AdversarialConfig fgm;
  fgm.method = AdversarialMethod::kFgm;
  AdversarialBackward([&] { return Loss(); }, embeddings_, params_, fgm);
  const std::vector<torch::Tensor> combined = Grads();
  bool differs = false;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!clean[i].defined()) continue;
    EXPECT_TRUE(combined[i].allclose(clean[i] + perturbed[i], 1e-5, 1e-6)) << "parameter " << i;
    differs = differs || !combined[i].equal(clean[i]);
  }
  EXPECT_TRUE(differs) << "an FGM step must differ from a plain step";
}

TEST_F(AdversarialStepTest, FgsmAppliesSignPerturbation) {
  AdversarialConfig config;
  config.method = AdversarialMethod::kFgsm;
  config.epsilon = 0.01;
  double max_abs = -1;
  int calls = 0;
  AdversarialBackward(
      [&] {
        if (++calls == 2) max_abs = (embeddings_.detach() - original_).abs().max().item<double>();
        return Loss();
      },
      embeddings_, params_, config);
  EXPECT_NEAR(max_abs, 0.01, 1e-6);
  EXPECT_TRUE(torch::equal(embeddings_, original_));
}

TEST_F(AdversarialStepTest, PgdStaysInTheBallAndRestores) {
  AdversarialConfig config;
  config.method = AdversarialMethod::kPgd;
  config.epsilon = 0.5;
  config.pgd_alpha = 0.3;
  config.pgd_steps = 3;
  std::vector<double> norms;
  AdversarialBackward(
      [&] {
        norms.push_back((embeddings_.detach() - original_).norm().item<double>());
        return Loss();
      },
      embeddings_, params_, config);
  ASSERT_EQ(norms.size(), 4u);  // clean + 3 attack steps
  EXPECT_EQ(norms[0], 0.0);
  EXPECT_NEAR(norms[1], 0.3, 1e-4);  // first step of length alpha
  for (size_t k = 2; k < norms.size(); ++k) EXPECT_LE(norms[k], 0.5 + 1e-4);
  EXPECT_NEAR(norms[3], 0.5, 1e-3) << "steps along a consistent gradient reach the ball's edge";
  EXPECT_TRUE(torch::equal(embeddings_, original_));
  for (const auto& p : params_) {
    if (p.grad().defined()) {
      EXPECT_TRUE(p.grad().isfinite().all().item<bool>());
    }
  }
}

TEST_F(AdversarialStepTest, RestoresEmbeddingsWhenTheLossThrows) {
  AdversarialConfig config;
  config.method = AdversarialMethod::kFgm;
  int calls = 0;
  EXPECT_THROW(AdversarialBackward(
                   [&]() -> torch::Tensor {
                     if (++calls == 2) throw std::runtime_error("boom");
                     return Loss();
                   },
                   embeddings_, params_, config),
               std::runtime_error);
  EXPECT_TRUE(torch::equal(embeddings_, original_));
}

}  // namespace
}  // namespace ner::model
