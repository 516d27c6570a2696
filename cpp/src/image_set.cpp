#include "udl/image_set.h"

#include <cmath>
#include <string>

#include "udl/errors.h"

namespace udl {
namespace {

torch::Tensor to_unit_float(torch::Tensor batch) {
  if (batch.scalar_type() == torch::kUInt8) return batch.to(torch::kFloat32).div_(255.0);
  return batch;
}

std::string shape_string(const torch::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "x" : "") + std::to_string(t.size(i));
  return s.empty() ? "scalar" : s;
}

}  // namespace

ImageSet::ImageSet(torch::Tensor images, std::optional<torch::Tensor> labels)
    : images_(std::move(images)), labels_(std::move(labels)) {
  if (!images_.defined()) throw InvalidArgument("images: undefined tensor");
  if (images_.dim() != 4) {
    throw InvalidArgument("images must be 4-D (N x C x H x W), got shape " + shape_string(images_));
  }
  for (int64_t i = 0; i < 4; ++i) {
    if (images_.size(i) == 0) {
      throw InvalidArgument("images must be non-empty in every dimension, got shape " +
                            shape_string(images_));
    }
  }
  const auto dtype = images_.scalar_type();
  if (dtype != torch::kUInt8 && dtype != torch::kFloat32) {
    throw InvalidArgument(std::string("images must be uint8 or float32, got ") +
                          c10::toString(dtype));
  }
  if (dtype == torch::kFloat32) {
    if (!torch::isfinite(images_).all().item<bool>()) {
      throw InvalidArgument("float images contain NaN or infinite values");
    }
    const double lo = images_.min().item<double>();
    const double hi = images_.max().item<double>();
    if (lo < 0.0 || hi > 1.0) {
      throw InvalidArgument("float images must lie in [0, 1], got values in [" +
                            std::to_string(lo) + ", " + std::to_string(hi) + "]");
    }
  }
  if (labels_) {
    const auto& l = *labels_;
    if (!l.defined() || l.dim() != 1 || l.scalar_type() != torch::kInt64) {
      throw InvalidArgument("labels must be a 1-D int64 array");
    }
    if (l.size(0) != images_.size(0)) {
      throw InvalidArgument("got " + std::to_string(images_.size(0)) + " images but " +
                            std::to_string(l.size(0)) + " labels");
    }
    if (l.min().item<int64_t>() < 0) throw InvalidArgument("labels must be >= 0");
  }
}

std::vector<int64_t> ImageSet::image_shape() const {
  return {images_.size(1), images_.size(2), images_.size(3)};
}

torch::Tensor ImageSet::batch(const torch::Tensor& indices) const {
  return to_unit_float(images_.index_select(0, indices));
}

torch::Tensor ImageSet::slice(int64_t begin, int64_t end) const {
  return to_unit_float(images_.slice(0, begin, end).contiguous());
}

ImageSet ImageSet::subset(const torch::Tensor& indices) const {
  std::optional<torch::Tensor> labels;
  if (labels_) labels = labels_->index_select(0, indices);
  return ImageSet(images_.index_select(0, indices), labels);
}

ImageSet ImageSet::to(const torch::Device& device) const {
  if (images_.device() == device) return *this;
  ImageSet moved = *this;  // already validated: only the storage moves
  moved.images_ = images_.to(device);
  if (labels_) moved.labels_ = labels_->to(device);
  return moved;
}

TrainValidationSplit split_train_validation(const ImageSet& set, double val_fraction,
                                            uint64_t seed) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0)) {
    throw InvalidArgument("val_fraction must be in (0, 1), got " + std::to_string(val_fraction));
  }
  const int64_t n = set.size();
  const int64_t n_val = std::max<int64_t>(1, std::llround(val_fraction * static_cast<double>(n)));
  if (n_val >= n) {
    throw InvalidArgument("val_fraction " + std::to_string(val_fraction) + " of " +
                          std::to_string(n) + " images leaves no training images");
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor order =
      torch::randperm(n, generator, torch::kInt64).to(set.images().device());
  return {set.subset(order.slice(0, n_val)), set.subset(order.slice(0, 0, n_val))};
}

}  // namespace udl
