#include <gtest/gtest.h>

#include "test_support.h"
#include "udl/autoencoder_training.h"
#include "udl/errors.h"

namespace {

using udl_test::blob_images;

udl::TrainConfig small_config(int64_t epochs) {
  udl::TrainConfig config;
  config.epochs = epochs;
  config.batch_size = 32;
  config.learning_rate = 3e-3;
  config.threads = 1;
  return config;
}

TEST(Training, LossFallsAndHistoryIsComplete) {
  const udl::ImageSet data = blob_images(320, 1);
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, &data, small_config(4));
  ASSERT_EQ(result.history.size(), 4u);
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  EXPECT_EQ(result.stop_reason, "completed");
  for (size_t i = 0; i < result.history.size(); ++i)
    EXPECT_EQ(result.history[i].epoch, int64_t(i + 1));
  ASSERT_TRUE(result.test_loss.has_value());
  EXPECT_DOUBLE_EQ(*result.test_loss, *result.test_mse);
}

TEST(Training, SameSeedSameHistory) {
  const udl::ImageSet data = blob_images(200, 2);
  auto run = [&](uint64_t seed) {
    udl::TrainConfig config = small_config(2);
    config.seed = seed;
    udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), seed);
    return udl::train_autoencoder(model, data, nullptr, config).history;
  };
  const auto a = run(3);
  const auto b = run(3);
  const auto c = run(4);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].train_loss, b[i].train_loss);
    EXPECT_EQ(a[i].val_loss, b[i].val_loss);
  }
  EXPECT_NE(a[0].train_loss, c[0].train_loss);
}

TEST(Training, RestoresTheBestEpochsWeights) {
  const udl::ImageSet data = blob_images(200, 3);
  udl::TrainConfig config = small_config(4);
  config.learning_rate = 0.05;  // large enough for the validation loss to wander
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, nullptr, config);
  double best = INFINITY;
  int64_t best_epoch = 0;
  for (const auto& stats : result.history) {
    if (stats.val_loss < best) best = stats.val_loss, best_epoch = stats.epoch;
  }
  EXPECT_EQ(result.best_epoch, best_epoch);
  // The check below proves restoring only if the last epoch was not the best.
  EXPECT_LT(result.best_epoch, static_cast<int64_t>(result.history.size()));
  EXPECT_DOUBLE_EQ(result.best_val_loss, best);
  const auto split = udl::split_train_validation(data, config.val_fraction, config.seed);
  EXPECT_NEAR(udl::evaluate(model, split.validation, config).loss, best, 1e-7);
}

TEST(Training, EarlyStoppingEndsTheRun) {
  const udl::ImageSet data = blob_images(200, 4);
  udl::TrainConfig config = small_config(20);
  config.early_stopping.patience = 1;
  config.early_stopping.min_delta = 1.0;  // no epoch after the first can improve by this much
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, nullptr, config);
  EXPECT_EQ(result.history.size(), 2u);
  EXPECT_EQ(result.stop_reason, "early stopping");
  EXPECT_EQ(result.best_epoch, 1);
}

TEST(Training, DivergenceStopsWithAReason) {
  const udl::ImageSet data = blob_images(200, 5);
  udl::TrainConfig config = small_config(5);
  config.optimizer = udl::OptimizerKind::kSgd;
  config.learning_rate = 1e30;
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, nullptr, config);
  EXPECT_EQ(result.stop_reason.rfind("diverged at epoch", 0), 0u) << result.stop_reason;
  EXPECT_LT(result.history.size(), 5u);
}

TEST(Training, BceTrainsAndReportsMseToo) {
  const udl::ImageSet data = blob_images(200, 6);
  udl::TrainConfig config = small_config(2);
  config.loss = udl::LossKind::kBce;
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, &data, config);
  EXPECT_GT(*result.test_loss, *result.test_mse);  // BCE of images in (0,1) exceeds their MSE
}

