#include "udl/metrics.h"

#include <cmath>
#include <string>

#include "udl/errors.h"

namespace udl {
namespace {

void check_features(const torch::Tensor& features, const char* what) {
  if (features.dim() != 2 || features.size(0) < 2 || features.size(1) < 1) {
    throw InvalidArgument(std::string(what) + " must be N x F with N >= 2");
  }
  if (!torch::isfinite(features).all().item<bool>()) {
    throw InvalidArgument(std::string(what) + " contain NaN or infinite values");
  }
}

torch::Tensor covariance(const torch::Tensor& x, const torch::Tensor& mean) {
  const torch::Tensor centred = x - mean;
  return centred.t().mm(centred) / static_cast<double>(x.size(0) - 1);
}

// The square root of a symmetric positive semi-definite matrix; round-off negatives → 0.
torch::Tensor psd_sqrt(const torch::Tensor& matrix) {
  const auto [values, vectors] = torch::linalg_eigh(matrix);
  return vectors.mm(torch::diag(values.clamp_min(0).sqrt())).mm(vectors.t());
}

}  // namespace

double frechet_distance(const torch::Tensor& features_a, const torch::Tensor& features_b) {
  check_features(features_a, "features_a");
  check_features(features_b, "features_b");
  if (features_a.size(1) != features_b.size(1)) {
    throw InvalidArgument("the two feature sets have " + std::to_string(features_a.size(1)) +
                          " and " + std::to_string(features_b.size(1)) + " features");
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor a = features_a.to(torch::kFloat64);
  const torch::Tensor b = features_b.to(torch::kFloat64);
  const torch::Tensor mean_a = a.mean(0);
  const torch::Tensor mean_b = b.mean(0);
  const torch::Tensor cov_a = covariance(a, mean_a);
  const torch::Tensor cov_b = covariance(b, mean_b);
  const torch::Tensor root_a = psd_sqrt(cov_a);
  torch::Tensor middle = root_a.mm(cov_b).mm(root_a);
  middle = (middle + middle.t()) / 2;  // symmetric up to round-off; eigh needs it exactly
  const double trace_root = torch::linalg_eigvalsh(middle).clamp_min(0).sqrt().sum().item<double>();
  const double mean_term = (mean_a - mean_b).pow(2).sum().item<double>();
  const double value =
      mean_term + cov_a.trace().item<double>() + cov_b.trace().item<double>() - 2.0 * trace_root;
  return std::max(value, 0.0);
}

InceptionScore inception_score(const torch::Tensor& log_probabilities, int64_t splits) {
  if (log_probabilities.dim() != 2 || log_probabilities.size(0) == 0) {
    throw InvalidArgument("log-probabilities must be N x K with N > 0");
  }
  if (splits < 1 || splits > log_probabilities.size(0)) {
    throw InvalidArgument("splits must be in 1..N (" + std::to_string(log_probabilities.size(0)) +
                          "), got " + std::to_string(splits));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor log_p = log_probabilities.to(torch::kFloat64);
  std::vector<double> scores;
  for (const torch::Tensor& part : log_p.tensor_split(splits)) {
    const torch::Tensor p = part.exp();
    const torch::Tensor log_marginal = p.mean(0).log();
    // 0 · log 0 = 0: a class a row rules out (log-probability −inf) contributes nothing.
    const torch::Tensor kl =
        torch::where(p > 0, p * (part - log_marginal), torch::zeros_like(p)).sum(1);
    scores.push_back(std::exp(kl.mean().item<double>()));
  }
  const torch::Tensor s = torch::tensor(scores, torch::kFloat64);
  return {s.mean().item<double>(), splits > 1 ? s.std(false).item<double>() : 0.0};
}

}  // namespace udl
