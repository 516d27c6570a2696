// An in-memory image dataset: N×C×H×W images (uint8 in 0..255, or float32 in [0,1]) with
// optional integer labels. Images stay in their stored type; batches become float on the fly.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "udl/torch_api.h"

namespace udl {

class ImageSet {
 public:
  // Validates and wraps (no copy). Throws InvalidArgument naming the problem: images not 4-D,
  // empty, of another dtype, float values outside [0,1] or not finite; labels not 1-D int64,
  // of another length, or negative.
  explicit ImageSet(torch::Tensor images, std::optional<torch::Tensor> labels = std::nullopt);

  int64_t size() const { return images_.size(0); }
  std::vector<int64_t> image_shape() const;  // {C, H, W}
  const torch::Tensor& images() const { return images_; }
  const std::optional<torch::Tensor>& labels() const { return labels_; }

  // The images at `indices` as float32 in [0,1].
  torch::Tensor batch(const torch::Tensor& indices) const;
  // Rows [begin, end) as float32 in [0,1].
  torch::Tensor slice(int64_t begin, int64_t end) const;
  // The subset at `indices` (a copy of those rows, in the stored dtype).
  ImageSet subset(const torch::Tensor& indices) const;
  // The same images on `device`, in their stored dtype (itself when already there).
  ImageSet to(const torch::Device& device) const;

 private:
  torch::Tensor images_;
  std::optional<torch::Tensor> labels_;
};

// A seeded random split of `set` into training and validation parts, `val_fraction` of the
// images (rounded, at least 1) going to validation. Throws InvalidArgument if the fraction
// is outside (0, 1) or leaves either part empty.
struct TrainValidationSplit {
  ImageSet train;
  ImageSet validation;
};
TrainValidationSplit split_train_validation(const ImageSet& set, double val_fraction,
                                            uint64_t seed);

}  // namespace udl
