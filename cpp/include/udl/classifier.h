// Image classifiers on the convolutional encoder of an AutoencoderSpec (reports 000, 002,
// 003): fine-tuned from a trained autoencoder with parts frozen, or trained from scratch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "udl/augmentation.h"
#include "udl/autoencoder.h"
#include "udl/choices.h"
#include "udl/figures.h"
#include "udl/image_set.h"
#include "udl/loop.h"

namespace udl {

enum class HeadKind {
  kLinear,    // latent → classes (report 000)
  kTwoLayer,  // latent → hidden, ReLU → classes (report 002)
  kNone,      // the latent layer is the output: latent_dim = classes (report 003)
};
inline constexpr std::array<Choice<HeadKind>, 3> kHeadNames{
    {{HeadKind::kLinear, "linear"}, {HeadKind::kTwoLayer, "two_layer"}, {HeadKind::kNone, "none"}}};

// Parses "linear", "two_layer" or "none"; throws InvalidArgument otherwise.
inline HeadKind parse_head(const std::string& name) {
  return parse_choice(kHeadNames, name, "head");
}
inline const char* head_name(HeadKind head) { return choice_name(kHeadNames, head); }

struct ClassifierSpec {
  AutoencoderSpec encoder;  // its encoder half is the classifier's body
  int64_t classes = 10;
  HeadKind head = HeadKind::kLinear;
  int64_t head_hidden = 64;  // width of the two-layer head
  // BatchNorm after every encoder convolution. Fine-tuning copies an autoencoder's
  // convolutions, which have none: these layers start as the identity and always train.
  bool batch_norm = false;
};

// Throws InvalidArgument / InvalidArchitecture for a bad encoder, classes < 2, a width <= 0,
// or a headless classifier whose latent dimension is not the class count.
void validate(const ClassifierSpec& spec);

class ClassifierImpl : public SeededModel {
 public:
  ClassifierImpl(ClassifierSpec spec, uint64_t seed);

  // Log-probabilities (N×classes) of images N×C×H×W float in [0,1].
  torch::Tensor forward(const torch::Tensor& images);
  // The input of the last linear layer: the features a Fréchet distance compares.
  torch::Tensor features(const torch::Tensor& images);

  // Copies the encoder weights (and pruning masks' effect) of a trained autoencoder whose
  // spec has the same encoder; throws InvalidArgument otherwise.
  void load_encoder(Autoencoder& source);
  // Stops or restarts gradients of the encoder's conv and linear layers. The head always
  // trains, and so does the latent layer of a headless classifier (its output layer).
  void freeze_encoder(bool conv, bool linear);

  const ClassifierSpec& spec() const { return spec_; }
  int64_t feature_dim() const { return feature_dim_; }

 private:
  ClassifierSpec spec_;
  torch::nn::Sequential encoder_{nullptr};
  torch::nn::Sequential head_{nullptr};
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, LayerGroup>> encoder_layers_;
  int64_t feature_dim_ = 0;
};
TORCH_MODULE(Classifier);

struct ClassifierEpochRecord : EpochFigures {
  double train_loss = 0.0;  // negative log-likelihood
  double train_accuracy = 0.0;
  double val_loss = 0.0;
  double val_accuracy = 0.0;

  static constexpr auto figures() {
    using R = ClassifierEpochRecord;
    return std::make_tuple(
        figure("train_loss", &R::train_loss), figure("train_accuracy", &R::train_accuracy),
        figure("val_loss", &R::val_loss), figure("val_accuracy", &R::val_accuracy));
  }
};
using ClassifierHooks = LoopHooks<ClassifierEpochRecord>;

struct ClassificationScores {
  double loss = 0.0;  // mean negative log-likelihood
  double accuracy = 0.0;
  torch::Tensor confusion;  // classes×classes int64: row = true class, column = predicted
};

struct ClassifierTrainResult : TrainingRun<ClassifierEpochRecord> {
  std::optional<ClassificationScores> test;
};

struct ClassifierConfig : LoopConfig {
  // Applied to the training batches only; validation and test images are seen as they are.
  AugmentationConfig augmentation;
};

// Trains the parameters that are not frozen (the loop's early stopping watches the
// validation loss). `data` and `test` need labels in 0..classes-1 (InvalidArgument).
// Throws InvalidArgument if every parameter is frozen, or for an augmentation that does not
// fit the images.
ClassifierTrainResult train_classifier(Classifier& model, const ImageSet& data,
                                       const ImageSet* test, const ClassifierConfig& config,
                                       const ClassifierHooks& hooks = {});

// Scores on a labelled set, in batches, in eval mode.
ClassificationScores evaluate_classifier(Classifier& model, const ImageSet& set,
                                         int64_t batch_size = 1024);

// Inference in batches: class log-probabilities and features of uint8 or float32 images.
torch::Tensor classify_images(Classifier& model, const torch::Tensor& images,
                              int64_t batch_size = 1024);
torch::Tensor image_features(Classifier& model, const torch::Tensor& images,
                             int64_t batch_size = 1024);

void save_classifier(Classifier& model, const std::string& path);
Classifier load_classifier(const std::string& path);

}  // namespace udl
