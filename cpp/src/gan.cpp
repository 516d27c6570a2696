#include "udl/gan.h"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "engine.h"
#include "udl/conv_layers.h"
#include "udl/errors.h"
#include "udl/layers.h"
#include "udl/model_file.h"

namespace udl {
namespace {

namespace nn = torch::nn;

struct FullyConnectedLayout {
  std::vector<int64_t> generator_widths;
  std::vector<int64_t> discriminator_widths;
  bool leaky;
  double dropout;
  bool generator_dropout;
};

FullyConnectedLayout layout_of(GanArchitecture architecture) {
  if (architecture == GanArchitecture::kFullyConnectedLeaky) {
    return {{256, 512}, {512, 256}, true, 0.5, true};
  }
  return {{256, 512, 1024}, {1024, 512, 256}, false, 0.3, false};
}

void append_activation(nn::Sequential& stage, bool leaky) {
  if (leaky) {
    stage->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
  } else {
    stage->push_back(nn::ReLU());
  }
}

// Linear layers in→widths with the layout's activation and dropout after each; the stack's
// output width is widths.back().
nn::Sequential hidden_stack(int64_t in, const std::vector<int64_t>& widths, bool leaky,
                            double dropout, const std::shared_ptr<RandomStream>& random) {
  nn::Sequential stage;
  for (int64_t width : widths) {
    stage->push_back(nn::Linear(in, width));
    append_activation(stage, leaky);
    if (dropout > 0) stage->push_back(SeededDropout(dropout, random));
    in = width;
  }
  return stage;
}

// N×F features to N×(F+1): each row gains the batch's standard deviation of every feature,
// averaged over the features (Karras et al. 2018). A batch of one has none: 0.
class MinibatchStddevImpl : public nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& features) {
    const torch::Tensor spread = features.size(0) > 1
                                     ? (features.var(0, /*unbiased=*/false) + 1e-8).sqrt().mean()
                                     : torch::zeros({}, features.options());
    return torch::cat({features, spread.expand({features.size(0), 1})}, 1);
  }
};
TORCH_MODULE(MinibatchStddev);

// The discriminator's last layer: `in` features, with the minibatch spread if asked, to one
// logit.
void append_logit(nn::Sequential& stage, int64_t in, bool minibatch_stddev) {
  if (minibatch_stddev) {
    stage->push_back(MinibatchStddev());
    ++in;
  }
  stage->push_back(nn::Linear(in, 1));
}

// DCGAN initialisation: conv and linear weights N(0, 0.02), batch-norm scales N(1, 0.02),
// biases zero.
void init_dcgan(nn::Module& module, at::Generator& generator) {
  torch::NoGradGuard no_grad;
  for (auto& child : module.modules(/*include_self=*/false)) {
    torch::Tensor* weight = child->named_parameters(false).find("weight");
    if (weight == nullptr) continue;
    if (weight->dim() >= 2) {
      weight->normal_(0.0, 0.02, generator);
    } else {
      weight->normal_(1.0, 0.02, generator);
    }
    if (torch::Tensor* bias = child->named_parameters(false).find("bias")) bias->zero_();
  }
}

// An exponential moving average of a generator's state (GanConfig::generator_average):
// the parameters are averaged, the buffers (batch-norm statistics) follow the live ones.
class GeneratorAverage {
 public:
  GeneratorAverage(Gan& model, double decay)
      : live_(model->generator_state()),
        parameter_count_(model->generator_parameters().size()),
        decay_(decay) {
    torch::NoGradGuard no_grad;
    for (const auto& tensor : live_) average_.push_back(tensor.detach().clone());
  }

  void update() {
    torch::NoGradGuard no_grad;
    ++steps_;
    const double steps = static_cast<double>(steps_);
    const double decay = std::min(decay_, (1.0 + steps) / (10.0 + steps));
    for (size_t i = 0; i < live_.size(); ++i) {
      if (i < parameter_count_) {
        average_[i].lerp_(live_[i], 1.0 - decay);
      } else {
        average_[i].copy_(live_[i]);
      }
    }
  }

