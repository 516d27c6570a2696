#include <gtest/gtest.h>

#include "udl/early_stopping.h"

namespace {

udl::EarlyStoppingConfig config(int64_t patience, double min_delta = 0.0, bool enabled = true) {
  udl::EarlyStoppingConfig c;
  c.enabled = enabled;
  c.patience = patience;
  c.min_delta = min_delta;
  return c;
}

TEST(EarlyStopping, StopsAfterPatienceEpochsWithoutImprovement) {
  udl::EarlyStopping stopping(config(2));
  EXPECT_TRUE(stopping.record(1, 1.0));
  EXPECT_TRUE(stopping.record(2, 0.5));
  EXPECT_FALSE(stopping.record(3, 0.6));
  EXPECT_FALSE(stopping.should_stop());
  EXPECT_FALSE(stopping.record(4, 0.5));  // equal is no improvement
  EXPECT_TRUE(stopping.should_stop());
  EXPECT_EQ(stopping.best_epoch(), 2);
  EXPECT_DOUBLE_EQ(stopping.best_loss(), 0.5);
}

TEST(EarlyStopping, ImprovementResetsTheCount) {
  udl::EarlyStopping stopping(config(2));
  stopping.record(1, 1.0);
  stopping.record(2, 1.1);
  stopping.record(3, 0.9);
  stopping.record(4, 1.2);
  EXPECT_FALSE(stopping.should_stop());
  EXPECT_EQ(stopping.best_epoch(), 3);
}

TEST(EarlyStopping, MinDeltaDemandsALargerDecrease) {
  udl::EarlyStopping stopping(config(1, 0.1));
  EXPECT_TRUE(stopping.record(1, 1.0));
  EXPECT_FALSE(stopping.record(2, 0.95));
  EXPECT_TRUE(stopping.should_stop());
  EXPECT_EQ(stopping.best_epoch(), 1);
}

TEST(EarlyStopping, NanNeverImproves) {
  udl::EarlyStopping stopping(config(3));
  EXPECT_FALSE(stopping.record(1, NAN));
  EXPECT_EQ(stopping.best_epoch(), -1);
}

TEST(EarlyStopping, DisabledNeverStopsButTracksTheBest) {
  udl::EarlyStopping stopping(config(1, 0.0, false));
  stopping.record(1, 1.0);
  for (int epoch = 2; epoch < 10; ++epoch) stopping.record(epoch, 2.0);
  EXPECT_FALSE(stopping.should_stop());
  EXPECT_EQ(stopping.best_epoch(), 1);
}

TEST(EarlyStopping, RejectsBadConfig) {
  EXPECT_THROW(udl::EarlyStopping(config(0)), udl::InvalidArgument);
  EXPECT_THROW(udl::EarlyStopping(config(1, -1.0)), udl::InvalidArgument);
  EXPECT_THROW(udl::EarlyStopping(config(1, NAN)), udl::InvalidArgument);
}

}  // namespace
