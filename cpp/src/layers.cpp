#include "udl/layers.h"

#include <cmath>
#include <string>
#include <vector>

#include "udl/conv_layers.h"
#include "udl/errors.h"

namespace udl {

void init_like_pytorch(torch::nn::Module& module, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    torch::Tensor* weight = child->named_parameters(false).find("weight");
    if (weight == nullptr || weight->dim() < 2) continue;  // normalisation layers keep 1 and 0
    const int64_t fan_in = weight->numel() / weight->size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    weight->uniform_(-bound, bound, generator);
    if (torch::Tensor* bias = child->named_parameters(false).find("bias")) {
      bias->uniform_(-bound, bound, generator);
    }
  }
}

torch::Tensor SeededDropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  const torch::Tensor keep = torch::empty_like(x).bernoulli_(1.0 - p_, generator_);
  return x * keep / (1.0 - p_);
}

namespace {

template <typename Layer>
void append_weight_layer(torch::nn::Sequential& stage, Layer layer, LayerGroup group,
                         const WeightLayerAdded& added) {
  stage->push_back(layer);
  if (added) added(layer.ptr(), group);
}

}  // namespace

int64_t append_encoder(torch::nn::Sequential& stage, const AutoencoderSpec& spec,
                       const ArchitectureShapes& shapes, const StackOptions& options,
                       const WeightLayerAdded& added) {
  namespace nn = torch::nn;
  int64_t channels = spec.input_shape[0];
  for (const ConvLayerSpec& layer : spec.conv_layers) {
    append_weight_layer(stage,
                        Conv2dLayer(ConvGeometry{channels, layer.channels, layer.kernel,
                                                 layer.stride, layer.padding}),
                        LayerGroup::kEncoderConv, added);
    if (options.batch_norm) stage->push_back(nn::BatchNorm2d(layer.channels));
    stage->push_back(nn::ReLU());
    channels = layer.channels;
  }
  stage->push_back(nn::Flatten());
  int64_t features = shapes.flat_features;
  for (int64_t width : spec.hidden_widths) {
    if (spec.dropout > 0) stage->push_back(SeededDropout(spec.dropout, options.dropout_generator));
    append_weight_layer(stage, nn::Linear(features, width), LayerGroup::kEncoderLinear, added);
    stage->push_back(nn::ReLU());
    features = width;
  }
  if (!options.latent_layer) return features;
  append_weight_layer(stage, nn::Linear(features, spec.latent_dim), LayerGroup::kEncoderLinear,
                      added);
  return spec.latent_dim;
}

void append_decoder(torch::nn::Sequential& stage, const AutoencoderSpec& spec,
                    const ArchitectureShapes& shapes, const StackOptions& options,
                    const WeightLayerAdded& added) {
  namespace nn = torch::nn;
  const bool dropout = spec.dropout > 0 && spec.decoder_dropout;
  int64_t features = spec.latent_dim;
  for (auto width = spec.hidden_widths.rbegin(); width != spec.hidden_widths.rend(); ++width) {
    append_weight_layer(stage, nn::Linear(features, *width), LayerGroup::kDecoderLinear, added);
    stage->push_back(nn::ReLU());
    if (dropout) stage->push_back(SeededDropout(spec.dropout, options.dropout_generator));
    features = *width;
  }
  append_weight_layer(stage, nn::Linear(features, shapes.flat_features), LayerGroup::kDecoderLinear,
                      added);
  const size_t n_conv = spec.conv_layers.size();
  const int64_t last_channels = n_conv ? spec.conv_layers.back().channels : spec.input_shape[0];
  if (n_conv > 0) stage->push_back(nn::ReLU());
  stage->push_back(nn::Unflatten(
      nn::UnflattenOptions(1, {last_channels, shapes.heights.back(), shapes.widths.back()})));
  for (size_t i = n_conv; i-- > 0;) {
    const ConvLayerSpec& layer = spec.conv_layers[i];
    const int64_t out_channels = i ? spec.conv_layers[i - 1].channels : spec.input_shape[0];
    append_weight_layer(stage,
                        ConvTranspose2dLayer(ConvGeometry{
                            layer.channels, out_channels, layer.kernel, layer.stride, layer.padding,
                            shapes.output_padding_h[i], shapes.output_padding_w[i]}),
                        LayerGroup::kDecoderConv, added);
    if (i == 0) break;  // the output layer: logits
    if (options.batch_norm) stage->push_back(nn::BatchNorm2d(out_channels));
    stage->push_back(nn::ReLU());
  }
}

torch::Tensor infer_in_batches(torch::nn::Module& model, const torch::Tensor& input,
                               int64_t batch_size,
                               const std::function<torch::Tensor(const torch::Tensor&)>& step) {
  if (batch_size <= 0) throw InvalidArgument("batch size must be > 0");
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<torch::Tensor> outputs;
  for (int64_t begin = 0; begin < input.size(0); begin += batch_size) {
    torch::Tensor batch = input.slice(0, begin, std::min(input.size(0), begin + batch_size));
    if (batch.scalar_type() == torch::kUInt8) batch = batch.to(torch::kFloat32).div_(255.0);
    outputs.push_back(step(batch));
  }
  return torch::cat(outputs);
}

void check_image_shape(const std::vector<int64_t>& image_shape, const torch::Tensor& images) {
  const auto& s = image_shape;
  if (images.dim() != 4 || images.size(1) != s[0] || images.size(2) != s[1] ||
      images.size(3) != s[2]) {
    std::string got;
    for (int64_t i = 0; i < images.dim(); ++i) {
      got += (i ? "x" : "") + std::to_string(images.size(i));
    }
    throw InvalidArgument("the model takes N x " + std::to_string(s[0]) + " x " +
                          std::to_string(s[1]) + " x " + std::to_string(s[2]) +
                          " images, got shape " + got);
  }
}

void check_image_batch(const std::vector<int64_t>& image_shape, const torch::Tensor& images) {
  check_image_shape(image_shape, images);
  if (images.size(0) == 0) throw InvalidArgument("no images given");
  if (images.scalar_type() != torch::kUInt8 && images.scalar_type() != torch::kFloat32) {
    throw InvalidArgument("images must be uint8 or float32");
  }
}

}  // namespace udl
