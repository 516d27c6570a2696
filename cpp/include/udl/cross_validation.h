// k-fold cross-validation of an autoencoder architecture (report 001): one model per fold,
// trained natively, each validated on its own fold.
#pragma once

#include <cstdint>
#include <vector>

#include "udl/autoencoder_training.h"

namespace udl {

struct CrossValidationConfig {
  int64_t folds = 5;
  // Balance every class across the folds when the images have labels.
  bool stratified = true;
};

// The validation indices of each of `k` folds: disjoint, together every index of `set`,
// shuffled by `seed`; stratified by label if asked and labels exist. Throws
// InvalidArgument unless 2 <= k <= set.size().
std::vector<torch::Tensor> make_folds(const ImageSet& set, int64_t k, uint64_t seed,
                                      bool stratified);

struct CrossValidationResult {
  std::vector<TrainResult> folds;  // fold i trained on the others, validated on fold i
  // Over the folds' best epochs (population standard deviation).
  double mean_val_loss = 0.0;
  double std_val_loss = 0.0;
  double mean_val_mse = 0.0;
  double std_val_mse = 0.0;
  double seconds = 0.0;   // wall time of all folds
  int64_t best_fold = 0;  // the fold with the lowest best validation loss
  Autoencoder best_model{nullptr};
};

// Trains one model of `spec` per fold. Fold i's model and shuffling are seeded with
// config.seed + i. `test`, if given, is evaluated by every fold's model. A hook's exception
// stops the whole run. With config.checkpoint_path P, the running fold checkpoints to
// "P.fold<i>" after every epoch and each finished fold's result (and the best model so far)
// goes to P; with config.resume the run continues from the finished folds and the running
// fold's checkpoint, exactly as the uninterrupted run would have.
CrossValidationResult cross_validate(const AutoencoderSpec& spec, const ImageSet& data,
                                     const ImageSet* test, const TrainConfig& config,
                                     const CrossValidationConfig& cv, const TrainHooks& hooks = {});

}  // namespace udl
