#include "model/lr_schedule.h"

#include <vector>

#include "gtest/gtest.h"

namespace ner::model {
namespace {

struct Case {
  int64_t step;
  double factor;
};

LrScheduleConfig Config(LrDecay decay) {
  LrScheduleConfig config;
  config.total_steps = 40;  // 4 epochs of 10 steps
  config.steps_per_epoch = 10;
  config.warmup_fraction = 0.05;  // ceil(2.0) = 2 warm-up steps
  config.decay = decay;
  config.decay_rate = 0.5;
  return config;
}

TEST(LrScheduleTest, WarmupSteps) {
  LrScheduleConfig config = Config(LrDecay::kPerEpoch);
  EXPECT_EQ(WarmupSteps(config), 2);
  config.total_steps = 41;  // 2.05 -> 3
  EXPECT_EQ(WarmupSteps(config), 3);
  config.warmup_fraction = 0;
  EXPECT_EQ(WarmupSteps(config), 0);
}

TEST(LrScheduleTest, PerEpochHalvesAtEachEpochAfterWarmup) {
  const LrScheduleConfig config = Config(LrDecay::kPerEpoch);
  ASSERT_TRUE(config.Validate().ok());
  const std::vector<Case> table = {
      {0, 0.5},   {1, 1.0},    {2, 1.0},    {9, 1.0},  // warm-up, then epoch 0 at 1x
      {10, 0.5},  {19, 0.5},                           // epoch 1
      {20, 0.25}, {30, 0.125}, {39, 0.125},            // epochs 2 and 3
  };
  for (const Case& c : table) {
    EXPECT_DOUBLE_EQ(LrFactor(config, c.step), c.factor) << "step " << c.step;
  }
}

TEST(LrScheduleTest, LinearFallsToDecayRateAtTheEnd) {
  const LrScheduleConfig config = Config(LrDecay::kLinear);
  // After the 2 warm-up steps: 1 - 0.5 * (s - 2) / 38.
  const std::vector<Case> table = {
      {0, 0.5}, {1, 1.0}, {2, 1.0}, {21, 0.75}, {39, 1 - 0.5 * 37.0 / 38.0}, {40, 0.5},
  };
  for (const Case& c : table) {
    EXPECT_DOUBLE_EQ(LrFactor(config, c.step), c.factor) << "step " << c.step;
  }
}

TEST(LrScheduleTest, NoWarmupStartsAtPeak) {
  LrScheduleConfig config = Config(LrDecay::kPerEpoch);
  config.warmup_fraction = 0;
  EXPECT_DOUBLE_EQ(LrFactor(config, 0), 1.0);
  EXPECT_DOUBLE_EQ(LrFactor(config, 10), 0.5);
}

TEST(LrScheduleTest, FactorIsPositiveAndAtMostOne) {
  for (LrDecay decay : {LrDecay::kPerEpoch, LrDecay::kLinear}) {
    LrScheduleConfig config = Config(decay);
    config.total_steps = 1000;
    config.steps_per_epoch = 125;
    for (int64_t s = 0; s < config.total_steps; ++s) {
      const double f = LrFactor(config, s);
      EXPECT_GT(f, 0);
      EXPECT_LE(f, 1);
    }
  }
}

TEST(LrScheduleTest, ValidateAndNames) {
  LrScheduleConfig config = Config(LrDecay::kLinear);
  config.decay_rate = 0;
  EXPECT_EQ(config.Validate().code(), absl::StatusCode::kInvalidArgument);
  config = Config(LrDecay::kLinear);
  config.warmup_fraction = 1;
  EXPECT_FALSE(config.Validate().ok());
  config = Config(LrDecay::kLinear);
  config.total_steps = 0;
  EXPECT_FALSE(config.Validate().ok());
  for (LrDecay decay : {LrDecay::kPerEpoch, LrDecay::kLinear}) {
    absl::StatusOr<LrDecay> parsed = ParseLrDecay(LrDecayName(decay));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, decay);
  }
  EXPECT_FALSE(ParseLrDecay("cosine").ok());
}

}  // namespace
}  // namespace ner::model
