// Training the autoencoders (plain, denoising, iterative, pruned): their settings, per-epoch
// figures and result, and their loss and evaluation.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "udl/autoencoder.h"
#include "udl/choices.h"
#include "udl/corruption.h"
#include "udl/figures.h"
#include "udl/image_set.h"
#include "udl/loop.h"
#include "udl/pruning.h"

namespace udl {

// The reconstruction's loss (of the VAE's too): "mse" or "bce".
enum class LossKind { kMse, kBce };
inline constexpr std::array<Choice<LossKind>, 2> kLossNames{
    {{LossKind::kMse, "mse"}, {LossKind::kBce, "bce"}}};

struct TrainConfig : LoopConfig {
  LossKind loss = LossKind::kMse;
  PruningConfig pruning;
  // Iterative autoencoding (report 001): the loss sums the reconstruction errors of passes
  // 1..n, each pass encoding the previous reconstruction, all compared with the input.
  int64_t passes = 1;
  // Denoising (reports 003, 004): the model sees corrupted images and is scored against
  // the clean ones. Validation and test corruptions are seeded, the same every epoch.
  CorruptionConfig corruption;
};

// Throws InvalidArgument naming the first out-of-range field.
void validate(const TrainConfig& config);

struct EpochRecord : EpochFigures {
  int64_t fold = -1;  // 0-based fold under cross-validation, else -1
  double train_loss = 0.0;
  double val_loss = 0.0;                        // in the training loss, summed over the passes
  double val_mse = 0.0;                         // of the first pass, whatever the training loss
  std::array<double, kLayerGroups> sparsity{};  // masked fraction per LayerGroup

  static constexpr auto figures() {
    return std::make_tuple(
        figure("fold", &EpochRecord::fold), figure("train_loss", &EpochRecord::train_loss),
        figure("val_loss", &EpochRecord::val_loss), figure("val_mse", &EpochRecord::val_mse),
        figure("sparsity", &EpochRecord::sparsity));
  }
};

using TrainHooks = LoopHooks<EpochRecord>;

// How well a denoiser does on the test set: its input and its output against the clean
// images.
struct DenoisingScores {
  double corrupted_mse = 0.0;
  double denoised_mse = 0.0;
  double corrupted_psnr = 0.0;  // dB, mean over images
  double denoised_psnr = 0.0;
};

struct TrainResult : TrainingRun<EpochRecord> {
  double best_val_mse = std::numeric_limits<double>::infinity();
  std::optional<double> test_loss;  // in the training loss
  std::optional<double> test_mse;
  std::optional<DenoisingScores> test_denoising;  // with a test set and a corruption
};

// Trains `model` on `data` (a seeded split into training and validation), evaluating on
// `test` at the end if given. Throws InvalidArgument on a bad config or on images whose
// shape does not fit the model.
TrainResult train_autoencoder(Autoencoder& model, const ImageSet& data, const ImageSet* test,
                              const TrainConfig& config, const TrainHooks& hooks = {});

// The same on a given split; `fold` labels the EpochRecord (-1 outside cross-validation).
TrainResult train_autoencoder_on_split(Autoencoder& model, const ImageSet& train,
                                       const ImageSet& validation, const ImageSet* test,
                                       const TrainConfig& config, const TrainHooks& hooks = {},
                                       int64_t fold = -1);

// The training loss of one batch: the reconstruction error against `target` of `passes`
// passes summed, the first encoding `input`. If `first_logits` is given it receives the
// first pass's logits.
torch::Tensor autoencoding_loss(Autoencoder& model, const torch::Tensor& input,
                                const torch::Tensor& target, LossKind loss, int64_t passes,
                                torch::Tensor* first_logits = nullptr);

struct Evaluation {
  double loss = 0.0;  // the training loss (summed over passes)
  double mse = 0.0;   // of the first pass
};
// Mean losses over `set`, in batches, without gradients, in eval mode; with the config's
// corruption (if any) drawn from a generator seeded with `corruption_seed`.
Evaluation evaluate(Autoencoder& model, const ImageSet& set, const TrainConfig& config,
                    uint64_t corruption_seed = 0);

// Corrupts `set` (seeded) and scores the corrupted and the denoised images against it.
DenoisingScores evaluate_denoising(Autoencoder& model, const ImageSet& set,
                                   const CorruptionConfig& corruption, uint64_t seed,
                                   int64_t batch_size = 1024);

}  // namespace udl
