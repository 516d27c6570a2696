#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "test_support.h"
#include "udl/autoencoder.h"
#include "udl/errors.h"
#include "udl/gan.h"
#include "udl/model_file.h"

namespace {

namespace fs = std::filesystem;
using torch::indexing::Slice;

using udl_test::OneThread;
class Gan : public OneThread {};

fs::path temp_file(const std::string& name) { return udl_test::temp_file("gan", name); }

// Blobs of varying position on a size×size canvas.
udl::ImageSet blob_images(int64_t n, int64_t size, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor grid = torch::arange(size, torch::kFloat32);
  const torch::Tensor centres = torch::rand({n, 2}, generator) * (size - 6) + 3;
  const torch::Tensor dy = (grid.view({1, size, 1}) - centres.index({Slice(), 0}).view({n, 1, 1}));
  const torch::Tensor dx = (grid.view({1, 1, size}) - centres.index({Slice(), 1}).view({n, 1, 1}));
  const torch::Tensor images = torch::exp(-(dy * dy + dx * dx) / 8.0);
  return udl::ImageSet((images * 255).round().to(torch::kUInt8).unsqueeze(1));
}

const std::vector<udl::GanArchitecture> kArchitectures = {
    udl::GanArchitecture::kFullyConnected, udl::GanArchitecture::kFullyConnectedLeaky,
    udl::GanArchitecture::kDcgan};

udl::GanSpec small_spec(udl::GanArchitecture architecture, std::vector<int64_t> shape = {1, 8, 8}) {
  udl::GanSpec spec;
  spec.architecture = architecture;
  spec.image_shape = std::move(shape);
  spec.noise_dim = 8;
  return spec;
}

udl::GanConfig small_config(int64_t epochs) {
  udl::GanConfig config;
  config.epochs = epochs;
  config.batch_size = 32;
  config.threads = 1;
  config.sample_count = 6;
  return config;
}

std::vector<torch::Tensor> copies(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters) out.push_back(p.detach().clone());
  return out;
}

bool all_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!a[i].equal(b[i])) return false;
  }
  return true;
}

bool all_changed(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].equal(b[i])) return false;
  }
  return true;
}

// Seeded draws: the tests do not depend on the global generator.
torch::Tensor seeded_normal(std::vector<int64_t> shape, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::empty(shape).normal_(0.0, 1.0, generator);
}

torch::Tensor seeded_images(std::vector<int64_t> shape, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::rand(shape, generator) * 2 - 1;
}

TEST_F(Gan, DiscriminatorStepTrainsOnlyTheDiscriminator) {
  for (auto architecture : kArchitectures) {
    udl::Gan model(small_spec(architecture), 0);
    model->train();
    torch::optim::Adam optimizer(model->discriminator_parameters(),
                                 torch::optim::AdamOptions(1e-3));
    const auto generator_before = copies(model->generator_parameters());
    const auto discriminator_before = copies(model->discriminator_parameters());
    double real_score = -1;
    double fake_score = -1;
    const double loss =
        udl::discriminator_step(model, optimizer, seeded_images({8, 1, 8, 8}, 1),
                                seeded_normal({8, 8}, 2), 1.0, &real_score, &fake_score);
    const char* name = udl::gan_architecture_name(architecture);
    EXPECT_TRUE(std::isfinite(loss)) << name;
    EXPECT_GT(loss, 0.0) << name;
    EXPECT_GE(real_score, 0.0) << name;
    EXPECT_LE(real_score, 1.0) << name;
    EXPECT_GE(fake_score, 0.0) << name;
    EXPECT_LE(fake_score, 1.0) << name;
    EXPECT_TRUE(all_equal(generator_before, model->generator_parameters())) << name;
    EXPECT_TRUE(all_changed(discriminator_before, model->discriminator_parameters())) << name;
  }
}

TEST_F(Gan, GeneratorStepTrainsOnlyTheGenerator) {
  for (auto architecture : kArchitectures) {
    udl::Gan model(small_spec(architecture), 0);
    model->train();
    torch::optim::Adam optimizer(model->generator_parameters(), torch::optim::AdamOptions(1e-3));
    const auto generator_before = copies(model->generator_parameters());
    const auto discriminator_before = copies(model->discriminator_parameters());
    const double loss = udl::generator_step(model, optimizer, seeded_normal({8, 8}, 3));
    const char* name = udl::gan_architecture_name(architecture);
    EXPECT_TRUE(std::isfinite(loss)) << name;
    EXPECT_GT(loss, 0.0) << name;
    EXPECT_TRUE(all_equal(discriminator_before, model->discriminator_parameters())) << name;
    EXPECT_TRUE(all_changed(generator_before, model->generator_parameters())) << name;
  }
}

