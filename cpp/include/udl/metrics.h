// Generation-quality metrics on the features and class probabilities of a classifier udl
// trains on the same dataset (the Inception network's role in FID and IS).
#pragma once

#include <cstdint>

#include "udl/torch_api.h"

namespace udl {

// The Fréchet distance between Gaussians fitted to two feature sets (N×F and M×F, N, M ≥ 2):
// |μa − μb|² + tr(Σa + Σb − 2(Σa^½ Σb Σa^½)^½), in float64 through symmetric eigen-
// decompositions (Σa^½ Σb Σa^½ is symmetric and has the eigenvalues of Σa Σb).
double frechet_distance(const torch::Tensor& features_a, const torch::Tensor& features_b);

struct InceptionScore {
  double mean = 0.0;
  double std = 0.0;  // over the splits
};
// exp(E_x KL(p(y|x) ‖ p(y))) from class log-probabilities (N×K), computed on `splits`
// equal parts (N ≥ splits ≥ 1) and averaged.
InceptionScore inception_score(const torch::Tensor& log_probabilities, int64_t splits = 10);

}  // namespace udl
