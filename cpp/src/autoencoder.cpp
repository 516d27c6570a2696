#include "udl/autoencoder.h"

#include <cmath>
#include <sstream>

#include "udl/errors.h"

namespace udl {
namespace {

// PyTorch's default initialisation of conv and linear layers (kaiming_uniform with a=sqrt(5),
// then the bias) is uniform in ±1/sqrt(fan_in), with fan_in taken from weight dimension 1.
void init_like_pytorch(torch::nn::Module& module, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    torch::Tensor* weight = child->named_parameters(false).find("weight");
    if (weight == nullptr) continue;
    const int64_t fan_in = weight->numel() / weight->size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    weight->uniform_(-bound, bound, generator);
    if (torch::Tensor* bias = child->named_parameters(false).find("bias")) {
      bias->uniform_(-bound, bound, generator);
    }
  }
}

// Dropout whose masks come from the model's own generator: reproducible from the seed alone
// and independent of models training in other threads.
class SeededDropoutImpl : public torch::nn::Module {
 public:
  SeededDropoutImpl(double p, at::Generator generator) : p_(p), generator_(std::move(generator)) {}
  torch::Tensor forward(const torch::Tensor& x) {
    if (!is_training() || p_ == 0.0) return x;
    const torch::Tensor keep = torch::empty_like(x).bernoulli_(1.0 - p_, generator_);
    return x * keep / (1.0 - p_);
  }

 private:
  double p_;
  at::Generator generator_;
};
TORCH_MODULE(SeededDropout);

std::string encode_spec(const AutoencoderSpec& spec) {
  std::ostringstream out;
  out.precision(17);  // the dropout probability round-trips exactly
  for (int64_t v : spec.input_shape) out << v << ' ';
  out << spec.conv_layers.size() << ' ';
  for (const auto& l : spec.conv_layers) {
    out << l.channels << ' ' << l.kernel << ' ' << l.stride << ' ' << l.padding << ' ';
  }
  out << spec.hidden_widths.size() << ' ';
  for (int64_t w : spec.hidden_widths) out << w << ' ';
  out << spec.latent_dim << ' ' << spec.dropout << ' ' << spec.decoder_dropout;
  return out.str();
}

AutoencoderSpec decode_spec(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  AutoencoderSpec spec;
  spec.input_shape.assign(3, 0);
  size_t n_conv = 0;
  size_t n_hidden = 0;
  in >> spec.input_shape[0] >> spec.input_shape[1] >> spec.input_shape[2] >> n_conv;
  if (!in || n_conv > 64) throw DataFormatError(path + ": corrupt architecture record");
  spec.conv_layers.resize(n_conv);
  for (auto& l : spec.conv_layers) in >> l.channels >> l.kernel >> l.stride >> l.padding;
  in >> n_hidden;
  if (!in || n_hidden > 64) throw DataFormatError(path + ": corrupt architecture record");
  spec.hidden_widths.resize(n_hidden);
  for (auto& w : spec.hidden_widths) in >> w;
  in >> spec.latent_dim >> spec.dropout >> spec.decoder_dropout;
  if (!in) throw DataFormatError(path + ": corrupt architecture record");
  return spec;
}

}  // namespace

