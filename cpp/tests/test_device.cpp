#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "udl/autoencoder.h"
#include "udl/device.h"
#include "udl/errors.h"
#include "udl/image_set.h"
#include "udl/layers.h"
#include "udl/vae.h"

namespace udl {
namespace {

TEST(Device, NamesResolveToTheirDevice) {
  EXPECT_EQ(resolve_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(device_name(resolve_device("cpu")), "cpu");
  const torch::Device automatic = resolve_device("auto");
  EXPECT_EQ(automatic.is_cuda(), torch::cuda::is_available());
}

TEST(Device, UnknownNamesAreRefused) {
  for (const char* name : {"gpu", "cuda:x", "", "mps", "CPU"}) {
    EXPECT_THROW(resolve_device(name), InvalidArgument) << name;
  }
}

TEST(Device, AMissingGpuNamesTheCause) {
  const int64_t count = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  try {
    resolve_device("cuda:" + std::to_string(count));
    FAIL() << "a GPU past the last one was accepted";
  } catch (const InvalidArgument& error) {
    const std::string cause = count ? "does not exist" : "a CPU-only build of torch";
    EXPECT_NE(std::string(error.what()).find(cause), std::string::npos) << error.what();
  }
}

TEST(Device, GeneratorsOfOneSeedDrawTheSame) {
  at::Generator a = make_generator(torch::Device(torch::kCPU), 7);
  at::Generator b = make_generator(torch::Device(torch::kCPU), 7);
  EXPECT_TRUE(
      torch::equal(torch::empty({16}).normal_(0, 1, a), torch::empty({16}).normal_(0, 1, b)));
}

TEST(Device, LoopConfigRefusesBf16OnTheCpu) {
  LoopConfig config;
  config.precision = Precision::kBfloat16;
  EXPECT_THROW(validate(config), InvalidArgument);
  config.precision = Precision::kFloat32;
  config.device = "nowhere";
  EXPECT_THROW(validate(config), InvalidArgument);
}

TEST(Device, ImageSetMovesWithItsLabels) {
  const ImageSet set(torch::zeros({4, 1, 2, 2}, torch::kUInt8), torch::arange(4));
  const ImageSet moved = set.to(torch::Device(torch::kCPU));
  EXPECT_TRUE(moved.images().is_same(set.images()));  // already there: no copy
  ASSERT_TRUE(moved.labels().has_value());
  EXPECT_TRUE(torch::equal(*moved.labels(), *set.labels()));
}

TEST(Device, LayersAreDescribedInOrderWithTheirSizes) {
  Vae model(VaeSpec{conv_autoencoder_spec(4, 2), /*batch_norm=*/true}, 0);
  const std::vector<LayerRecord> layers = describe_layers(*model);
  ASSERT_FALSE(layers.empty());
  EXPECT_EQ(layers[0].path, "encoder.0");
  EXPECT_EQ(layers[0].kind, "conv2d");
  EXPECT_EQ(layers[0].arguments, (std::vector<double>{1, 4, 3, 2, 1}));
  EXPECT_EQ(layers[1].kind, "batch_norm2d");
  bool has_mean = false;
  for (const LayerRecord& layer : layers) has_mean = has_mean || layer.path == "mean";
  EXPECT_TRUE(has_mean);
  // Every parameter belongs to a described layer.
  for (const auto& item : model->named_parameters()) {
    const std::string owner = item.key().substr(0, item.key().rfind('.'));
    bool described = false;
    for (const LayerRecord& layer : layers) described = described || layer.path == owner;
    EXPECT_TRUE(described) << item.key();
  }
}

}  // namespace
}  // namespace udl
