#include <gtest/gtest.h>

#include <random>

#include "udl/architecture.h"
#include "udl/autoencoder.h"
#include "udl/errors.h"

namespace {

TEST(Architecture, ConvAutoencoderMatchesReports) {
  const udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(16, 10);
  const udl::ArchitectureShapes shapes = udl::validate_architecture(spec);
  EXPECT_EQ(shapes.heights, (std::vector<int64_t>{28, 14, 7, 3}));
  EXPECT_EQ(shapes.widths, (std::vector<int64_t>{28, 14, 7, 3}));
  EXPECT_EQ(shapes.output_padding_h, (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(shapes.flat_features, 36 * 16);
  EXPECT_EQ(spec.hidden_widths, (std::vector<int64_t>{64}));
}

TEST(Architecture, HandlesNonSquareMultiChannelInput) {
  udl::AutoencoderSpec spec;
  spec.input_shape = {3, 32, 20};
  spec.conv_layers = {{8, 5, 3, 2}, {4, 2, 1, 0}};
  spec.hidden_widths = {};
  spec.latent_dim = 6;
  const auto shapes = udl::validate_architecture(spec);
  EXPECT_EQ(shapes.heights, (std::vector<int64_t>{32, 11, 10}));
  EXPECT_EQ(shapes.widths, (std::vector<int64_t>{20, 7, 6}));
  EXPECT_EQ(shapes.flat_features, 4 * 10 * 6);
}

TEST(Architecture, SpatialSizeReachingZeroNamesTheLayer) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 2);
  spec.conv_layers.push_back({8, 5, 1, 0});  // 3x3 input, kernel 5
  try {
    udl::validate_architecture(spec);
    FAIL() << "impossible layer accepted";
  } catch (const udl::InvalidArchitecture& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("conv layer 3"), std::string::npos) << message;
    EXPECT_NE(message.find("3x3"), std::string::npos) << message;
  }
}

TEST(Architecture, RejectsNonPositiveSizes) {
  EXPECT_THROW(udl::conv_autoencoder_spec(0, 10), udl::InvalidArgument);
  EXPECT_THROW(udl::validate_architecture(udl::conv_autoencoder_spec(4, 0)), udl::InvalidArgument);
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 2);
  spec.conv_layers[1].stride = 0;
  EXPECT_THROW(udl::validate_architecture(spec), udl::InvalidArgument);
  spec = udl::conv_autoencoder_spec(4, 2);
  spec.hidden_widths = {0};
  EXPECT_THROW(udl::validate_architecture(spec), udl::InvalidArgument);
  spec = udl::conv_autoencoder_spec(4, 2);
  spec.input_shape = {1, 28};
  EXPECT_THROW(udl::validate_architecture(spec), udl::InvalidArgument);
}

TEST(Architecture, DescribeListsEverySize) {
  const std::string text = udl::describe(udl::conv_autoencoder_spec(16, 10));
  EXPECT_EQ(text,
            "1x28x28 -conv k3s2p1-> 16x14x14 -conv k3s2p1-> 32x7x7 -conv k3s2p0-> 64x3x3 -> 576 "
            "-> 64 -> latent 10");
}

// Report 001's space: 1-4 conv layers (kernel 2-6, stride 1-4, padding 0..kernel/2), 1-3
// hidden layers, latent 1-64, on 28x28 and 3x32x32 inputs. Every valid spec must reconstruct
// exactly its input's size; every invalid one must be refused with InvalidArchitecture, and
// only those whose spatial size really reaches zero (checked independently here).
TEST(Architecture, RandomSweepReconstructsTheInputSizeOrRefuses) {
  std::mt19937 random(2021);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };
  int valid = 0;
  int invalid = 0;
  for (int trial = 0; trial < 300; ++trial) {
    udl::AutoencoderSpec spec;
    spec.input_shape =
        trial % 3 == 0 ? std::vector<int64_t>{3, 32, 32} : std::vector<int64_t>{1, 28, 28};
    int64_t size = spec.input_shape[1];
    bool reaches_zero = false;
    const int n_conv = uniform(1, 4);
    for (int j = 0; j < n_conv; ++j) {
      udl::ConvLayerSpec layer;
      layer.channels = uniform(1, 4 << j);
      layer.kernel = uniform(2, 6);
      layer.stride = uniform(1, 4);
      layer.padding = uniform(0, static_cast<int>(layer.kernel / 2));
      spec.conv_layers.push_back(layer);
      if (!reaches_zero) {
        const int64_t padded = size + 2 * layer.padding - layer.kernel;
        reaches_zero = padded < 0;
        size = padded / layer.stride + 1;
      }
    }
    for (int j = uniform(1, 3); j > 0; --j) spec.hidden_widths.push_back(uniform(4, 64));
    spec.latent_dim = uniform(1, 64);
    if (reaches_zero) {
      EXPECT_THROW(udl::validate_architecture(spec), udl::InvalidArchitecture)
          << udl::describe(spec);
      ++invalid;
      continue;
    }
    udl::Autoencoder model(spec, static_cast<uint64_t>(trial));
    const torch::Tensor images =
        torch::rand({2, spec.input_shape[0], spec.input_shape[1], spec.input_shape[2]});
    torch::NoGradGuard no_grad;
    EXPECT_EQ(model->forward(images).sizes(), images.sizes()) << udl::describe(spec);
    ++valid;
  }
  EXPECT_GT(valid, 100);
  EXPECT_GT(invalid, 20);
}

TEST(Architecture, ReportOneBestArchitecture) {
  udl::AutoencoderSpec spec;
  spec.conv_layers = {{6, 2, 1, 1}, {12, 2, 1, 0}, {17, 3, 3, 1}};
  spec.hidden_widths = {57};
  spec.latent_dim = 6;
  spec.dropout = 0.1905;
  const auto shapes = udl::validate_architecture(spec);
  EXPECT_EQ(shapes.heights, (std::vector<int64_t>{28, 29, 28, 10}));
  EXPECT_EQ(shapes.flat_features, 1700);
}

TEST(Architecture, DropoutMustBeAProbability) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 2);
  spec.dropout = 1.0;
  EXPECT_THROW(udl::validate_architecture(spec), udl::InvalidArgument);
  spec.dropout = -0.1;
  EXPECT_THROW(udl::validate_architecture(spec), udl::InvalidArgument);
}

}  // namespace
