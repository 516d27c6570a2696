#include <gtest/gtest.h>

#include "udl/autoencoder.h"
#include "udl/errors.h"
#include "udl/pruning.h"

namespace {

udl::PruningConfig amounts(double enc_linear, double enc_conv, double dec_linear, double dec_conv) {
  udl::PruningConfig config;
  config.every = 1;
  config.amounts = {enc_linear, enc_conv, dec_linear, dec_conv};
  return config;
}

int64_t zeros(const torch::Tensor& t) { return t.numel() - t.count_nonzero().item<int64_t>(); }

TEST(Pruning, MasksTheSmallestRemainingMagnitudes) {
  torch::Tensor weight = torch::tensor({0.5f, -0.1f, 0.3f, -0.7f, 0.2f, 0.05f});
  torch::Tensor mask = torch::ones_like(weight);
  const std::vector<udl::PrunableWeight> weights{{udl::LayerGroup::kEncoderLinear, weight, mask}};
  udl::prune_l1(weights, amounts(0.5, 0, 0, 0));  // 3 of 6
  EXPECT_TRUE(mask.equal(torch::tensor({1.f, 0.f, 1.f, 1.f, 0.f, 0.f})));
  EXPECT_TRUE(weight.equal(torch::tensor({0.5f, 0.f, 0.3f, -0.7f, 0.f, 0.f})));
  udl::prune_l1(weights, amounts(0.34, 0, 0, 0));  // round(0.34 x 3 remaining) = 1: the 0.3
  EXPECT_TRUE(mask.equal(torch::tensor({1.f, 0.f, 0.f, 1.f, 0.f, 0.f})));
}

TEST(Pruning, EachGroupGetsItsAmountWithinOneWeightPerLayer) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(8, 6);
  spec.hidden_widths = {40, 20};
  udl::Autoencoder model(spec, 0);
  const auto weights = model->prunable_weights();
  const udl::PruningConfig config = amounts(0.398, 0.1, 0.214, 0.068);
  udl::prune_l1(weights, config);
  for (const auto& w : weights) {
    const double requested = config.amounts[static_cast<size_t>(w.group)] * w.weight.numel();
    EXPECT_NEAR(static_cast<double>(zeros(w.weight)), requested, 1.0)
        << udl::layer_group_name(w.group);
    EXPECT_EQ(zeros(w.weight), zeros(w.mask));
  }
  const auto fractions = udl::sparsity(weights);
  for (size_t g = 0; g < udl::kLayerGroups; ++g) {
    EXPECT_NEAR(fractions[g], config.amounts[g], 0.01) << g;
  }
}

TEST(Pruning, MasksHoldThroughGradientsAndUpdates) {
  torch::Tensor weight = torch::randn({4, 4}).requires_grad_();
  torch::Tensor mask = torch::ones({4, 4});
  const std::vector<udl::PrunableWeight> weights{{udl::LayerGroup::kDecoderConv, weight, mask}};
  udl::prune_l1(weights, amounts(0, 0, 0, 0.5));
  torch::optim::Adam adam({weight}, torch::optim::AdamOptions(0.1).weight_decay(0.1));
  for (int step = 0; step < 3; ++step) {
    adam.zero_grad();
    (weight * weight).sum().backward();
    udl::mask_gradients(weights);
    EXPECT_EQ(zeros(weight.grad()), 8);
    adam.step();
    udl::apply_masks(weights);
    EXPECT_EQ(zeros(weight), 8);
  }
}

TEST(Pruning, ConfigIsValidated) {
  EXPECT_FALSE(udl::PruningConfig{}.enabled());
  EXPECT_TRUE(amounts(0.1, 0, 0, 0).enabled());
  EXPECT_THROW(udl::validate(amounts(1.0, 0, 0, 0)), udl::InvalidArgument);
  EXPECT_THROW(udl::validate(amounts(0, -0.1, 0, 0)), udl::InvalidArgument);
  udl::PruningConfig negative;
  negative.every = -1;
  EXPECT_THROW(udl::validate(negative), udl::InvalidArgument);
}

}  // namespace