  // Exchanges the live and the averaged values; twice restores both.
  void swap() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < live_.size(); ++i) {
      const torch::Tensor live = live_[i].clone();
      live_[i].copy_(average_[i]);
      average_[i].copy_(live);
    }
  }

  // The generator takes the averaged values for good.
  void apply() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < live_.size(); ++i) live_[i].copy_(average_[i]);
  }

  // A header {steps, tensor count}, then the averaged tensors: what a checkpoint keeps of
  // it. The header's two elements tell it from the one-element epoch of a kept sample.
  std::vector<torch::Tensor> state() const {
    std::vector<torch::Tensor> kept{
        torch::tensor({steps_, static_cast<int64_t>(average_.size())}, torch::kInt64)};
    for (const auto& tensor : average_) kept.push_back(tensor.cpu());
    return kept;
  }
  static bool holds_state(const std::vector<torch::Tensor>& kept) {
    return !kept.empty() && kept[0].numel() == 2;
  }
  size_t state_size() const { return average_.size() + 1; }
  // Takes the state from the front of `kept`; false if it is another generator's.
  bool load(const std::vector<torch::Tensor>& kept) {
    if (!holds_state(kept) || kept[0][1].item<int64_t>() != static_cast<int64_t>(average_.size()) ||
        kept.size() < state_size()) {
      return false;
    }
    torch::NoGradGuard no_grad;
    steps_ = kept[0][0].item<int64_t>();
    for (size_t i = 0; i < average_.size(); ++i) average_[i].copy_(kept[i + 1]);
    return true;
  }

 private:
  std::vector<torch::Tensor> live_;
  std::vector<torch::Tensor> average_;
  size_t parameter_count_;
  double decay_;
  int64_t steps_ = 0;
};

}  // namespace

void validate(const GanSpec& spec) {
  if (spec.image_shape.size() != 3 || std::any_of(spec.image_shape.begin(), spec.image_shape.end(),
                                                  [](int64_t v) { return v <= 0; })) {
    throw InvalidArgument("image_shape must be three positive sizes C, H, W");
  }
  if (spec.noise_dim <= 0) {
    throw InvalidArgument("noise_dim must be > 0, got " + std::to_string(spec.noise_dim));
  }
  if (spec.architecture == GanArchitecture::kDcgan &&
      (spec.image_shape[1] % 4 != 0 || spec.image_shape[2] % 4 != 0)) {
    throw InvalidArgument("the DCGAN needs a height and width divisible by 4, got " +
                          std::to_string(spec.image_shape[1]) + "x" +
                          std::to_string(spec.image_shape[2]));
  }
  if (spec.dcgan_width <= 0) {
    throw InvalidArgument("dcgan_width must be > 0, got " + std::to_string(spec.dcgan_width));
  }
  const GanSpec defaults;
  if (spec.architecture != GanArchitecture::kDcgan &&
      (spec.dcgan_width != defaults.dcgan_width ||
       spec.discriminator_batch_norm != defaults.discriminator_batch_norm)) {
    throw InvalidArgument(
        std::string("dcgan_width and discriminator_batch_norm apply to the DCGAN only, not to ") +
        gan_architecture_name(spec.architecture));
  }
}

