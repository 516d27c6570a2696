#include "udl/vae.h"

#include <cmath>
#include <sstream>

#include "engine.h"
#include "udl/errors.h"
#include "udl/layers.h"
#include "udl/model_file.h"

namespace udl {

VaeImpl::VaeImpl(VaeSpec spec, uint64_t seed) : SeededModel(seed), spec_(std::move(spec)) {
  const ArchitectureShapes shapes = validate_architecture(spec_.architecture);
  StackOptions options;
  options.batch_norm = spec_.batch_norm;
  options.latent_layer = false;
  options.random = random_;
  encoder_ = torch::nn::Sequential();
  const int64_t features = append_encoder(encoder_, spec_.architecture, shapes, options);
  const int64_t latent = spec_.architecture.latent_dim;
  mean_ = torch::nn::Linear(features, latent);
  log_variance_ = torch::nn::Linear(features, latent);
  decoder_ = torch::nn::Sequential();
  append_decoder(decoder_, spec_.architecture, shapes, options);
  register_module("encoder", encoder_);
  register_module("mean", mean_);
  register_module("log_variance", log_variance_);
  register_module("decoder", decoder_);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  init_like_pytorch(*this, generator);
}

std::pair<torch::Tensor, torch::Tensor> VaeImpl::encode(const torch::Tensor& images) {
  const torch::Tensor h = encoder_->forward(images);
  return {mean_->forward(h), log_variance_->forward(h)};
}

torch::Tensor VaeImpl::decode_logits(const torch::Tensor& codes) {
  return decoder_->forward(codes);
}

VaeImpl::Output VaeImpl::forward(const torch::Tensor& images) {
  auto [mean, log_variance] = encode(images);
  torch::Tensor z = mean;
  if (is_training()) {
    const torch::Tensor noise = torch::empty_like(mean).normal_(0.0, 1.0, random_->generator());
    z = mean + torch::exp(0.5 * log_variance) * noise;
  }
  return {decode_logits(z), mean, log_variance};
}

void validate(const VaeConfig& config) {
  validate(static_cast<const LoopConfig&>(config));
  if (!(std::isfinite(config.beta) && config.beta >= 0.0)) {
    throw InvalidArgument("beta (the KL weight) must be >= 0, got " + std::to_string(config.beta));
  }
}

torch::Tensor vae_loss(Vae& model, const torch::Tensor& images, LossKind loss, double beta,
                       VaeLoss* terms) {
  const VaeImpl::Output out = model->forward(images);
  const double n = static_cast<double>(images.size(0));
  const torch::Tensor decoded = torch::sigmoid(out.logits);
  const torch::Tensor recon = loss == LossKind::kBce
                                  ? torch::binary_cross_entropy_with_logits(
                                        out.logits, images, {}, {}, at::Reduction::Sum) /
                                        n
                                  : torch::mse_loss(decoded, images, at::Reduction::Sum) / n;
  const torch::Tensor kl =
      -0.5 * torch::sum(1 + out.log_variance - out.mean.pow(2) - out.log_variance.exp()) / n;
  torch::Tensor total = recon + beta * kl;
  if (terms != nullptr) {
    terms->total = total.item<double>();
    terms->reconstruction = recon.item<double>();
    terms->kl = kl.item<double>();
    terms->mse = torch::mse_loss(decoded.detach(), images).item<double>();
  }
  return total;
}

VaeLoss evaluate_vae(Vae& model, const ImageSet& images, const VaeConfig& config) {
  check_image_shape(model->spec().architecture.input_shape, images.images());
  const ImageSet set = images.to(device_of(*model));
  torch::NoGradGuard no_grad;
  model->eval();
  VaeLoss sums;
  for (int64_t begin = 0; begin < set.size(); begin += config.batch_size) {
    const int64_t end = std::min(set.size(), begin + config.batch_size);
    VaeLoss terms;
    vae_loss(model, set.slice(begin, end), config.loss, config.beta, &terms);
    const double n = static_cast<double>(end - begin);
    sums.total += terms.total * n;
    sums.reconstruction += terms.reconstruction * n;
    sums.kl += terms.kl * n;
    sums.mse += terms.mse * n;
  }
  const double n = static_cast<double>(set.size());
  return {sums.total / n, sums.reconstruction / n, sums.kl / n, sums.mse / n};
}

VaeTrainResult train_vae(Vae& model, const ImageSet& data, const ImageSet* test,
                         const VaeConfig& config, const VaeHooks& hooks) {
  validate(config);
  const std::vector<int64_t>& shape = model->spec().architecture.input_shape;
  check_image_shape(shape, data.images());
  if (test != nullptr) check_image_shape(shape, test->images());
  detail::Engine<VaeEpochRecord> engine("vae", config, hooks);
  model->move_to(engine.device());
  const TrainValidationSplit split =
      split_train_validation(data.to(engine.device()), config.val_fraction, config.seed);
  torch::optim::Optimizer& optimizer = engine.optimizer(model->parameters());
  engine.track(model->random_generator());

  VaeLoss epoch_sums;
  auto train_batch = [&](const torch::Tensor& indices) {
    optimizer.zero_grad();
    VaeLoss terms;
    torch::Tensor loss =
        vae_loss(model, split.train.batch(indices), config.loss, config.beta, &terms);
    loss.backward();
    optimizer.step();
    const double n = static_cast<double>(indices.size(0));
    epoch_sums.reconstruction += terms.reconstruction * n;
    epoch_sums.kl += terms.kl * n;
    return terms.total;
  };
  auto run_epoch = [&](int64_t) {
    model->train();
    epoch_sums = {};
    VaeEpochRecord record;
    record.train_loss = engine.shuffled_batches(split.train.size(), train_batch);
    const double n = static_cast<double>(split.train.size());
    record.train_reconstruction = epoch_sums.reconstruction / n;
    record.train_kl = epoch_sums.kl / n;
    const VaeLoss val = evaluate_vae(model, split.validation, config);
    record.val_loss = val.total;
    record.val_reconstruction = val.reconstruction;
    record.val_kl = val.kl;
    record.val_mse = val.mse;
    return record;
  };
  VaeTrainResult result;
  engine.run(result, *model, run_epoch, &VaeEpochRecord::val_loss);
  if (test != nullptr) result.test = evaluate_vae(model, *test, config);
  return result;
}

std::pair<torch::Tensor, torch::Tensor> vae_encode_images(Vae& model, const torch::Tensor& images,
                                                          int64_t batch_size) {
  check_image_batch(model->spec().architecture.input_shape, images);
  const int64_t latent = model->spec().architecture.latent_dim;
  const torch::Tensor both = infer_in_batches(*model, images, batch_size, [&](const auto& x) {
    auto [mean, log_variance] = model->encode(x);
    return torch::cat({mean, log_variance}, 1);
  });
  return {both.slice(1, 0, latent).contiguous(), both.slice(1, latent).contiguous()};
}

torch::Tensor vae_decode_codes(Vae& model, const torch::Tensor& codes, int64_t batch_size) {
  const int64_t latent = model->spec().architecture.latent_dim;
  if (codes.dim() != 2 || codes.size(1) != latent || codes.size(0) == 0) {
    throw InvalidArgument("codes must be N x " + std::to_string(latent) + " with N > 0");
  }
  if (codes.scalar_type() != torch::kFloat32) throw InvalidArgument("codes must be float32");
  return infer_in_batches(*model, codes, batch_size,
                          [&](const torch::Tensor& z) { return model->decode(z); });
}

torch::Tensor vae_sample(Vae& model, int64_t count, uint64_t seed) {
  if (count <= 0) {
    throw InvalidArgument("the sample count must be > 0, got " + std::to_string(count));
  }
  // Drawn on the CPU: the same codes whatever the model's device.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor codes =
      torch::empty({count, model->spec().architecture.latent_dim}).normal_(0.0, 1.0, generator);
  return vae_decode_codes(model, codes);
}

void save_vae(Vae& model, const std::string& path) {
  write_model_file(*model, "vae",
                   encode_spec(model->spec().architecture) + ' ' +
                       std::to_string(static_cast<int>(model->spec().batch_norm)),
                   path);
}

Vae load_vae(const std::string& path) {
  return load_model_file<Vae>(path, "vae", [&](std::istream& in) {
    VaeSpec spec;
    spec.architecture = decode_spec(in, path);
    int batch_norm = 0;
    in >> batch_norm;
    if (!in) throw DataFormatError(path + ": corrupt VAE record");
    spec.batch_norm = batch_norm != 0;
    return spec;
  });
}

}  // namespace udl
