// Augmentation for the classifiers, drawn afresh for every training batch: each image is
// shifted by whole pixels (the uncovered border is black) and, for classes that a mirror
// image keeps (clothes, not digits), flipped left-right half the time. Off at its zero value.
#pragma once

#include <cstdint>
#include <vector>

#include "udl/torch_api.h"

namespace udl {

struct AugmentationConfig {
  int64_t max_shift = 0;         // each axis shifted by an integer uniform in ±this
  bool horizontal_flip = false;  // mirrored left-right with probability 1/2

  bool enabled() const { return max_shift > 0 || horizontal_flip; }
};

// Throws InvalidArgument for a negative shift, or one that would move every pixel of an
// image of `image_shape` (C, H, W) out of the frame.
void validate(const AugmentationConfig& config, const std::vector<int64_t>& image_shape);

// An augmented copy of `images` (N×C×H×W float); the draws come from `generator`, on the
// images' device.
torch::Tensor augment(const torch::Tensor& images, const AugmentationConfig& config,
                      at::Generator& generator);

}  // namespace udl
