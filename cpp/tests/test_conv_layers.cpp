// udl's convolution layers against ATen's reference kernels: outputs and every gradient, in
// double-checked float32, over the geometries the models use and the edge cases of col2im.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <tuple>

#include "test_support.h"
#include "udl/conv_layers.h"

namespace {

using udl::ConvGeometry;

// The gradients of sum(output · probe) with respect to (input, weight, bias).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> gradients(const torch::Tensor& output,
                                                                  const torch::Tensor& probe,
                                                                  const torch::Tensor& x,
                                                                  const torch::Tensor& w,
                                                                  const torch::Tensor& b) {
  const auto grads = torch::autograd::grad({(output * probe).sum()}, {x, w, b});
  return {grads[0], grads[1], grads[2]};
}

void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, const char* what) {
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  const double scale = expected.abs().max().item<double>() + 1e-6;
  EXPECT_LT((actual - expected).abs().max().item<double>() / scale, 1e-5) << what;
}

// `actual` and `expected`, both computed from (x, w, b), agree, and so do their gradients
// with respect to all three for a random output gradient.
void expect_same_function(const torch::Tensor& actual, const torch::Tensor& expected,
                          const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  expect_close(actual, expected, "output");
  const torch::Tensor probe = torch::randn_like(expected);
  const auto [ex, ew, eb] = gradients(expected, probe, x, w, b);
  const auto [ax, aw, ab] = gradients(actual, probe, x, w, b);
  expect_close(ax, ex, "input gradient");
  expect_close(aw, ew, "weight gradient");
  expect_close(ab, eb, "bias gradient");
}

struct Case {
  int64_t n, in_channels, out_channels, size, kernel, stride, padding, output_padding;
};

class TransposedConv : public udl_test::OneThread, public ::testing::WithParamInterface<Case> {};

TEST_P(TransposedConv, MatchesAtenForwardAndGradients) {
  const Case c = GetParam();
  torch::manual_seed(c.n * 1000 + c.size);
  const ConvGeometry g{c.in_channels, c.out_channels,   c.kernel,        c.stride,
                       c.padding,     c.output_padding, c.output_padding};
  const torch::Tensor x = torch::randn({c.n, c.in_channels, c.size, c.size}).requires_grad_();
  const torch::Tensor w =
      torch::randn({c.in_channels, c.out_channels, c.kernel, c.kernel}).requires_grad_();
  const torch::Tensor b = torch::randn({c.out_channels}).requires_grad_();
  const torch::Tensor actual = udl::transposed_conv2d_gemm(x, w, b, g);
  EXPECT_TRUE(actual.is_contiguous(at::MemoryFormat::ChannelsLast));
  expect_same_function(
      actual,
      at::conv_transpose2d(x, w, b, c.stride, c.padding, {c.output_padding, c.output_padding}), x,
      w, b);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, TransposedConv,
    ::testing::Values(Case{3, 64, 32, 3, 3, 2, 0, 0},   // the CAE decoder
                      Case{3, 32, 16, 7, 3, 2, 1, 1},   //
                      Case{3, 16, 1, 14, 3, 2, 1, 1},   // its grayscale output layer
                      Case{2, 64, 1, 14, 4, 2, 1, 0},   // DCGAN's output layer
                      Case{2, 17, 12, 10, 3, 3, 1, 0},  // report 001's stride 3
                      Case{2, 5, 3, 6, 2, 1, 0, 0},     // stride 1, even kernel
                      Case{2, 4, 7, 5, 5, 2, 2, 1},     // kernel wider than the input step
                      Case{1, 3, 2, 1, 3, 2, 0, 0},     // a single input pixel
                      Case{2, 6, 40, 4, 3, 2, 1, 1}));  // more columns than one alignment

// Conv2dLayer (channels-last, one-channel strides rewritten) against ATen's NCHW convolution.
class Conv : public udl_test::OneThread, public ::testing::WithParamInterface<Case> {};

TEST_P(Conv, LayerMatchesAtenForwardAndGradients) {
  const Case c = GetParam();
  torch::manual_seed(c.n * 1000 + c.size);
  udl::Conv2dLayer layer(
      ConvGeometry{c.in_channels, c.out_channels, c.kernel, c.stride, c.padding});
  {
    torch::NoGradGuard no_grad;
    layer->weight.normal_();
    layer->bias.normal_();
  }
  const torch::Tensor x = torch::randn({c.n, c.in_channels, c.size, c.size}).requires_grad_();
  expect_same_function(layer(x), at::conv2d(x, layer->weight, layer->bias, c.stride, c.padding), x,
                       layer->weight, layer->bias);
}

