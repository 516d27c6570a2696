#include "udl/loop.h"

#include <algorithm>
#include <cmath>

#include "engine.h"
#include "udl/errors.h"

namespace udl {

void validate(const LoopConfig& config) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw InvalidArgument(message);
  };
  require(std::isfinite(config.learning_rate) && config.learning_rate > 0,
          "lr (learning rate) must be > 0, got " + std::to_string(config.learning_rate));
  require(std::isfinite(config.momentum) && config.momentum >= 0 && config.momentum < 1,
          "momentum must be in [0, 1), got " + std::to_string(config.momentum));
  require(config.beta1 >= 0 && config.beta1 < 1,
          "beta1 must be in [0, 1), got " + std::to_string(config.beta1));
  require(config.beta2 >= 0 && config.beta2 < 1,
          "beta2 must be in [0, 1), got " + std::to_string(config.beta2));
  require(std::isfinite(config.weight_decay) && config.weight_decay >= 0,
          "weight_decay must be >= 0, got " + std::to_string(config.weight_decay));
  require(config.batch_size > 0,
          "batch_size must be > 0, got " + std::to_string(config.batch_size));
  require(config.epochs > 0, "epochs must be > 0, got " + std::to_string(config.epochs));
  require(config.val_fraction > 0 && config.val_fraction < 1,
          "val_fraction must be in (0, 1), got " + std::to_string(config.val_fraction));
  require(config.lr_decay > 0 && config.lr_decay <= 1,
          "lr_decay must be in (0, 1], got " + std::to_string(config.lr_decay));
  require(config.lr_patience >= 1,
          "lr_patience must be >= 1, got " + std::to_string(config.lr_patience));
  require(config.lr_schedule == LrSchedule::kConstant || config.lr_decay == 1.0,
          std::string("lr_decay lowers a constant learning rate on plateaus; with lr_schedule ") +
              choice_name(kLrScheduleNames, config.lr_schedule) + " it must be 1, got " +
              std::to_string(config.lr_decay));
  require(config.threads >= 0, "threads must be >= 0, got " + std::to_string(config.threads));
  const torch::Device device = resolve_device(config.device);
  require(config.precision == Precision::kFloat32 || device.is_cuda(),
          "precision bf16 needs a CUDA device, got device \"" + config.device + "\"");
  require(!config.resume || !config.checkpoint_path.empty(),
          "resume needs a checkpoint file to resume from");
  EarlyStopping{config.early_stopping};  // validates patience and min_delta
}

double scheduled_learning_rate(LrSchedule schedule, double lr, int64_t step, int64_t total) {
  // Cosine from `from` at fraction 0 to `to` at fraction 1.
  auto anneal = [](double from, double to, double fraction) {
    return to + (from - to) / 2.0 * (1.0 + std::cos(M_PI * fraction));
  };
  if (schedule == LrSchedule::kConstant || total <= 1) return lr;
  const double t = static_cast<double>(std::clamp<int64_t>(step, 0, total - 1));
  if (schedule == LrSchedule::kCosine) return anneal(lr, 0.0, t / static_cast<double>(total));
  const double initial = lr / 25.0;
  const double final_lr = initial / 1e4;
  // The warm-up's last step; below 0 for 3 batches or fewer, which then only anneal.
  const double peak = 0.3 * static_cast<double>(total) - 1.0;
  if (t <= peak) return anneal(initial, lr, t / peak);
  return anneal(lr, final_lr, (t - peak) / (static_cast<double>(total) - 1.0 - peak));
}

namespace detail {

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const LoopConfig& config) {
  if (config.optimizer == OptimizerKind::kSgd) {
    return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                               torch::optim::SGDOptions(config.learning_rate)
                                                   .momentum(config.momentum)
                                                   .weight_decay(config.weight_decay));
  }
  return std::make_unique<torch::optim::Adam>(std::move(parameters),
                                              torch::optim::AdamOptions(config.learning_rate)
                                                  .betas({config.beta1, config.beta2})
                                                  .weight_decay(config.weight_decay));
}

std::vector<torch::Tensor> snapshot(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> state;
  for (const auto& p : model.parameters()) state.push_back(p.detach().clone());
  for (const auto& b : model.buffers()) state.push_back(b.detach().clone());
  return state;
}

void scale_learning_rate(torch::optim::Optimizer& optimizer, double factor) {
  for (auto& group : optimizer.param_groups()) {
    group.options().set_lr(group.options().get_lr() * factor);
  }
}

void restore(torch::nn::Module& model, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : model.parameters()) p.copy_(state[i++]);
  for (auto& b : model.buffers()) b.copy_(state[i++]);
}

}  // namespace detail
}  // namespace udl
