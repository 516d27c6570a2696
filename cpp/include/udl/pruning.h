// L1 magnitude pruning with masks, in four layer groups (report 001): each round masks the
// given fraction of every layer's remaining weights with the smallest |w|. Masked weights
// stay exactly zero: the loop re-applies the masks after every optimizer step.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "udl/choices.h"
#include "udl/torch_api.h"

namespace udl {

enum class LayerGroup {
  kEncoderLinear = 0,
  kEncoderConv = 1,
  kDecoderLinear = 2,
  kDecoderConv = 3
};
inline constexpr size_t kLayerGroups = 4;
inline constexpr std::array<Choice<LayerGroup>, kLayerGroups> kLayerGroupNames{
    {{LayerGroup::kEncoderLinear, "encoder_linear"},
     {LayerGroup::kEncoderConv, "encoder_conv"},
     {LayerGroup::kDecoderLinear, "decoder_linear"},
     {LayerGroup::kDecoderConv, "decoder_conv"}}};
// "encoder_linear", "encoder_conv", "decoder_linear", "decoder_conv".
inline const char* layer_group_name(LayerGroup group) {
  return choice_name(kLayerGroupNames, group);
}

// One prunable weight tensor and its mask (1 keeps, 0 prunes), both owned by the model.
struct PrunableWeight {
  LayerGroup group;
  torch::Tensor weight;
  torch::Tensor mask;
};

struct PruningConfig {
  int64_t every = 0;  // prune after every `every`-th epoch; 0 never
  // Fraction of the remaining weights pruned per round, indexed by LayerGroup.
  std::array<double, kLayerGroups> amounts{};

  bool enabled() const;
};

// Throws InvalidArgument for a negative period or an amount outside [0, 1).
void validate(const PruningConfig& config);

// One pruning round: in every weight, masks round(amount × remaining) of the unmasked entries
// with the smallest magnitude, then zeroes the masked weights.
void prune_l1(const std::vector<PrunableWeight>& weights, const PruningConfig& config);

// Zeroes masked weights (after an optimizer step) and, if given, their gradients.
void apply_masks(const std::vector<PrunableWeight>& weights);
void mask_gradients(const std::vector<PrunableWeight>& weights);

// Fraction of masked weights in each group (0 for a group without layers).
std::array<double, kLayerGroups> sparsity(const std::vector<PrunableWeight>& weights);

}  // namespace udl