TEST(Training, HooksRunAndTheirExceptionsPropagate) {
  const udl::ImageSet data = blob_images(200, 7);
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  std::vector<int64_t> epochs;
  int polls = 0;
  udl::TrainHooks hooks;
  hooks.on_epoch = [&](const udl::EpochRecord& stats) {
    epochs.push_back(stats.epoch);
    if (stats.epoch == 2) throw std::runtime_error("stop here");
  };
  hooks.poll_interrupt = [&] { ++polls; };
  EXPECT_THROW(udl::train_autoencoder(model, data, nullptr, small_config(5), hooks),
               std::runtime_error);
  EXPECT_EQ(epochs, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(polls, 2 * 5);  // 160 training images in batches of 32, per epoch

  hooks.on_epoch = nullptr;
  hooks.poll_interrupt = [] { throw std::runtime_error("interrupted"); };
  EXPECT_THROW(udl::train_autoencoder(model, data, nullptr, small_config(5), hooks),
               std::runtime_error);
}

TEST(Training, RejectsBadConfigAndShapes) {
  const udl::ImageSet data = blob_images(50, 8);
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  auto expect_invalid = [&](const std::function<void(udl::TrainConfig&)>& change) {
    udl::TrainConfig config = small_config(1);
    change(config);
    EXPECT_THROW(udl::train_autoencoder(model, data, nullptr, config), udl::InvalidArgument);
  };
  expect_invalid([](auto& c) { c.learning_rate = 0; });
  expect_invalid([](auto& c) { c.learning_rate = NAN; });
  expect_invalid([](auto& c) { c.batch_size = 0; });
  expect_invalid([](auto& c) { c.epochs = 0; });
  expect_invalid([](auto& c) { c.weight_decay = -1; });
  expect_invalid([](auto& c) { c.momentum = 1; });
  expect_invalid([](auto& c) { c.val_fraction = 0; });
  expect_invalid([](auto& c) { c.early_stopping.patience = 0; });
  expect_invalid([](auto& c) { c.threads = -1; });
  EXPECT_THROW(udl::parse_choice(udl::kLossNames, "l1", "loss"), udl::InvalidArgument);
  EXPECT_THROW(udl::parse_choice(udl::kOptimizerNames, "rmsprop", "optimizer"),
               udl::InvalidArgument);

  const udl::ImageSet wrong(torch::zeros({10, 1, 32, 32}, torch::kUInt8));
  EXPECT_THROW(udl::train_autoencoder(model, wrong, nullptr, small_config(1)),
               udl::InvalidArgument);
}

TEST(Training, RestoresTheThreadCount) {
  const int before = at::get_num_threads();
  const udl::ImageSet data = blob_images(50, 9);
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  udl::TrainConfig config = small_config(1);
  config.threads = before == 1 ? 2 : 1;
  udl::train_autoencoder(model, data, nullptr, config);
  EXPECT_EQ(at::get_num_threads(), before);
}

TEST(Training, OnePassIsThePlainLossAndMorePassesAddUp) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  model->eval();
  const torch::Tensor images = blob_images(16, 10).slice(0, 16);
  for (auto loss : {udl::LossKind::kMse, udl::LossKind::kBce}) {
    const torch::Tensor logits = model->forward(images);
    const torch::Tensor plain = loss == udl::LossKind::kMse
                                    ? torch::mse_loss(torch::sigmoid(logits), images)
                                    : torch::binary_cross_entropy(torch::sigmoid(logits), images);
    EXPECT_TRUE(
        torch::allclose(udl::autoencoding_loss(model, images, images, loss, 1), plain, 1e-5));
    const torch::Tensor second = model->forward(torch::sigmoid(logits));
    const torch::Tensor two =
        loss == udl::LossKind::kMse
            ? plain + torch::mse_loss(torch::sigmoid(second), images)
            : plain + torch::binary_cross_entropy(torch::sigmoid(second), images);
    EXPECT_TRUE(torch::allclose(udl::autoencoding_loss(model, images, images, loss, 2), two, 1e-5));
  }
}

