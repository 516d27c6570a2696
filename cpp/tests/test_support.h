// Helpers shared by the GoogleTest files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "udl/image_set.h"
#include "udl/torch_api.h"

namespace udl_test {

// One intra-op thread per test, as training with threads = 1 has: on a busy machine the
// spinning of idle OpenMP threads makes these tiny ops many times slower.
class OneThread : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = at::get_num_threads();
    at::set_num_threads(1);
  }
  void TearDown() override { at::set_num_threads(previous_); }

 private:
  int previous_ = 1;
};

// A path in the temporary folder private to this process and test file.
inline std::filesystem::path temp_file(const std::string& suite, const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("udl_" + suite + "_test_" + std::to_string(getpid()) + "_" + name);
}

// Blobs of varying position and brightness on 28×28: structured enough to be learnable.
inline udl::ImageSet blob_images(int64_t n, uint64_t seed) {
  using torch::indexing::Slice;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor grid = torch::arange(28, torch::kFloat32);
  const torch::Tensor centres = torch::rand({n, 2}, generator) * 20 + 4;
  const torch::Tensor dy = (grid.view({1, 28, 1}) - centres.index({Slice(), 0}).view({n, 1, 1}));
  const torch::Tensor dx = (grid.view({1, 1, 28}) - centres.index({Slice(), 1}).view({n, 1, 1}));
  const torch::Tensor images = torch::exp(-(dy * dy + dx * dx) / 18.0);
  return udl::ImageSet((images * 255).round().to(torch::kUInt8).unsqueeze(1));
}

}  // namespace udl_test
