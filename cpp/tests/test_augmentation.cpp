#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "test_support.h"
#include "udl/augmentation.h"
#include "udl/errors.h"

namespace {

using udl_test::OneThread;
class Augmentation : public OneThread {};

// Images with no zero pixel, so that a shifted-in border is told from the content.
torch::Tensor positive_images(std::vector<int64_t> shape, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::rand(shape, generator) * 0.9 + 0.1;
}

// `image` (C×H×W) moved down by dy and right by dx, black where nothing moved in.
torch::Tensor moved(const torch::Tensor& image, int64_t dy, int64_t dx) {
  const int64_t h = image.size(1);
  const int64_t w = image.size(2);
  torch::Tensor out = torch::zeros_like(image);
  using torch::indexing::Slice;
  out.index_put_(
      {Slice(), Slice(std::max<int64_t>(dy, 0), h + std::min<int64_t>(dy, 0)),
       Slice(std::max<int64_t>(dx, 0), w + std::min<int64_t>(dx, 0))},
      image.index({Slice(), Slice(std::max<int64_t>(-dy, 0), h - std::max<int64_t>(dy, 0)),
                   Slice(std::max<int64_t>(-dx, 0), w - std::max<int64_t>(dx, 0))}));
  return out;
}

TEST_F(Augmentation, ShiftsEveryImageAsAWholeByAtMostMaxShift) {
  const torch::Tensor images = positive_images({64, 3, 9, 7}, 1);
  udl::AugmentationConfig config;
  config.max_shift = 2;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const torch::Tensor out = udl::augment(images, config, generator);
  ASSERT_EQ(out.sizes(), images.sizes());
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < images.size(0); ++i) {
    bool found = false;
    for (int64_t dy = -2; dy <= 2 && !found; ++dy) {
      for (int64_t dx = -2; dx <= 2 && !found; ++dx) {
        if (out[i].equal(moved(images[i], dy, dx))) {
          found = true;
          seen.insert({dy, dx});
        }
      }
    }
    EXPECT_TRUE(found) << "image " << i << " is not a shift of its input by at most 2";
  }
  // Each image draws its own offset: 64 images over 25 offsets show many of them.
  EXPECT_GE(seen.size(), 10u);
}

TEST_F(Augmentation, FlipsAboutHalfTheImagesLeftRight) {
  const torch::Tensor images = positive_images({200, 1, 6, 5}, 2);
  udl::AugmentationConfig config;
  config.horizontal_flip = true;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(4);
  const torch::Tensor out = udl::augment(images, config, generator);
  int64_t flipped = 0;
  for (int64_t i = 0; i < images.size(0); ++i) {
    const bool same = out[i].equal(images[i]);
    const bool mirrored = out[i].equal(images[i].flip({2}));
    EXPECT_TRUE(same != mirrored) << "image " << i;
    flipped += mirrored;
  }
  EXPECT_GT(flipped, 70);  // Binomial(200, 1/2): 100 ± 7
  EXPECT_LT(flipped, 130);
}

TEST_F(Augmentation, IsSeededAndOffAtItsZeroValue) {
  const torch::Tensor images = positive_images({16, 1, 8, 8}, 3);
  const udl::AugmentationConfig config{3, true};
  auto draw = [&](uint64_t seed) {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
    return udl::augment(images, config, generator);
  };
  EXPECT_TRUE(draw(5).equal(draw(5)));
  EXPECT_FALSE(draw(5).equal(draw(6)));
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  EXPECT_FALSE(udl::AugmentationConfig{}.enabled());
  EXPECT_TRUE(udl::augment(images, udl::AugmentationConfig{}, generator).equal(images));
}

TEST_F(Augmentation, ValidateRejectsShiftsThatDoNotFit) {
  const std::vector<int64_t> shape{1, 28, 20};
  EXPECT_NO_THROW(udl::validate(udl::AugmentationConfig{19, true}, shape));
  EXPECT_THROW(udl::validate(udl::AugmentationConfig{20, false}, shape), udl::InvalidArgument);
  EXPECT_THROW(udl::validate(udl::AugmentationConfig{-1, false}, shape), udl::InvalidArgument);
}

}  // namespace
