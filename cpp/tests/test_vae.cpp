#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "test_support.h"
#include "udl/errors.h"
#include "udl/vae.h"

namespace {

using udl_test::blob_images;

namespace fs = std::filesystem;
using torch::indexing::Slice;

using udl_test::OneThread;
class Vae : public OneThread {};

fs::path temp_file(const std::string& name) { return udl_test::temp_file("vae", name); }

udl::VaeSpec small_spec(bool batch_norm = false) {
  udl::VaeSpec spec;
  spec.architecture = udl::conv_autoencoder_spec(4, 3);
  spec.batch_norm = batch_norm;
  return spec;
}

// A tiny VAE on 1×8×8 images for hand computations.
udl::VaeSpec tiny_spec() {
  udl::VaeSpec spec;
  spec.architecture.input_shape = {1, 8, 8};
  spec.architecture.conv_layers = {{2, 3, 2, 1}};
  spec.architecture.hidden_widths = {8};
  spec.architecture.latent_dim = 2;
  return spec;
}

udl::VaeConfig small_config(int64_t epochs) {
  udl::VaeConfig config;
  config.epochs = epochs;
  config.batch_size = 32;
  config.learning_rate = 3e-3;
  config.threads = 1;
  return config;
}

int count_batch_norms(udl::Vae& model) {
  int count = 0;
  for (const auto& module : model->modules(false)) {
    count += module->as<torch::nn::BatchNorm2d>() != nullptr;
  }
  return count;
}

TEST_F(Vae, LossMatchesAHandComputationInEvalMode) {
  udl::Vae model(tiny_spec(), 3);
  model->eval();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(4);
  const torch::Tensor x = torch::rand({3, 1, 8, 8}, generator);
  torch::NoGradGuard no_grad;
  const auto [mean, log_variance] = model->encode(x);
  ASSERT_EQ(mean.sizes(), (std::vector<int64_t>{3, 2}));
  ASSERT_EQ(log_variance.sizes(), (std::vector<int64_t>{3, 2}));
  // z = mean in eval mode.
  const torch::Tensor logits = model->decode_logits(mean).to(torch::kFloat64);
  EXPECT_TRUE(model->forward(x).logits.equal(model->decode_logits(mean)));
  const torch::Tensor xd = x.to(torch::kFloat64);
  const torch::Tensor mu = mean.to(torch::kFloat64);
  const torch::Tensor lv = log_variance.to(torch::kFloat64);
  const torch::Tensor p = torch::sigmoid(logits);
  const double n = 3.0;
  const double kl = (-0.5 * (1 + lv - mu * mu - lv.exp()).sum() / n).item<double>();
  const double mse_sum = ((p - xd) * (p - xd)).sum().item<double>() / n;
  const double bce_sum =
      (-(xd * torch::log(p) + (1 - xd) * torch::log(1 - p))).sum().item<double>() / n;
  const double pixel_mse = ((p - xd) * (p - xd)).mean().item<double>();
  EXPECT_GT(kl, 0.0);
  const double beta = 0.8;
  for (auto kind : {udl::LossKind::kMse, udl::LossKind::kBce}) {
    const double recon = kind == udl::LossKind::kMse ? mse_sum : bce_sum;
    udl::VaeLoss terms;
    const torch::Tensor total = udl::vae_loss(model, x, kind, beta, &terms);
    EXPECT_EQ(total.dim(), 0);
    EXPECT_NEAR(terms.reconstruction, recon, 1e-5 * recon);
    EXPECT_NEAR(terms.kl, kl, 1e-5 * kl + 1e-7);
    EXPECT_NEAR(terms.total, recon + beta * kl, 1e-5 * (recon + beta * kl));
    EXPECT_NEAR(total.item<double>(), terms.total, 1e-6 * terms.total);
    EXPECT_NEAR(terms.mse, pixel_mse, 1e-5 * pixel_mse);
  }
  // β = 0 is the reconstruction alone.
  udl::VaeLoss plain;
  udl::vae_loss(model, x, udl::LossKind::kMse, 0.0, &plain);
  EXPECT_NEAR(plain.total, mse_sum, 1e-5 * mse_sum);
}

TEST_F(Vae, TrainingModeSamplesFromTheModelsOwnGenerator) {
  const torch::Tensor x = torch::rand({4, 1, 28, 28});
  torch::NoGradGuard no_grad;
  udl::Vae a(small_spec(), 5);
  udl::Vae b(small_spec(), 5);
  a->train();
  b->train();
  torch::manual_seed(1);
  const auto first = a->forward(x);
  const auto second = a->forward(x);
  EXPECT_FALSE(first.logits.equal(second.logits));  // fresh noise
  EXPECT_TRUE(first.mean.equal(second.mean));       // the encoder itself is deterministic
  torch::manual_seed(2);                            // the global generator does not matter
  EXPECT_TRUE(b->forward(x).logits.equal(first.logits));
  EXPECT_TRUE(b->forward(x).logits.equal(second.logits));

  a->eval();
  EXPECT_TRUE(a->forward(x).logits.equal(a->forward(x).logits));
  EXPECT_TRUE(a->forward(x).logits.equal(a->decode_logits(first.mean)));
}

TEST_F(Vae, TrainingLowersTheLossAndRecordsItsTerms) {
  const udl::ImageSet data = blob_images(320, 1);
  udl::Vae model(small_spec(), 0);
  udl::VaeConfig config = small_config(4);
  config.beta = 0.8;
  const udl::VaeTrainResult result = udl::train_vae(model, data, &data, config);
  ASSERT_EQ(result.history.size(), 4u);
  EXPECT_EQ(result.stop_reason, "completed");
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  EXPECT_LT(result.history.back().val_loss, result.history.front().val_loss);
  for (size_t i = 0; i < result.history.size(); ++i) {
    const udl::VaeEpochRecord& s = result.history[i];
    EXPECT_EQ(s.epoch, int64_t(i + 1));
    EXPECT_GT(s.train_reconstruction, 0.0);
    EXPECT_GE(s.train_kl, 0.0);
    EXPECT_GT(s.val_reconstruction, 0.0);
    EXPECT_GE(s.val_kl, 0.0);
    EXPECT_NEAR(s.train_loss, s.train_reconstruction + 0.8 * s.train_kl, 1e-5 * s.train_loss);
    EXPECT_NEAR(s.val_loss, s.val_reconstruction + 0.8 * s.val_kl, 1e-5 * s.val_loss);
    // Summed over 784 pixels and averaged over images vs. the per-pixel mean.
    EXPECT_NEAR(s.val_mse * 784, s.val_reconstruction, 1e-4 * s.val_reconstruction);
  }
  ASSERT_TRUE(result.test.has_value());
  const udl::VaeLoss evaluated = udl::evaluate_vae(model, data, config);
  EXPECT_NEAR(result.test->total, evaluated.total, 1e-6 * evaluated.total);
  EXPECT_NEAR(result.best_val_loss, result.history[result.best_epoch - 1].val_loss, 1e-12);
}

TEST_F(Vae, BatchNormSpecAddsLayersAndTrains) {
  udl::Vae plain(small_spec(false), 0);
  udl::Vae normed(small_spec(true), 0);
  EXPECT_EQ(count_batch_norms(plain), 0);
  EXPECT_EQ(count_batch_norms(normed), 3 + 2);  // after every conv but the output layer
  const udl::ImageSet data = blob_images(200, 2);
  const udl::VaeTrainResult result = udl::train_vae(normed, data, nullptr, small_config(3));
  ASSERT_EQ(result.history.size(), 3u);
  for (const auto& s : result.history) {
    EXPECT_TRUE(std::isfinite(s.train_loss));
    EXPECT_TRUE(std::isfinite(s.val_loss));
  }
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  // Eval mode uses the running statistics: deterministic and batch-independent.
  const auto [mean_all, log_variance_all] = udl::vae_encode_images(normed, data.images(), 1024);
  const auto [mean_small, log_variance_small] = udl::vae_encode_images(normed, data.images(), 7);
  EXPECT_TRUE(torch::allclose(mean_all, mean_small, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(log_variance_all, log_variance_small, 1e-5, 1e-5));
}

TEST_F(Vae, TrainingIsSeeded) {
  const udl::ImageSet data = blob_images(128, 3);
  auto run = [&](uint64_t seed) {
    udl::VaeConfig config = small_config(2);
    config.seed = seed;
    udl::Vae model(small_spec(), seed);
    return udl::train_vae(model, data, nullptr, config).history;
  };
  const auto a = run(1);
  const auto b = run(1);
  const auto c = run(2);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].train_loss, b[i].train_loss);
    EXPECT_EQ(a[i].val_loss, b[i].val_loss);
  }
  EXPECT_NE(a[0].train_loss, c[0].train_loss);
}

