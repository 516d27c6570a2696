// What every native training loop shares: the optimizer settings, the data split, early
// stopping, threads, and the hooks that report epochs and poll for interrupts.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "udl/early_stopping.h"

namespace udl {

enum class OptimizerKind { kAdam, kSgd };

// Parses "adam" or "sgd"; throws InvalidArgument otherwise.
OptimizerKind parse_optimizer(const std::string& name);

struct LoopConfig {
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double learning_rate = 1e-3;
  double momentum = 0.9;  // SGD only
  double weight_decay = 0.0;
  int64_t batch_size = 256;
  int64_t epochs = 10;
  uint64_t seed = 0;
  double val_fraction = 0.2;
  EarlyStoppingConfig early_stopping;
  // Reduce on plateau: after `lr_patience` epochs in a row without a new best validation
  // loss, the learning rate is multiplied by `lr_decay` (1: never).
  double lr_decay = 1.0;
  int64_t lr_patience = 3;
  int threads = 0;  // 0: leave LibTorch's default (the machine's physical cores)
  // After every epoch, the loop's whole state goes to this file (atomically: a temporary
  // file, fsync, rename); "" writes none. With `resume`, a run whose checkpoint file exists
  // starts from it and continues exactly as the run that wrote it would have.
  std::string checkpoint_path;
  bool resume = false;
};

// Throws InvalidArgument naming the first out-of-range field.
void validate(const LoopConfig& config);

// Hooks into a loop. Both may throw; the exception stops training and propagates.
template <typename Stats>
struct LoopHooks {
  std::function<void(const Stats&)> on_epoch;  // after each epoch
  std::function<void()> poll_interrupt;        // between batches, for Ctrl-C
};

}  // namespace udl