GanImpl::GanImpl(GanSpec spec, uint64_t seed) : SeededModel(seed), spec_(std::move(spec)) {
  validate(spec_);
  const int64_t channels = spec_.image_shape[0];
  const int64_t height = spec_.image_shape[1];
  const int64_t width = spec_.image_shape[2];
  if (spec_.architecture == GanArchitecture::kDcgan) {
    const int64_t h = height / 4;
    const int64_t w = width / 4;
    const int64_t narrow = spec_.dcgan_width;
    const int64_t wide = 2 * narrow;
    generator_ = nn::Sequential(
        nn::Linear(spec_.noise_dim, wide * h * w), nn::BatchNorm1d(wide * h * w), nn::ReLU(),
        nn::Unflatten(nn::UnflattenOptions(1, {wide, h, w})),
        ConvTranspose2dLayer(ConvGeometry{wide, narrow, 4, 2, 1}), nn::BatchNorm2d(narrow),
        nn::ReLU(), ConvTranspose2dLayer(ConvGeometry{narrow, channels, 4, 2, 1}), nn::Tanh());
    discriminator_ = nn::Sequential(Conv2dLayer(ConvGeometry{channels, narrow, 4, 2, 1}),
                                    nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
                                    Conv2dLayer(ConvGeometry{narrow, wide, 4, 2, 1}));
    if (spec_.discriminator_batch_norm) discriminator_->push_back(nn::BatchNorm2d(wide));
    discriminator_->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
    discriminator_->push_back(nn::Flatten());
    append_logit(discriminator_, wide * h * w, spec_.minibatch_stddev);
  } else {
    const FullyConnectedLayout layout = layout_of(spec_.architecture);
    const int64_t pixels = channels * height * width;
    generator_ = hidden_stack(spec_.noise_dim, layout.generator_widths, layout.leaky,
                              layout.generator_dropout ? layout.dropout : 0.0, random_);
    generator_->push_back(nn::Linear(layout.generator_widths.back(), pixels));
    generator_->push_back(nn::Tanh());
    generator_->push_back(nn::Unflatten(nn::UnflattenOptions(1, {channels, height, width})));
    discriminator_ = nn::Sequential(nn::Flatten());
    discriminator_->extend(
        *hidden_stack(pixels, layout.discriminator_widths, layout.leaky, layout.dropout, random_));
    append_logit(discriminator_, layout.discriminator_widths.back(), spec_.minibatch_stddev);
  }
  register_module("generator", generator_);
  register_module("discriminator", discriminator_);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  if (spec_.architecture == GanArchitecture::kDcgan) {
    init_dcgan(*this, generator);
  } else {
    init_like_pytorch(*this, generator);
  }
}

std::vector<torch::Tensor> GanImpl::generator_state() {
  std::vector<torch::Tensor> state = generator_->parameters();
  for (const auto& buffer : generator_->buffers()) state.push_back(buffer);
  return state;
}

torch::Tensor GanImpl::generate(const torch::Tensor& noise) { return generator_->forward(noise); }

torch::Tensor GanImpl::discriminate(const torch::Tensor& images) {
  return discriminator_->forward(images).view({-1});
}

void validate(const GanConfig& config) {
  validate(static_cast<const LoopConfig&>(config));
  if (config.sample_count <= 0) {
    throw InvalidArgument("the sample count must be > 0, got " +
                          std::to_string(config.sample_count));
  }
  if (!(config.gradient_penalty >= 0.0 && std::isfinite(config.gradient_penalty))) {
    throw InvalidArgument("gradient_penalty must be a finite number >= 0, got " +
                          std::to_string(config.gradient_penalty));
  }
  if (config.gradient_penalty_interval < 1) {
    throw InvalidArgument("gradient_penalty_interval must be >= 1, got " +
                          std::to_string(config.gradient_penalty_interval));
  }
  if (!(config.discriminator_learning_rate >= 0.0 &&
        std::isfinite(config.discriminator_learning_rate))) {
    throw InvalidArgument("discriminator_lr (learning rate) must be a finite number >= 0, got " +
                          std::to_string(config.discriminator_learning_rate));
  }
  if (!(config.generator_average >= 0.0 && config.generator_average < 1.0)) {
    throw InvalidArgument("generator_average must be in [0, 1), got " +
                          std::to_string(config.generator_average));
  }
  if (!(config.label_smoothing >= 0.0 && config.label_smoothing < 0.5)) {
    throw InvalidArgument("label_smoothing must be in [0, 0.5), got " +
                          std::to_string(config.label_smoothing));
  }
  for (int64_t epoch : config.sample_epochs) {
    if (epoch < 1 || epoch > config.epochs) {
      throw InvalidArgument("sample epoch " + std::to_string(epoch) + " is outside 1.." +
                            std::to_string(config.epochs));
    }
  }
}

