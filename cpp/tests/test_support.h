// Helpers shared by the GoogleTest files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

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

}  // namespace udl_test