TEST_F(Vae, RejectsBadConfigs) {
  const udl::ImageSet data = blob_images(40, 4);
  udl::Vae model(small_spec(), 0);
  auto expect_invalid = [&](const std::function<void(udl::VaeConfig&)>& change) {
    udl::VaeConfig config = small_config(1);
    change(config);
    EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
    EXPECT_THROW(udl::train_vae(model, data, nullptr, config), udl::InvalidArgument);
  };
  expect_invalid([](auto& c) { c.beta = -0.1; });
  expect_invalid([](auto& c) { c.beta = NAN; });
  expect_invalid([](auto& c) { c.learning_rate = 0; });
  expect_invalid([](auto& c) { c.epochs = 0; });
  udl::VaeConfig zero = small_config(1);
  zero.beta = 0;
  EXPECT_NO_THROW(udl::validate(zero));
  const udl::ImageSet wrong(torch::zeros({10, 1, 32, 32}, torch::kUInt8));
  EXPECT_THROW(udl::train_vae(model, wrong, nullptr, small_config(1)), udl::InvalidArgument);
}

TEST_F(Vae, SamplesAreSeededImagesInTheUnitRange) {
  udl::Vae model(small_spec(), 0);
  EXPECT_THROW(udl::vae_sample(model, 0, 1), udl::InvalidArgument);
  EXPECT_THROW(udl::vae_sample(model, -3, 1), udl::InvalidArgument);
  const torch::Tensor samples = udl::vae_sample(model, 5, 1);
  EXPECT_EQ(samples.sizes(), (std::vector<int64_t>{5, 1, 28, 28}));
  EXPECT_GE(samples.min().item<float>(), 0.0f);
  EXPECT_LE(samples.max().item<float>(), 1.0f);
  EXPECT_TRUE(udl::vae_sample(model, 5, 1).equal(samples));
  EXPECT_FALSE(udl::vae_sample(model, 5, 2).equal(samples));
}

