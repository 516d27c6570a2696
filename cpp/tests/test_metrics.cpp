#include <gtest/gtest.h>

#include <cmath>

#include "test_support.h"
#include "udl/errors.h"
#include "udl/metrics.h"

namespace {

using udl_test::OneThread;
class FrechetDistance : public OneThread {};
class InceptionScore : public OneThread {};

torch::Tensor normal(std::vector<int64_t> shape, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::empty(shape, torch::kFloat64).normal_(0.0, 1.0, generator);
}

// Correlated features: standard normals through a fixed mixing matrix, plus an offset.
torch::Tensor correlated(int64_t n, int64_t f, uint64_t seed, double offset) {
  return normal({n, f}, seed).mm(normal({f, f}, seed + 1000)) + offset;
}

TEST_F(FrechetDistance, OfASetWithItselfIsZero) {
  const torch::Tensor a = correlated(300, 6, 1, 0.5);
  EXPECT_NEAR(udl::frechet_distance(a, a), 0.0, 1e-8);
  EXPECT_NEAR(udl::frechet_distance(a.to(torch::kFloat32), a.to(torch::kFloat32)), 0.0, 1e-4);
}

TEST_F(FrechetDistance, OfGaussiansWithDiagonalCovariances) {
  const int64_t n = 200000;  // the mean term's sampling error is about 0.02
  const torch::Tensor sigma_a = torch::tensor({1.0, 2.0, 0.5}, torch::kFloat64);
  const torch::Tensor sigma_b = torch::tensor({0.5, 1.0, 1.5}, torch::kFloat64);
  const torch::Tensor mu_a = torch::tensor({0.0, 1.0, 2.0}, torch::kFloat64);
  const torch::Tensor mu_b = torch::tensor({1.0, -1.0, 2.0}, torch::kFloat64);
  const torch::Tensor a = normal({n, 3}, 2) * sigma_a + mu_a;
  const torch::Tensor b = normal({n, 3}, 3) * sigma_b + mu_b;
  // |Δμ|² = 1 + 4 + 0, Σ(σa − σb)² = 0.25 + 1 + 1.
  const double expected =
      (mu_a - mu_b).pow(2).sum().item<double>() + (sigma_a - sigma_b).pow(2).sum().item<double>();
  ASSERT_DOUBLE_EQ(expected, 7.25);
  EXPECT_NEAR(udl::frechet_distance(a, b), expected, 0.1);
  // Equal covariances: only the means count.
  const torch::Tensor c = normal({n, 3}, 4) * sigma_a + mu_b;
  EXPECT_NEAR(udl::frechet_distance(a, c), 5.0, 0.1);
}

TEST_F(FrechetDistance, MatchesClosedFormsOnTheSampleStatistics) {
  // One feature: (μa − μb)² + (σa − σb)² with the sample (N − 1) standard deviations.
  const torch::Tensor a = normal({50, 1}, 5) * 2 + 1;
  const torch::Tensor b = normal({80, 1}, 6) * 0.5 - 1;
  const double one = std::pow((a.mean() - b.mean()).item<double>(), 2) +
                     std::pow((a.std() - b.std()).item<double>(), 2);
  EXPECT_NEAR(udl::frechet_distance(a, b), one, 1e-9 * one);

  // A scaled copy, Σb = s²Σa: |Δμ|² + (1 − s)² tr Σa, whatever the correlations.
  const torch::Tensor x = correlated(200, 5, 7, 0.0);
  const double s = 1.7;
  const torch::Tensor y = x * s + 0.3;
  const torch::Tensor centred = x - x.mean(0);
  const double trace = (centred * centred).sum().item<double>() / (200 - 1);
  const double scaled =
      (y.mean(0) - x.mean(0)).pow(2).sum().item<double>() + (1 - s) * (1 - s) * trace;
  EXPECT_NEAR(udl::frechet_distance(x, y), scaled, 1e-8 * scaled);
}

TEST_F(FrechetDistance, IsSymmetricAndIgnoresRowOrder) {
  const torch::Tensor a = correlated(120, 4, 8, 0.0);
  const torch::Tensor b = correlated(90, 4, 9, 0.7);
  const double ab = udl::frechet_distance(a, b);
  EXPECT_GT(ab, 0.1);
  EXPECT_NEAR(udl::frechet_distance(b, a), ab, 1e-9 * ab);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(10);
  const torch::Tensor shuffled = a.index_select(0, torch::randperm(120, generator, torch::kInt64));
  EXPECT_NEAR(udl::frechet_distance(shuffled, b), ab, 1e-9 * ab);
  // More features than samples: singular covariances still give a finite distance.
  const torch::Tensor wide_a = normal({5, 12}, 11);
  const torch::Tensor wide_b = normal({7, 12}, 12);
  const double wide = udl::frechet_distance(wide_a, wide_b);
  EXPECT_TRUE(std::isfinite(wide));
  EXPECT_NEAR(udl::frechet_distance(wide_b, wide_a), wide, 1e-6 * wide);
}

TEST_F(FrechetDistance, RejectsBadFeatureSets) {
  const torch::Tensor a = normal({10, 3}, 13);
  EXPECT_THROW(udl::frechet_distance(a, normal({10, 4}, 14)), udl::InvalidArgument);
  EXPECT_THROW(udl::frechet_distance(a, normal({1, 3}, 15)), udl::InvalidArgument);
  EXPECT_THROW(udl::frechet_distance(normal({1, 3}, 15), a), udl::InvalidArgument);
  EXPECT_THROW(udl::frechet_distance(a, normal({10}, 16)), udl::InvalidArgument);
  EXPECT_THROW(udl::frechet_distance(a, normal({10, 3, 1}, 17)), udl::InvalidArgument);
  torch::Tensor nan = a.clone();
  nan[4][1] = NAN;
  EXPECT_THROW(udl::frechet_distance(nan, a), udl::InvalidArgument);
  EXPECT_THROW(udl::frechet_distance(a, nan), udl::InvalidArgument);
  torch::Tensor inf = a.clone();
  inf[0][0] = INFINITY;
  EXPECT_THROW(udl::frechet_distance(a, inf), udl::InvalidArgument);
  EXPECT_NO_THROW(udl::frechet_distance(a.slice(0, 0, 2), a.slice(0, 2, 4)));  // N = 2 is enough
}

// One-hot predictions, row i of class i mod K.
torch::Tensor one_hot_probabilities(int64_t n, int64_t k) {
  return torch::one_hot(torch::arange(n, torch::kInt64).remainder(k), k).to(torch::kFloat64);
}

TEST_F(InceptionScore, UniformPredictionsScoreOne) {
  const torch::Tensor log_p = torch::full({40, 7}, -std::log(7.0), torch::kFloat64);
  for (int64_t splits : {1, 4, 40}) {
    const udl::InceptionScore score = udl::inception_score(log_p, splits);
    EXPECT_NEAR(score.mean, 1.0, 1e-12) << splits;
    EXPECT_NEAR(score.std, 0.0, 1e-12) << splits;
  }
}

TEST_F(InceptionScore, ConfidentEvenlySpreadPredictionsScoreTheClassCount) {
  // Log-probabilities as a classifier gives them: finite, one class almost certain.
  const torch::Tensor log_p = torch::log_softmax(one_hot_probabilities(60, 5) * 100, 1);
  for (int64_t splits : {1, 3, 12}) {  // every split holds each class equally often
    const udl::InceptionScore score = udl::inception_score(log_p, splits);
    EXPECT_NEAR(score.mean, 5.0, 1e-9) << splits;
    EXPECT_NEAR(score.std, 0.0, 1e-9) << splits;
  }
  EXPECT_NEAR(udl::inception_score(log_p.to(torch::kFloat32), 1).mean, 5.0, 1e-4);
}

// Disabled until inception_score treats 0 · log 0 as 0: today exp(−inf) · (−inf − log p(y))
// is 0 · −inf = NaN, and the score of exact one-hot predictions is NaN instead of K.
TEST_F(InceptionScore, ExactOneHotPredictionsScoreTheClassCount) {
  // log(0) = −inf: a zero probability contributes nothing (0 · log 0 = 0), not NaN.
  const torch::Tensor log_p = one_hot_probabilities(60, 5).log();
  const udl::InceptionScore score = udl::inception_score(log_p, 3);
  EXPECT_NEAR(score.mean, 5.0, 1e-9);
  EXPECT_NEAR(score.std, 0.0, 1e-9);
}

TEST_F(InceptionScore, MatchesAHandComputationAndSpreadsOverSplits) {
  // Two classes, half the rows (0.9, 0.1), half (0.1, 0.9): p(y) is uniform.
  const torch::Tensor p = torch::tensor({{0.9, 0.1}, {0.1, 0.9}}, torch::kFloat64).repeat({10, 1});
  const double kl = 0.9 * std::log(0.9 / 0.5) + 0.1 * std::log(0.1 / 0.5);
  EXPECT_NEAR(udl::inception_score(p.log(), 1).mean, std::exp(kl), 1e-12);

  // A uniform half (score 1) and a confident half (score K = 4): splits = 2 gives their mean
  // and their (population) standard deviation.
  const torch::Tensor uniform = torch::full({8, 4}, -std::log(4.0), torch::kFloat64);
  const torch::Tensor confident = torch::log_softmax(one_hot_probabilities(8, 4) * 100, 1);
  const udl::InceptionScore score = udl::inception_score(torch::cat({uniform, confident}), 2);
  EXPECT_NEAR(score.mean, 2.5, 1e-9);
  EXPECT_NEAR(score.std, 1.5, 1e-9);
}

TEST_F(InceptionScore, RejectsBadSplitsAndShapes) {
  const torch::Tensor log_p = torch::full({10, 3}, -std::log(3.0), torch::kFloat64);
  EXPECT_THROW(udl::inception_score(log_p, 0), udl::InvalidArgument);
  EXPECT_THROW(udl::inception_score(log_p, -1), udl::InvalidArgument);
  EXPECT_THROW(udl::inception_score(log_p, 11), udl::InvalidArgument);
  EXPECT_NO_THROW(udl::inception_score(log_p, 10));
  EXPECT_THROW(udl::inception_score(log_p.view({30}), 1), udl::InvalidArgument);
  EXPECT_THROW(udl::inception_score(log_p.slice(0, 0, 0), 1), udl::InvalidArgument);
}

}  // namespace
