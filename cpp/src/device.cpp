#include "udl/device.h"

#include <ATen/autocast_mode.h>
#include <torch/cuda.h>

#include "udl/errors.h"

namespace udl {

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  std::optional<torch::Device> device;
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
  }
  if (!device || !(device->is_cpu() || device->is_cuda())) {
    throw InvalidArgument("device must be \"cpu\", \"cuda\", \"cuda:N\" or \"auto\", got \"" +
                          name + "\"");
  }
  if (device->is_cpu()) return torch::Device(torch::kCPU);
  if (!torch::cuda::is_available()) {
    throw InvalidArgument("device \"" + name +
                          "\" is not available: torch sees no CUDA device (a CPU-only build of "
                          "torch, or no GPU or driver on this machine)");
  }
  const int64_t count = torch::cuda::device_count();
  const int64_t index = device->has_index() ? device->index() : 0;
  if (index >= count) {
    throw InvalidArgument("device \"" + name + "\" does not exist: this machine has " +
                          std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") +
                          " (cuda:0 to cuda:" + std::to_string(count - 1) + ")");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string device_name(const torch::Device& device) {
  if (device.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
}

at::Generator make_generator(const torch::Device& device, uint64_t seed) {
  if (device.is_cpu()) return at::make_generator<at::CPUGeneratorImpl>(seed);
  // A fresh generator of that GPU: a clone of its default one, reseeded (the default one
  // itself, shared with the rest of the process, is left alone).
  at::Generator shared = at::globalContext().defaultGenerator(device);  // a handle
  at::Generator generator;
  {
    std::lock_guard<std::mutex> lock(shared.mutex());
    generator = shared.clone();
  }
  generator.set_current_seed(seed);
  return generator;
}

torch::Device device_of(torch::nn::Module& module) {
  for (const auto& parameter : module.parameters()) return parameter.device();
  return torch::Device(torch::kCPU);
}

DeterministicCudnnGuard::DeterministicCudnnGuard(const torch::Device& device)
    : active_(device.is_cuda()) {
  if (!active_) return;
  at::Context& context = at::globalContext();
  was_deterministic_ = context.deterministicCuDNN();
  was_benchmark_ = context.benchmarkCuDNN();
  context.setDeterministicCuDNN(true);
  context.setBenchmarkCuDNN(false);
}

DeterministicCudnnGuard::~DeterministicCudnnGuard() {
  if (!active_) return;
  at::globalContext().setDeterministicCuDNN(was_deterministic_);
  at::globalContext().setBenchmarkCuDNN(was_benchmark_);
}

AutocastGuard::AutocastGuard(Precision precision, const torch::Device& device)
    : active_(precision == Precision::kBfloat16 && device.is_cuda()) {
  if (!active_) return;
  was_enabled_ = at::autocast::is_autocast_enabled(torch::kCUDA);
  previous_dtype_ = at::autocast::get_autocast_dtype(torch::kCUDA);
  was_caching_ = at::autocast::is_autocast_cache_enabled();
  // The cache of bf16 weight copies lives until the region ends; one region spans a whole
  // epoch of optimizer steps, so cached copies would go stale (and, made under no_grad,
  // would cut the weights off from their gradients): cast afresh every time instead.
  at::autocast::set_autocast_cache_enabled(false);
  at::autocast::set_autocast_enabled(torch::kCUDA, true);
  at::autocast::set_autocast_dtype(torch::kCUDA, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // The cache of casted weights lives as long as the outermost autocast region.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(torch::kCUDA, was_enabled_);
  at::autocast::set_autocast_dtype(torch::kCUDA, previous_dtype_);
  at::autocast::set_autocast_cache_enabled(was_caching_);
}

}  // namespace udl
