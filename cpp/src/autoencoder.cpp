#include "udl/autoencoder.h"

#include <cmath>
#include <sstream>

#include "udl/errors.h"
#include "udl/layers.h"
#include "udl/model_file.h"

namespace udl {

AutoencoderImpl::AutoencoderImpl(AutoencoderSpec spec, uint64_t seed)
    : SeededModel(seed), spec_(std::move(spec)) {
  const ArchitectureShapes shapes = validate_architecture(spec_);
  StackOptions options;
  options.random = random_;
  auto add_mask = [this](const std::shared_ptr<torch::nn::Module>& layer, LayerGroup group) {
    const std::string mask_name = "mask_" + std::to_string(prunable_.size());
    register_buffer(mask_name, torch::ones_like(*layer->named_parameters(false).find("weight")));
    prunable_.push_back({group, layer, mask_name});
  };
  encoder_ = torch::nn::Sequential();
  append_encoder(encoder_, spec_, shapes, options, add_mask);
  decoder_ = torch::nn::Sequential();
  append_decoder(decoder_, spec_, shapes, options, add_mask);
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);

  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  init_like_pytorch(*this, generator);
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
  check_image_shape(spec.input_shape, images);
}

torch::Tensor encode_images(Autoencoder& model, const torch::Tensor& images, int64_t batch_size) {
  check_image_batch(model->spec().input_shape, images);
  return infer_in_batches(*model, images, batch_size,
                          [&](const torch::Tensor& x) { return model->encode(x); });
}

torch::Tensor decode_codes(Autoencoder& model, const torch::Tensor& codes, int64_t batch_size) {
  const int64_t latent = model->spec().latent_dim;
  if (codes.dim() != 2 || codes.size(1) != latent || codes.size(0) == 0) {
    throw InvalidArgument("codes must be N x " + std::to_string(latent) + " with N > 0");
  }
  if (codes.scalar_type() != torch::kFloat32) throw InvalidArgument("codes must be float32");
  return infer_in_batches(*model, codes, batch_size,
                          [&](const torch::Tensor& z) { return model->decode(z); });
}

torch::Tensor reconstruct_images(Autoencoder& model, const torch::Tensor& images,
                                 int64_t batch_size) {
  check_image_batch(model->spec().input_shape, images);
  return infer_in_batches(*model, images, batch_size, [&](const torch::Tensor& x) {
    return torch::sigmoid(model->forward(x));
  });
}

std::vector<std::pair<std::string, torch::Tensor>> named_state(Autoencoder& model) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& item : model->named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : model->named_buffers()) state.emplace_back(item.key(), item.value());
  return state;
}

void save_autoencoder(Autoencoder& model, const std::string& path) {
  write_model_file(*model, "autoencoder", encode_spec(model->spec()), path);
}

Autoencoder load_autoencoder(const std::string& path) {
  return load_model_file<Autoencoder>(path, "autoencoder",
                                      [&](std::istream& in) { return decode_spec(in, path); });
}

}  // namespace udl
