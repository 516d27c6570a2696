// Private to udl_core: the one training engine every model trains through. A model's train
// function makes an Engine (thread count, allocation cache, timer, shuffling generator), asks
// it for its optimizers, registers the generators it draws from, and hands `run` its epoch:
// train on shuffled batches, evaluate, fill its record. The engine does the rest: epochs,
// divergence, early stopping, plateau decay, the best epoch's weights, the hooks (callback,
// Ctrl-C), checkpoint and exact resume, and the result's shared fields.
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "allocation_cache.h"
#include "checkpoint.h"
#include "udl/device.h"
#include "udl/figures.h"
#include "udl/loop.h"
#include "udl/torch_api.h"

namespace udl::detail {

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

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(std::vector<torch::Tensor> parameters,
                                                        const LoopConfig& config);

// The module's parameters and buffers, copied, to restore the best epoch later.
std::vector<torch::Tensor> snapshot(torch::nn::Module& model);
void scale_learning_rate(torch::optim::Optimizer& optimizer, double factor);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
void restore(torch::nn::Module& model, const std::vector<torch::Tensor>& state);

// Whether every floating-point figure of `record` is finite (a NaN or infinite loss means
// the run diverged).
template <typename Record>
bool all_finite(const Record& record) {
  bool finite = true;
  for_each_figure(record, [&](const char*, const auto& value) {
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>) {
      finite = finite && std::isfinite(value);
    }
  });
  return finite;
}

template <typename Record>
class Engine {
 public:
  // `kind` names the loop in its checkpoints ("autoencoder", "vae", ...): a checkpoint of
  // another kind is refused.
  Engine(std::string kind, const LoopConfig& config, const LoopHooks<Record>& hooks)
      : kind_(std::move(kind)),
        config_(config),
        hooks_(hooks),
        threads_(config.threads),
        device_(resolve_device(config.device)),
        deterministic_(device_),
        start_(std::chrono::steady_clock::now()),
        shuffle_generator_(at::make_generator<at::CPUGeneratorImpl>(config.seed + 1)) {
    generators_.push_back(shuffle_generator_);
  }

  // An optimizer of `parameters` with the loop's settings; part of every checkpoint.
  // `lr_scale` multiplies the loop's learning rate for this optimizer alone, also under a
  // schedule (the GAN's discriminator may learn faster than its generator).
  torch::optim::Optimizer& optimizer(std::vector<torch::Tensor> parameters, double lr_scale = 1.0) {
    optimizers_.push_back(make_optimizer(std::move(parameters), config_));
    lr_scales_.push_back(lr_scale);
    if (lr_scale != 1.0) scale_learning_rate(*optimizers_.back(), lr_scale);
    return *optimizers_.back();
  }

  // Where the run trains: the model and its data go there before training.
  const torch::Device& device() const { return device_; }

  // A generator the run draws from (corruption, dropout, noise); part of every checkpoint.
  void track(const at::Generator& generator) { generators_.push_back(generator); }

  // Tensors the model keeps across epochs (the GAN's samples), written with every checkpoint
  // and handed back to `load` on resume.
  void keep(std::function<std::vector<torch::Tensor>()> save,
            std::function<void(const std::vector<torch::Tensor>&)> load) {
    save_kept_ = std::move(save);
    load_kept_ = std::move(load);
  }

  // Runs `step` on the batches of a fresh seeded permutation of 0..n-1 (indices, int64),
  // polling for interrupts between them, and returns the sample-weighted mean of what it
  // returns (the batch's mean loss).
  template <typename Step>
  double shuffled_batches(int64_t n, Step&& step) {
    // Drawn on the CPU whatever the device: the same order everywhere.
    const torch::Tensor order = torch::randperm(n, shuffle_generator_, torch::kInt64).to(device_);
    const int64_t batches = (n + config_.batch_size - 1) / config_.batch_size;
    double sum = 0.0;
    for (int64_t begin = 0; begin < n; begin += config_.batch_size) {
      if (hooks_.poll_interrupt) hooks_.poll_interrupt();
      if (config_.lr_schedule != LrSchedule::kConstant) {
        // From the batch's place in the whole run: a resumed run continues the schedule.
        const int64_t batch = (epoch_ - 1) * batches + begin / config_.batch_size;
        const double lr = scheduled_learning_rate(config_.lr_schedule, config_.learning_rate, batch,
                                                  config_.epochs * batches);
        for (size_t i = 0; i < optimizers_.size(); ++i) {
          set_learning_rate(*optimizers_[i], lr * lr_scales_[i]);
        }
      }
      const int64_t end = std::min(n, begin + config_.batch_size);
      sum += step(order.slice(0, begin, end)) * static_cast<double>(end - begin);
    }
    return sum / static_cast<double>(n);
  }

