// Corruptions for denoising autoencoders (reports 003, 004), applied per batch on the fly:
// rotation, additive Gaussian noise and salt-and-pepper, clipped to [0,1], then random
// masking. Each is off at its zero value.
#pragma once

#include <cstdint>

#include "udl/torch_api.h"

namespace udl {

struct CorruptionConfig {
  double rotation_degrees = 0.0;  // each image rotated by an angle uniform in ±this (≤ 180)
  double gaussian_sigma = 0.0;    // standard deviation of the additive noise
  double salt_pepper = 0.0;       // fraction of pixels set to 0 or 1 (half each, on average)
  double mask_fraction = 0.0;     // fraction of pixels set to 0 (report 004: about 0.5)
  // Masking as torch's Dropout does it (report 004 masked with nn.Dropout): the kept pixels
  // are also scaled by 1 / (1 - mask_fraction), so they may exceed 1.
  bool mask_rescale = false;

  bool enabled() const {
    return rotation_degrees > 0 || gaussian_sigma > 0 || salt_pepper > 0 || mask_fraction > 0;
  }
};

// Throws InvalidArgument for a negative or non-finite σ, a rotation outside [0, 180], a
// fraction outside [0, 1], or mask_rescale without a mask fraction in (0, 1).
void validate(const CorruptionConfig& config);

// Corrupted copy of `clean` (N×C×H×W float32 in [0,1]); the draws come from `generator`.
// A pixel is masked or salted independently of its channel siblings only for C = 1;
// for several channels the whole pixel (all channels) is hit.
torch::Tensor corrupt(const torch::Tensor& clean, const CorruptionConfig& config,
                      at::Generator& generator);

// Peak signal-to-noise ratio in dB of each image of `images` against `reference` (both
// N×C×H×W in [0,1], peak 1), averaged over the images; an exact copy counts as 100 dB.
double mean_psnr(const torch::Tensor& images, const torch::Tensor& reference);

}  // namespace udl
