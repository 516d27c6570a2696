// The convolutional variational autoencoder (reports 000, 002): the CAE family's encoder
// ending in two heads, mean and log-variance; the reparameterisation trick; loss =
// reconstruction + β·KL, both summed over an image's pixels or latent dimensions and
// averaged over the batch.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "udl/architecture.h"
#include "udl/autoencoder_training.h"
#include "udl/image_set.h"
#include "udl/loop.h"

namespace udl {

struct VaeSpec {
  AutoencoderSpec architecture;  // conv layers, hidden widths, latent dimension
  bool batch_norm = false;       // after every conv but the output layer (report 002)
};

class VaeImpl : public SeededModel {
 public:
  VaeImpl(VaeSpec spec, uint64_t seed);

  // Mean and log-variance of q(z|x), each N×latent.
  std::pair<torch::Tensor, torch::Tensor> encode(const torch::Tensor& images);
  torch::Tensor decode_logits(const torch::Tensor& codes);
  torch::Tensor decode(const torch::Tensor& codes) { return torch::sigmoid(decode_logits(codes)); }

  struct Output {
    torch::Tensor logits;  // of the reconstruction
    torch::Tensor mean;
    torch::Tensor log_variance;
  };
  // In training mode z = mean + exp(log_variance / 2)·ε with ε from the model's stream;
  // in eval mode z = mean, so that validation is deterministic.
  Output forward(const torch::Tensor& images);

  const VaeSpec& spec() const { return spec_; }

 private:
  VaeSpec spec_;
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::Linear mean_{nullptr};
  torch::nn::Linear log_variance_{nullptr};
  torch::nn::Sequential decoder_{nullptr};
};
TORCH_MODULE(Vae);

struct VaeConfig : LoopConfig {
  LossKind loss = LossKind::kMse;  // of the reconstruction
  double beta = 1.0;               // report 000: 0.8
};
// Throws InvalidArgument naming the first out-of-range field (β < 0 included).
void validate(const VaeConfig& config);

// The terms of the loss, per image.
struct VaeLoss {
  double total = 0.0;
  double reconstruction = 0.0;
  double kl = 0.0;
  double mse = 0.0;  // per pixel, of the reconstruction: comparable with the CAE
};

struct VaeEpochRecord : EpochFigures {
  double train_loss = 0.0;
  double train_reconstruction = 0.0;
  double train_kl = 0.0;
  double val_loss = 0.0;
  double val_reconstruction = 0.0;
  double val_kl = 0.0;
  double val_mse = 0.0;

  static constexpr auto figures() {
    using R = VaeEpochRecord;
    return std::make_tuple(figure("train_loss", &R::train_loss),
                           figure("train_reconstruction", &R::train_reconstruction),
                           figure("train_kl", &R::train_kl), figure("val_loss", &R::val_loss),
                           figure("val_reconstruction", &R::val_reconstruction),
                           figure("val_kl", &R::val_kl), figure("val_mse", &R::val_mse));
  }
};
using VaeHooks = LoopHooks<VaeEpochRecord>;

struct VaeTrainResult : TrainingRun<VaeEpochRecord> {
  std::optional<VaeLoss> test;
};

// The loss of one batch as a scalar tensor (for backward), its terms written to `terms`.
torch::Tensor vae_loss(Vae& model, const torch::Tensor& images, LossKind loss, double beta,
                       VaeLoss* terms = nullptr);

VaeTrainResult train_vae(Vae& model, const ImageSet& data, const ImageSet* test,
                         const VaeConfig& config, const VaeHooks& hooks = {});

// Mean loss terms over `set`, in eval mode (z = mean).
VaeLoss evaluate_vae(Vae& model, const ImageSet& set, const VaeConfig& config);

// Inference in batches: (means, log-variances) of uint8 or float32 images, and images
// decoded from N×latent float32 codes.
std::pair<torch::Tensor, torch::Tensor> vae_encode_images(Vae& model, const torch::Tensor& images,
                                                          int64_t batch_size = 1024);
torch::Tensor vae_decode_codes(Vae& model, const torch::Tensor& codes, int64_t batch_size = 1024);
// `count` images decoded from z ~ N(0, I) drawn with `seed`. Throws InvalidArgument for
// count <= 0.
torch::Tensor vae_sample(Vae& model, int64_t count, uint64_t seed);

void save_vae(Vae& model, const std::string& path);
Vae load_vae(const std::string& path);

}  // namespace udl