double discriminator_step(Gan& model, torch::optim::Optimizer& optimizer, const torch::Tensor& real,
                          const torch::Tensor& noise, double real_target, double* real_score,
                          double* fake_score, double gradient_penalty) {
  torch::Tensor fake;
  {
    torch::NoGradGuard no_grad;  // the generator is not trained here
    fake = model->generate(noise);
  }
  optimizer.zero_grad();
  const torch::Tensor input = gradient_penalty > 0 ? real.detach().requires_grad_(true) : real;
  const torch::Tensor real_logits = model->discriminate(input);
  const torch::Tensor fake_logits = model->discriminate(fake);
  torch::Tensor loss =
      torch::binary_cross_entropy_with_logits(real_logits,
                                              torch::full_like(real_logits, real_target)) +
      torch::binary_cross_entropy_with_logits(fake_logits, torch::zeros_like(fake_logits));
  if (gradient_penalty > 0) {
    const torch::Tensor gradient = torch::autograd::grad({real_logits.sum()}, {input}, {},
                                                         /*retain_graph=*/true,
                                                         /*create_graph=*/true)[0];
    loss = loss + gradient_penalty / 2.0 * gradient.pow(2).flatten(1).sum(1).mean();
  }
  loss.backward();
  optimizer.step();
  if (real_score != nullptr) *real_score = torch::sigmoid(real_logits).mean().item<double>();
  if (fake_score != nullptr) *fake_score = torch::sigmoid(fake_logits).mean().item<double>();
  return loss.item<double>();
}

double generator_step(Gan& model, torch::optim::Optimizer& optimizer, const torch::Tensor& noise) {
  optimizer.zero_grad();
  const torch::Tensor logits = model->discriminate(model->generate(noise));
  // Non-saturating: maximise log D(G(z)) rather than minimise log(1 - D(G(z))).
  torch::Tensor loss = torch::binary_cross_entropy_with_logits(logits, torch::ones_like(logits));
  loss.backward();
  optimizer.step();
  return loss.item<double>();
}

torch::Tensor gan_generate(Gan& model, int64_t count, uint64_t seed) {
  if (count <= 0) {
    throw InvalidArgument("the sample count must be > 0, got " + std::to_string(count));
  }
  // Drawn on the CPU: the same noise whatever the model's device.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor noise =
      torch::empty({count, model->spec().noise_dim}).normal_(0.0, 1.0, generator);
  return infer_in_batches(*model, noise, 1024,
                          [&](const torch::Tensor& z) { return (model->generate(z) + 1.0) / 2.0; });
}

