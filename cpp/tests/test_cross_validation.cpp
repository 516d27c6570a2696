#include <gtest/gtest.h>

#include "udl/cross_validation.h"
#include "udl/errors.h"

namespace {

udl::ImageSet labelled_images(int64_t n) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(11);
  const torch::Tensor images = torch::randint(0, 256, {n, 1, 28, 28}, generator).to(torch::kUInt8);
  // Unbalanced classes: 0 is five times as common as 1 and 2.
  const torch::Tensor labels = torch::arange(n, torch::kInt64).remainder(7).clamp_max(2);
  return udl::ImageSet(images, labels);
}

TEST(Folds, AreDisjointCompleteAndSeeded) {
  const udl::ImageSet set = labelled_images(103);
  for (bool stratified : {false, true}) {
    const auto folds = udl::make_folds(set, 5, 3, stratified);
    ASSERT_EQ(folds.size(), 5u);
    const torch::Tensor all = std::get<0>(torch::cat(folds).sort());
    EXPECT_TRUE(all.equal(torch::arange(103, torch::kInt64)));  // disjoint and complete
    for (const auto& fold : folds) EXPECT_NEAR(fold.size(0), 103 / 5.0, 1.0);
    EXPECT_TRUE(udl::make_folds(set, 5, 3, stratified)[2].equal(folds[2]));
    EXPECT_FALSE(udl::make_folds(set, 5, 4, stratified)[2].equal(folds[2]));
  }
}

TEST(Folds, StratificationBalancesEveryClass) {
  const udl::ImageSet set = labelled_images(700);
  for (const auto& fold : udl::make_folds(set, 4, 0, true)) {
    const torch::Tensor counts = torch::bincount(set.labels()->index_select(0, fold));
    const torch::Tensor expected = torch::bincount(*set.labels()).to(torch::kFloat64) / 4;
    EXPECT_LE((counts.to(torch::kFloat64) - expected).abs().max().item<double>(), 1.0);
  }
}

TEST(Folds, RejectBadK) {
  const udl::ImageSet set = labelled_images(10);
  EXPECT_THROW(udl::make_folds(set, 1, 0, false), udl::InvalidArgument);
  EXPECT_THROW(udl::make_folds(set, 11, 0, false), udl::InvalidArgument);
}

TEST(CrossValidation, TrainsOneModelPerFoldAndSummarises) {
  const udl::ImageSet set = labelled_images(150);
  udl::TrainConfig config;
  config.epochs = 2;
  config.batch_size = 50;
  config.threads = 1;
  udl::CrossValidationConfig cv;
  cv.folds = 3;
  std::vector<std::pair<int64_t, int64_t>> seen;
  udl::TrainHooks hooks;
  hooks.on_epoch = [&](const udl::EpochRecord& s) { seen.emplace_back(s.fold, s.epoch); };
  const auto result =
      udl::cross_validate(udl::conv_autoencoder_spec(2, 3), set, nullptr, config, cv, hooks);
  ASSERT_EQ(result.folds.size(), 3u);
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, int64_t>>{
                      {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 1}, {2, 2}}));
  double sum = 0.0;
  double best = INFINITY;
  for (const auto& fold : result.folds) {
    sum += fold.best_val_loss;
    best = std::min(best, fold.best_val_loss);
    EXPECT_GT(fold.seconds, 0.0);
  }
  EXPECT_NEAR(result.mean_val_loss, sum / 3, 1e-12);
  EXPECT_EQ(result.folds[result.best_fold].best_val_loss, best);
  EXPECT_GE(result.seconds, result.folds[0].seconds + result.folds[1].seconds);
  ASSERT_TRUE(result.best_model);
  // Folds differ in data and seed, so their models differ.
  EXPECT_NE(result.folds[0].history[0].train_loss, result.folds[1].history[0].train_loss);
}

TEST(CrossValidation, AHookExceptionStopsTheWholeRun) {
  const udl::ImageSet set = labelled_images(60);
  udl::TrainConfig config;
  config.epochs = 3;
  config.threads = 1;
  udl::TrainHooks hooks;
  int calls = 0;
  hooks.on_epoch = [&](const udl::EpochRecord& s) {
    ++calls;
    if (s.fold == 1) throw std::runtime_error("enough");
  };
  udl::CrossValidationConfig cv;
  cv.folds = 3;
  EXPECT_THROW(
      udl::cross_validate(udl::conv_autoencoder_spec(2, 3), set, nullptr, config, cv, hooks),
      std::runtime_error);
  EXPECT_EQ(calls, 4);  // fold 0's three epochs, then fold 1's first
}

}  // namespace
