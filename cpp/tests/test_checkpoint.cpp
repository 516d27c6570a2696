#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "udl/autoencoder_training.h"
#include "udl/classifier.h"
#include "udl/cross_validation.h"
#include "udl/errors.h"
#include "udl/gan.h"
#include "udl/vae.h"

namespace {

using udl_test::blob_images;
using udl_test::temp_file;

struct Stop {};  // thrown by a hook: an interrupt after some epoch

class Checkpoint : public udl_test::OneThread {
 protected:
  void TearDown() override {
    for (const auto& path : paths_) std::filesystem::remove(path);
    OneThread::TearDown();
  }
  std::string path(const std::string& name) {
    paths_.push_back(temp_file("checkpoint", name));
    return paths_.back().string();
  }
  // The per-fold checkpoints a cross-validation writes beside its own, removed afterwards.
  void paths_of_folds(const std::string& base, int64_t folds) {
    for (int64_t i = 0; i < folds; ++i) paths_.emplace_back(base + ".fold" + std::to_string(i));
  }

 private:
  std::vector<std::filesystem::path> paths_;
};

// Everything a checkpoint must carry: dropout, corruption and shuffling generators, pruning
// masks, the plateau schedule and early stopping.
udl::TrainConfig demanding_config(int64_t epochs) {
  udl::TrainConfig config;
  config.epochs = epochs;
  config.batch_size = 32;
  config.learning_rate = 3e-3;
  config.threads = 1;
  config.seed = 5;
  config.corruption.gaussian_sigma = 0.2;
  config.corruption.rotation_degrees = 10;
  config.pruning.every = 1;
  config.pruning.amounts.fill(0.1);
  config.lr_decay = 0.5;
  config.lr_patience = 1;
  config.early_stopping.patience = 3;
  return config;
}

udl::AutoencoderSpec dropout_spec() {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 3);
  spec.dropout = 0.2;
  spec.decoder_dropout = true;
  return spec;
}

void expect_same_history(const std::vector<udl::EpochRecord>& a,
                         const std::vector<udl::EpochRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].train_loss, b[i].train_loss) << "epoch " << i + 1;
    EXPECT_EQ(a[i].val_loss, b[i].val_loss) << "epoch " << i + 1;
    EXPECT_EQ(a[i].improved, b[i].improved);
    EXPECT_EQ(a[i].sparsity, b[i].sparsity);
  }
}

void expect_same_weights(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.parameters();
  const auto pb = b.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
  const auto ba = a.buffers();  // batch norm's running statistics
  const auto bb = b.buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (size_t i = 0; i < ba.size(); ++i) EXPECT_TRUE(torch::equal(ba[i], bb[i]));
}

TEST_F(Checkpoint, InterruptedAndResumedEqualsUninterrupted) {
  const udl::ImageSet data = blob_images(160, 1);
  udl::Autoencoder whole(dropout_spec(), 5);
  const auto uninterrupted = udl::train_autoencoder(whole, data, &data, demanding_config(5));

  udl::TrainConfig config = demanding_config(5);
  config.checkpoint_path = path("autoencoder");
  config.resume = true;  // no file yet: starts from scratch
  udl::TrainHooks stop_after_two;
  stop_after_two.on_epoch = [](const udl::EpochRecord& stats) {
    if (stats.epoch == 2) throw Stop{};
  };
  udl::Autoencoder first(dropout_spec(), 5);
  EXPECT_THROW(udl::train_autoencoder(first, data, &data, config, stop_after_two), Stop);
  ASSERT_TRUE(std::filesystem::exists(config.checkpoint_path));

  udl::Autoencoder resumed(dropout_spec(), 5);  // a fresh process would build this
  const auto result = udl::train_autoencoder(resumed, data, &data, config);
  expect_same_history(uninterrupted.history, result.history);
  EXPECT_EQ(result.best_epoch, uninterrupted.best_epoch);
  EXPECT_EQ(result.stop_reason, uninterrupted.stop_reason);
  EXPECT_EQ(*result.test_loss, *uninterrupted.test_loss);
  expect_same_weights(*whole, *resumed);
}

