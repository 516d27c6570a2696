// The convolutional autoencoder built from an AutoencoderSpec, and its model file format.
#pragma once

#include <cstdint>
#include <string>

#include "udl/architecture.h"
#include "udl/layers.h"
#include "udl/model_file.h"
#include "udl/pruning.h"
#include "udl/torch_api.h"

namespace udl {

class AutoencoderImpl : public SeededModel {
 public:
  // Validates the spec (throws InvalidArgument / InvalidArchitecture) and initialises the
  // weights from `seed` alone, the way PyTorch does by default (uniform ±1/sqrt(fan_in)),
  // so that equal seeds give equal models without touching the global generator.
  AutoencoderImpl(AutoencoderSpec spec, uint64_t seed);

  // Images (N×C×H×W float in [0,1]) to latent codes (N×latent).
  torch::Tensor encode(const torch::Tensor& images);
  // Latent codes to reconstruction logits; decode() applies the sigmoid.
  torch::Tensor decode_logits(const torch::Tensor& codes);
  torch::Tensor decode(const torch::Tensor& codes) { return torch::sigmoid(decode_logits(codes)); }
  // Reconstruction logits of images: what training losses consume.
  torch::Tensor forward(const torch::Tensor& images) { return decode_logits(encode(images)); }

  const AutoencoderSpec& spec() const { return spec_; }

  // Every conv and linear weight with its pruning mask (a buffer, saved with the model).
  std::vector<PrunableWeight> prunable_weights();

 private:
  struct PrunableLayer {
    LayerGroup group;
    std::shared_ptr<torch::nn::Module> layer;
    std::string mask_name;
  };
  AutoencoderSpec spec_;
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::Sequential decoder_{nullptr};
  std::vector<PrunableLayer> prunable_;
};
TORCH_MODULE(Autoencoder);

// Checks that `images` fits the model's input shape (N×C×H×W); throws InvalidArgument.
void check_input_shape(const AutoencoderSpec& spec, const torch::Tensor& images);

// Inference in batches of `batch_size` with gradients off and the model in eval mode.
// Images may be uint8 (0..255) or float32 in [0,1]; shapes are checked (InvalidArgument).
torch::Tensor encode_images(Autoencoder& model, const torch::Tensor& images,
                            int64_t batch_size = 1024);
torch::Tensor decode_codes(Autoencoder& model, const torch::Tensor& codes,
                           int64_t batch_size = 1024);
torch::Tensor reconstruct_images(Autoencoder& model, const torch::Tensor& images,
                                 int64_t batch_size = 1024);

// The parameters and buffers (pruning masks) by name, e.g. "encoder.0.weight".
std::vector<std::pair<std::string, torch::Tensor>> named_state(Autoencoder& model);

// Writes the model (format version, spec, weights) to `path`.
void save_autoencoder(Autoencoder& model, const std::string& path);
// Reads a model written by save_autoencoder. Throws DataFormatError if the file is not a udl
// model, is truncated, or has another format version.
Autoencoder load_autoencoder(const std::string& path);

}  // namespace udl