AutoencoderImpl::AutoencoderImpl(AutoencoderSpec spec, uint64_t seed)
    : spec_(std::move(spec)),
      // A stream apart from the initialisation's, derived from the same seed.
      dropout_generator_(at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x9E3779B97F4A7C15ULL)) {
  const ArchitectureShapes shapes = validate_architecture(spec_);
  namespace nn = torch::nn;
  const bool encoder_dropout = spec_.dropout > 0.0;
  const bool decoder_dropout = encoder_dropout && spec_.decoder_dropout;

  encoder_ = nn::Sequential();
  int64_t channels = spec_.input_shape[0];
  for (const ConvLayerSpec& layer : spec_.conv_layers) {
    add_prunable(encoder_,
                 nn::Conv2d(nn::Conv2dOptions(channels, layer.channels, layer.kernel)
                                .stride(layer.stride)
                                .padding(layer.padding)),
                 LayerGroup::kEncoderConv);
    encoder_->push_back(nn::ReLU());
    channels = layer.channels;
  }
  encoder_->push_back(nn::Flatten());
  int64_t features = shapes.flat_features;
  for (int64_t width : spec_.hidden_widths) {
    if (encoder_dropout) encoder_->push_back(SeededDropout(spec_.dropout, dropout_generator_));
    add_prunable(encoder_, nn::Linear(features, width), LayerGroup::kEncoderLinear);
    encoder_->push_back(nn::ReLU());
    features = width;
  }
  add_prunable(encoder_, nn::Linear(features, spec_.latent_dim), LayerGroup::kEncoderLinear);

  decoder_ = nn::Sequential();
  features = spec_.latent_dim;
  for (auto width = spec_.hidden_widths.rbegin(); width != spec_.hidden_widths.rend(); ++width) {
    add_prunable(decoder_, nn::Linear(features, *width), LayerGroup::kDecoderLinear);
    decoder_->push_back(nn::ReLU());
    if (decoder_dropout) decoder_->push_back(SeededDropout(spec_.dropout, dropout_generator_));
    features = *width;
  }
  add_prunable(decoder_, nn::Linear(features, shapes.flat_features), LayerGroup::kDecoderLinear);
  const size_t n_conv = spec_.conv_layers.size();
  const int64_t last_channels = n_conv ? spec_.conv_layers.back().channels : spec_.input_shape[0];
  if (n_conv > 0) decoder_->push_back(nn::ReLU());
  decoder_->push_back(nn::Unflatten(
      nn::UnflattenOptions(1, {last_channels, shapes.heights.back(), shapes.widths.back()})));
  for (size_t i = n_conv; i-- > 0;) {
    const ConvLayerSpec& layer = spec_.conv_layers[i];
    const int64_t out_channels = i ? spec_.conv_layers[i - 1].channels : spec_.input_shape[0];
    add_prunable(
        decoder_,
        nn::ConvTranspose2d(nn::ConvTranspose2dOptions(layer.channels, out_channels, layer.kernel)
                                .stride(layer.stride)
                                .padding(layer.padding)
                                .output_padding(std::vector<int64_t>{shapes.output_padding_h[i],
                                                                     shapes.output_padding_w[i]})),
        LayerGroup::kDecoderConv);
    if (i > 0) decoder_->push_back(nn::ReLU());
  }
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);

  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  init_like_pytorch(*this, generator);
}

template <typename Layer>
void AutoencoderImpl::add_prunable(torch::nn::Sequential& stage, Layer layer, LayerGroup group) {
  const std::string mask_name = "mask_" + std::to_string(prunable_.size());
  register_buffer(mask_name, torch::ones_like(layer->weight));
  prunable_.push_back({group, layer.ptr(), mask_name});
  stage->push_back(layer);
}

std::vector<PrunableWeight> AutoencoderImpl::prunable_weights() {
  std::vector<PrunableWeight> weights;
  for (const PrunableLayer& p : prunable_) {
    weights.push_back({p.group, *p.layer->named_parameters(false).find("weight"),
                       *named_buffers(false).find(p.mask_name)});
  }
  return weights;
}

torch::Tensor AutoencoderImpl::encode(const torch::Tensor& images) {
  return encoder_->forward(images);
}

torch::Tensor AutoencoderImpl::decode_logits(const torch::Tensor& codes) {
  return decoder_->forward(codes);
}

void check_input_shape(const AutoencoderSpec& spec, const torch::Tensor& images) {
  const auto& s = spec.input_shape;
  if (images.dim() != 4 || images.size(1) != s[0] || images.size(2) != s[1] ||
      images.size(3) != s[2]) {
    std::string got;
    for (int64_t i = 0; i < images.dim(); ++i)
      got += (i ? "x" : "") + std::to_string(images.size(i));
    throw InvalidArgument("the model takes N x " + std::to_string(s[0]) + " x " +
                          std::to_string(s[1]) + " x " + std::to_string(s[2]) +
                          " images, got shape " + got);
  }
}