TEST_F(Checkpoint, ResumingAFinishedRunTrainsNoMore) {
  const udl::ImageSet data = blob_images(96, 2);
  udl::TrainConfig config = demanding_config(2);
  config.checkpoint_path = path("finished");
  udl::Autoencoder model(dropout_spec(), 5);
  const auto first = udl::train_autoencoder(model, data, nullptr, config);
  config.resume = true;
  int epochs_run = 0;
  udl::TrainHooks count;
  count.on_epoch = [&](const udl::EpochRecord&) { ++epochs_run; };
  udl::Autoencoder again(dropout_spec(), 5);
  const auto second = udl::train_autoencoder(again, data, nullptr, config, count);
  EXPECT_EQ(epochs_run, 0);
  expect_same_history(first.history, second.history);
  expect_same_weights(*model, *again);
  // More epochs continue from the checkpoint.
  config.epochs = 3;
  udl::Autoencoder longer(dropout_spec(), 5);
  const auto third = udl::train_autoencoder(longer, data, nullptr, config, count);
  EXPECT_EQ(epochs_run, 1);
  EXPECT_EQ(third.history.size(), 3u);
}

TEST_F(Checkpoint, ClassifierAndVaeResumeExactly) {
  udl::ImageSet data = blob_images(120, 3);
  data = udl::ImageSet(data.images(), torch::arange(120, torch::kInt64).remainder(3));
  udl::LoopConfig loop;
  loop.epochs = 3;
  loop.batch_size = 32;
  loop.threads = 1;
  loop.seed = 2;
  // Batch norm and augmentation: their running statistics and draws are part of the state.
  udl::ClassifierSpec classifier_spec{dropout_spec(), 3, udl::HeadKind::kTwoLayer, 8, true};
  udl::ClassifierConfig classifier_config;
  static_cast<udl::LoopConfig&>(classifier_config) = loop;
  classifier_config.augmentation = {2, true};
  udl::Classifier whole(classifier_spec, 2);
  const auto uninterrupted = udl::train_classifier(whole, data, nullptr, classifier_config);
  classifier_config.checkpoint_path = path("classifier");
  classifier_config.resume = true;
  udl::ClassifierHooks stop;
  stop.on_epoch = [](const udl::ClassifierEpochRecord& s) {
    if (s.epoch == 1) throw Stop{};
  };
  udl::Classifier first(classifier_spec, 2);
  EXPECT_THROW(udl::train_classifier(first, data, nullptr, classifier_config, stop), Stop);
  udl::Classifier resumed(classifier_spec, 2);
  const auto result = udl::train_classifier(resumed, data, nullptr, classifier_config);
  ASSERT_EQ(result.history.size(), uninterrupted.history.size());
  for (size_t i = 0; i < result.history.size(); ++i) {
    EXPECT_EQ(result.history[i].train_loss, uninterrupted.history[i].train_loss);
    EXPECT_EQ(result.history[i].val_accuracy, uninterrupted.history[i].val_accuracy);
  }
  expect_same_weights(*whole, *resumed);

  udl::VaeSpec vae_spec{udl::conv_autoencoder_spec(4, 2), true};
  udl::VaeConfig vae_config;
  static_cast<udl::LoopConfig&>(vae_config) = loop;
  udl::Vae vae_whole(vae_spec, 2);
  const auto vae_uninterrupted = udl::train_vae(vae_whole, data, nullptr, vae_config);
  vae_config.checkpoint_path = path("vae");
  vae_config.resume = true;
  udl::VaeHooks vae_stop;
  vae_stop.on_epoch = [](const udl::VaeEpochRecord& s) {
    if (s.epoch == 2) throw Stop{};
  };
  udl::Vae vae_first(vae_spec, 2);
  EXPECT_THROW(udl::train_vae(vae_first, data, nullptr, vae_config, vae_stop), Stop);
  udl::Vae vae_resumed(vae_spec, 2);
  const auto vae_result = udl::train_vae(vae_resumed, data, nullptr, vae_config);
  ASSERT_EQ(vae_result.history.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(vae_result.history[i].train_loss, vae_uninterrupted.history[i].train_loss);
    EXPECT_EQ(vae_result.history[i].val_kl, vae_uninterrupted.history[i].val_kl);
  }
  expect_same_weights(*vae_whole, *vae_resumed);
}

