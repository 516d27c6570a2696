// Private to udl_core: a training loop's checkpoint — model, optimizer, random-number
// generators, epoch, early-stopping and plateau state, the best epoch's weights and the
// history so far — written atomically after every epoch and read back to resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "udl/classifier.h"
#include "udl/early_stopping.h"
#include "udl/torch_api.h"
#include "udl/training.h"
#include "udl/training_loop.h"
#include "udl/vae.h"

namespace udl::detail {

// The loop's own state between two epochs.
struct LoopProgress {
  int64_t epoch = 0;  // epochs finished
  EarlyStopping::State stopping{};
  int64_t epochs_on_plateau = 0;
  std::vector<torch::Tensor> best_state;     // empty: none kept
  std::vector<std::vector<double>> history;  // one row per finished epoch (see to_row)
};

// What a checkpoint belongs to; a resume with other values is refused.
struct CheckpointIdentity {
  std::string loop;  // "autoencoder", "classifier", "vae"
  uint64_t seed = 0;
  int64_t batch_size = 0;
  OptimizerKind optimizer = OptimizerKind::kAdam;
};

// Writes path atomically: a temporary file beside it, fsync, rename, fsync of the folder.
void write_checkpoint(const std::string& path, const CheckpointIdentity& identity,
                      torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                      const std::vector<at::Generator>& generators, const LoopProgress& progress);

// Loads a checkpoint into model, optimizer and generators and returns the loop's progress.
// Throws DataFormatError for a file that is not a udl checkpoint or is truncated, and
// InvalidArgument for one of another loop, seed, batch size, optimizer or architecture.
LoopProgress read_checkpoint(const std::string& path, const CheckpointIdentity& identity,
                             torch::nn::Module& model, torch::optim::Optimizer& optimizer,
                             const std::vector<at::Generator>& generators);

// One epoch's figures as a row of numbers and back (for the history in a checkpoint).
std::vector<double> to_row(const EpochStats& stats);
std::vector<double> to_row(const ClassifierEpochStats& stats);
std::vector<double> to_row(const VaeEpochStats& stats);
void from_row(const std::vector<double>& row, EpochStats& stats);
void from_row(const std::vector<double>& row, ClassifierEpochStats& stats);
void from_row(const std::vector<double>& row, VaeEpochStats& stats);

}  // namespace udl::detail
