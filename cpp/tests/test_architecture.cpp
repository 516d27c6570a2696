#include <gtest/gtest.h>

#include "udl/architecture.h"
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

}  // namespace