TEST_F(Gan, GeneratesImagesAndDiscriminatesToOneLogitEach) {
  const std::vector<std::vector<int64_t>> shapes = {{1, 8, 8}, {3, 8, 12}, {1, 12, 8}};
  for (auto architecture : kArchitectures) {
    for (const auto& shape : shapes) {
      udl::Gan model(small_spec(architecture, shape), 1);
      torch::NoGradGuard no_grad;
      for (bool training : {true, false}) {
        model->train(training);
        const torch::Tensor images = model->generate(seeded_normal({4, 8}, 4));
        const char* name = udl::gan_architecture_name(architecture);
        ASSERT_EQ(images.sizes(), (std::vector<int64_t>{4, shape[0], shape[1], shape[2]})) << name;
        EXPECT_GE(images.min().item<float>(), -1.0f) << name;
        EXPECT_LE(images.max().item<float>(), 1.0f) << name;
        EXPECT_LT(images.min().item<float>(), 0.0f) << name;  // tanh: both signs
        EXPECT_GT(images.max().item<float>(), 0.0f) << name;
        EXPECT_EQ(model->discriminate(images).sizes(), (std::vector<int64_t>{4})) << name;
      }
    }
  }
}

TEST_F(Gan, LabelSmoothingLowersTheRealTargetOfTheDiscriminatorOnly) {
  // Two copies of one model and optimizer state: the step with a smoothed target must leave
  // a higher loss on the real images (BCE against 0.9 cannot reach 0) and other weights.
  udl::Gan plain(small_spec(udl::GanArchitecture::kFullyConnected), 0);
  udl::Gan smoothed(small_spec(udl::GanArchitecture::kFullyConnected), 0);
  plain->eval();
  smoothed->eval();
  torch::optim::SGD plain_sgd(plain->discriminator_parameters(), torch::optim::SGDOptions(0.1));
  torch::optim::SGD smoothed_sgd(smoothed->discriminator_parameters(),
                                 torch::optim::SGDOptions(0.1));
  const torch::Tensor real = seeded_images({8, 1, 8, 8}, 1) * 2 - 1;
  const torch::Tensor noise = seeded_normal({8, 8}, 2);
  const double plain_loss = udl::discriminator_step(plain, plain_sgd, real, noise, 1.0);
  const double smoothed_loss = udl::discriminator_step(smoothed, smoothed_sgd, real, noise, 0.9);
  EXPECT_NE(plain_loss, smoothed_loss);
  EXPECT_FALSE(
      all_equal(copies(plain->discriminator_parameters()), smoothed->discriminator_parameters()));
  EXPECT_TRUE(all_equal(copies(plain->generator_parameters()), smoothed->generator_parameters()));
  udl::GanConfig config;
  config.label_smoothing = 0.5;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.label_smoothing = -0.1;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.label_smoothing = 0.1;
  EXPECT_NO_THROW(udl::validate(config));
}

TEST_F(Gan, GradientPenaltyAddsTheR1TermToTheDiscriminatorsLoss) {
  for (auto architecture : kArchitectures) {
    // In eval mode the two steps see the same function: their losses differ by the penalty.
    udl::Gan plain(small_spec(architecture), 0);
    udl::Gan penalised(small_spec(architecture), 0);
    plain->eval();
    penalised->eval();
    torch::optim::SGD plain_sgd(plain->discriminator_parameters(), torch::optim::SGDOptions(0.0));
    torch::optim::SGD penalised_sgd(penalised->discriminator_parameters(),
                                    torch::optim::SGDOptions(0.0));
    const torch::Tensor real = (seeded_images({8, 1, 8, 8}, 1) * 2 - 1).requires_grad_(false);
    const torch::Tensor noise = seeded_normal({8, 8}, 2);
    const double plain_loss = udl::discriminator_step(plain, plain_sgd, real, noise);
    const double penalised_loss =
        udl::discriminator_step(penalised, penalised_sgd, real, noise, 1.0, nullptr, nullptr, 10.0);
    torch::Tensor input = real.clone().requires_grad_(true);
    const torch::Tensor gradient =
        torch::autograd::grad({penalised->discriminate(input).sum()}, {input})[0];
    const double penalty = 5.0 * gradient.pow(2).flatten(1).sum(1).mean().item<double>();
    const char* name = udl::gan_architecture_name(architecture);
    EXPECT_GT(penalty, 0.0) << name;
    EXPECT_NEAR(penalised_loss - plain_loss, penalty, 1e-4 * (1.0 + penalty)) << name;
    EXPECT_FALSE(real.requires_grad()) << name;  // the caller's batch is left alone
  }
  udl::GanConfig config;
  config.gradient_penalty = -0.1;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.gradient_penalty = std::nan("");
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.gradient_penalty = 10.0;
  EXPECT_NO_THROW(udl::validate(config));
}