TEST_F(Vae, InferenceEncodesAndDecodesInBatches) {
  udl::Vae model(small_spec(), 0);
  const torch::Tensor bytes = torch::randint(0, 256, {7, 1, 28, 28}).to(torch::kUInt8);
  const auto [mean, log_variance] = udl::vae_encode_images(model, bytes, 3);
  ASSERT_EQ(mean.sizes(), (std::vector<int64_t>{7, 3}));
  ASSERT_EQ(log_variance.sizes(), (std::vector<int64_t>{7, 3}));
  torch::NoGradGuard no_grad;
  const auto [m, lv] = model->encode(bytes.to(torch::kFloat32) / 255.0);
  EXPECT_TRUE(torch::allclose(mean, m, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(log_variance, lv, 1e-5, 1e-6));
  const torch::Tensor decoded = udl::vae_decode_codes(model, mean, 2);
  EXPECT_EQ(decoded.sizes(), bytes.sizes());
  EXPECT_TRUE(torch::allclose(decoded, model->decode(mean), 1e-5, 1e-6));
  EXPECT_THROW(udl::vae_decode_codes(model, torch::rand({2, 4})), udl::InvalidArgument);
  EXPECT_THROW(udl::vae_encode_images(model, torch::rand({2, 1, 27, 28})), udl::InvalidArgument);
}

TEST_F(Vae, SaveAndLoadRoundTrip) {
  udl::Vae model(small_spec(true), 5);
  // A little training so that the batch-norm statistics differ from their defaults.
  udl::train_vae(model, blob_images(64, 5), nullptr, small_config(1));
  const fs::path path = temp_file("roundtrip.udl");
  udl::save_vae(model, path.string());
  udl::Vae loaded = udl::load_vae(path.string());
  fs::remove(path);
  EXPECT_TRUE(loaded->spec().batch_norm);
  EXPECT_EQ(loaded->spec().architecture.latent_dim, 3);
  const torch::Tensor images = blob_images(6, 6).images();
  const auto [mean, log_variance] = udl::vae_encode_images(model, images);
  const auto [mean2, log_variance2] = udl::vae_encode_images(loaded, images);
  EXPECT_TRUE(mean.equal(mean2));
  EXPECT_TRUE(log_variance.equal(log_variance2));
  EXPECT_TRUE(udl::vae_sample(loaded, 3, 9).equal(udl::vae_sample(model, 3, 9)));

  udl::Autoencoder autoencoder(small_spec().architecture, 0);
  const fs::path other = temp_file("autoencoder.udl");
  udl::save_autoencoder(autoencoder, other.string());
  EXPECT_THROW(udl::load_vae(other.string()), udl::DataFormatError);
  fs::remove(other);
}

}  // namespace
