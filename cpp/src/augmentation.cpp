#include "udl/augmentation.h"

#include <algorithm>
#include <string>

#include "udl/errors.h"

namespace udl {
namespace {

// Offsets uniform in 0..2·max_shift, one per image, as N×1 int64 on the images' device.
torch::Tensor offsets(int64_t n, int64_t max_shift, at::Generator& generator,
                      const torch::Tensor& like) {
  return torch::randint(0, 2 * max_shift + 1, {n, 1}, generator,
                        torch::TensorOptions(torch::kInt64).device(like.device()));
}

// Each image moved by its own whole-pixel offset: a window of the zero-padded batch, taken
// with two gathers (rows, then columns) so that it runs as a few kernels on any device.
torch::Tensor shift(const torch::Tensor& images, int64_t max_shift, at::Generator& generator) {
  const int64_t n = images.size(0);
  const int64_t channels = images.size(1);
  const int64_t height = images.size(2);
  const int64_t width = images.size(3);
  const torch::Tensor padded = torch::constant_pad_nd(
      images, {max_shift, max_shift, max_shift, max_shift}, 0.0);  // N×C×(H+2s)×(W+2s)
  const auto positions = torch::TensorOptions(torch::kInt64).device(images.device());
  const torch::Tensor rows =
      offsets(n, max_shift, generator, images) + torch::arange(height, positions);  // N×H
  const torch::Tensor cols =
      offsets(n, max_shift, generator, images) + torch::arange(width, positions);  // N×W
  const torch::Tensor picked_rows =
      padded.gather(2, rows.view({n, 1, height, 1}).expand({n, channels, height, padded.size(3)}));
  return picked_rows.gather(3, cols.view({n, 1, 1, width}).expand({n, channels, height, width}));
}

}  // namespace

void validate(const AugmentationConfig& config, const std::vector<int64_t>& image_shape) {
  if (config.max_shift < 0) {
    throw InvalidArgument("max_shift must be >= 0 (0: no shifts), got " +
                          std::to_string(config.max_shift));
  }
  const int64_t smallest_side = std::min(image_shape.at(1), image_shape.at(2));
  if (config.max_shift >= smallest_side) {
    throw InvalidArgument("max_shift " + std::to_string(config.max_shift) +
                          " would move whole images out of their " +
                          std::to_string(image_shape[1]) + "x" + std::to_string(image_shape[2]) +
                          " frame: it must be < " + std::to_string(smallest_side));
  }
}

torch::Tensor augment(const torch::Tensor& images, const AugmentationConfig& config,
                      at::Generator& generator) {
  torch::NoGradGuard no_grad;
  torch::Tensor x = config.max_shift > 0 ? shift(images, config.max_shift, generator) : images;
  if (config.horizontal_flip) {
    const torch::Tensor mirrored =
        torch::empty({images.size(0), 1, 1, 1}, images.options()).uniform_(0.0, 1.0, generator) <
        0.5;
    x = torch::where(mirrored, x.flip({3}), x);
  }
  return x;
}

}  // namespace udl