TEST_F(Gan, ValidateRejectsBadSpecs) {
  EXPECT_NO_THROW(udl::validate(small_spec(udl::GanArchitecture::kDcgan, {1, 28, 28})));
  EXPECT_THROW(udl::validate(small_spec(udl::GanArchitecture::kDcgan, {1, 30, 30})),
               udl::InvalidArgument);
  EXPECT_THROW(udl::Gan(small_spec(udl::GanArchitecture::kDcgan, {1, 30, 30}), 0),
               udl::InvalidArgument);
  EXPECT_THROW(udl::validate(small_spec(udl::GanArchitecture::kDcgan, {1, 28, 30})),
               udl::InvalidArgument);
  // The fully connected networks take any size.
  EXPECT_NO_THROW(udl::validate(small_spec(udl::GanArchitecture::kFullyConnected, {1, 30, 30})));
  EXPECT_THROW(udl::validate(small_spec(udl::GanArchitecture::kFullyConnected, {1, 0, 8})),
               udl::InvalidArgument);
  EXPECT_THROW(udl::validate(small_spec(udl::GanArchitecture::kFullyConnected, {8, 8})),
               udl::InvalidArgument);
  udl::GanSpec no_noise = small_spec(udl::GanArchitecture::kFullyConnected);
  no_noise.noise_dim = 0;
  EXPECT_THROW(udl::validate(no_noise), udl::InvalidArgument);
  for (auto architecture : kArchitectures) {
    EXPECT_EQ(udl::parse_gan_architecture(udl::gan_architecture_name(architecture)), architecture);
  }
  EXPECT_THROW(udl::parse_gan_architecture("wgan"), udl::InvalidArgument);
  udl::GanSpec no_width = small_spec(udl::GanArchitecture::kDcgan);
  no_width.dcgan_width = 0;
  EXPECT_THROW(udl::validate(no_width), udl::InvalidArgument);
  // The DCGAN's options are refused, not ignored, for the fully connected networks.
  udl::GanSpec widened = small_spec(udl::GanArchitecture::kFullyConnected);
  widened.dcgan_width = 32;
  EXPECT_THROW(udl::validate(widened), udl::InvalidArgument);
  udl::GanSpec unnormalised = small_spec(udl::GanArchitecture::kFullyConnectedLeaky);
  unnormalised.discriminator_batch_norm = false;
  EXPECT_THROW(udl::Gan(unnormalised, 0), udl::InvalidArgument);
}

// Parameters of the DCGAN on 1×8×8 images with noise 8, width w, discriminator batch norm or not.
int64_t dcgan_parameters(int64_t w, bool batch_norm) {
  const int64_t cells = 2 * 2;  // an 8×8 image is 2×2 after two stride-2 layers
  const int64_t generator = (8 + 1) * 2 * w * cells + 2 * (2 * w * cells) +  // linear, BN
                            (2 * w * 16 + 1) * w + 2 * w +                   // conv T, BN
                            (w * 16 + 1);                                    // conv T
  const int64_t discriminator = (16 + 1) * w + (w * 16 + 1) * 2 * w +        // two convs
                                (batch_norm ? 2 * 2 * w : 0) + (2 * w * cells + 1);
  return generator + discriminator;
}

