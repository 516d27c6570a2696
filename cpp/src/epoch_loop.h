// Private to udl_core: the machinery the training loops share — thread count, optimizer,
// shuffled batches, and the epoch loop with divergence detection, early stopping and
// restoring the best epoch.
#pragma once

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "allocation_cache.h"
#include "checkpoint.h"
#include "udl/torch_api.h"
#include "udl/training_loop.h"

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
void restore(torch::nn::Module& model, const std::vector<torch::Tensor>& state);

// Runs `step` on the batches of a fresh seeded permutation of 0..n-1 (indices, int64) and
// returns the sample-weighted mean of what it returns (the batch's mean loss).
template <typename Step>
double run_shuffled_batches(int64_t n, int64_t batch_size, at::Generator& generator,
                            const std::function<void()>& poll_interrupt, Step&& step) {
  const torch::Tensor order = torch::randperm(n, generator, torch::kInt64);
  double sum = 0.0;
  for (int64_t begin = 0; begin < n; begin += batch_size) {
    if (poll_interrupt) poll_interrupt();
    const int64_t end = std::min(n, begin + batch_size);
    sum += step(order.slice(0, begin, end)) * static_cast<double>(end - begin);
  }
  return sum / static_cast<double>(n);
}

template <typename Stats>
struct EpochLoopOutcome {
  std::vector<Stats> history;
  int64_t best_epoch = 0;  // 0: no epoch ended with a finite loss
  double best_val_loss = std::numeric_limits<double>::infinity();
  std::string stop_reason = "completed";  // or "early stopping", "diverged at epoch E"
};

// What a loop's checkpoint holds beyond the model and optimizer: its identity and every
// random-number generator it draws from (shuffling, corruption, dropout, noise).
struct Resumable {
  CheckpointIdentity identity;
  std::vector<at::Generator> generators;
};

// Calls `run_epoch(epoch)` for epochs 1..config.epochs; it trains one epoch and returns its
// Stats with train_loss and val_loss set. This sets epoch, seconds and improved, reports to
// the hook, reduces `optimizer`'s learning rate on a plateau, stops on a non-finite loss or
// by early stopping, and puts the best epoch's weights back into `model` when asked. With
// config.checkpoint_path it writes a checkpoint after every finite epoch (before the hook,
// which may stop the run) and, with config.resume, starts from an existing one.
template <typename Stats, typename RunEpoch>
EpochLoopOutcome<Stats> run_epochs(torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                                   const LoopConfig& config, const LoopHooks<Stats>& hooks,
                                   const Resumable& resumable, RunEpoch&& run_epoch) {
  EarlyStopping stopping(config.early_stopping);
  int64_t epochs_on_plateau = 0;
  std::vector<torch::Tensor> best_state;
  EpochLoopOutcome<Stats> outcome;
  LoopProgress progress;
  const bool checkpointing = !config.checkpoint_path.empty();
  if (checkpointing && config.resume && std::filesystem::exists(config.checkpoint_path)) {
    progress = read_checkpoint(config.checkpoint_path, resumable.identity, model, optimizer,
                               resumable.generators);
    stopping.restore(progress.stopping);
    epochs_on_plateau = progress.epochs_on_plateau;
    best_state = progress.best_state;
    for (const auto& row : progress.history) {
      Stats stats;
      from_row(row, stats);
      outcome.history.push_back(stats);
    }
  }
  for (int64_t epoch = progress.epoch + 1; epoch <= config.epochs; ++epoch) {
    if (stopping.should_stop()) {  // a resumed run that had stopped early already
      outcome.stop_reason = "early stopping";
      break;
    }
    const auto start = std::chrono::steady_clock::now();
    Stats stats = run_epoch(epoch);
    stats.epoch = epoch;
    stats.seconds = seconds_since(start);
    const bool diverged = !std::isfinite(stats.train_loss) || !std::isfinite(stats.val_loss);
    stats.improved = !diverged && stopping.record(epoch, stats.val_loss);
    if (stats.improved && config.early_stopping.restore_best) best_state = snapshot(model);
    epochs_on_plateau = stats.improved ? 0 : epochs_on_plateau + 1;
    if (config.lr_decay < 1.0 && epochs_on_plateau >= config.lr_patience) {
      scale_learning_rate(optimizer, config.lr_decay);
      epochs_on_plateau = 0;
    }
    outcome.history.push_back(stats);
    if (checkpointing && !diverged) {
      progress.epoch = epoch;
      progress.stopping = stopping.state();
      progress.epochs_on_plateau = epochs_on_plateau;
      progress.best_state = best_state;
      progress.history.push_back(to_row(stats));
      write_checkpoint(config.checkpoint_path, resumable.identity, model, optimizer,
                       resumable.generators, progress);
    }
    if (hooks.on_epoch) hooks.on_epoch(stats);
    if (diverged) {
      outcome.stop_reason = "diverged at epoch " + std::to_string(epoch);
      break;
    }
    if (stopping.should_stop()) {
      outcome.stop_reason = "early stopping";
      break;
    }
  }
  if (!best_state.empty()) restore(model, best_state);
  outcome.best_epoch = std::max<int64_t>(stopping.best_epoch(), 0);
  outcome.best_val_loss = stopping.best_loss();
  return outcome;
}

}  // namespace udl::detail
