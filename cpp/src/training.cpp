#include "udl/training.h"

#include <chrono>
#include <cmath>

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

std::unique_ptr<torch::optim::Optimizer> make_optimizer(Autoencoder& model,
                                                        const TrainConfig& config) {
  if (config.optimizer == OptimizerKind::kSgd) {
    return std::make_unique<torch::optim::SGD>(model->parameters(),
                                               torch::optim::SGDOptions(config.learning_rate)
                                                   .momentum(config.momentum)
                                                   .weight_decay(config.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(
      model->parameters(),
      torch::optim::AdamOptions(config.learning_rate).weight_decay(config.weight_decay));
}

// The model's parameters and buffers, copied, to restore the best epoch later.
std::vector<torch::Tensor> snapshot(Autoencoder& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const auto& p : model->parameters()) state.push_back(p.detach().clone());
  for (const auto& b : model->buffers()) state.push_back(b.detach().clone());
  return state;
}

void restore(Autoencoder& model, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : model->parameters()) p.copy_(state[i++]);
  for (auto& b : model->buffers()) b.copy_(state[i++]);
}

// Sets LibTorch's intra-op thread count for one training run and restores it afterwards.
class ThreadCountGuard {
 public:
  explicit ThreadCountGuard(int threads) : previous_(at::get_num_threads()) {
    if (threads > 0) at::set_num_threads(threads);
  }
  ~ThreadCountGuard() { at::set_num_threads(previous_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int previous_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

LossKind parse_loss(const std::string& name) {
  if (name == "mse") return LossKind::kMse;
  if (name == "bce") return LossKind::kBce;
  throw InvalidArgument("unknown loss '" + name + "' (expected 'mse' or 'bce')");
}

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "adam") return OptimizerKind::kAdam;
  if (name == "sgd") return OptimizerKind::kSgd;
  throw InvalidArgument("unknown optimizer '" + name + "' (expected 'adam' or 'sgd')");
}

void validate(const TrainConfig& config) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw InvalidArgument(message);
  };
  require(std::isfinite(config.learning_rate) && config.learning_rate > 0,
          "lr (learning rate) must be > 0, got " + std::to_string(config.learning_rate));
  require(std::isfinite(config.momentum) && config.momentum >= 0 && config.momentum < 1,
          "momentum must be in [0, 1), got " + std::to_string(config.momentum));
  require(std::isfinite(config.weight_decay) && config.weight_decay >= 0,
          "weight_decay must be >= 0, got " + std::to_string(config.weight_decay));
  require(config.batch_size > 0,
          "batch_size must be > 0, got " + std::to_string(config.batch_size));
  require(config.epochs > 0, "epochs must be > 0, got " + std::to_string(config.epochs));
  require(config.val_fraction > 0 && config.val_fraction < 1,
          "val_fraction must be in (0, 1), got " + std::to_string(config.val_fraction));
  require(config.threads >= 0, "threads must be >= 0, got " + std::to_string(config.threads));
  require(config.passes >= 1, "passes must be >= 1, got " + std::to_string(config.passes));
  EarlyStopping{config.early_stopping};  // validates patience and min_delta
  validate(config.pruning);
}

torch::Tensor autoencoding_loss(Autoencoder& model, const torch::Tensor& images, LossKind loss,
                                int64_t passes, torch::Tensor* first_logits) {
  torch::Tensor input = images;
  torch::Tensor total;
  for (int64_t pass = 0; pass < passes; ++pass) {
    const torch::Tensor logits = model->forward(input);
    if (pass == 0 && first_logits != nullptr) *first_logits = logits;
    const torch::Tensor error = reconstruction_loss(logits, images, loss);
    total = pass == 0 ? error : total + error;
    if (pass + 1 < passes) input = torch::sigmoid(logits);
  }
  return total;
}

Evaluation evaluate(Autoencoder& model, const ImageSet& set, LossKind loss, int64_t passes,
                    int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model->eval();
  Evaluation sums;
  for (int64_t begin = 0; begin < set.size(); begin += batch_size) {
    const int64_t end = std::min(set.size(), begin + batch_size);
    const torch::Tensor images = set.slice(begin, end);
    torch::Tensor logits;
    const double n = static_cast<double>(end - begin);
    sums.loss += autoencoding_loss(model, images, loss, passes, &logits).item<double>() * n;
    sums.mse += torch::mse_loss(torch::sigmoid(logits), images).item<double>() * n;
  }
  const double n = static_cast<double>(set.size());
  return {sums.loss / n, sums.mse / n};
}

