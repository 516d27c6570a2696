#include "udl/cross_validation.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "checkpoint.h"
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

constexpr const char* kProgressFormat = "udl cross-validation";

// What a cross-validation's progress file identifies: resuming another run is refused.
struct RunIdentity {
  uint64_t seed;
  int64_t folds;
  int64_t images;
  int64_t batch_size;
};

// One finished fold's result as archive entries under `prefix` and back.
void write_fold(torch::serialize::OutputArchive& archive, const std::string& prefix,
                const TrainResult& fold) {
  std::vector<torch::Tensor> rows;
  for (const auto& record : fold.history) {
    rows.push_back(torch::tensor(to_row(record), torch::kFloat64));
  }
  archive.write(prefix + "history",
                rows.empty() ? torch::empty({0, 0}, torch::kFloat64) : torch::stack(rows));
  archive.write(prefix + "best_epoch", c10::IValue(fold.best_epoch));
  archive.write(prefix + "best_val_loss", c10::IValue(fold.best_val_loss));
  archive.write(prefix + "best_val_mse", c10::IValue(fold.best_val_mse));
  archive.write(prefix + "seconds", c10::IValue(fold.seconds));
  archive.write(prefix + "stop_reason", c10::IValue(fold.stop_reason));
  const DenoisingScores denoising = fold.test_denoising.value_or(DenoisingScores{});
  archive.write(prefix + "test",
                torch::tensor({fold.test_loss.has_value() ? 1.0 : 0.0, fold.test_loss.value_or(0),
                               fold.test_mse.value_or(0), fold.test_denoising ? 1.0 : 0.0,
                               denoising.corrupted_mse, denoising.denoised_mse,
                               denoising.corrupted_psnr, denoising.denoised_psnr},
                              torch::kFloat64));
}

TrainResult read_fold(torch::serialize::InputArchive& archive, const std::string& prefix) {
  TrainResult fold;
  const torch::Tensor history = detail::read_tensor(archive, prefix + "history").contiguous();
  for (int64_t r = 0; r < history.size(0); ++r) {
    const double* row = history[r].data_ptr<double>();
    fold.history.push_back(from_row<EpochRecord>({row, row + history.size(1)}));
  }
  fold.best_epoch = detail::read_int(archive, prefix + "best_epoch");
  fold.best_val_loss = detail::read_double(archive, prefix + "best_val_loss");
  fold.best_val_mse = detail::read_double(archive, prefix + "best_val_mse");
  fold.seconds = detail::read_double(archive, prefix + "seconds");
  fold.stop_reason = detail::read_string(archive, prefix + "stop_reason");
  const torch::Tensor test = detail::read_tensor(archive, prefix + "test").contiguous();
  const double* t = test.data_ptr<double>();
  if (t[0] != 0.0) {
    fold.test_loss = t[1];
    fold.test_mse = t[2];
  }
  if (t[3] != 0.0) fold.test_denoising = DenoisingScores{t[4], t[5], t[6], t[7]};
  return fold;
}

void write_progress(const std::string& path, const RunIdentity& identity,
                    const std::vector<TrainResult>& folds, int64_t best_fold,
                    Autoencoder& best_model) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string(kProgressFormat)));
  archive.write("seed", c10::IValue(static_cast<int64_t>(identity.seed)));
  archive.write("folds", c10::IValue(identity.folds));
  archive.write("images", c10::IValue(identity.images));
  archive.write("batch_size", c10::IValue(identity.batch_size));
  archive.write("finished", c10::IValue(static_cast<int64_t>(folds.size())));
  for (size_t i = 0; i < folds.size(); ++i) write_fold(archive, std::to_string(i) + ".", folds[i]);
  archive.write("best_fold", c10::IValue(best_fold));
  torch::serialize::OutputArchive model_archive;
  best_model->save(model_archive);
  archive.write("best_model", model_archive);
  detail::save_atomically(archive, path);
}

