#include "udl/layers.h"

#include <cmath>
#include <stdexcept>
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
  const torch::Tensor keep = torch::empty_like(x).bernoulli_(1.0 - p_, random_->generator());
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
    if (spec.dropout > 0) stage->push_back(SeededDropout(spec.dropout, options.random));
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
    if (dropout) stage->push_back(SeededDropout(spec.dropout, options.random));
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
  const torch::Device device = device_of(model);
  std::vector<torch::Tensor> outputs;
  for (int64_t begin = 0; begin < input.size(0); begin += batch_size) {
    torch::Tensor batch =
        input.slice(0, begin, std::min(input.size(0), begin + batch_size)).to(device);
    if (batch.scalar_type() == torch::kUInt8) batch = batch.to(torch::kFloat32).div_(255.0);
    // float32 also when autocast computed it in bf16 (the GAN's samples of a bf16 run).
    outputs.push_back(step(batch).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(outputs);
}

namespace {

std::vector<double> conv_arguments(const ConvGeometry& g, bool transposed) {
  std::vector<double> arguments{static_cast<double>(g.in_channels),
                                static_cast<double>(g.out_channels), static_cast<double>(g.kernel),
                                static_cast<double>(g.stride), static_cast<double>(g.padding)};
  if (transposed) {
    arguments.push_back(static_cast<double>(g.output_padding_h));
    arguments.push_back(static_cast<double>(g.output_padding_w));
  }
  return arguments;
}

template <typename BatchNorm>
std::vector<double> batch_norm_arguments(const BatchNorm& layer) {
  const auto& options = layer.options;
  return {static_cast<double>(options.num_features()), options.eps(),
          options.momentum().value_or(0.1)};
}

LayerRecord describe_layer(const std::string& path, torch::nn::Module& module) {
  namespace nn = torch::nn;
  if (auto* conv = dynamic_cast<Conv2dLayerImpl*>(&module)) {
    return {path, "conv2d", conv_arguments(conv->geometry(), false)};
  }
  if (auto* conv = dynamic_cast<ConvTranspose2dLayerImpl*>(&module)) {
    return {path, "conv_transpose2d", conv_arguments(conv->geometry(), true)};
  }
  if (auto* linear = dynamic_cast<nn::LinearImpl*>(&module)) {
    return {path,
            "linear",
            {static_cast<double>(linear->options.in_features()),
             static_cast<double>(linear->options.out_features())}};
  }
  if (auto* norm = dynamic_cast<nn::BatchNorm1dImpl*>(&module)) {
    return {path, "batch_norm1d", batch_norm_arguments(*norm)};
  }
  if (auto* norm = dynamic_cast<nn::BatchNorm2dImpl*>(&module)) {
    return {path, "batch_norm2d", batch_norm_arguments(*norm)};
  }
  if (dynamic_cast<nn::ReLUImpl*>(&module)) return {path, "relu", {}};
  if (auto* leaky = dynamic_cast<nn::LeakyReLUImpl*>(&module)) {
    return {path, "leaky_relu", {leaky->options.negative_slope()}};
  }
  if (dynamic_cast<nn::TanhImpl*>(&module)) return {path, "tanh", {}};
  if (auto* flatten = dynamic_cast<nn::FlattenImpl*>(&module)) {
    return {path,
            "flatten",
            {static_cast<double>(flatten->options.start_dim()),
             static_cast<double>(flatten->options.end_dim())}};
  }
  if (auto* unflatten = dynamic_cast<nn::UnflattenImpl*>(&module)) {
    std::vector<double> arguments{static_cast<double>(unflatten->options.dim())};
    for (int64_t size : unflatten->options.sizes()) arguments.push_back(static_cast<double>(size));
    return {path, "unflatten", arguments};
  }
  if (auto* dropout = dynamic_cast<SeededDropoutImpl*>(&module)) {
    return {path, "dropout", {dropout->probability()}};
  }
  throw std::logic_error("describe_layers: no description of the module at " + path + " (" +
                         module.name() + ")");
}

}  // namespace

std::vector<LayerRecord> describe_layers(torch::nn::Module& model) {
  std::vector<LayerRecord> layers;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    torch::nn::Module& module = *item.value();
    if (dynamic_cast<torch::nn::SequentialImpl*>(&module) != nullptr) continue;
    layers.push_back(describe_layer(item.key(), module));
  }
  return layers;
}

void check_image_shape(const std::vector<int64_t>& image_shape, const torch::Tensor& images) {
  const auto& s = image_shape;
  if (images.dim() != 4 || images.size(1) != s[0] || images.size(2) != s[1] ||
      images.size(3) != s[2]) {
    std::string got;
    for (int64_t i = 0; i < images.dim(); ++i) {
      if (i > 0) got += 'x';
      got += std::to_string(images.size(i));
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
