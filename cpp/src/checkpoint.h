// Private to udl_core: a training loop's checkpoint — model, optimizer, random-number
// generators, epoch, early-stopping and plateau state, the best epoch's weights and the
// history so far — written atomically after every epoch and read back to resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "udl/early_stopping.h"
#include "udl/loop.h"
#include "udl/torch_api.h"

namespace udl::detail {

// The loop's own state between two epochs.
struct LoopProgress {
  int64_t epoch = 0;  // epochs finished
  EarlyStopping::State stopping{};
  int64_t epochs_on_plateau = 0;
  std::vector<torch::Tensor> best_state;     // empty: none kept
  std::vector<std::vector<double>> history;  // one row per finished epoch (see to_row)
  std::vector<torch::Tensor> kept;           // what the model keeps across epochs
};

// What a checkpoint belongs to; a resume with other values is refused.
struct CheckpointIdentity {
  std::string loop;  // "autoencoder", "classifier", "vae", "gan"
  uint64_t seed = 0;
  int64_t batch_size = 0;
  OptimizerKind optimizer = OptimizerKind::kAdam;
};

// Writes `archive` to `path` atomically: a temporary file beside it, fsync, rename, fsync of
// the folder. An interrupted write leaves the previous file in place.
void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path);

// Typed reads of an archive's values (torch's errors for a missing or mistyped key).
int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key);
double read_double(torch::serialize::InputArchive& archive, const std::string& key);
std::string read_string(torch::serialize::InputArchive& archive, const std::string& key);
torch::Tensor read_tensor(torch::serialize::InputArchive& archive, const std::string& key);

// InvalidArgument "checkpoint P was written with <what> <saved>, this run has <now>" unless
// they are equal.
void require_same(const std::string& path, const std::string& what, int64_t saved, int64_t now);

// Writes path atomically: a temporary file beside it, fsync, rename, fsync of the folder.
void write_checkpoint(const std::string& path, const CheckpointIdentity& identity,
                      torch::nn::Module& model,
                      const std::vector<torch::optim::Optimizer*>& optimizers,
                      const std::vector<at::Generator>& generators, const LoopProgress& progress);

// Loads a checkpoint into model, optimizers and generators and returns the loop's progress,
// its tensors on `device` (the kept ones on the CPU) whichever device wrote it. A generator
// written on another kind of device keeps its fresh seed: a run moved between CPU and GPU
// goes on with the same weights and optimizer state, not the same random draws. Throws
// DataFormatError for a file that is not a udl checkpoint or is truncated, and
// InvalidArgument for one of another loop, seed, batch size, optimizer or architecture.
LoopProgress read_checkpoint(const std::string& path, const CheckpointIdentity& identity,
                             torch::nn::Module& model,
                             const std::vector<torch::optim::Optimizer*>& optimizers,
                             const std::vector<at::Generator>& generators,
                             const torch::Device& device);

}  // namespace udl::detail