TEST_F(Checkpoint, AnotherRunsCheckpointIsRefused) {
  const udl::ImageSet data = blob_images(64, 4);
  udl::TrainConfig config = demanding_config(1);
  config.checkpoint_path = path("other");
  udl::Autoencoder model(dropout_spec(), 5);
  udl::train_autoencoder(model, data, nullptr, config);
  config.resume = true;

  udl::TrainConfig other_seed = config;
  other_seed.seed = 6;
  udl::Autoencoder a(dropout_spec(), 6);
  EXPECT_THROW(udl::train_autoencoder(a, data, nullptr, other_seed), udl::InvalidArgument);
  udl::TrainConfig other_batch = config;
  other_batch.batch_size = 16;
  udl::Autoencoder b(dropout_spec(), 5);
  EXPECT_THROW(udl::train_autoencoder(b, data, nullptr, other_batch), udl::InvalidArgument);
  udl::Autoencoder wider(udl::conv_autoencoder_spec(8, 3), 5);
  try {
    udl::train_autoencoder(wider, data, nullptr, config);
    FAIL() << "a checkpoint of another architecture was accepted";
  } catch (const udl::InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("another architecture"), std::string::npos);
  }
}

TEST_F(Checkpoint, DamagedFilesGiveDataFormatError) {
  const udl::ImageSet data = blob_images(64, 5);
  udl::TrainConfig config = demanding_config(1);
  config.checkpoint_path = path("damaged");
  udl::Autoencoder model(dropout_spec(), 5);
  udl::train_autoencoder(model, data, nullptr, config);
  const auto size = std::filesystem::file_size(config.checkpoint_path);
  std::filesystem::resize_file(config.checkpoint_path, size / 2);
  config.resume = true;
  udl::Autoencoder again(dropout_spec(), 5);
  EXPECT_THROW(udl::train_autoencoder(again, data, nullptr, config), udl::DataFormatError);
  std::ofstream(config.checkpoint_path) << "not a checkpoint at all";
  EXPECT_THROW(udl::train_autoencoder(again, data, nullptr, config), udl::DataFormatError);
}

TEST_F(Checkpoint, NoTemporaryFileIsLeftBehind) {
  const udl::ImageSet data = blob_images(64, 6);
  udl::TrainConfig config = demanding_config(2);
  config.checkpoint_path = path("tidy");
  udl::Autoencoder model(dropout_spec(), 5);
  udl::train_autoencoder(model, data, nullptr, config);
  const auto folder = std::filesystem::path(config.checkpoint_path).parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    EXPECT_EQ(entry.path().string().find(config.checkpoint_path + ".tmp"), std::string::npos);
  }
}

TEST_F(Checkpoint, ResumeNeedsAPath) {
  udl::TrainConfig config = demanding_config(1);
  config.resume = true;
  EXPECT_THROW(udl::validate(static_cast<const udl::LoopConfig&>(config)), udl::InvalidArgument);
}

void expect_same_folds(const udl::CrossValidationResult& a, const udl::CrossValidationResult& b) {
  ASSERT_EQ(a.folds.size(), b.folds.size());
  for (size_t i = 0; i < a.folds.size(); ++i) {
    expect_same_history(a.folds[i].history, b.folds[i].history);
    EXPECT_EQ(a.folds[i].best_epoch, b.folds[i].best_epoch);
    EXPECT_EQ(a.folds[i].best_val_mse, b.folds[i].best_val_mse);
    EXPECT_EQ(a.folds[i].stop_reason, b.folds[i].stop_reason);
    EXPECT_EQ(*a.folds[i].test_loss, *b.folds[i].test_loss);
  }
  EXPECT_EQ(a.mean_val_loss, b.mean_val_loss);
  EXPECT_EQ(a.best_fold, b.best_fold);
  expect_same_weights(*a.best_model, *b.best_model);
}