TEST_F(Gan, DcganWidthAndDiscriminatorBatchNormShapeTheNetworks) {
  for (int64_t width : {4, 64}) {
    for (bool batch_norm : {true, false}) {
      udl::GanSpec spec = small_spec(udl::GanArchitecture::kDcgan);
      spec.dcgan_width = width;
      spec.discriminator_batch_norm = batch_norm;
      udl::Gan model(spec, 0);
      int64_t parameters = 0;
      for (const auto& p : model->parameters()) parameters += p.numel();
      EXPECT_EQ(parameters, dcgan_parameters(width, batch_norm)) << width << batch_norm;
      // Without batch norm a discriminator's score of an image does not depend on the rest
      // of its batch, even in training mode.
      model->train();
      const torch::Tensor images = seeded_images({6, 1, 8, 8}, 2) * 2 - 1;
      torch::NoGradGuard no_grad;
      const torch::Tensor alone = model->discriminate(images.slice(0, 0, 3));
      const torch::Tensor together = model->discriminate(images).slice(0, 0, 3);
      EXPECT_EQ(torch::allclose(alone, together, 1e-5, 1e-6), !batch_norm) << width << batch_norm;
      EXPECT_EQ(model->generate(seeded_normal({3, 8}, 3)).sizes(),
                (std::vector<int64_t>{3, 1, 8, 8}));
    }
  }
}

TEST_F(Gan, MinibatchStddevFeedsTheBatchsSpreadToTheLastLayer) {
  for (auto architecture : kArchitectures) {
    const char* name = udl::gan_architecture_name(architecture);
    udl::GanSpec spec = small_spec(architecture);
    // No other path from one image's score to another's.
    if (architecture == udl::GanArchitecture::kDcgan) spec.discriminator_batch_norm = false;
    udl::Gan plain(spec, 0);
    spec.minibatch_stddev = true;
    udl::Gan spread(spec, 0);
    int64_t plain_count = 0;
    int64_t spread_count = 0;
    for (const auto& p : plain->discriminator_parameters()) plain_count += p.numel();
    for (const auto& p : spread->discriminator_parameters()) spread_count += p.numel();
    EXPECT_EQ(spread_count, plain_count + 1) << name;  // one weight for the spread
    // Only the spread reaches the logit: every image of a batch scores the batch's spread.
    {
      torch::NoGradGuard no_grad;
      std::vector<torch::Tensor> last = spread->discriminator_parameters();
      torch::Tensor weight = last[last.size() - 2];
      weight.zero_();
      weight.index_put_({0, -1}, 1.0);
      last.back().zero_();
    }
    spread->eval();
    torch::NoGradGuard no_grad;
    const torch::Tensor images = seeded_images({5, 1, 8, 8}, 4) * 2 - 1;
    const torch::Tensor varied = spread->discriminate(images);
    EXPECT_TRUE(torch::allclose(varied, varied[0].expand({5}))) << name;
    EXPECT_GT(varied[0].item<float>(), 1e-3) << name;
    const torch::Tensor same = spread->discriminate(images.slice(0, 0, 1).expand({5, 1, 8, 8}));
    EXPECT_NEAR(same[0].item<float>(), 1e-4, 1e-6) << name;  // sqrt of the 1e-8 floor
    EXPECT_EQ(spread->discriminate(images.slice(0, 0, 1))[0].item<float>(), 0.0F) << name;
  }
}

