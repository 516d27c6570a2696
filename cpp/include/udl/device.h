// Where a model trains and runs. Names are "cpu", "cuda" (the first GPU), "cuda:N" and
// "auto" (the first GPU when torch sees one, else the CPU). A device that torch cannot use is
// refused up front, with the cause, before any work starts.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "udl/choices.h"
#include "udl/torch_api.h"

namespace udl {

// The device a name stands for. Throws InvalidArgument for an unknown name, a CUDA device
// with no CUDA in this torch or no GPU, or an index past the GPUs this machine has.
torch::Device resolve_device(const std::string& name);

// "cpu" or "cuda:N": the name resolve_device reads back as the same device.
std::string device_name(const torch::Device& device);

// A random-number generator of `device`, seeded by `seed`: the same seed gives the same
// stream on the same kind of device.
at::Generator make_generator(const torch::Device& device, uint64_t seed);

// The device of the module's first parameter (the CPU for a module without any).
torch::Device device_of(torch::nn::Module& module);

// The numeric precision of the training step: float32 everywhere, or bfloat16 autocast
// (CUDA only: matrix products and convolutions in bf16, losses and weights in float32).
enum class Precision { kFloat32, kBfloat16 };
inline constexpr std::array<Choice<Precision>, 2> kPrecisionNames{
    {{Precision::kFloat32, "fp32"}, {Precision::kBfloat16, "bf16"}}};

// Makes cuDNN pick deterministic algorithms (and not benchmark them) for its lifetime on a
// CUDA device, so that the same seed on the same GPU gives the same history; restores the
// previous choice afterwards. Does nothing on the CPU.
class DeterministicCudnnGuard {
 public:
  explicit DeterministicCudnnGuard(const torch::Device& device);
  ~DeterministicCudnnGuard();
  DeterministicCudnnGuard(const DeterministicCudnnGuard&) = delete;
  DeterministicCudnnGuard& operator=(const DeterministicCudnnGuard&) = delete;

 private:
  bool active_;
  bool was_deterministic_ = false;
  bool was_benchmark_ = false;
};

// Turns bf16 autocast on for CUDA for its lifetime when `precision` asks for it on a CUDA
// device; does nothing otherwise.
class AutocastGuard {
 public:
  AutocastGuard(Precision precision, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool was_enabled_ = false;
  bool was_caching_ = true;
  at::ScalarType previous_dtype_ = at::kHalf;
};

}  // namespace udl
