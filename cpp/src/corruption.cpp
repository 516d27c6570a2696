#include "udl/corruption.h"

#include <cmath>
#include <string>

#include "udl/errors.h"

namespace udl {
namespace {

// Rotates each image about its centre by an angle uniform in ±max_degrees; pixels that come
// from outside the image are black. The angles are in pixel space, also for H != W.
torch::Tensor rotate(const torch::Tensor& images, double max_degrees, at::Generator& generator) {
  const int64_t n = images.size(0);
  const double height = static_cast<double>(images.size(2));
  const double width = static_cast<double>(images.size(3));
  const torch::Tensor angles =
      torch::empty({n}, images.options()).uniform_(-max_degrees, max_degrees, generator) *
      (M_PI / 180.0);
  const torch::Tensor cos = angles.cos();
  const torch::Tensor sin = angles.sin();
  const torch::Tensor zero = torch::zeros_like(angles);
  // affine_grid works in coordinates normalised to [-1, 1] per axis.
  const torch::Tensor theta = torch::stack({torch::stack({cos, -sin * (height / width), zero}, 1),
                                            torch::stack({sin * (width / height), cos, zero}, 1)},
                                           1);
  const torch::Tensor grid = torch::nn::functional::affine_grid(theta, images.sizes(), false);
  return torch::nn::functional::grid_sample(images, grid,
                                            torch::nn::functional::GridSampleFuncOptions()
                                                .mode(torch::kBilinear)
                                                .padding_mode(torch::kZeros)
                                                .align_corners(false));
}

// A per-pixel (not per-channel) uniform draw, N×1×H×W.
torch::Tensor pixel_uniform(const torch::Tensor& images, at::Generator& generator) {
  return torch::empty({images.size(0), 1, images.size(2), images.size(3)}, images.options())
      .uniform_(0.0, 1.0, generator);
}

}  // namespace

void validate(const CorruptionConfig& config) {
  auto fraction = [](double value, const char* name) {
    if (!(value >= 0.0 && value <= 1.0)) {
      throw InvalidArgument(std::string(name) + " must be in [0, 1], got " + std::to_string(value));
    }
  };
  if (!(std::isfinite(config.gaussian_sigma) && config.gaussian_sigma >= 0.0)) {
    throw InvalidArgument("noise sigma must be >= 0 (0: no noise), got " +
                          std::to_string(config.gaussian_sigma));
  }
  if (!(config.rotation_degrees >= 0.0 && config.rotation_degrees <= 180.0)) {
    throw InvalidArgument("rotation must be in [0, 180] degrees (0: none), got " +
                          std::to_string(config.rotation_degrees));
  }
  fraction(config.salt_pepper, "salt-and-pepper fraction");
  fraction(config.mask_fraction, "masking fraction");
  if (config.mask_rescale && !(config.mask_fraction > 0.0 && config.mask_fraction < 1.0)) {
    throw InvalidArgument(
        "mask_rescale scales the pixels a mask keeps: it needs a masking "
        "fraction in (0, 1), got " +
        std::to_string(config.mask_fraction));
  }
}

torch::Tensor corrupt(const torch::Tensor& clean, const CorruptionConfig& config,
                      at::Generator& generator) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = config.rotation_degrees > 0 ? rotate(clean, config.rotation_degrees, generator)
                                                : clean.clone();
  if (config.gaussian_sigma > 0) {
    x.add_(torch::empty_like(x).normal_(0.0, config.gaussian_sigma, generator));
  }
  if (config.salt_pepper > 0) {
    const torch::Tensor u = pixel_uniform(x, generator);
    const double p = config.salt_pepper;
    x.masked_fill_((u < p / 2).expand_as(x), 0.0);
    x.masked_fill_(((u >= p / 2) & (u < p)).expand_as(x), 1.0);
  }
  x.clamp_(0.0, 1.0);
  if (config.mask_fraction > 0) {
    x.masked_fill_((pixel_uniform(x, generator) < config.mask_fraction).expand_as(x), 0.0);
    if (config.mask_rescale) x.mul_(1.0 / (1.0 - config.mask_fraction));
  }
  return x;
}

double mean_psnr(const torch::Tensor& images, const torch::Tensor& reference) {
  if (images.sizes() != reference.sizes() || images.dim() != 4 || images.size(0) == 0) {
    throw InvalidArgument("PSNR needs two non-empty N x C x H x W tensors of one shape");
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor mse =
      (images.to(torch::kFloat64) - reference.to(torch::kFloat64)).pow(2).mean({1, 2, 3});
  // 1e-10 is 100 dB: an exact copy gets a finite score.
  return (-10.0 * torch::log10(mse.clamp_min(1e-10))).mean().item<double>();
}

}  // namespace udl