TEST_F(Gan, TrainingFillsHistoryAndKeepsSamples) {
  const udl::ImageSet data = blob_images(128, 16, 1);
  for (auto architecture :
       {udl::GanArchitecture::kFullyConnectedLeaky, udl::GanArchitecture::kDcgan}) {
    udl::Gan model(small_spec(architecture, {1, 16, 16}), 0);
    udl::GanConfig config = small_config(2);
    config.sample_epochs = {1, 2};
    std::vector<int64_t> reported;
    udl::GanHooks hooks;
    hooks.on_epoch = [&](const udl::GanEpochRecord& s) { reported.push_back(s.epoch); };
    const udl::GanTrainResult result = udl::train_gan(model, data, config, hooks);
    const char* name = udl::gan_architecture_name(architecture);
    EXPECT_EQ(result.stop_reason, "completed") << name;
    EXPECT_EQ(reported, (std::vector<int64_t>{1, 2})) << name;
    ASSERT_EQ(result.history.size(), 2u) << name;
    for (size_t i = 0; i < result.history.size(); ++i) {
      const udl::GanEpochRecord& s = result.history[i];
      EXPECT_EQ(s.epoch, int64_t(i + 1));
      EXPECT_TRUE(std::isfinite(s.generator_loss)) << name;
      EXPECT_TRUE(std::isfinite(s.discriminator_loss)) << name;
      EXPECT_GT(s.generator_loss, 0.0) << name;
      EXPECT_GT(s.discriminator_loss, 0.0) << name;
      for (double score : {s.real_score, s.fake_score}) {
        EXPECT_GE(score, 0.0) << name;
        EXPECT_LE(score, 1.0) << name;
      }
    }
    ASSERT_EQ(result.samples.size(), 2u) << name;
    for (size_t i = 0; i < result.samples.size(); ++i) {
      const auto& [epoch, images] = result.samples[i];
      EXPECT_EQ(epoch, int64_t(i + 1));
      EXPECT_EQ(images.sizes(), (std::vector<int64_t>{6, 1, 16, 16})) << name;
      EXPECT_GE(images.min().item<float>(), 0.0f) << name;
      EXPECT_LE(images.max().item<float>(), 1.0f) << name;
    }
    EXPECT_FALSE(result.samples[0].second.equal(result.samples[1].second)) << name;
  }
}

TEST_F(Gan, TrainingKeepsOnlyTheRequestedSamples) {
  const udl::ImageSet data = blob_images(64, 8, 2);
  udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 0);
  udl::GanConfig config = small_config(3);
  config.sample_epochs = {2};
  config.sample_count = 3;
  const udl::GanTrainResult result = udl::train_gan(model, data, config);
  ASSERT_EQ(result.samples.size(), 1u);
  EXPECT_EQ(result.samples[0].first, 2);
  EXPECT_EQ(result.samples[0].second.sizes(), (std::vector<int64_t>{3, 1, 8, 8}));
  config.sample_epochs.clear();
  EXPECT_TRUE(udl::train_gan(model, data, config).samples.empty());
}

TEST_F(Gan, TrainingIsSeeded) {
  const udl::ImageSet data = blob_images(96, 8, 3);
  auto run = [&](uint64_t seed) {
    udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), seed);
    udl::GanConfig config = small_config(2);
    config.seed = seed;
    config.sample_epochs = {2};
    return udl::train_gan(model, data, config);
  };
  const auto a = run(1);
  const auto b = run(1);
  const auto c = run(2);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) {
    EXPECT_EQ(a.history[i].generator_loss, b.history[i].generator_loss);
    EXPECT_EQ(a.history[i].discriminator_loss, b.history[i].discriminator_loss);
    EXPECT_EQ(a.history[i].real_score, b.history[i].real_score);
    EXPECT_EQ(a.history[i].fake_score, b.history[i].fake_score);
  }
  EXPECT_TRUE(a.samples[0].second.equal(b.samples[0].second));
  EXPECT_NE(a.history[0].generator_loss, c.history[0].generator_loss);
}

// The largest absolute difference between two parameter lists.
double max_change(const std::vector<torch::Tensor>& before,
                  const std::vector<torch::Tensor>& after) {
  double change = 0.0;
  for (size_t i = 0; i < before.size(); ++i) {
    change = std::max(change, (after[i] - before[i]).abs().max().item<double>());
  }
  return change;
}

TEST_F(Gan, DiscriminatorLearningRateAppliesToTheDiscriminatorAlone) {
  const udl::ImageSet data = blob_images(64, 8, 8);
  for (auto schedule : {udl::LrSchedule::kConstant, udl::LrSchedule::kOneCycle}) {
    udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 0);
    const auto generator_before = copies(model->generator_parameters());
    const auto discriminator_before = copies(model->discriminator_parameters());
    udl::GanConfig config = small_config(2);
    config.lr_schedule = schedule;
    config.discriminator_learning_rate = 1e-12;  // Adam moves each weight by about this a step
    udl::train_gan(model, data, config);
    EXPECT_LT(max_change(discriminator_before, model->discriminator_parameters()), 1e-9);
    EXPECT_GT(max_change(generator_before, model->generator_parameters()), 1e-5);
  }
  // The generator's rate given as the discriminator's is the same run as none given.
  auto final_generator = [&](double discriminator_lr) {
    udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 0);
    udl::GanConfig config = small_config(1);
    config.discriminator_learning_rate = discriminator_lr;
    udl::train_gan(model, data, config);
    return copies(model->generator_parameters());
  };
  EXPECT_EQ(max_change(final_generator(0.0), final_generator(udl::GanConfig().learning_rate)), 0.0);
}

