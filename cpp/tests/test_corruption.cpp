#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "test_support.h"
#include "udl/autoencoder_training.h"
#include "udl/corruption.h"
#include "udl/errors.h"

namespace {

using udl_test::blob_images;

using torch::indexing::Slice;

using udl_test::OneThread;
class Corruption : public OneThread {};
class Psnr : public OneThread {};
class Denoising : public OneThread {};

at::Generator seeded(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

torch::Tensor corrupt_with(const torch::Tensor& clean, const udl::CorruptionConfig& config,
                           uint64_t seed) {
  auto generator = seeded(seed);
  return udl::corrupt(clean, config, generator);
}

// Values in [0.1, 0.9]: never exactly 0 or 1, so salted and masked pixels are recognisable.
torch::Tensor mid_range_images(int64_t n, int64_t c, int64_t size, uint64_t seed) {
  auto generator = seeded(seed);
  return torch::rand({n, c, size, size}, generator) * 0.8 + 0.1;
}

// A Gaussian blob with standard deviations sy, sx centred at (cy, cx), as 1×1×H×W.
torch::Tensor blob(int64_t height, int64_t width, double cy, double cx, double sy, double sx) {
  const torch::Tensor y = torch::arange(height, torch::kFloat32).view({height, 1}) - cy;
  const torch::Tensor x = torch::arange(width, torch::kFloat32).view({1, width}) - cx;
  return torch::exp(-(y * y) / (2 * sy * sy) - (x * x) / (2 * sx * sx)).view({1, 1, height, width});
}

TEST_F(Corruption, GaussianNoiseHasZeroMeanAndTheGivenSigma) {
  const torch::Tensor clean = torch::full({64, 1, 16, 16}, 0.5f);
  for (double sigma : {0.02, 0.08}) {
    udl::CorruptionConfig config;
    config.gaussian_sigma = sigma;
    const torch::Tensor noisy = corrupt_with(clean, config, 1);
    const torch::Tensor diff = (noisy - clean).to(torch::kFloat64);
    // 16384 draws: the mean's standard error is sigma / 128.
    EXPECT_NEAR(diff.mean().item<double>(), 0.0, 4 * sigma / 128) << sigma;
    EXPECT_NEAR(diff.std().item<double>(), sigma, 0.03 * sigma) << sigma;
    EXPECT_GT(diff.ne(0).to(torch::kFloat64).mean().item<double>(), 0.99);
  }
  EXPECT_TRUE(clean.eq(0.5f).all().item<bool>());  // the input is not modified
}

TEST_F(Corruption, SaltAndPepperSetsTheFractionToZeroOrOneHalfEach) {
  const torch::Tensor clean = mid_range_images(64, 1, 16, 2);
  udl::CorruptionConfig config;
  config.salt_pepper = 0.2;
  const torch::Tensor noisy = corrupt_with(clean, config, 3);
  const double zeros = noisy.eq(0).to(torch::kFloat64).mean().item<double>();
  const double ones = noisy.eq(1).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(zeros + ones, 0.2, 0.015);
  EXPECT_NEAR(zeros, 0.1, 0.012);
  EXPECT_NEAR(ones, 0.1, 0.012);
  // Every other pixel is untouched.
  const torch::Tensor untouched = noisy.gt(0) & noisy.lt(1);
  EXPECT_TRUE(noisy.masked_select(untouched).equal(clean.masked_select(untouched)));
}

TEST_F(Corruption, SaltAndPepperHitsWholePixelsOfColourImages) {
  const torch::Tensor clean = mid_range_images(32, 3, 16, 4);
  udl::CorruptionConfig config;
  config.salt_pepper = 0.3;
  const torch::Tensor noisy = corrupt_with(clean, config, 5);
  for (double value : {0.0, 1.0}) {
    const torch::Tensor hit = noisy.eq(value);
    const torch::Tensor first = hit.index({Slice(), Slice(0, 1)});
    EXPECT_TRUE(hit.equal(first.expand_as(hit))) << value;  // all channels or none
    EXPECT_NEAR(first.to(torch::kFloat64).mean().item<double>(), 0.15, 0.015) << value;
  }
}

TEST_F(Corruption, MaskingZeroesTheFractionOfPixels) {
  for (double fraction : {0.25, 0.5}) {
    const torch::Tensor clean = mid_range_images(64, 1, 16, 6);
    udl::CorruptionConfig config;
    config.mask_fraction = fraction;
    const torch::Tensor masked = corrupt_with(clean, config, 7);
    EXPECT_NEAR(masked.eq(0).to(torch::kFloat64).mean().item<double>(), fraction, 0.015);
    const torch::Tensor kept = masked.ne(0);
    EXPECT_TRUE(masked.masked_select(kept).equal(clean.masked_select(kept)));
  }
}

TEST_F(Corruption, DropoutStyleMaskingScalesTheKeptPixelsUnclipped) {
  const torch::Tensor clean = torch::full({64, 1, 16, 16}, 0.8f);
  udl::CorruptionConfig config;
  config.mask_fraction = 0.5;
  config.mask_rescale = true;
  const torch::Tensor masked = corrupt_with(clean, config, 7);
  const torch::Tensor kept = masked.masked_select(masked.ne(0));
  EXPECT_TRUE(torch::allclose(kept, torch::full_like(kept, 1.6f)));
  EXPECT_NEAR(masked.eq(0).to(torch::kFloat64).mean().item<double>(), 0.5, 0.015);
}

TEST_F(Corruption, DropoutStyleMaskingNeedsAFractionBelowOne) {
  udl::CorruptionConfig config;
  config.mask_rescale = true;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.mask_fraction = 1.0;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.mask_fraction = 0.5;
  EXPECT_NO_THROW(udl::validate(config));
}

TEST_F(Corruption, MaskingZeroesAllChannelsOfAPixelTogether) {
  const torch::Tensor clean = mid_range_images(32, 3, 16, 8);
  udl::CorruptionConfig config;
  config.mask_fraction = 0.5;
  const torch::Tensor zero = corrupt_with(clean, config, 9).eq(0);
  const torch::Tensor first = zero.index({Slice(), Slice(0, 1)});
  EXPECT_TRUE(zero.equal(first.expand_as(zero)));
  EXPECT_NEAR(first.to(torch::kFloat64).mean().item<double>(), 0.5, 0.015);
}

TEST_F(Corruption, HalfTurnIsAFlipInBothAxes) {
  // An asymmetric smooth image: two blobs of different size off the centre.
  const torch::Tensor image =
      (blob(16, 16, 4.0, 5.0, 1.8, 1.8) + 0.6 * blob(16, 16, 10.0, 11.5, 1.5, 2.5)).clamp_max(1);
  const torch::Tensor flipped = image.flip({2, 3});
  const auto interior = [](const torch::Tensor& t) {
    return t.index({Slice(), Slice(), Slice(3, 13), Slice(3, 13)});
  };
  ASSERT_GT((interior(flipped) - interior(image)).abs().max().item<double>(), 0.3);
  // The angles are uniform in ±180°: among 2000 some lie within a fraction of a degree of a
  // half turn, which both signs reach.
  udl::CorruptionConfig config;
  config.rotation_degrees = 180;
  const torch::Tensor rotated = corrupt_with(image.expand({2000, 1, 16, 16}), config, 10);
  const torch::Tensor errors = (interior(rotated) - interior(flipped)).abs().amax({1, 2, 3});
  EXPECT_LT(errors.min().item<double>(), 0.02);
  // ... and some are far from it.
  EXPECT_GT(errors.max().item<double>(), 0.3);
}

TEST_F(Corruption, NoRotationIsTheIdentityAndATinyOneAlmostSo) {
  const torch::Tensor clean = mid_range_images(8, 2, 12, 11);
  udl::CorruptionConfig config;
  EXPECT_FALSE(config.enabled());
  EXPECT_TRUE(corrupt_with(clean, config, 12).equal(clean));
  // Pixel centres map onto pixel centres: sampling at angle ~0 reproduces the image.
  config.rotation_degrees = 1e-6;
  EXPECT_TRUE(config.enabled());
  EXPECT_TRUE(torch::allclose(corrupt_with(clean, config, 12), clean, 0, 1e-4));
}

TEST_F(Corruption, RotationPreservesTheMassOfACentredBlob) {
  // An elongated blob at the centre of a square image: every rotation keeps its mass.
  const torch::Tensor elongated = blob(24, 24, 11.5, 11.5, 1.8, 4.0).expand({64, 1, 24, 24});
  udl::CorruptionConfig config;
  config.rotation_degrees = 180;
  const torch::Tensor rotated = corrupt_with(elongated, config, 13);
  const torch::Tensor mass = rotated.sum({1, 2, 3}) / elongated[0].sum();
  EXPECT_LT((mass - 1).abs().max().item<double>(), 0.01);
  EXPECT_GT((rotated - elongated).abs().max().item<double>(), 0.3);  // it did rotate

  // A round blob in a non-square image is invariant: the angles are in pixel space.
  const torch::Tensor round = blob(20, 32, 9.5, 15.5, 3.0, 3.0).expand({64, 1, 20, 32});
  const torch::Tensor turned = corrupt_with(round, config, 14);
  EXPECT_LT((turned - round).abs().max().item<double>(), 0.05);
  EXPECT_LT(((turned.sum({1, 2, 3}) / round[0].sum()) - 1).abs().max().item<double>(), 0.01);
}

TEST_F(Corruption, OutputStaysInTheUnitRange) {
  const torch::Tensor clean = mid_range_images(16, 3, 16, 15);
  udl::CorruptionConfig config;
  config.rotation_degrees = 45;
  config.gaussian_sigma = 0.5;  // large: clipping matters
  config.salt_pepper = 0.1;
  config.mask_fraction = 0.2;
  const torch::Tensor noisy = corrupt_with(clean, config, 16);
  EXPECT_EQ(noisy.sizes(), clean.sizes());
  EXPECT_EQ(noisy.scalar_type(), torch::kFloat32);
  EXPECT_GE(noisy.min().item<float>(), 0.0f);
  EXPECT_LE(noisy.max().item<float>(), 1.0f);

  udl::CorruptionConfig gaussian;
  gaussian.gaussian_sigma = 0.5;
  const torch::Tensor clipped = corrupt_with(torch::full({8, 1, 16, 16}, 0.5f), gaussian, 17);
  EXPECT_GE(clipped.min().item<float>(), 0.0f);
  EXPECT_LE(clipped.max().item<float>(), 1.0f);
  EXPECT_GT(clipped.eq(0).sum().item<int64_t>(), 0);
  EXPECT_GT(clipped.eq(1).sum().item<int64_t>(), 0);
}

TEST_F(Corruption, TheGeneratorSeedDeterminesTheOutput) {
  const torch::Tensor clean = mid_range_images(8, 1, 16, 18);
  udl::CorruptionConfig config;
  config.rotation_degrees = 30;
  config.gaussian_sigma = 0.1;
  config.salt_pepper = 0.1;
  config.mask_fraction = 0.1;
  EXPECT_TRUE(corrupt_with(clean, config, 19).equal(corrupt_with(clean, config, 19)));
  EXPECT_FALSE(corrupt_with(clean, config, 19).equal(corrupt_with(clean, config, 20)));
  // One generator advances: two calls in a row differ.
  auto generator = seeded(19);
  const torch::Tensor first = udl::corrupt(clean, config, generator);
  EXPECT_FALSE(first.equal(udl::corrupt(clean, config, generator)));
}

TEST_F(Corruption, ValidateRejectsOutOfRangeSettings) {
  auto expect_invalid = [](const std::function<void(udl::CorruptionConfig&)>& change) {
    udl::CorruptionConfig config;
    change(config);
    EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  };
  expect_invalid([](auto& c) { c.gaussian_sigma = -0.1; });
  expect_invalid([](auto& c) { c.gaussian_sigma = NAN; });
  expect_invalid([](auto& c) { c.gaussian_sigma = INFINITY; });
  expect_invalid([](auto& c) { c.rotation_degrees = 180.5; });
  expect_invalid([](auto& c) { c.rotation_degrees = -1; });
  expect_invalid([](auto& c) { c.rotation_degrees = NAN; });
  expect_invalid([](auto& c) { c.salt_pepper = -0.01; });
  expect_invalid([](auto& c) { c.salt_pepper = 1.01; });
  expect_invalid([](auto& c) { c.salt_pepper = NAN; });
  expect_invalid([](auto& c) { c.mask_fraction = -0.5; });
  expect_invalid([](auto& c) { c.mask_fraction = 1.5; });
  expect_invalid([](auto& c) { c.mask_fraction = NAN; });

  udl::CorruptionConfig limits;  // the ends of every range are allowed
  EXPECT_NO_THROW(udl::validate(limits));
  limits.rotation_degrees = 180;
  limits.gaussian_sigma = 2;
  limits.salt_pepper = 1;
  limits.mask_fraction = 1;
  EXPECT_NO_THROW(udl::validate(limits));

  // The training config checks its corruption.
  udl::TrainConfig train;
  train.corruption.mask_fraction = 2;
  EXPECT_THROW(udl::validate(train), udl::InvalidArgument);
}

TEST_F(Psnr, ExactCopyIsHundredDecibelsAndKnownErrorsMatch) {
  const torch::Tensor reference = mid_range_images(4, 1, 8, 21);
  EXPECT_NEAR(udl::mean_psnr(reference, reference), 100.0, 1e-9);

  const torch::Tensor grey = torch::full({1, 1, 8, 8}, 0.5f);
  const double mse = 0.1 * 0.1;
  EXPECT_NEAR(udl::mean_psnr(grey + 0.1, grey), 10 * std::log10(1 / mse), 1e-4);  // 20 dB
  // Averaged over images, not over pooled pixels: 20 dB and 40 dB give 30 dB.
  const torch::Tensor two = torch::full({2, 1, 8, 8}, 0.5f);
  const torch::Tensor off = torch::cat({grey + 0.1, grey + 0.01});
  EXPECT_NEAR(udl::mean_psnr(off, two), 30.0, 1e-3);
  // Half the pixels off by 0.2: MSE 0.02.
  torch::Tensor half = grey.clone();
  half.index_put_({Slice(), Slice(), Slice(0, 4)}, 0.7f);
  EXPECT_NEAR(udl::mean_psnr(half, grey), 10 * std::log10(1 / 0.02), 1e-4);

  EXPECT_THROW(udl::mean_psnr(grey, two), udl::InvalidArgument);
  EXPECT_THROW(udl::mean_psnr(grey.view({1, 8, 8}), grey.view({1, 8, 8})), udl::InvalidArgument);
}

udl::TrainConfig denoising_config(int64_t epochs) {
  udl::TrainConfig config;
  config.epochs = epochs;
  config.batch_size = 32;
  config.learning_rate = 3e-3;
  config.threads = 1;
  config.corruption.gaussian_sigma = 0.3;
  return config;
}

TEST_F(Denoising, TrainingScoresTheDenoiserOnTheTestSet) {
  const udl::ImageSet data = blob_images(320, 31);
  const udl::ImageSet test = blob_images(100, 32);
  udl::TrainConfig config = denoising_config(6);
  config.loss = udl::LossKind::kBce;
  config.learning_rate = 1e-2;
  udl::Autoencoder model(udl::conv_autoencoder_spec(8, 8), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, &test, config);
  ASSERT_TRUE(result.test_denoising.has_value());
  const udl::DenoisingScores& scores = *result.test_denoising;
  EXPECT_LT(scores.denoised_mse, scores.corrupted_mse);
  EXPECT_LT(scores.corrupted_psnr, scores.denoised_psnr);
  EXPECT_GT(scores.corrupted_psnr, 5.0);
  // Better than a black image too: the denoiser has learnt something of the blobs.
  const double black_mse = test.slice(0, test.size()).pow(2).mean().item<double>();
  EXPECT_LT(scores.denoised_mse, black_mse);
  // The same corruption scored outside training, with another seed and batching.
  const udl::DenoisingScores again =
      udl::evaluate_denoising(model, test, config.corruption, /*seed=*/123, /*batch_size=*/64);
  EXPECT_LT(again.corrupted_psnr, again.denoised_psnr);
  EXPECT_NEAR(again.corrupted_mse, scores.corrupted_mse, 0.1 * scores.corrupted_mse);
}

TEST_F(Denoising, OnePassTestMseIsTheDenoisedMse) {
  const udl::ImageSet data = blob_images(160, 33);
  const udl::ImageSet test = blob_images(70, 34);  // batches of 32, 32 and 6
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, &test, denoising_config(1));
  ASSERT_TRUE(result.test_denoising.has_value());
  ASSERT_TRUE(result.test_mse.has_value());
  EXPECT_NEAR(*result.test_mse, result.test_denoising->denoised_mse, 1e-6);

  udl::TrainConfig clean = denoising_config(1);
  clean.corruption = {};
  udl::Autoencoder plain(udl::conv_autoencoder_spec(4, 4), 0);
  EXPECT_FALSE(udl::train_autoencoder(plain, data, &test, clean).test_denoising.has_value());
}

}  // namespace