GanTrainResult train_gan(Gan& model, const ImageSet& images, const GanConfig& config,
                         const GanHooks& hooks) {
  validate(config);
  check_image_shape(model->spec().image_shape, images.images());
  detail::Engine<GanEpochRecord> engine("gan", config, hooks);
  model->move_to(engine.device());
  const ImageSet data = images.to(engine.device());
  torch::optim::Optimizer& generator_optimizer = engine.optimizer(model->generator_parameters());
  const double discriminator_lr_scale =
      config.discriminator_learning_rate > 0
          ? config.discriminator_learning_rate / config.learning_rate
          : 1.0;
  torch::optim::Optimizer& discriminator_optimizer =
      engine.optimizer(model->discriminator_parameters(), discriminator_lr_scale);
  auto noise_generator = make_generator(engine.device(), config.seed + 2);
  engine.track(noise_generator);
  engine.track(model->random_generator());
  const int64_t noise_dim = model->spec().noise_dim;
  const uint64_t sample_seed = config.seed ^ 0x5A3B1EULL;  // one fixed batch for every epoch
  std::optional<GeneratorAverage> average;
  if (config.generator_average > 0) average.emplace(model, config.generator_average);

  GanTrainResult result;
  // The average and the samples of past epochs travel in the checkpoint: a resumed run has
  // them all. Layout: the average's state (if any), then (epoch, images) pairs.
  engine.keep(
      [&] {
        std::vector<torch::Tensor> kept;
        if (average) kept = average->state();
        for (const auto& [epoch, images] : result.samples) {
          kept.push_back(torch::tensor({epoch}, torch::kInt64));
          kept.push_back(images);
        }
        return kept;
      },
      [&](const std::vector<torch::Tensor>& kept) {
        const bool loaded = average ? average->load(kept) : !GeneratorAverage::holds_state(kept);
        if (!loaded) {
          throw InvalidArgument(
              average ? "the checkpoint holds no average of this generator; resume with "
                        "generator_average 0 or delete the checkpoint"
                      : "the checkpoint holds an average of the generator; resume with "
                        "generator_average > 0 or delete the checkpoint");
        }
        const size_t average_size = average ? average->state_size() : 0;
        for (size_t i = average_size; i + 1 < kept.size(); i += 2) {
          result.samples.emplace_back(kept[i].item<int64_t>(), kept[i + 1]);
        }
      });
  double generator_sum = 0.0;
  double real_sum = 0.0;
  double fake_sum = 0.0;
  int64_t batch_in_epoch = 0;  // counted per epoch, so a resumed run penalises the same batches
  auto train_batch = [&](const torch::Tensor& indices) {
    const int64_t n = indices.size(0);
    const torch::Tensor real = data.batch(indices) * 2.0 - 1.0;
    const torch::Tensor noise =
        torch::empty({n, noise_dim}, real.options()).normal_(0.0, 1.0, noise_generator);
    double real_score = 0.0;
    double fake_score = 0.0;
    const int64_t interval = config.gradient_penalty_interval;
    const double penalty = batch_in_epoch++ % interval == 0
                               ? config.gradient_penalty * static_cast<double>(interval)
                               : 0.0;
    const double d_loss =
        discriminator_step(model, discriminator_optimizer, real, noise,
                           1.0 - config.label_smoothing, &real_score, &fake_score, penalty);
    generator_sum += generator_step(model, generator_optimizer, noise) * static_cast<double>(n);
    if (average) average->update();
    real_sum += real_score * static_cast<double>(n);
    fake_sum += fake_score * static_cast<double>(n);
    return d_loss;
  };
  auto run_epoch = [&](int64_t epoch) {
    model->train();
    generator_sum = real_sum = fake_sum = 0.0;
    batch_in_epoch = 0;
    GanEpochRecord record;
    record.discriminator_loss = engine.shuffled_batches(data.size(), train_batch);
    const double n = static_cast<double>(data.size());
    record.generator_loss = generator_sum / n;
    record.real_score = real_sum / n;
    record.fake_score = fake_sum / n;
    if (std::find(config.sample_epochs.begin(), config.sample_epochs.end(), epoch) !=
        config.sample_epochs.end()) {
      if (average) average->swap();
      result.samples.emplace_back(epoch, gan_generate(model, config.sample_count, sample_seed));
      if (average) average->swap();
    }
    return record;
  };
  // Nothing to monitor: GAN losses do not measure quality.
  engine.run(result, *model, run_epoch, nullptr);
  if (average) average->apply();
  return result;
}

void save_gan(Gan& model, const std::string& path) {
  const GanSpec& spec = model->spec();
  std::ostringstream text;
  text << gan_architecture_name(spec.architecture) << ' ' << spec.image_shape[0] << ' '
       << spec.image_shape[1] << ' ' << spec.image_shape[2] << ' ' << spec.noise_dim << ' '
       << spec.dcgan_width << ' ' << static_cast<int>(spec.discriminator_batch_norm) << ' '
       << static_cast<int>(spec.minibatch_stddev);
  write_model_file(*model, "gan", text.str(), path);
}

Gan load_gan(const std::string& path) {
  return load_model_file<Gan>(path, "gan", [&](std::istream& in) {
    std::string architecture;
    GanSpec spec;
    in >> architecture >> spec.image_shape[0] >> spec.image_shape[1] >> spec.image_shape[2] >>
        spec.noise_dim;
    if (!in) throw DataFormatError(path + ": corrupt GAN record");
    // Files written before the DCGAN options end here and hold Radford et al.'s DCGAN.
    int64_t dcgan_width = 0;
    int batch_norm = 0;
    if (in >> dcgan_width >> batch_norm) {
      spec.dcgan_width = dcgan_width;
      spec.discriminator_batch_norm = batch_norm != 0;
    } else if (!in.eof()) {
      throw DataFormatError(path + ": corrupt GAN record");
    }
    // Files written before the minibatch spread end here and have none.
    int minibatch_stddev = 0;
    if (in >> minibatch_stddev) {
      spec.minibatch_stddev = minibatch_stddev != 0;
    } else if (!in.eof()) {
      throw DataFormatError(path + ": corrupt GAN record");
    }
    try {
      spec.architecture = parse_gan_architecture(architecture);
      validate(spec);
    } catch (const InvalidArgument& error) {
      throw DataFormatError(path + ": corrupt GAN record (" + error.what() + ")");
    }
    return spec;
  });
}

}  // namespace udl