  // Fills `result`'s TrainingRun fields by calling `run_epoch(epoch)` for epochs
  // 1..config.epochs; it trains one epoch and returns its record with the model's figures
  // set. The engine sets epoch, seconds and improved (from `monitored`, the figure early
  // stopping and the plateau watch; nullptr for a run without a validation loss), reports to
  // the hook, reduces the learning rates on a plateau, stops on a non-finite figure or by
  // early stopping, and puts the best epoch's weights back when asked. With a checkpoint
  // path it writes a checkpoint after every finite epoch (before the hook, which may stop
  // the run) and, with resume, starts from an existing one.
  template <typename Result, typename RunEpoch>
  void run(Result& result, torch::nn::Module& model, RunEpoch&& run_epoch,
           double Record::*monitored) {
    static_cast<TrainingRun<Record>&>(result) = run_epochs(model, run_epoch, monitored);
  }

 private:
  template <typename RunEpoch>
  TrainingRun<Record> run_epochs(torch::nn::Module& model, RunEpoch& run_epoch,
                                 double Record::*monitored) {
    EarlyStopping stopping(config_.early_stopping);
    int64_t epochs_on_plateau = 0;
    std::vector<torch::Tensor> best_state;
    TrainingRun<Record> outcome;
    LoopProgress progress;
    const bool checkpointing = !config_.checkpoint_path.empty();
    const CheckpointIdentity identity{kind_, config_.seed, config_.batch_size, config_.optimizer};
    std::vector<torch::optim::Optimizer*> optimizers;
    for (auto& optimizer : optimizers_) optimizers.push_back(optimizer.get());
    if (checkpointing && config_.resume && std::filesystem::exists(config_.checkpoint_path)) {
      progress = read_checkpoint(config_.checkpoint_path, identity, model, optimizers, generators_,
                                 device_);
      stopping.restore(progress.stopping);
      epochs_on_plateau = progress.epochs_on_plateau;
      best_state = progress.best_state;
      for (const auto& row : progress.history) outcome.history.push_back(from_row<Record>(row));
      if (load_kept_) load_kept_(progress.kept);
    }
    for (int64_t epoch = progress.epoch + 1; epoch <= config_.epochs; ++epoch) {
      if (stopping.should_stop()) {  // a resumed run that had stopped early already
        outcome.stop_reason = "early stopping";
        break;
      }
      const auto start = std::chrono::steady_clock::now();
      epoch_ = epoch;
      Record record = [&] {
        const AutocastGuard autocast(config_.precision, device_);
        return run_epoch(epoch);
      }();
      record.epoch = epoch;
      record.seconds = seconds_since(start);
      const bool diverged = !all_finite(record);
      record.improved = !diverged && monitored && stopping.record(epoch, record.*monitored);
      if (record.improved && config_.early_stopping.restore_best) best_state = snapshot(model);
      epochs_on_plateau = record.improved ? 0 : epochs_on_plateau + 1;
      if (monitored && config_.lr_decay < 1.0 && epochs_on_plateau >= config_.lr_patience) {
        for (auto* optimizer : optimizers) scale_learning_rate(*optimizer, config_.lr_decay);
        epochs_on_plateau = 0;
      }
      outcome.history.push_back(record);
      if (checkpointing && !diverged) {
        progress.epoch = epoch;
        progress.stopping = stopping.state();
        progress.epochs_on_plateau = epochs_on_plateau;
        progress.best_state = best_state;
        progress.history.push_back(to_row(record));
        if (save_kept_) progress.kept = save_kept_();
        write_checkpoint(config_.checkpoint_path, identity, model, optimizers, generators_,
                         progress);
      }
      if (hooks_.on_epoch) hooks_.on_epoch(record);
      if (diverged) {
        outcome.stop_reason = "diverged at epoch " + std::to_string(epoch);
        break;
      }
      if (monitored && stopping.should_stop()) {
        outcome.stop_reason = "early stopping";
        break;
      }
    }
    if (!best_state.empty()) restore(model, best_state);
    outcome.best_epoch = std::max<int64_t>(stopping.best_epoch(), 0);
    outcome.best_val_loss = stopping.best_loss();
    outcome.seconds = seconds_since(start_);
    return outcome;
  }

  std::string kind_;
  const LoopConfig& config_;
  const LoopHooks<Record>& hooks_;
  ThreadCountGuard threads_;
  torch::Device device_;
  DeterministicCudnnGuard deterministic_;
  CpuAllocationCache allocation_cache_;
  std::chrono::steady_clock::time_point start_;
  int64_t epoch_ = 1;  // the epoch being trained, 1-based
  at::Generator shuffle_generator_;
  std::vector<at::Generator> generators_;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> optimizers_;
  std::vector<double> lr_scales_;  // one per optimizer
  std::function<std::vector<torch::Tensor>()> save_kept_;
  std::function<void(const std::vector<torch::Tensor>&)> load_kept_;
};

}  // namespace udl::detail