TEST_F(Gan, GeneratorAverageGivesTheAveragedWeightsAndLeavesTrainingAlone) {
  const udl::ImageSet data = blob_images(96, 8, 9);
  struct Outcome {
    udl::GanTrainResult result;
    std::vector<torch::Tensor> generator, discriminator;
  };
  auto train = [&](double average) {
    udl::Gan model(small_spec(udl::GanArchitecture::kDcgan), 0);
    udl::GanConfig config = small_config(2);
    config.generator_average = average;
    config.sample_epochs = {1, 2};
    Outcome outcome{udl::train_gan(model, data, config), copies(model->generator_state()),
                    copies(model->discriminator_parameters())};
    return outcome;
  };
  const Outcome plain = train(0.0);
  const Outcome averaged = train(0.9);
  const Outcome almost_live = train(1e-12);  // an average that follows the live weights
  // The average changes what is kept, not how the networks train.
  for (size_t i = 0; i < plain.result.history.size(); ++i) {
    EXPECT_EQ(plain.result.history[i].generator_loss, averaged.result.history[i].generator_loss);
  }
  EXPECT_EQ(max_change(plain.discriminator, averaged.discriminator), 0.0);
  EXPECT_GT(max_change(plain.generator, averaged.generator), 1e-4);
  EXPECT_FALSE(plain.result.samples[1].second.equal(averaged.result.samples[1].second));
  EXPECT_LT(max_change(plain.generator, almost_live.generator), 1e-6);
  for (size_t i = 0; i < plain.result.samples.size(); ++i) {
    EXPECT_TRUE(
        plain.result.samples[i].second.allclose(almost_live.result.samples[i].second, 0.0, 1e-5));
  }
}

TEST_F(Gan, GradientPenaltyIntervalPenalisesEveryIntervalthBatchWithItsWeight) {
  const udl::ImageSet data = blob_images(64, 8, 12);
  auto train = [&](int64_t batch_size, double gamma, int64_t interval) {
    udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 0);
    udl::GanConfig config = small_config(2);
    config.batch_size = batch_size;
    config.gradient_penalty = gamma;
    config.gradient_penalty_interval = interval;
    udl::train_gan(model, data, config);
    return copies(model->parameters());
  };
  // One batch an epoch: it is always the penalised one, weighted by the interval.
  EXPECT_EQ(max_change(train(64, 1.0, 3), train(64, 3.0, 1)), 0.0);
  // Two batches: the second goes unpenalised, which every-batch R1 cannot match.
  EXPECT_GT(max_change(train(32, 1.0, 2), train(32, 2.0, 1)), 1e-6);
  EXPECT_GT(max_change(train(32, 1.0, 2), train(32, 1.0, 1)), 1e-6);
  // Without a penalty the interval changes nothing.
  EXPECT_EQ(max_change(train(32, 0.0, 2), train(32, 0.0, 1)), 0.0);
  udl::GanConfig config;
  config.gradient_penalty_interval = 0;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
}

TEST_F(Gan, GeneratorAverageResumesFromItsCheckpoint) {
  const udl::ImageSet data = blob_images(64, 8, 10);
  const fs::path checkpoint = temp_file("average_checkpoint.pt");
  auto train = [&](int64_t epochs, double average, const std::string& path) {
    udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 0);
    udl::GanConfig config = small_config(epochs);
    config.generator_average = average;
    config.sample_epochs = {1};
    config.checkpoint_path = path;
    config.resume = !path.empty();
    udl::GanTrainResult result = udl::train_gan(model, data, config);
    return std::make_pair(copies(model->generator_state()), result.samples.size());
  };
  fs::remove(checkpoint);
  const auto whole = train(2, 0.9, "");
  train(1, 0.9, checkpoint.string());
  const auto resumed = train(2, 0.9, checkpoint.string());
  EXPECT_EQ(max_change(whole.first, resumed.first), 0.0);
  EXPECT_EQ(resumed.second, 1u);  // the first epoch's samples came back from the checkpoint
  // A checkpoint without an average is refused by a run that averages, and the other way.
  EXPECT_THROW(train(3, 0.0, checkpoint.string()), udl::InvalidArgument);
  fs::remove(checkpoint);
  train(1, 0.0, checkpoint.string());
  EXPECT_THROW(train(2, 0.9, checkpoint.string()), udl::InvalidArgument);
  fs::remove(checkpoint);
}

