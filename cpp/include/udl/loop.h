// The training loop every model shares, as its users see it: its settings (their defaults
// come from python/udl/settings.py, through the generated udl/loop_defaults.h), the hooks
// that report epochs and poll for interrupts, and what every run returns.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "udl/choices.h"
#include "udl/device.h"
#include "udl/early_stopping.h"
#include "udl/loop_defaults.h"

namespace udl {

enum class OptimizerKind { kAdam, kSgd };
inline constexpr std::array<Choice<OptimizerKind>, 2> kOptimizerNames{
    {{OptimizerKind::kAdam, "adam"}, {OptimizerKind::kSgd, "sgd"}}};

// The learning rate over a run's batches (see python/udl/settings.py).
enum class LrSchedule { kConstant, kCosine, kOneCycle };
inline constexpr std::array<Choice<LrSchedule>, 3> kLrScheduleNames{
    {{LrSchedule::kConstant, "constant"},
     {LrSchedule::kCosine, "cosine"},
     {LrSchedule::kOneCycle, "onecycle"}}};

// The learning rate of batch `step` (0-based) of `total`, for a run whose `lr` is the
// schedule's peak: cosine anneals lr to 0; one-cycle rises from lr/25 to lr over the first
// 30% of the batches and anneals to lr/25e4 (torch.optim.lr_scheduler.OneCycleLR's
// defaults, without its momentum cycle); constant is lr throughout.
double scheduled_learning_rate(LrSchedule schedule, double lr, int64_t step, int64_t total);

struct LoopConfig {
  OptimizerKind optimizer = parse_choice(kOptimizerNames, loop_defaults::optimizer, "optimizer");
  double learning_rate = loop_defaults::lr;
  double momentum = loop_defaults::momentum;  // SGD only
  double beta1 = loop_defaults::beta1;        // Adam only
  double beta2 = loop_defaults::beta2;
  double weight_decay = loop_defaults::weight_decay;
  int64_t batch_size = loop_defaults::batch_size;
  int64_t epochs = loop_defaults::epochs;
  uint64_t seed = loop_defaults::seed;
  double val_fraction = loop_defaults::val_fraction;
  EarlyStoppingConfig early_stopping;
  // Reduce on plateau: after `lr_patience` epochs in a row without a new best validation
  // loss, the learning rate is multiplied by `lr_decay` (1: never).
  double lr_decay = loop_defaults::lr_decay;
  int64_t lr_patience = loop_defaults::lr_patience;
  LrSchedule lr_schedule =
      parse_choice(kLrScheduleNames, loop_defaults::lr_schedule, "lr_schedule");
  int threads = 0;  // 0: leave LibTorch's default (the machine's physical cores)
  // Where the model trains ("cpu", "cuda", "cuda:N", "auto"; see udl/device.h): the model and
  // the data move there at the start; shuffling stays on a CPU generator, so the batch order
  // is the same on every device, and noise, dropout and corruption draw from generators of
  // the device.
  std::string device = loop_defaults::device;
  Precision precision = parse_choice(kPrecisionNames, loop_defaults::precision, "precision");
  // After every epoch, the loop's whole state goes to this file (atomically: a temporary
  // file, fsync, rename); "" writes none. With `resume`, a run whose checkpoint file exists
  // starts from it and continues exactly as the run that wrote it would have.
  std::string checkpoint_path;
  bool resume = loop_defaults::resume;
};

// Throws InvalidArgument naming the first out-of-range field.
void validate(const LoopConfig& config);

// Hooks into a loop. Both may throw; the exception stops training and propagates.
template <typename Record>
struct LoopHooks {
  std::function<void(const Record&)> on_epoch;  // after each epoch
  std::function<void()> poll_interrupt;         // between batches, for Ctrl-C
};

// What every training run returns; a model's result adds its test figures.
template <typename Record>
struct TrainingRun {
  std::vector<Record> history;
  int64_t best_epoch = 0;  // 1-based; 0: no epoch improved (or nothing is monitored)
  // Infinite when no epoch ended with a finite loss.
  double best_val_loss = std::numeric_limits<double>::infinity();
  double seconds = 0.0;                   // wall time of the epochs
  std::string stop_reason = "completed";  // or "early stopping", "diverged at epoch E"
};

}  // namespace udl
