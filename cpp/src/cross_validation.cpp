#include "udl/cross_validation.h"

#include <chrono>
#include <cmath>

#include "udl/errors.h"

namespace udl {
namespace {

struct MeanAndStd {
  double mean = 0.0;
  double std = 0.0;
};

MeanAndStd mean_and_std(const std::vector<double>& values) {
  MeanAndStd out;
  for (double v : values) out.mean += v;
  out.mean /= static_cast<double>(values.size());
  for (double v : values) out.std += (v - out.mean) * (v - out.mean);
  out.std = std::sqrt(out.std / static_cast<double>(values.size()));
  // A diverged fold (infinite loss) makes the spread infinite too, not NaN.
  if (!std::isfinite(out.mean)) out.std = std::numeric_limits<double>::infinity();
  return out;
}

}  // namespace

std::vector<torch::Tensor> make_folds(const ImageSet& set, int64_t k, uint64_t seed,
                                      bool stratified) {
  const int64_t n = set.size();
  if (k < 2 || k > n) {
    throw InvalidArgument("k (folds) must be in [2, " + std::to_string(n) + "] for " +
                          std::to_string(n) + " images, got " + std::to_string(k));
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  torch::Tensor order = torch::randperm(n, generator, torch::kInt64);
  if (stratified && set.labels()) {
    // Stable sort of the shuffled indices by label: classes in turn, shuffled within. Dealing
    // positions round-robin then spreads every class evenly over the folds.
    const torch::Tensor labels = set.labels()->index_select(0, order);
    const torch::Tensor by_label = std::get<1>(labels.sort(/*stable=*/true, 0, false));
    order = order.index_select(0, by_label);
  }
  std::vector<torch::Tensor> folds;
  for (int64_t i = 0; i < k; ++i) folds.push_back(order.slice(0, i, n, k).clone());
  return folds;
}

CrossValidationResult cross_validate(const AutoencoderSpec& spec, const ImageSet& data,
                                     const ImageSet* test, const TrainConfig& config,
                                     const CrossValidationConfig& cv, const TrainHooks& hooks) {
  const auto start = std::chrono::steady_clock::now();
  validate(config);
  validate_architecture(spec);
  if (!config.checkpoint_path.empty()) {
    // One file cannot hold k runs; a fold's checkpoint would overwrite the last one's.
    throw InvalidArgument("cross-validation does not checkpoint: leave checkpoint unset");
  }
  const std::vector<torch::Tensor> folds = make_folds(data, cv.folds, config.seed, cv.stratified);

  CrossValidationResult result;
  std::vector<double> losses;
  std::vector<double> mses;
  for (int64_t i = 0; i < cv.folds; ++i) {
    std::vector<torch::Tensor> others;
    for (int64_t j = 0; j < cv.folds; ++j) {
      if (j != i) others.push_back(folds[j]);
    }
    const ImageSet train = data.subset(torch::cat(others));
    const ImageSet validation = data.subset(folds[i]);
    TrainConfig fold_config = config;
    fold_config.seed = config.seed + static_cast<uint64_t>(i);
    Autoencoder model(spec, fold_config.seed);
    result.folds.push_back(
        train_autoencoder_on_split(model, train, validation, test, fold_config, hooks, i));
    losses.push_back(result.folds.back().best_val_loss);
    mses.push_back(result.folds.back().best_val_mse);
    if (i == 0 || losses.back() < losses[result.best_fold]) {
      result.best_fold = i;
      result.best_model = model;
    }
  }
  const MeanAndStd loss = mean_and_std(losses);
  const MeanAndStd mse = mean_and_std(mses);
  result.mean_val_loss = loss.mean;
  result.std_val_loss = loss.std;
  result.mean_val_mse = mse.mean;
  result.std_val_mse = mse.std;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace udl