TEST(Training, IterativeAutoencodingTrains) {
  const udl::ImageSet data = blob_images(200, 11);
  udl::TrainConfig config = small_config(2);
  config.passes = 3;
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, &data, config);
  // Three summed errors, each at least the first pass's MSE on average.
  EXPECT_GT(result.history.back().val_loss, 2.0 * result.history.back().val_mse);
  EXPECT_LT(*result.test_mse, *result.test_loss);
}

TEST(Training, PrunedWeightsStayZeroAndSparsityIsReported) {
  const udl::ImageSet data = blob_images(256, 12);
  udl::TrainConfig config = small_config(4);
  config.pruning.every = 2;
  config.pruning.amounts = {0.4, 0.1, 0.2, 0.05};
  config.early_stopping.restore_best = false;
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, nullptr, config);
  for (size_t g = 0; g < udl::kLayerGroups; ++g) {
    EXPECT_EQ(result.history[0].sparsity[g], 0.0);
    const double one_round = config.pruning.amounts[g];
    EXPECT_NEAR(result.history[1].sparsity[g], one_round, 0.02);
    EXPECT_EQ(result.history[2].sparsity[g], result.history[1].sparsity[g]);
    const double two_rounds = 1 - (1 - one_round) * (1 - one_round);
    EXPECT_NEAR(result.history[3].sparsity[g], two_rounds, 0.02);
  }
  for (const auto& w : model->prunable_weights()) {
    EXPECT_TRUE(w.weight.masked_select(w.mask.eq(0)).eq(0).all().item<bool>());
  }
}

TEST(Training, TheRestoredBestCheckpointKeepsItsMasks) {
  const udl::ImageSet data = blob_images(256, 13);
  udl::TrainConfig config = small_config(4);
  config.pruning.every = 1;
  config.pruning.amounts = {0.3, 0.3, 0.3, 0.3};
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
  const udl::TrainResult result = udl::train_autoencoder(model, data, nullptr, config);
  const auto& best = result.history[result.best_epoch - 1];
  const auto now = udl::sparsity(model->prunable_weights());
  for (size_t g = 0; g < udl::kLayerGroups; ++g) EXPECT_DOUBLE_EQ(now[g], best.sparsity[g]);
  for (const auto& w : model->prunable_weights()) {
    EXPECT_TRUE(w.weight.masked_select(w.mask.eq(0)).eq(0).all().item<bool>());
  }
}

}  // namespace

namespace {

TEST(Training, LearningRateDecaysOnAPlateau) {
  const udl::ImageSet data = blob_images(200, 3);
  auto run = [&](double decay) {
    udl::TrainConfig config = small_config(8);
    config.learning_rate = 0.05;  // large enough for the validation loss to wander
    config.early_stopping.enabled = false;
    config.lr_decay = decay;
    config.lr_patience = 1;
    udl::Autoencoder model(udl::conv_autoencoder_spec(4, 4), 0);
    return udl::train_autoencoder(model, data, nullptr, config).history;
  };
  // With a vanishing decay, the first epoch without improvement freezes the weights.
  const auto frozen = run(1e-9);
  size_t plateau = 0;
  while (plateau < frozen.size() && frozen[plateau].improved) ++plateau;
  ASSERT_LT(plateau + 2, frozen.size()) << "every epoch improved; the test needs a plateau";
  for (size_t i = plateau + 1; i < frozen.size(); ++i) {
    EXPECT_NEAR(frozen[i].val_loss, frozen[plateau].val_loss, 1e-6) << "epoch " << i + 1;
  }
  // Without decay the same run goes on changing.
  const auto free = run(1.0);
  EXPECT_GT(std::abs(free.back().val_loss - free[plateau].val_loss), 1e-5);
}

TEST(Training, LearningRateDecayIsValidated) {
  udl::TrainConfig config = small_config(1);
  config.lr_decay = 0.0;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.lr_decay = 1.5;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.lr_decay = 0.5;
  config.lr_patience = 0;
  EXPECT_THROW(udl::validate(config), udl::InvalidArgument);
  config.lr_patience = 2;
  EXPECT_NO_THROW(udl::validate(config));
}

}  // namespace