namespace {

torch::Tensor in_batches(Autoencoder& model, const torch::Tensor& input, int64_t batch_size,
                         const std::function<torch::Tensor(const torch::Tensor&)>& step) {
  if (batch_size <= 0) throw InvalidArgument("batch size must be > 0");
  torch::NoGradGuard no_grad;
  model->eval();
  std::vector<torch::Tensor> outputs;
  for (int64_t begin = 0; begin < input.size(0); begin += batch_size) {
    torch::Tensor batch = input.slice(0, begin, std::min(input.size(0), begin + batch_size));
    if (batch.scalar_type() == torch::kUInt8) batch = batch.to(torch::kFloat32).div_(255.0);
    outputs.push_back(step(batch));
  }
  return torch::cat(outputs);
}

void check_images(const AutoencoderSpec& spec, const torch::Tensor& images) {
  check_input_shape(spec, images);
  if (images.size(0) == 0) throw InvalidArgument("no images given");
  if (images.scalar_type() != torch::kUInt8 && images.scalar_type() != torch::kFloat32) {
    throw InvalidArgument("images must be uint8 or float32");
  }
}

}  // namespace

torch::Tensor encode_images(Autoencoder& model, const torch::Tensor& images, int64_t batch_size) {
  check_images(model->spec(), images);
  return in_batches(model, images, batch_size,
                    [&](const torch::Tensor& x) { return model->encode(x); });
}

torch::Tensor decode_codes(Autoencoder& model, const torch::Tensor& codes, int64_t batch_size) {
  const int64_t latent = model->spec().latent_dim;
  if (codes.dim() != 2 || codes.size(1) != latent || codes.size(0) == 0) {
    throw InvalidArgument("codes must be N x " + std::to_string(latent) + " with N > 0");
  }
  if (codes.scalar_type() != torch::kFloat32) throw InvalidArgument("codes must be float32");
  return in_batches(model, codes, batch_size,
                    [&](const torch::Tensor& z) { return model->decode(z); });
}

torch::Tensor reconstruct_images(Autoencoder& model, const torch::Tensor& images,
                                 int64_t batch_size) {
  check_images(model->spec(), images);
  return in_batches(model, images, batch_size,
                    [&](const torch::Tensor& x) { return torch::sigmoid(model->forward(x)); });
}

std::vector<std::pair<std::string, torch::Tensor>> named_state(Autoencoder& model) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& item : model->named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : model->named_buffers()) state.emplace_back(item.key(), item.value());
  return state;
}

void save_autoencoder(Autoencoder& model, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write("udl_format_version", torch::tensor(kModelFormatVersion));
  archive.write("model_kind", c10::IValue(std::string("autoencoder")));
  archive.write("spec", c10::IValue(encode_spec(model->spec())));
  torch::serialize::OutputArchive weights;
  model->save(weights);
  archive.write("weights", weights);
  archive.save_to(path);
}

Autoencoder load_autoencoder(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    throw DataFormatError(
        path + " is not a udl model file, or is truncated (it cannot be read as an archive)");
  }
  torch::Tensor version;
  c10::IValue kind;
  c10::IValue spec_text;
  if (!archive.try_read("udl_format_version", version) || !archive.try_read("model_kind", kind) ||
      !archive.try_read("spec", spec_text) || !kind.isString() || !spec_text.isString()) {
    throw DataFormatError(path + " is not a udl model file (no udl header)");
  }
  if (version.item<int64_t>() != kModelFormatVersion) {
    throw DataFormatError(path + " has model format version " +
                          std::to_string(version.item<int64_t>()) + "; this udl reads version " +
                          std::to_string(kModelFormatVersion));
  }
  if (kind.toStringRef() != "autoencoder") {
    throw DataFormatError(path + " holds a '" + kind.toStringRef() + "', not an autoencoder");
  }
  Autoencoder model(decode_spec(spec_text.toStringRef(), path), /*seed=*/0);
  torch::serialize::InputArchive weights;
  try {
    archive.read("weights", weights);
    model->load(weights);
  } catch (const c10::Error& error) {
    throw DataFormatError(path + ": weights do not match the architecture (" +
                          error.what_without_backtrace() + ")");
  }
  return model;
}

}  // namespace udl
