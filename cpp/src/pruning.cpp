#include "udl/pruning.h"

#include <cmath>

#include "udl/errors.h"

namespace udl {

bool PruningConfig::enabled() const {
  if (every <= 0) return false;
  for (double amount : amounts) {
    if (amount > 0) return true;
  }
  return false;
}

void validate(const PruningConfig& config) {
  if (config.every < 0) {
    throw InvalidArgument("prune_every must be >= 0, got " + std::to_string(config.every));
  }
  for (size_t g = 0; g < kLayerGroups; ++g) {
    const double amount = config.amounts[g];
    if (!(amount >= 0.0 && amount < 1.0)) {
      throw InvalidArgument(std::string("pruning amount for ") +
                            layer_group_name(static_cast<LayerGroup>(g)) +
                            " must be in [0, 1), got " + std::to_string(amount));
    }
  }
}

void prune_l1(const std::vector<PrunableWeight>& weights, const PruningConfig& config) {
  torch::NoGradGuard no_grad;
  for (const PrunableWeight& w : weights) {
    const double amount = config.amounts[static_cast<size_t>(w.group)];
    torch::Tensor mask = w.mask.view(-1);
    const int64_t remaining = mask.sum().item<int64_t>();
    const int64_t count = std::llround(amount * static_cast<double>(remaining));
    if (count == 0) continue;
    // Masked entries score +inf so that only remaining weights are candidates.
    const torch::Tensor scores = w.weight.detach().abs().view(-1).masked_fill(
        mask.eq(0), std::numeric_limits<float>::infinity());
    const torch::Tensor smallest = std::get<1>(scores.topk(count, 0, /*largest=*/false));
    mask.index_fill_(0, smallest, 0);
    w.weight.mul_(w.mask);
  }
}

void apply_masks(const std::vector<PrunableWeight>& weights) {
  torch::NoGradGuard no_grad;
  for (const PrunableWeight& w : weights) w.weight.mul_(w.mask);
}

void mask_gradients(const std::vector<PrunableWeight>& weights) {
  for (const PrunableWeight& w : weights) {
    if (w.weight.grad().defined()) w.weight.mutable_grad().mul_(w.mask);
  }
}

std::array<double, kLayerGroups> sparsity(const std::vector<PrunableWeight>& weights) {
  std::array<double, kLayerGroups> masked{};
  std::array<double, kLayerGroups> total{};
  for (const PrunableWeight& w : weights) {
    const size_t g = static_cast<size_t>(w.group);
    masked[g] += static_cast<double>(w.mask.numel() - w.mask.sum().item<int64_t>());
    total[g] += static_cast<double>(w.mask.numel());
  }
  std::array<double, kLayerGroups> fractions{};
  for (size_t g = 0; g < kLayerGroups; ++g)
    fractions[g] = total[g] > 0 ? masked[g] / total[g] : 0.0;
  return fractions;
}

}  // namespace udl
