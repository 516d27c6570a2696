#include <gtest/gtest.h>

#include <cmath>

#include "udl/errors.h"
#include "udl/loop.h"

namespace udl {
namespace {

TEST(LrSchedule, ConstantIsTheLearningRateThroughout) {
  for (int64_t step : {0, 5, 99}) {
    EXPECT_DOUBLE_EQ(scheduled_learning_rate(LrSchedule::kConstant, 1e-3, step, 100), 1e-3);
  }
}

TEST(LrSchedule, CosineStartsAtTheRateAndAnnealsTowardsZero) {
  const double lr = 2e-3;
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(LrSchedule::kCosine, lr, 0, 100), lr);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kCosine, lr, 50, 100), lr / 2, 1e-12);
  const double last = scheduled_learning_rate(LrSchedule::kCosine, lr, 99, 100);
  EXPECT_GT(last, 0.0);
  EXPECT_LT(last, lr * 1e-3);
  double previous = lr;
  for (int64_t step = 1; step < 100; ++step) {
    const double now = scheduled_learning_rate(LrSchedule::kCosine, lr, step, 100);
    EXPECT_LT(now, previous);
    previous = now;
  }
}

// The values of torch.optim.lr_scheduler.OneCycleLR(max_lr=0.01, total_steps=100) (its
// defaults: pct_start 0.3, div_factor 25, final_div_factor 1e4, cosine annealing).
TEST(LrSchedule, OneCycleMatchesTorchsOneCycleLR) {
  const double lr = 0.01;
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 0, 100), lr / 25, 1e-15);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 29, 100), lr, 1e-15);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 99, 100), lr / 25 / 1e4, 1e-15);
  const double mid_warmup = lr / 25 + (lr - lr / 25) / 2 * (1 - std::cos(M_PI * 14.5 / 29));
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 14, 100) +
                  scheduled_learning_rate(LrSchedule::kOneCycle, lr, 15, 100),
              2 * mid_warmup, 1e-5);
}

// Values printed by torch 2.13's OneCycleLR(max_lr=0.01, total_steps=T, cycle_momentum=False).
TEST(LrSchedule, OneCycleAnnealsAsTorchDoes) {
  const double lr = 0.01;
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 50, 100), 0.00793893450575732,
              1e-15);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 75, 100), 0.0026306861650082568,
              1e-15);
  // Three batches or fewer have no warm-up step: torch starts annealing at once.
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 0, 3), 0.009944154354509118,
              1e-15);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 1, 3), 0.00462637102666975, 1e-15);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 0, 2), 0.00811745653949763, 1e-15);
  EXPECT_NEAR(scheduled_learning_rate(LrSchedule::kOneCycle, lr, 1, 2), 4e-08, 1e-15);
}

TEST(LrSchedule, AStepPastTheEndKeepsTheLastRate) {
  EXPECT_DOUBLE_EQ(scheduled_learning_rate(LrSchedule::kCosine, 1.0, 150, 100),
                   scheduled_learning_rate(LrSchedule::kCosine, 1.0, 99, 100));
}

TEST(LrSchedule, PlateauDecayWithAScheduleIsRefused) {
  LoopConfig config;
  config.lr_schedule = LrSchedule::kOneCycle;
  config.lr_decay = 0.5;
  EXPECT_THROW(validate(config), InvalidArgument);
  config.lr_decay = 1.0;
  EXPECT_NO_THROW(validate(config));
}

}  // namespace
}  // namespace udl
