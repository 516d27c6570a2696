// Generative adversarial networks (reports 000, 003) and a DCGAN: a generator from Gaussian
// noise to images in [-1, 1] (tanh) and a discriminator to one logit (its sigmoid is the
// probability of "real"), trained against each other with binary cross-entropy.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "udl/choices.h"
#include "udl/figures.h"
#include "udl/image_set.h"
#include "udl/layers.h"
#include "udl/loop.h"
#include "udl/torch_api.h"

namespace udl {

enum class GanArchitecture {
  // Report 000: generator noise→256→512→1024→pixels, ReLU, tanh; discriminator
  // pixels→1024→512→256→1, ReLU and dropout 0.3.
  kFullyConnected,
  // Report 003: two hidden layers each (256, 512 / 512, 256), LeakyReLU(0.2) and dropout 0.5
  // in both networks.
  kFullyConnectedLeaky,
  // Radford et al.: generator linear→2w×H/4×W/4, BN, ReLU, two stride-2 transposed convs
  // (k4) with BN and ReLU between, tanh; discriminator two stride-2 convs (k4, w and 2w
  // channels) with LeakyReLU(0.2) and BN, then linear→1. w is GanSpec::dcgan_width (64).
  // Needs H and W divisible by 4.
  kDcgan,
};
inline constexpr std::array<Choice<GanArchitecture>, 3> kGanArchitectureNames{
    {{GanArchitecture::kFullyConnected, "fc"},
     {GanArchitecture::kFullyConnectedLeaky, "fc_leaky"},
     {GanArchitecture::kDcgan, "dcgan"}}};

// Parses "fc", "fc_leaky" or "dcgan"; throws InvalidArgument otherwise.
inline GanArchitecture parse_gan_architecture(const std::string& name) {
  return parse_choice(kGanArchitectureNames, name, "GAN architecture");
}
inline const char* gan_architecture_name(GanArchitecture architecture) {
  return choice_name(kGanArchitectureNames, architecture);
}

struct GanSpec {
  GanArchitecture architecture = GanArchitecture::kFullyConnected;
  std::vector<int64_t> image_shape{1, 28, 28};
  int64_t noise_dim = 100;
  // The DCGAN's w: channels of the generator's last hidden layer and of the discriminator's
  // first; the layers beside the linear ones have 2w. Radford et al.: 64; at 32 an epoch
  // takes about 40% of the time.
  int64_t dcgan_width = 64;
  // Batch norm after the DCGAN discriminator's second convolution (Radford et al.). Without
  // it each image's score depends on that image alone, as the R1 penalty assumes.
  bool discriminator_batch_norm = true;
  // Karras et al.'s minibatch standard deviation: the discriminator's last layer also sees
  // the batch's standard deviation of its input features, averaged to one number, so a
  // generator that draws too little variety is told apart. Any architecture.
  bool minibatch_stddev = false;
};
// Throws InvalidArgument for non-positive sizes, a DCGAN image size not divisible by 4, or
// a DCGAN option (width, discriminator batch norm) changed for another architecture.
void validate(const GanSpec& spec);

class GanImpl : public SeededModel {
 public:
  GanImpl(GanSpec spec, uint64_t seed);

  // Noise N×noise_dim to images N×C×H×W in [-1, 1].
  torch::Tensor generate(const torch::Tensor& noise);
  // Images in [-1, 1] to logits N.
  torch::Tensor discriminate(const torch::Tensor& images);

  std::vector<torch::Tensor> generator_parameters() { return generator_->parameters(); }
  std::vector<torch::Tensor> discriminator_parameters() { return discriminator_->parameters(); }
  // The generator's parameters, then its buffers (batch-norm statistics): the tensors that
  // decide what it draws.
  std::vector<torch::Tensor> generator_state();
  const GanSpec& spec() const { return spec_; }

