#include "udl/autoencoder_training.h"

#include <cmath>

#include "engine.h"
#include "udl/errors.h"

namespace udl {
namespace {

torch::Tensor reconstruction_loss(const torch::Tensor& logits, const torch::Tensor& target,
                                  LossKind loss) {
  if (loss == LossKind::kBce) {
    // On logits: the sigmoid and the log fused, stable where the sigmoid saturates.
    return torch::binary_cross_entropy_with_logits(logits, target);
  }
  return torch::mse_loss(torch::sigmoid(logits), target);
}

// Separate seeded streams for the training, validation and test corruptions.
constexpr uint64_t kTrainCorruptionStream = 0x7A11;
constexpr uint64_t kValidationCorruptionStream = 0x7A12;
constexpr uint64_t kTestCorruptionStream = 0x7A13;

}  // namespace

void validate(const TrainConfig& config) {
  validate(static_cast<const LoopConfig&>(config));
  if (config.passes < 1) {
    throw InvalidArgument("passes must be >= 1, got " + std::to_string(config.passes));
  }
  validate(config.pruning);
  validate(config.corruption);
}

torch::Tensor autoencoding_loss(Autoencoder& model, const torch::Tensor& input,
                                const torch::Tensor& target, LossKind loss, int64_t passes,
                                torch::Tensor* first_logits) {
  torch::Tensor pass_input = input;
  torch::Tensor total;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const torch::Tensor logits = model->forward(pass_input);
    if (pass == 0 && first_logits != nullptr) *first_logits = logits;
    const torch::Tensor error = reconstruction_loss(logits, target, loss);
    total = pass == 0 ? error : total + error;
    if (pass + 1 < passes) pass_input = torch::sigmoid(logits);
  }
  return total;
}

Evaluation evaluate(Autoencoder& model, const ImageSet& set, const TrainConfig& config,
                    uint64_t corruption_seed) {
  torch::NoGradGuard no_grad;
  model->eval();
  const bool denoising = config.corruption.enabled();
  auto generator = make_generator(set.images().device(), corruption_seed);
  Evaluation sums;
  for (int64_t begin = 0; begin < set.size(); begin += config.batch_size) {
    const int64_t end = std::min(set.size(), begin + config.batch_size);
    const torch::Tensor images = set.slice(begin, end);
    const torch::Tensor input = denoising ? corrupt(images, config.corruption, generator) : images;
    torch::Tensor logits;
    const double n = static_cast<double>(end - begin);
    sums.loss += autoencoding_loss(model, input, images, config.loss, config.passes, &logits)
                     .item<double>() *
                 n;
    sums.mse += torch::mse_loss(torch::sigmoid(logits), images).item<double>() * n;
  }
  const double n = static_cast<double>(set.size());
  return {sums.loss / n, sums.mse / n};
}

DenoisingScores evaluate_denoising(Autoencoder& model, const ImageSet& images,
                                   const CorruptionConfig& corruption, uint64_t seed,
                                   int64_t batch_size) {
  validate(corruption);
  if (batch_size <= 0) throw InvalidArgument("batch size must be > 0");
  check_input_shape(model->spec(), images.images());
  const ImageSet set = images.to(device_of(*model));
  torch::NoGradGuard no_grad;
  model->eval();
  // Batch by batch from one generator, as evaluate() draws: the same corrupted images.
  auto generator = make_generator(set.images().device(), seed);
  DenoisingScores sums;
  for (int64_t begin = 0; begin < set.size(); begin += batch_size) {
    const int64_t end = std::min(set.size(), begin + batch_size);
    const torch::Tensor clean = set.slice(begin, end);
    const torch::Tensor corrupted = corrupt(clean, corruption, generator);
    const torch::Tensor denoised = torch::sigmoid(model->forward(corrupted));
    const double n = static_cast<double>(end - begin);
    sums.corrupted_mse += torch::mse_loss(corrupted, clean).item<double>() * n;
    sums.denoised_mse += torch::mse_loss(denoised, clean).item<double>() * n;
    sums.corrupted_psnr += mean_psnr(corrupted, clean) * n;
    sums.denoised_psnr += mean_psnr(denoised, clean) * n;
  }
  const double n = static_cast<double>(set.size());
  return {sums.corrupted_mse / n, sums.denoised_mse / n, sums.corrupted_psnr / n,
          sums.denoised_psnr / n};
}

TrainResult train_autoencoder(Autoencoder& model, const ImageSet& data, const ImageSet* test,
                              const TrainConfig& config, const TrainHooks& hooks) {
  validate(config);
  const TrainValidationSplit split = split_train_validation(data, config.val_fraction, config.seed);
  return train_autoencoder_on_split(model, split.train, split.validation, test, config, hooks);
}

TrainResult train_autoencoder_on_split(Autoencoder& model, const ImageSet& train_images,
                                       const ImageSet& validation_images,
                                       const ImageSet* test_images, const TrainConfig& config,
                                       const TrainHooks& hooks, int64_t fold) {
  validate(config);
  check_input_shape(model->spec(), train_images.images());
  check_input_shape(model->spec(), validation_images.images());
  if (test_images != nullptr) check_input_shape(model->spec(), test_images->images());
  detail::Engine<EpochRecord> engine("autoencoder", config, hooks);
  model->move_to(engine.device());
  const ImageSet train = train_images.to(engine.device());
  const ImageSet validation = validation_images.to(engine.device());
  std::optional<ImageSet> test;
  if (test_images != nullptr) test = test_images->to(engine.device());
  torch::optim::Optimizer& optimizer = engine.optimizer(model->parameters());
  auto corruption_generator = make_generator(engine.device(), config.seed ^ kTrainCorruptionStream);
  engine.track(corruption_generator);
  engine.track(model->random_generator());
  const std::vector<PrunableWeight> prunable = model->prunable_weights();
  const bool pruning = config.pruning.enabled();
  const bool denoising = config.corruption.enabled();

  auto train_batch = [&](const torch::Tensor& indices) {
    const torch::Tensor images = train.batch(indices);
    const torch::Tensor input =
        denoising ? corrupt(images, config.corruption, corruption_generator) : images;
    optimizer.zero_grad();
    torch::Tensor loss = autoencoding_loss(model, input, images, config.loss, config.passes);
    loss.backward();
    if (pruning) mask_gradients(prunable);
    optimizer.step();
    if (pruning) apply_masks(prunable);  // weight decay and momentum must not revive them
    return loss.item<double>();
  };
  auto run_epoch = [&](int64_t epoch) {
    model->train();
    EpochRecord record;
    record.fold = fold;
    record.train_loss = engine.shuffled_batches(train.size(), train_batch);
    if (pruning && epoch % config.pruning.every == 0) prune_l1(prunable, config.pruning);
    const Evaluation val =
        evaluate(model, validation, config, config.seed ^ kValidationCorruptionStream);
    record.val_loss = val.loss;
    record.val_mse = val.mse;
    record.sparsity = sparsity(prunable);
    return record;
  };
  TrainResult result;
  engine.run(result, *model, run_epoch, &EpochRecord::val_loss);
  if (result.best_epoch > 0) result.best_val_mse = result.history[result.best_epoch - 1].val_mse;
  if (test) {
    const uint64_t test_seed = config.seed ^ kTestCorruptionStream;
    const Evaluation on_test = evaluate(model, *test, config, test_seed);
    result.test_loss = on_test.loss;
    result.test_mse = on_test.mse;
    if (denoising) {
      result.test_denoising =
          evaluate_denoising(model, *test, config.corruption, test_seed, config.batch_size);
    }
  }
  return result;
}

}  // namespace udl
