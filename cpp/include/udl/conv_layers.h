// udl's convolution layers. They hold the same parameters as torch::nn's Conv2d and
// ConvTranspose2d (weight and bias, same shapes and names, so model files and pruning see no
// difference) but pick faster kernels on the CPU:
//  - activations stay channels-last (NHWC) between layers, which oneDNN convolves faster than
//    NCHW at these sizes, with no reorders between layers;
//  - a strided transposed convolution with few output channels is one matrix product (input
//    pixels × kernel taps, MKL) and a scatter-add of its columns (col2im), where oneDNN's
//    kernel is slow: the CAE decoder's forward passes run 1.4-3.8x faster. Its backward is
//    oneDNN's, which is fast.
// On another device, or for a dtype other than float32, they call ATen's own kernels.
// Measured per layer in docs/benchmarks.md.
#pragma once

#include <cstdint>

#include "udl/torch_api.h"

namespace udl {

struct ConvGeometry {
  int64_t in_channels = 1;
  int64_t out_channels = 1;
  int64_t kernel = 3;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t output_padding_h = 0;  // transposed convolutions only
  int64_t output_padding_w = 0;
};

class Conv2dLayerImpl : public torch::nn::Module {
 public:
  explicit Conv2dLayerImpl(const ConvGeometry& geometry);
  torch::Tensor forward(const torch::Tensor& x);
  const ConvGeometry& geometry() const { return geometry_; }

  torch::Tensor weight;  // out × in × k × k
  torch::Tensor bias;    // out

 private:
  ConvGeometry geometry_;
};
TORCH_MODULE(Conv2dLayer);

class ConvTranspose2dLayerImpl : public torch::nn::Module {
 public:
  explicit ConvTranspose2dLayerImpl(const ConvGeometry& geometry);
  torch::Tensor forward(const torch::Tensor& x);
  const ConvGeometry& geometry() const { return geometry_; }

  torch::Tensor weight;  // in × out × k × k, as PyTorch lays it out
  torch::Tensor bias;    // out

 private:
  ConvGeometry geometry_;
};
TORCH_MODULE(ConvTranspose2dLayer);

// The transposed convolution through udl's CPU kernels (float32, CPU tensors), with its
// autograd backward. Equal to at::conv_transpose2d(x, weight, bias, stride, padding,
// output_padding) up to float rounding; the output is channels-last.
torch::Tensor transposed_conv2d_gemm(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias, const ConvGeometry& geometry);

// Where transposed_conv2d_gemm beats oneDNN on this project's CPU: strided layers with at most
// 32 output channels (measured: the CAE's three, DCGAN's last, report 001's first; stride 1
// and DCGAN's 128→64 layer are faster in oneDNN).
bool gemm_is_faster(const ConvGeometry& geometry);

// Whether the layers above take udl's own CPU path for `x` (else ATen's default kernels).
bool uses_cpu_kernels(const torch::Tensor& x);

}  // namespace udl
