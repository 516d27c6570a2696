// Early stopping on the validation loss: an epoch improves when its loss is below the best
// so far by more than min_delta; after `patience` epochs in a row without improvement, stop.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "udl/errors.h"
#include "udl/loop_defaults.h"

namespace udl {

struct EarlyStoppingConfig {
  bool enabled = loop_defaults::early_stopping;
  int64_t patience = loop_defaults::patience;
  double min_delta = loop_defaults::min_delta;
  bool restore_best = loop_defaults::restore_best;  // put the best epoch's weights back at the end
};

class EarlyStopping {
 public:
  explicit EarlyStopping(const EarlyStoppingConfig& config) : config_(config) {
    if (config.patience < 1) {
      throw InvalidArgument("patience must be >= 1, got " + std::to_string(config.patience));
    }
    if (!(config.min_delta >= 0.0)) {
      throw InvalidArgument("min_delta must be >= 0, got " + std::to_string(config.min_delta));
    }
  }

  // Records epoch `epoch`'s validation loss; returns true if it is the new best.
  bool record(int64_t epoch, double val_loss) {
    if (val_loss < best_loss_ - config_.min_delta) {
      best_loss_ = val_loss;
      best_epoch_ = epoch;
      epochs_without_improvement_ = 0;
      return true;
    }
    ++epochs_without_improvement_;
    return false;
  }

  bool should_stop() const {
    return config_.enabled && epochs_without_improvement_ >= config_.patience;
  }
  int64_t best_epoch() const { return best_epoch_; }
  double best_loss() const { return best_loss_; }

  // What a checkpoint keeps, so that a resumed run stops exactly where this one would.
  struct State {
    double best_loss;
    int64_t best_epoch;
    int64_t epochs_without_improvement;
  };
  State state() const { return {best_loss_, best_epoch_, epochs_without_improvement_}; }
  void restore(const State& state) {
    best_loss_ = state.best_loss;
    best_epoch_ = state.best_epoch;
    epochs_without_improvement_ = state.epochs_without_improvement;
  }

 private:
  EarlyStoppingConfig config_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int64_t best_epoch_ = -1;
  int64_t epochs_without_improvement_ = 0;
};

}  // namespace udl