TEST_F(Checkpoint, CrossValidationResumesFromFinishedFoldsAndTheRunningOne) {
  udl::ImageSet data = blob_images(90, 6);
  data = udl::ImageSet(data.images(), torch::arange(90, torch::kInt64).remainder(3));
  const udl::CrossValidationConfig cv{3, true};
  const auto uninterrupted =
      udl::cross_validate(dropout_spec(), data, &data, demanding_config(3), cv);

  udl::TrainConfig config = demanding_config(3);
  config.checkpoint_path = path("folds");
  config.resume = true;
  // Interrupted in fold 1's second epoch: fold 0 is finished, fold 1 has a checkpoint.
  udl::TrainHooks stop;
  stop.on_epoch = [](const udl::EpochRecord& record) {
    if (record.fold == 1 && record.epoch == 2) throw Stop{};
  };
  EXPECT_THROW(udl::cross_validate(dropout_spec(), data, &data, config, cv, stop), Stop);
  ASSERT_TRUE(std::filesystem::exists(config.checkpoint_path));
  ASSERT_TRUE(std::filesystem::exists(config.checkpoint_path + ".fold1"));
  paths_of_folds(config.checkpoint_path, cv.folds);

  std::vector<std::pair<int64_t, int64_t>> trained;  // (fold, epoch) run after the resume
  udl::TrainHooks record_epochs;
  record_epochs.on_epoch = [&](const udl::EpochRecord& r) {
    trained.emplace_back(r.fold, r.epoch);
  };
  const auto resumed = udl::cross_validate(dropout_spec(), data, &data, config, cv, record_epochs);
  ASSERT_FALSE(trained.empty());
  EXPECT_EQ(trained.front(), (std::pair<int64_t, int64_t>{1, 3}));  // fold 0 is not retrained
  expect_same_folds(uninterrupted, resumed);
  EXPECT_FALSE(std::filesystem::exists(config.checkpoint_path + ".fold1"));

  // A finished run resumes to the same result without training; another seed is refused.
  trained.clear();
  expect_same_folds(uninterrupted,
                    udl::cross_validate(dropout_spec(), data, &data, config, cv, record_epochs));
  EXPECT_TRUE(trained.empty());
  config.seed = 6;
  EXPECT_THROW(udl::cross_validate(dropout_spec(), data, &data, config, cv), udl::InvalidArgument);
}

TEST_F(Checkpoint, GanResumesWithTheSameWeightsAndSamples) {
  const udl::ImageSet data = blob_images(96, 7);
  udl::GanSpec spec;
  spec.architecture = udl::GanArchitecture::kFullyConnectedLeaky;  // dropout in both networks
  spec.image_shape = {1, 28, 28};
  spec.noise_dim = 8;
  udl::GanConfig config;
  config.epochs = 4;
  config.batch_size = 32;
  config.threads = 1;
  config.seed = 3;
  config.sample_epochs = {1, 3, 4};
  config.sample_count = 5;
  udl::Gan whole(spec, 3);
  const auto uninterrupted = udl::train_gan(whole, data, config);

  config.checkpoint_path = path("gan");
  config.resume = true;
  udl::GanHooks stop;
  stop.on_epoch = [](const udl::GanEpochRecord& record) {
    if (record.epoch == 2) throw Stop{};
  };
  udl::Gan first(spec, 3);
  EXPECT_THROW(udl::train_gan(first, data, config, stop), Stop);
  udl::Gan resumed(spec, 3);
  const auto result = udl::train_gan(resumed, data, config);
  ASSERT_EQ(result.history.size(), uninterrupted.history.size());
  for (size_t i = 0; i < result.history.size(); ++i) {
    EXPECT_EQ(result.history[i].generator_loss, uninterrupted.history[i].generator_loss);
    EXPECT_EQ(result.history[i].discriminator_loss, uninterrupted.history[i].discriminator_loss);
    EXPECT_EQ(result.history[i].fake_score, uninterrupted.history[i].fake_score);
  }
  expect_same_weights(*whole, *resumed);
  ASSERT_EQ(result.samples.size(), 3u);
  for (size_t i = 0; i < result.samples.size(); ++i) {
    EXPECT_EQ(result.samples[i].first, uninterrupted.samples[i].first);
    EXPECT_TRUE(torch::equal(result.samples[i].second, uninterrupted.samples[i].second));
  }
}

}  // namespace
