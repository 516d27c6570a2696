// The native training loop of the autoencoders: config, per-epoch figures, history, result.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "udl/autoencoder.h"
#include "udl/early_stopping.h"
#include "udl/image_set.h"
#include "udl/pruning.h"

namespace udl {

enum class LossKind { kMse, kBce };
enum class OptimizerKind { kAdam, kSgd };

// Parse user-facing names ("mse", "bce"; "adam", "sgd"); throw InvalidArgument otherwise.
LossKind parse_loss(const std::string& name);
OptimizerKind parse_optimizer(const std::string& name);

struct TrainConfig {
  LossKind loss = LossKind::kMse;
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double learning_rate = 1e-3;
  double momentum = 0.9;  // SGD only
  double weight_decay = 0.0;
  int64_t batch_size = 256;
  int64_t epochs = 10;
  uint64_t seed = 0;
  double val_fraction = 0.2;
  EarlyStoppingConfig early_stopping;
  PruningConfig pruning;
  // Iterative autoencoding (report 001): the loss sums the reconstruction errors of passes
  // 1..n, each pass encoding the previous reconstruction, all compared with the input.
  int64_t passes = 1;
  int threads = 0;  // 0: leave LibTorch's default (the machine's physical cores)
};

// Throws InvalidArgument naming the first out-of-range field.
void validate(const TrainConfig& config);

struct EpochStats {
  int64_t fold = -1;  // 0-based fold under cross-validation, else -1
  int64_t epoch = 0;  // 1-based
  double train_loss = 0.0;
  double val_loss = 0.0;  // in the training loss, summed over the passes
  double val_mse = 0.0;   // of the first pass, whatever the training loss
  double seconds = 0.0;
  bool improved = false;                        // a new best validation loss
  std::array<double, kLayerGroups> sparsity{};  // masked fraction per LayerGroup
};

// Hooks into the loop. Both may throw; the exception stops training and propagates.
struct TrainHooks {
  std::function<void(const EpochStats&)> on_epoch;  // after each epoch
  std::function<void()> poll_interrupt;             // between batches, for Ctrl-C
};

struct TrainResult {
  std::vector<EpochStats> history;
  int64_t best_epoch = 0;  // 1-based; the weights the model holds when restore_best is on
  // Infinite when no epoch ended with a finite loss.
  double best_val_loss = std::numeric_limits<double>::infinity();
  double best_val_mse = std::numeric_limits<double>::infinity();
  double seconds = 0.0;             // wall time of the whole run
  std::string stop_reason;          // "completed", "early stopping", or "diverged at epoch E"
  std::optional<double> test_loss;  // in the training loss
  std::optional<double> test_mse;
};

// Trains `model` on `data` (a seeded split into training and validation), evaluating on
// `test` at the end if given. Throws InvalidArgument on a bad config or on images whose
// shape does not fit the model.
TrainResult train_autoencoder(Autoencoder& model, const ImageSet& data, const ImageSet* test,
                              const TrainConfig& config, const TrainHooks& hooks = {});

// The same on a given split; `fold` labels the EpochStats (-1 outside cross-validation).
TrainResult train_autoencoder_on_split(Autoencoder& model, const ImageSet& train,
                                       const ImageSet& validation, const ImageSet* test,
                                       const TrainConfig& config, const TrainHooks& hooks = {},
                                       int64_t fold = -1);

// The training loss of one batch: the reconstruction error of `passes` passes summed.
// If `first_logits` is given it receives the first pass's logits.
torch::Tensor autoencoding_loss(Autoencoder& model, const torch::Tensor& images, LossKind loss,
                                int64_t passes, torch::Tensor* first_logits = nullptr);

struct Evaluation {
  double loss = 0.0;  // the training loss (summed over passes)
  double mse = 0.0;   // of the first pass
};
// Mean losses over `set`, in batches, without gradients, in eval mode.
Evaluation evaluate(Autoencoder& model, const ImageSet& set, LossKind loss, int64_t passes,
                    int64_t batch_size);

}  // namespace udl