TEST_F(Gan, RejectsBadConfigs) {
  const udl::ImageSet data = blob_images(32, 8, 4);
  udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 0);
  auto expect_invalid = [&](const std::function<void(udl::GanConfig&)>& change) {
    udl::GanConfig config = small_config(2);
    change(config);
    EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
    EXPECT_THROW(udl::train_gan(model, data, config), udl::InvalidArgument);
  };
  expect_invalid([](auto& c) { c.sample_epochs = {0}; });
  expect_invalid([](auto& c) { c.sample_epochs = {1, 3}; });  // epochs = 2
  expect_invalid([](auto& c) { c.learning_rate = 0; });
  expect_invalid([](auto& c) { c.learning_rate = -1e-3; });
  expect_invalid([](auto& c) { c.learning_rate = NAN; });
  expect_invalid([](auto& c) { c.sample_count = 0; });
  expect_invalid([](auto& c) { c.batch_size = 0; });
  expect_invalid([](auto& c) { c.epochs = 0; });
  expect_invalid([](auto& c) { c.beta1 = 1; });
  expect_invalid([](auto& c) { c.threads = -1; });
  expect_invalid([](auto& c) { c.discriminator_learning_rate = -1e-4; });
  expect_invalid([](auto& c) { c.discriminator_learning_rate = NAN; });
  expect_invalid([](auto& c) { c.generator_average = 1.0; });
  expect_invalid([](auto& c) { c.generator_average = -0.1; });
  expect_invalid([](auto& c) { c.generator_average = NAN; });
  udl::GanConfig ends = small_config(2);
  ends.sample_epochs = {1, 2};
  EXPECT_NO_THROW(udl::validate(ends));
  const udl::ImageSet wrong = blob_images(32, 12, 5);
  EXPECT_THROW(udl::train_gan(model, wrong, small_config(1)), udl::InvalidArgument);
}

TEST_F(Gan, GenerateIsSeededAndInTheUnitRange) {
  for (auto architecture : kArchitectures) {
    udl::Gan model(small_spec(architecture), 0);
    model->train();  // generation switches dropout and batch statistics off itself
    const torch::Tensor images = udl::gan_generate(model, 5, 7);
    const char* name = udl::gan_architecture_name(architecture);
    EXPECT_EQ(images.sizes(), (std::vector<int64_t>{5, 1, 8, 8})) << name;
    EXPECT_GE(images.min().item<float>(), 0.0f) << name;
    EXPECT_LE(images.max().item<float>(), 1.0f) << name;
    model->train();
    EXPECT_TRUE(udl::gan_generate(model, 5, 7).equal(images)) << name;
    EXPECT_FALSE(udl::gan_generate(model, 5, 8).equal(images)) << name;
    // The images are the generator's tanh output mapped to [0, 1].
    auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
    const torch::Tensor noise = torch::empty({5, 8}).normal_(0.0, 1.0, generator);
    torch::NoGradGuard no_grad;
    model->eval();
    EXPECT_TRUE(torch::allclose(images, (model->generate(noise) + 1) / 2, 1e-6, 1e-6)) << name;
    EXPECT_THROW(udl::gan_generate(model, 0, 7), udl::InvalidArgument);
  }
}

