// Building blocks the models share: PyTorch-like seeded initialisation, seeded dropout, and
// the convolutional encoder and decoder stacks of an AutoencoderSpec.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "udl/architecture.h"
#include "udl/pruning.h"
#include "udl/torch_api.h"

namespace udl {

// PyTorch's default initialisation of conv and linear layers (kaiming_uniform with
// a=sqrt(5), then the bias): uniform in ±1/sqrt(fan_in). Normalisation layers keep their
// ones and zeros. Draws from `generator` only, so equal seeds give equal models.
void init_like_pytorch(torch::nn::Module& module, at::Generator& generator);

// Dropout whose masks come from the model's own generator: reproducible from the seed alone
// and independent of models training in other threads.
class SeededDropoutImpl : public torch::nn::Module {
 public:
  SeededDropoutImpl(double p, at::Generator generator) : p_(p), generator_(std::move(generator)) {}
  torch::Tensor forward(const torch::Tensor& x);

 private:
  double p_;
  at::Generator generator_;
};
TORCH_MODULE(SeededDropout);

// Called for every conv, transposed conv and linear layer a stack builder appends.
using WeightLayerAdded = std::function<void(const std::shared_ptr<torch::nn::Module>&, LayerGroup)>;

struct StackOptions {
  bool batch_norm = false;   // BatchNorm after every conv but the decoder's last (report 002)
  bool latent_layer = true;  // the encoder ends in linear(→latent); off, it ends in ReLU
  at::Generator dropout_generator;  // required when spec.dropout > 0
};

// Appends conv(+BN)+ReLU per conv layer, flatten, then per hidden width [dropout] linear +
// ReLU, and the latent layer. Returns the width of the stack's output.
int64_t append_encoder(torch::nn::Sequential& stage, const AutoencoderSpec& spec,
                       const ArchitectureShapes& shapes, const StackOptions& options,
                       const WeightLayerAdded& added = {});

// The mirror: linear+ReLU per hidden width (reversed) [dropout], linear to the flattened
// conv output, unflatten, then transposed convs (+BN)+ReLU, the last without activation
// (its output are logits).
void append_decoder(torch::nn::Sequential& stage, const AutoencoderSpec& spec,
                    const ArchitectureShapes& shapes, const StackOptions& options,
                    const WeightLayerAdded& added = {});

// Inference in batches of `batch_size` with gradients off and `model` in eval mode; uint8
// input (0..255) becomes float32 in [0,1] batch by batch. Throws InvalidArgument for a
// batch size <= 0.
torch::Tensor infer_in_batches(torch::nn::Module& model, const torch::Tensor& input,
                               int64_t batch_size,
                               const std::function<torch::Tensor(const torch::Tensor&)>& step);

// Checks that `images` is N×C×H×W for the given {C, H, W}; throws InvalidArgument naming the
// expected and the given shape.
void check_image_shape(const std::vector<int64_t>& image_shape, const torch::Tensor& images);
// The same, and N > 0 and uint8 or float32.
void check_image_batch(const std::vector<int64_t>& image_shape, const torch::Tensor& images);

}  // namespace udl
