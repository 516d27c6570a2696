// Building blocks the models share: PyTorch-like seeded initialisation, seeded dropout, and
// the convolutional encoder and decoder stacks of an AutoencoderSpec.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "udl/architecture.h"
#include "udl/device.h"
#include "udl/pruning.h"
#include "udl/torch_api.h"

namespace udl {

// PyTorch's default initialisation of conv and linear layers (kaiming_uniform with
// a=sqrt(5), then the bias): uniform in ±1/sqrt(fan_in). Normalisation layers keep their
// ones and zeros. Draws from `generator` only, so equal seeds give equal models.
void init_like_pytorch(torch::nn::Module& module, at::Generator& generator);

// The seeded random stream a model draws from (dropout masks, the VAE's noise), on the
// model's device. Moving it to another device starts a generator of that device from the
// same seed: the same seed gives the same draws on one kind of device. Layers share it by
// pointer, so a move reaches every one of them.
class RandomStream {
 public:
  explicit RandomStream(uint64_t seed)
      : seed_(seed), generator_(make_generator(torch::Device(torch::kCPU), seed)) {}
  at::Generator& generator() { return generator_; }
  void move_to(const torch::Device& device) {
    if (generator_.device() != device) generator_ = make_generator(device, seed_);
  }

 private:
  uint64_t seed_;
  at::Generator generator_;
};

// A model with its own random stream, independent of models training in other threads and
// derived from the model's seed: `move_to` takes its weights and its stream to a device.
class SeededModel : public torch::nn::Module {
 public:
  void move_to(const torch::Device& device) {
    to(device);
    random_->move_to(device);
  }
  // The stream's generator (a handle: copies share its state until the next move).
  at::Generator random_generator() const { return random_->generator(); }

 protected:
  // A stream apart from the weight initialisation's, derived from the same seed.
  explicit SeededModel(uint64_t seed)
      : random_(std::make_shared<RandomStream>(seed ^ 0x9E3779B97F4A7C15ULL)) {}
  std::shared_ptr<RandomStream> random_;
};

// Dropout whose masks come from the model's own stream: reproducible from the seed alone.
class SeededDropoutImpl : public torch::nn::Module {
 public:
  SeededDropoutImpl(double p, std::shared_ptr<RandomStream> random)
      : p_(p), random_(std::move(random)) {}
  torch::Tensor forward(const torch::Tensor& x);
  double probability() const { return p_; }

 private:
  double p_;
  std::shared_ptr<RandomStream> random_;
};
TORCH_MODULE(SeededDropout);

// Called for every conv, transposed conv and linear layer a stack builder appends.
using WeightLayerAdded = std::function<void(const std::shared_ptr<torch::nn::Module>&, LayerGroup)>;

struct StackOptions {
  bool batch_norm = false;   // BatchNorm after every conv but the decoder's last (report 002)
  bool latent_layer = true;  // the encoder ends in linear(→latent); off, it ends in ReLU
  std::shared_ptr<RandomStream> random;  // the dropout's; required when spec.dropout > 0
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

// Inference in batches of `batch_size` with gradients off and `model` in eval mode, on the
// model's device; uint8 input (0..255) becomes float32 in [0,1] batch by batch there. The
// output is float32 on the CPU. Throws InvalidArgument for a batch size <= 0.
torch::Tensor infer_in_batches(torch::nn::Module& model, const torch::Tensor& input,
                               int64_t batch_size,
                               const std::function<torch::Tensor(const torch::Tensor&)>& step);

// One layer of a model as plain data: its dotted path in the model ("encoder.0"), its kind
// ("conv2d", "conv_transpose2d", "linear", "batch_norm1d", "batch_norm2d", "relu",
// "leaky_relu", "tanh", "flatten", "unflatten", "dropout") and the numbers that define it:
// what rebuilding the model in plain PyTorch takes (udl's export), with the weights by path.
struct LayerRecord {
  std::string path;
  std::string kind;
  std::vector<double> arguments;
};
// Every layer of `model` in order (containers are not layers). Throws std::logic_error for
// a module it does not know.
std::vector<LayerRecord> describe_layers(torch::nn::Module& model);

// Checks that `images` is N×C×H×W for the given {C, H, W}; throws InvalidArgument naming the
// expected and the given shape.
void check_image_shape(const std::vector<int64_t>& image_shape, const torch::Tensor& images);
// The same, and N > 0 and uint8 or float32.
void check_image_batch(const std::vector<int64_t>& image_shape, const torch::Tensor& images);

}  // namespace udl
