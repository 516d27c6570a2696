// The autoencoder architecture spec and its shape checks. A spec is plain data: a stack of
// convolutions, hidden linear layers and a latent dimension, for one input shape C×H×W.
// The decoder mirrors the encoder with transposed convolutions whose output padding returns
// exactly the input's size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace udl {

struct ConvLayerSpec {
  int64_t channels = 0;  // output channels
  int64_t kernel = 3;
  int64_t stride = 1;
  int64_t padding = 0;
};

struct AutoencoderSpec {
  std::vector<int64_t> input_shape{1, 28, 28};  // C, H, W
  std::vector<ConvLayerSpec> conv_layers;
  std::vector<int64_t>
      hidden_widths;  // linear layers between the flattened conv output and the latent
  int64_t latent_dim = 10;
  // Dropout probability before every hidden linear layer of the encoder (report 001), and,
  // with decoder_dropout, after every hidden linear layer of the decoder (its mirror).
  double dropout = 0.0;
  bool decoder_dropout = false;
};

// The spatial sizes the spec produces, computed once by validate_architecture.
struct ArchitectureShapes {
  std::vector<int64_t> heights;  // heights[0] = input height, heights[i+1] = after conv i
  std::vector<int64_t> widths;
  std::vector<int64_t> output_padding_h;  // per conv layer, for its mirrored transposed conv
  std::vector<int64_t> output_padding_w;
  int64_t flat_features = 0;  // channels × height × width after the last conv
};

// The CAE of reports 000 and 002: conv(1→nf,k3,s2,p1) → conv(nf→2nf,k3,s2,p1) →
// conv(2nf→4nf,k3,s2,p0) → linear(36·nf→64) → linear(64→latent) for 1×28×28 input.
AutoencoderSpec conv_autoencoder_spec(int64_t nf, int64_t latent_dim,
                                      std::vector<int64_t> input_shape = {1, 28, 28});

// Checks every size and computes the shapes. Throws InvalidArgument for a non-positive
// size or channel count, a negative padding or a dropout outside [0, 1), and InvalidArchitecture,
// naming the layer and its sizes, when a spatial size reaches zero.
ArchitectureShapes validate_architecture(const AutoencoderSpec& spec);

// A one-line human description, e.g. "1x28x28 -conv16k3s2p1-> 16x14x14 ... -> latent 10".
std::string describe(const AutoencoderSpec& spec);

}  // namespace udl