TEST_F(Gan, SaveAndLoadRoundTrip) {
  for (auto architecture : kArchitectures) {
    udl::Gan model(small_spec(architecture, {1, 12, 8}), 3);
    if (architecture == udl::GanArchitecture::kDcgan) {
      // Move the batch-norm statistics away from their defaults.
      torch::NoGradGuard no_grad;
      model->train();
      model->generate(seeded_normal({6, 8}, 5));
      model->discriminate(seeded_images({6, 1, 12, 8}, 6));
    }
    const fs::path path =
        temp_file(std::string("roundtrip_") + udl::gan_architecture_name(architecture) + ".udl");
    udl::save_gan(model, path.string());
    udl::Gan loaded = udl::load_gan(path.string());
    fs::remove(path);
    const char* name = udl::gan_architecture_name(architecture);
    EXPECT_EQ(loaded->spec().architecture, architecture) << name;
    EXPECT_EQ(loaded->spec().image_shape, (std::vector<int64_t>{1, 12, 8})) << name;
    EXPECT_EQ(loaded->spec().noise_dim, 8) << name;
    EXPECT_TRUE(udl::gan_generate(loaded, 4, 1).equal(udl::gan_generate(model, 4, 1))) << name;
    const torch::Tensor images = seeded_images({4, 1, 12, 8}, 7);
    torch::NoGradGuard no_grad;
    model->eval();
    loaded->eval();
    EXPECT_TRUE(loaded->discriminate(images).equal(model->discriminate(images))) << name;
  }
  udl::GanSpec narrow = small_spec(udl::GanArchitecture::kDcgan);
  narrow.dcgan_width = 4;
  narrow.discriminator_batch_norm = false;
  udl::Gan narrow_model(narrow, 1);
  const fs::path narrow_path = temp_file("narrow_dcgan.udl");
  udl::save_gan(narrow_model, narrow_path.string());
  udl::Gan narrow_loaded = udl::load_gan(narrow_path.string());
  fs::remove(narrow_path);
  EXPECT_EQ(narrow_loaded->spec().dcgan_width, 4);
  EXPECT_FALSE(narrow_loaded->spec().discriminator_batch_norm);
  EXPECT_TRUE(udl::gan_generate(narrow_loaded, 4, 1).equal(udl::gan_generate(narrow_model, 4, 1)));
  udl::GanSpec spread = small_spec(udl::GanArchitecture::kFullyConnected);
  spread.minibatch_stddev = true;
  udl::Gan spread_model(spread, 1);
  const fs::path spread_path = temp_file("spread_fc.udl");
  udl::save_gan(spread_model, spread_path.string());
  udl::Gan spread_loaded = udl::load_gan(spread_path.string());
  fs::remove(spread_path);
  EXPECT_TRUE(spread_loaded->spec().minibatch_stddev);
  spread_model->eval();
  spread_loaded->eval();
  const torch::Tensor spread_images = seeded_images({4, 1, 8, 8}, 8);
  EXPECT_TRUE(
      spread_loaded->discriminate(spread_images).equal(spread_model->discriminate(spread_images)));
  udl::Autoencoder autoencoder(udl::conv_autoencoder_spec(4, 3), 0);
  const fs::path other = temp_file("autoencoder.udl");
  udl::save_autoencoder(autoencoder, other.string());
  EXPECT_THROW(udl::load_gan(other.string()), udl::DataFormatError);
  fs::remove(other);
}

TEST_F(Gan, LoadsFilesWrittenBeforeTheDcganOptions) {
  udl::Gan model(small_spec(udl::GanArchitecture::kDcgan), 2);
  const fs::path path = temp_file("old_dcgan.udl");
  udl::write_model_file(*model, "gan", "dcgan 1 8 8 8", path.string());  // the old record
  udl::Gan loaded = udl::load_gan(path.string());
  EXPECT_EQ(loaded->spec().dcgan_width, 64);
  EXPECT_TRUE(loaded->spec().discriminator_batch_norm);
  EXPECT_TRUE(udl::gan_generate(loaded, 3, 1).equal(udl::gan_generate(model, 3, 1)));
  udl::write_model_file(*model, "gan", "dcgan 1 8 8 8 wide", path.string());
  EXPECT_THROW(udl::load_gan(path.string()), udl::DataFormatError);
  fs::remove(path);
}

TEST_F(Gan, LoadsFilesWrittenBeforeTheMinibatchStddev) {
  udl::Gan model(small_spec(udl::GanArchitecture::kFullyConnected), 2);
  const fs::path path = temp_file("old_fc.udl");
  udl::write_model_file(*model, "gan", "fc 1 8 8 8 64 1", path.string());  // the old record
  udl::Gan loaded = udl::load_gan(path.string());
  EXPECT_FALSE(loaded->spec().minibatch_stddev);
  EXPECT_TRUE(udl::gan_generate(loaded, 3, 1).equal(udl::gan_generate(model, 3, 1)));
  udl::write_model_file(*model, "gan", "fc 1 8 8 8 64 1 spread", path.string());
  EXPECT_THROW(udl::load_gan(path.string()), udl::DataFormatError);
  fs::remove(path);
}

}  // namespace