TrainResult train_autoencoder(Autoencoder& model, const ImageSet& data, const ImageSet* test,
                              const TrainConfig& config, const TrainHooks& hooks) {
  validate(config);
  const TrainValidationSplit split = split_train_validation(data, config.val_fraction, config.seed);
  return train_autoencoder_on_split(model, split.train, split.validation, test, config, hooks);
}

TrainResult train_autoencoder_on_split(Autoencoder& model, const ImageSet& train,
                                       const ImageSet& validation, const ImageSet* test,
                                       const TrainConfig& config, const TrainHooks& hooks,
                                       int64_t fold) {
  const auto run_start = std::chrono::steady_clock::now();
  validate(config);
  check_input_shape(model->spec(), train.images());
  check_input_shape(model->spec(), validation.images());
  if (test != nullptr) check_input_shape(model->spec(), test->images());
  const ThreadCountGuard threads(config.threads);

  const int64_t n_train = train.size();
  auto optimizer = make_optimizer(model, config);
  auto shuffle_generator = at::make_generator<at::CPUGeneratorImpl>(config.seed + 1);
  EarlyStopping stopping(config.early_stopping);
  const std::vector<PrunableWeight> prunable = model->prunable_weights();
  const bool pruning = config.pruning.enabled();
  std::vector<torch::Tensor> best_state;

  TrainResult result;
  result.stop_reason = "completed";
  for (int64_t epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    model->train();
    const torch::Tensor order = torch::randperm(n_train, shuffle_generator, torch::kInt64);
    double loss_sum = 0.0;
    for (int64_t begin = 0; begin < n_train; begin += config.batch_size) {
      if (hooks.poll_interrupt) hooks.poll_interrupt();
      const int64_t end = std::min(n_train, begin + config.batch_size);
      const torch::Tensor images = train.batch(order.slice(0, begin, end));
      optimizer->zero_grad();
      torch::Tensor loss = autoencoding_loss(model, images, config.loss, config.passes);
      loss.backward();
      if (pruning) mask_gradients(prunable);
      optimizer->step();
      if (pruning) apply_masks(prunable);  // weight decay and momentum must not revive them
      loss_sum += loss.item<double>() * static_cast<double>(end - begin);
    }
    if (pruning && epoch % config.pruning.every == 0) prune_l1(prunable, config.pruning);

    EpochStats stats;
    stats.fold = fold;
    stats.epoch = epoch;
    stats.train_loss = loss_sum / static_cast<double>(n_train);
    const Evaluation val =
        evaluate(model, validation, config.loss, config.passes, config.batch_size);
    stats.val_loss = val.loss;
    stats.val_mse = val.mse;
    stats.sparsity = sparsity(prunable);
    stats.seconds = seconds_since(start);
    const bool diverged = !std::isfinite(stats.train_loss) || !std::isfinite(stats.val_loss);
    stats.improved = !diverged && stopping.record(epoch, stats.val_loss);
    if (stats.improved) {
      result.best_val_mse = stats.val_mse;
      if (config.early_stopping.restore_best) best_state = snapshot(model);
    }
    result.history.push_back(stats);
    if (hooks.on_epoch) hooks.on_epoch(stats);
    if (diverged) {
      result.stop_reason = "diverged at epoch " + std::to_string(epoch);
      break;
    }
    if (stopping.should_stop()) {
      result.stop_reason = "early stopping";
      break;
    }
  }
  if (!best_state.empty()) restore(model, best_state);
  result.best_epoch = stopping.best_epoch() > 0 ? stopping.best_epoch() : 0;
  result.best_val_loss = stopping.best_loss();
  result.seconds = seconds_since(run_start);
  if (test != nullptr) {
    const Evaluation on_test =
        evaluate(model, *test, config.loss, config.passes, config.batch_size);
    result.test_loss = on_test.loss;
    result.test_mse = on_test.mse;
  }
  return result;
}

}  // namespace udl