// Reads the finished folds and the best model (built from `spec` with `best_seed(fold)`).
// Throws InvalidArgument for a checkpoint of another run and DataFormatError for a file that
// is not one or is damaged.
template <typename BestSeed>
void read_progress(const std::string& path, const RunIdentity& identity,
                   const AutoencoderSpec& spec, BestSeed&& best_seed, CrossValidationResult& out) {
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, torch::Device(torch::kCPU));  // written on any device
    if (detail::read_string(archive, "format") != kProgressFormat) {
      throw std::runtime_error("not a cross-validation checkpoint");
    }
    detail::require_same(path, "seed", detail::read_int(archive, "seed"),
                         static_cast<int64_t>(identity.seed));
    detail::require_same(path, "k (folds)", detail::read_int(archive, "folds"), identity.folds);
    detail::require_same(path, "images", detail::read_int(archive, "images"), identity.images);
    detail::require_same(path, "batch_size", detail::read_int(archive, "batch_size"),
                         identity.batch_size);
    const int64_t finished = detail::read_int(archive, "finished");
    for (int64_t i = 0; i < finished; ++i) {
      out.folds.push_back(read_fold(archive, std::to_string(i) + "."));
    }
    out.best_fold = detail::read_int(archive, "best_fold");
    out.best_model = Autoencoder(spec, best_seed(out.best_fold));
    torch::serialize::InputArchive model_archive;
    archive.read("best_model", model_archive);
    try {
      out.best_model->load(model_archive);
    } catch (const std::exception&) {
      throw InvalidArgument("checkpoint " + path + " holds a model of another architecture");
    }
  } catch (const InvalidArgument&) {
    throw;
  } catch (const std::exception& error) {
    throw DataFormatError("checkpoint " + path +
                          " is not a udl cross-validation checkpoint or is damaged (" +
                          std::string(error.what()).substr(0, 200) + ")");
  }
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

CrossValidationResult cross_validate(const AutoencoderSpec& spec, const ImageSet& images,
                                     const ImageSet* test_images, const TrainConfig& config,
                                     const CrossValidationConfig& cv, const TrainHooks& hooks) {
  const auto start = std::chrono::steady_clock::now();
  validate(config);
  validate_architecture(spec);
  const std::vector<torch::Tensor> folds = make_folds(images, cv.folds, config.seed, cv.stratified);
  // The images go to the device once; every fold's parts are cut there.
  const torch::Device device = resolve_device(config.device);
  const ImageSet data = images.to(device);
  std::optional<ImageSet> test_on_device;
  if (test_images != nullptr) test_on_device = test_images->to(device);
  const ImageSet* test = test_on_device ? &*test_on_device : nullptr;
  const std::string& progress_path = config.checkpoint_path;
  const RunIdentity identity{config.seed, cv.folds, data.size(), config.batch_size};
  const auto fold_seed = [&](int64_t i) { return config.seed + static_cast<uint64_t>(i); };

  CrossValidationResult result;
  if (!progress_path.empty() && config.resume && std::filesystem::exists(progress_path)) {
    read_progress(progress_path, identity, spec, fold_seed, result);
    result.best_model->move_to(device);  // where the folds trained this run go too
  }
  for (int64_t i = static_cast<int64_t>(result.folds.size()); i < cv.folds; ++i) {
    std::vector<torch::Tensor> others;
    for (int64_t j = 0; j < cv.folds; ++j) {
      if (j != i) others.push_back(folds[j]);
    }
    const ImageSet train = data.subset(torch::cat(others).to(device));
    const ImageSet validation = data.subset(folds[i].to(device));
    TrainConfig fold_config = config;
    fold_config.seed = fold_seed(i);
    if (!progress_path.empty())
      fold_config.checkpoint_path = progress_path + ".fold" + std::to_string(i);
    Autoencoder model(spec, fold_config.seed);
    result.folds.push_back(
        train_autoencoder_on_split(model, train, validation, test, fold_config, hooks, i));
    if (i == 0 ||
        result.folds.back().best_val_loss < result.folds[result.best_fold].best_val_loss) {
      result.best_fold = i;
      result.best_model = model;
    }
    if (!progress_path.empty()) {
      write_progress(progress_path, identity, result.folds, result.best_fold, result.best_model);
      std::filesystem::remove(fold_config.checkpoint_path);  // the fold is in the progress file
    }
  }
  std::vector<double> losses;
  std::vector<double> mses;
  for (const TrainResult& fold : result.folds) {
    losses.push_back(fold.best_val_loss);
    mses.push_back(fold.best_val_mse);
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
