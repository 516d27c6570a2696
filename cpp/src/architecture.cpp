#include "udl/architecture.h"

#include <sstream>

#include "udl/errors.h"

namespace udl {
namespace {

void require_positive(int64_t value, const std::string& name) {
  if (value <= 0) throw InvalidArgument(name + " must be > 0, got " + std::to_string(value));
}

// Output size of a convolution along one axis (dilation 1).
int64_t conv_output_size(int64_t input, const ConvLayerSpec& layer) {
  return (input + 2 * layer.padding - layer.kernel) / layer.stride + 1;
}

// The output padding that brings the transposed convolution of `output` back to `input`.
// With output = (input + 2p - k) / stride + 1 (floored), the transposed convolution yields
// input - r, r = (input + 2p - k) mod stride, so the padding r always exists and is < stride.
int64_t mirror_output_padding(int64_t input, int64_t output, const ConvLayerSpec& layer) {
  return input - ((output - 1) * layer.stride - 2 * layer.padding + layer.kernel);
}

}  // namespace

AutoencoderSpec conv_autoencoder_spec(int64_t nf, int64_t latent_dim,
                                      std::vector<int64_t> input_shape) {
  require_positive(nf, "nf");
  AutoencoderSpec spec;
  spec.input_shape = std::move(input_shape);
  spec.conv_layers = {{nf, 3, 2, 1}, {2 * nf, 3, 2, 1}, {4 * nf, 3, 2, 0}};
  spec.hidden_widths = {64};
  spec.latent_dim = latent_dim;
  return spec;
}

ArchitectureShapes validate_architecture(const AutoencoderSpec& spec) {
  if (spec.input_shape.size() != 3) {
    throw InvalidArgument("input_shape must be (channels, height, width), got " +
                          std::to_string(spec.input_shape.size()) + " values");
  }
  require_positive(spec.input_shape[0], "input channels");
  require_positive(spec.input_shape[1], "input height");
  require_positive(spec.input_shape[2], "input width");
  require_positive(spec.latent_dim, "latent_dim");
  if (!(spec.dropout >= 0.0 && spec.dropout < 1.0)) {
    throw InvalidArgument("dropout must be in [0, 1), got " + std::to_string(spec.dropout));
  }
  for (size_t i = 0; i < spec.hidden_widths.size(); ++i) {
    require_positive(spec.hidden_widths[i], "hidden layer " + std::to_string(i) + " width");
  }

  ArchitectureShapes shapes;
  shapes.heights.push_back(spec.input_shape[1]);
  shapes.widths.push_back(spec.input_shape[2]);
  int64_t channels = spec.input_shape[0];
  for (size_t i = 0; i < spec.conv_layers.size(); ++i) {
    const ConvLayerSpec& layer = spec.conv_layers[i];
    const std::string name = "conv layer " + std::to_string(i);
    require_positive(layer.channels, name + " channels");
    require_positive(layer.kernel, name + " kernel");
    require_positive(layer.stride, name + " stride");
    if (layer.padding < 0) throw InvalidArgument(name + " padding must be >= 0");
    const int64_t h_in = shapes.heights.back();
    const int64_t w_in = shapes.widths.back();
    const int64_t h_out = conv_output_size(h_in, layer);
    const int64_t w_out = conv_output_size(w_in, layer);
    if (h_out <= 0 || w_out <= 0 || h_in + 2 * layer.padding < layer.kernel ||
        w_in + 2 * layer.padding < layer.kernel) {
      throw InvalidArchitecture(name + " (kernel " + std::to_string(layer.kernel) + ", stride " +
                                std::to_string(layer.stride) + ", padding " +
                                std::to_string(layer.padding) + ") gets input " +
                                std::to_string(h_in) + "x" + std::to_string(w_in) +
                                ": its output size would reach 0");
    }
    const int64_t pad_h = mirror_output_padding(h_in, h_out, layer);
    const int64_t pad_w = mirror_output_padding(w_in, w_out, layer);
    shapes.heights.push_back(h_out);
    shapes.widths.push_back(w_out);
    shapes.output_padding_h.push_back(pad_h);
    shapes.output_padding_w.push_back(pad_w);
    channels = layer.channels;
  }
  shapes.flat_features = channels * shapes.heights.back() * shapes.widths.back();
  return shapes;
}

std::string describe(const AutoencoderSpec& spec) {
  const ArchitectureShapes shapes = validate_architecture(spec);
  auto size = [](int64_t c, int64_t h, int64_t w) {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  };
  std::string text = size(spec.input_shape[0], shapes.heights[0], shapes.widths[0]);
  for (size_t i = 0; i < spec.conv_layers.size(); ++i) {
    const ConvLayerSpec& l = spec.conv_layers[i];
    text += " -conv k" + std::to_string(l.kernel) + "s" + std::to_string(l.stride) + "p" +
            std::to_string(l.padding) + "-> " +
            size(l.channels, shapes.heights[i + 1], shapes.widths[i + 1]);
  }
  text += " -> " + std::to_string(shapes.flat_features);
  for (int64_t width : spec.hidden_widths) text += " -> " + std::to_string(width);
  text += " -> latent " + std::to_string(spec.latent_dim);
  if (spec.dropout > 0) {
    std::ostringstream probability;
    probability << spec.dropout;
    text += ", dropout " + probability.str() +
            (spec.decoder_dropout ? " (encoder and decoder)" : " (encoder)");
  }
  return text;
}

}  // namespace udl