 private:
  GanSpec spec_;
  torch::nn::Sequential generator_{nullptr};
  torch::nn::Sequential discriminator_{nullptr};
};
TORCH_MODULE(Gan);

// The loop's settings from the GAN's defaults (python/udl/settings.py: GAN_DEFAULTS). There
// is no validation set: nothing is monitored, so neither early stopping nor a plateau apply.
struct GanConfig : LoopConfig {
  GanConfig() {
    learning_rate = loop_defaults::gan_lr;
    beta1 = loop_defaults::gan_beta1;
    batch_size = loop_defaults::gan_batch_size;
    early_stopping.enabled = loop_defaults::gan_early_stopping;
  }
  // Epochs after which the generator's images of one fixed noise batch are kept.
  std::vector<int64_t> sample_epochs;
  int64_t sample_count = 64;
  // One-sided label smoothing (Salimans et al. 2016): the discriminator learns real images
  // as 1 - this rather than 1, which keeps it from growing confident enough to push the
  // generator onto one mode. In [0, 0.5); 0 is the plain GAN.
  double label_smoothing = 0.0;
  // R1 gradient penalty (Mescheder et al. 2018): gamma / 2 times the mean squared norm of
  // the discriminator's gradient at the real images, added to its loss. It keeps the
  // discriminator from overpowering the generator, which then stops ignoring its noise (report
  // 000's fully connected GAN collapses onto one image on MNIST without it). >= 0; 0: none.
  double gradient_penalty = 0.0;
  // Lazy regularisation (Karras et al. 2020): R1 on every this-many-th discriminator step of
  // an epoch (the first, then every interval-th), weighted by this many, so its average
  // weight stays gamma while the double backward it costs runs that much less often. >= 1;
  // 1: every step.
  int64_t gradient_penalty_interval = 1;
  // Two time-scale update rule (Heusel et al. 2017): the discriminator's learning rate, which
  // may differ from the generator's `learning_rate` (a schedule scales both alike). > 0;
  // 0: the same as the generator's.
  double discriminator_learning_rate = 0.0;
  // Decay of an exponential moving average of the generator's weights (Yazici et al. 2019),
  // updated after every generator step; the samples and the trained model are the average's.
  // It smooths out the generator's drift from mode to mode late in training. In [0, 1); 0:
  // none, the last step's weights. The first steps use min(decay, (1 + t) / (10 + t)) so the
  // random start fades quickly.
  double generator_average = 0.0;
};
// Throws InvalidArgument naming the first out-of-range field.
void validate(const GanConfig& config);

struct GanEpochRecord : EpochFigures {
  double generator_loss = 0.0;      // mean over batches
  double discriminator_loss = 0.0;  // BCE on the real batch + BCE on the fake batch
  double real_score = 0.0;          // mean D(x): the discriminator's belief in real images
  double fake_score = 0.0;          // mean D(G(z)) before the generator's step

  static constexpr auto figures() {
    using R = GanEpochRecord;
    return std::make_tuple(figure("generator_loss", &R::generator_loss),
                           figure("discriminator_loss", &R::discriminator_loss),
                           figure("real_score", &R::real_score),
                           figure("fake_score", &R::fake_score));
  }
};

struct GanTrainResult : TrainingRun<GanEpochRecord> {
  std::vector<std::pair<int64_t, torch::Tensor>> samples;  // (epoch, images in [0,1])
};

using GanHooks = LoopHooks<GanEpochRecord>;

// One discriminator step (its optimizer only) on real images in [-1, 1], labelled
// `real_target`, and the generator's images of `noise`, labelled 0; returns its loss and
// writes the mean scores.
// With `gradient_penalty` > 0 the R1 penalty is added (see GanConfig).
double discriminator_step(Gan& model, torch::optim::Optimizer& optimizer, const torch::Tensor& real,
                          const torch::Tensor& noise, double real_target = 1.0,
                          double* real_score = nullptr, double* fake_score = nullptr,
                          double gradient_penalty = 0.0);
// One generator step (its optimizer only): make D call the generator's images real.
double generator_step(Gan& model, torch::optim::Optimizer& optimizer, const torch::Tensor& noise);

// Trains on the images of `data` (labels ignored), scaled to [-1, 1].
GanTrainResult train_gan(Gan& model, const ImageSet& data, const GanConfig& config,
                         const GanHooks& hooks = {});

// `count` images in [0, 1] from noise drawn with `seed`, in eval mode (no dropout).
torch::Tensor gan_generate(Gan& model, int64_t count, uint64_t seed);

void save_gan(Gan& model, const std::string& path);
Gan load_gan(const std::string& path);

}  // namespace udl