INSTANTIATE_TEST_SUITE_P(
    Geometries, Conv,
    ::testing::Values(Case{3, 1, 16, 28, 3, 2, 1, 0},   // the CAE encoder
                      Case{3, 16, 32, 14, 3, 2, 1, 0},  //
                      Case{3, 32, 64, 7, 3, 2, 0, 0},   // a remainder row and column dropped
                      Case{2, 1, 64, 28, 4, 2, 1, 0},   // DCGAN's discriminator
                      Case{2, 12, 17, 28, 3, 3, 1, 0},  // report 001's stride 3
                      Case{2, 6, 12, 29, 2, 1, 0, 0},   // stride 1
                      Case{2, 3, 5, 8, 5, 2, 2, 0}));

TEST(TransposedConv, WithoutBiasMatchesAten) {
  const torch::Tensor x = torch::randn({2, 4, 5, 5});
  const torch::Tensor w = torch::randn({4, 3, 3, 3});
  const ConvGeometry g{4, 3, 3, 2, 1, 1, 1};
  expect_close(udl::transposed_conv2d_gemm(x, w, torch::Tensor(), g),
               at::conv_transpose2d(x, w, {}, 2, 1, {1, 1}), "output without bias");
}

TEST(TransposedConv, RefusesOtherDevicesAndDtypes) {
  const ConvGeometry g{2, 2, 3, 1, 0, 0, 0};
  EXPECT_THROW(udl::transposed_conv2d_gemm(torch::randn({1, 2, 4, 4}, torch::kFloat64),
                                           torch::randn({2, 2, 3, 3}, torch::kFloat64), {}, g),
               c10::Error);
  EXPECT_THROW(
      udl::transposed_conv2d_gemm(torch::randn({1, 3, 4, 4}), torch::randn({2, 2, 3, 3}), {}, g),
      c10::Error);
}

// The layers, whichever kernel they pick, compute what torch::nn's do with the same weights,
// for NCHW and channels-last input and for one input channel.
TEST(ConvLayers, MatchTorchNnWithTheSameWeights) {
  for (const int64_t channels : {1, 3}) {
    udl::Conv2dLayer conv(ConvGeometry{channels, 8, 3, 2, 1});
    udl::ConvTranspose2dLayer up(ConvGeometry{8, channels, 3, 2, 1, 1, 1});
    torch::nn::Conv2d reference_conv(torch::nn::Conv2dOptions(channels, 8, 3).stride(2).padding(1));
    torch::nn::ConvTranspose2d reference_up(
        torch::nn::ConvTranspose2dOptions(8, channels, 3).stride(2).padding(1).output_padding(1));
    {
      torch::NoGradGuard no_grad;
      conv->weight.copy_(reference_conv->weight);
      conv->bias.copy_(reference_conv->bias);
      up->weight.copy_(reference_up->weight);
      up->bias.copy_(reference_up->bias);
    }
    for (const bool channels_last : {false, true}) {
      torch::Tensor x = torch::rand({4, channels, 12, 12});
      if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      const torch::Tensor ours = up(torch::relu(conv(x)));
      const torch::Tensor theirs = reference_up(torch::relu(reference_conv(x)));
      expect_close(ours, theirs, "conv → relu → transposed conv");
      const torch::Tensor probe = torch::randn_like(theirs);
      const auto ours_grad = torch::autograd::grad({(ours * probe).sum()}, {conv->weight})[0];
      const auto theirs_grad =
          torch::autograd::grad({(theirs * probe).sum()}, {reference_conv->weight})[0];
      expect_close(ours_grad, theirs_grad, "first layer's weight gradient");
    }
  }
}

TEST(ConvLayers, KeepTorchNnParameterNamesAndShapes) {
  udl::Conv2dLayer conv(ConvGeometry{3, 8, 5, 1, 2});
  udl::ConvTranspose2dLayer up(ConvGeometry{8, 3, 4, 2, 1});
  EXPECT_EQ(conv->named_parameters()["weight"].sizes(), (std::vector<int64_t>{8, 3, 5, 5}));
  EXPECT_EQ(conv->named_parameters()["bias"].sizes(), (std::vector<int64_t>{8}));
  EXPECT_EQ(up->named_parameters()["weight"].sizes(), (std::vector<int64_t>{8, 3, 4, 4}));
  EXPECT_EQ(up->named_parameters()["bias"].sizes(), (std::vector<int64_t>{3}));
}

TEST(ConvLayers, FollowTheMeasuredKernelChoice) {
  EXPECT_TRUE(udl::gemm_is_faster(ConvGeometry{16, 1, 3, 2, 1, 1, 1}));
  EXPECT_TRUE(udl::gemm_is_faster(ConvGeometry{64, 32, 3, 2, 0, 0, 0}));
  EXPECT_FALSE(udl::gemm_is_faster(ConvGeometry{12, 6, 2, 1, 0, 0, 0}));
  EXPECT_FALSE(udl::gemm_is_faster(ConvGeometry{128, 64, 4, 2, 1, 0, 0}));
}

}  // namespace
