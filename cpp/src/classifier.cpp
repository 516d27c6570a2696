#include "udl/classifier.h"

#include <sstream>

#include "engine.h"
#include "udl/errors.h"
#include "udl/layers.h"
#include "udl/model_file.h"

namespace udl {
namespace {

// Runs the modules of `stage` in order, leaving out its last `skip` modules.
torch::Tensor run_stage(torch::nn::Sequential& stage, torch::Tensor x, size_t skip) {
  const size_t n = stage->size() - skip;
  size_t i = 0;
  for (auto& module : *stage) {
    if (i++ == n) break;
    x = module.forward(x);
  }
  return x;
}

bool same_encoder(const AutoencoderSpec& a, const AutoencoderSpec& b) {
  if (a.input_shape != b.input_shape || a.hidden_widths != b.hidden_widths ||
      a.latent_dim != b.latent_dim || a.conv_layers.size() != b.conv_layers.size()) {
    return false;
  }
  for (size_t i = 0; i < a.conv_layers.size(); ++i) {
    const ConvLayerSpec& x = a.conv_layers[i];
    const ConvLayerSpec& y = b.conv_layers[i];
    if (x.channels != y.channels || x.kernel != y.kernel || x.stride != y.stride ||
        x.padding != y.padding) {
      return false;
    }
  }
  return true;
}

const torch::Tensor& labels_of(const ImageSet& set, int64_t classes, const char* what) {
  if (!set.labels()) throw InvalidArgument(std::string(what) + " has no labels");
  const torch::Tensor& labels = *set.labels();
  if (labels.max().item<int64_t>() >= classes) {
    throw InvalidArgument(std::string(what) + " has label " +
                          std::to_string(labels.max().item<int64_t>()) +
                          " but the classifier has " + std::to_string(classes) + " classes");
  }
  return labels;
}

}  // namespace

void validate(const ClassifierSpec& spec) {
  validate_architecture(spec.encoder);
  if (spec.classes < 2) {
    throw InvalidArgument("a classifier needs >= 2 classes, got " + std::to_string(spec.classes));
  }
  if (spec.head == HeadKind::kTwoLayer && spec.head_hidden <= 0) {
    throw InvalidArgument("head_hidden must be > 0, got " + std::to_string(spec.head_hidden));
  }
  if (spec.head == HeadKind::kNone && spec.encoder.latent_dim != spec.classes) {
    throw InvalidArgument("without a head the latent dimension is the class count: latent_dim " +
                          std::to_string(spec.encoder.latent_dim) +
                          " != " + std::to_string(spec.classes) + " classes");
  }
}

ClassifierImpl::ClassifierImpl(ClassifierSpec spec, uint64_t seed)
    : SeededModel(seed), spec_(std::move(spec)) {
  validate(spec_);
  namespace nn = torch::nn;
  const ArchitectureShapes shapes = validate_architecture(spec_.encoder);
  StackOptions options;
  options.random = random_;
  options.batch_norm = spec_.batch_norm;
  encoder_ = nn::Sequential();
  append_encoder(encoder_, spec_.encoder, shapes, options,
                 [this](const std::shared_ptr<nn::Module>& layer, LayerGroup group) {
                   encoder_layers_.emplace_back(layer, group);
                 });
  const int64_t latent = spec_.encoder.latent_dim;
  head_ = nn::Sequential();
  switch (spec_.head) {
    case HeadKind::kLinear:
      head_->push_back(nn::Linear(latent, spec_.classes));
      feature_dim_ = latent;
      break;
    case HeadKind::kTwoLayer:
      head_->push_back(nn::Linear(latent, spec_.head_hidden));
      head_->push_back(nn::ReLU());
      head_->push_back(nn::Linear(spec_.head_hidden, spec_.classes));
      feature_dim_ = spec_.head_hidden;
      break;
    case HeadKind::kNone:
      feature_dim_ = spec_.encoder.hidden_widths.empty() ? shapes.flat_features
                                                         : spec_.encoder.hidden_widths.back();
      break;
  }
  register_module("encoder", encoder_);
  register_module("head", head_);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  init_like_pytorch(*this, generator);
}

torch::Tensor ClassifierImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = encoder_->forward(images);
  if (!head_->is_empty()) x = head_->forward(x);
  return torch::log_softmax(x, 1);
}

torch::Tensor ClassifierImpl::features(const torch::Tensor& images) {
  if (head_->is_empty()) return run_stage(encoder_, images, /*skip=*/1);
  return run_stage(head_, encoder_->forward(images), /*skip=*/1);
}

void ClassifierImpl::load_encoder(Autoencoder& source) {
  if (!same_encoder(source->spec(), spec_.encoder)) {
    throw InvalidArgument("the autoencoder's encoder (" + describe(source->spec()) +
                          ") differs from the classifier's (" + describe(spec_.encoder) + ")");
  }
  torch::NoGradGuard no_grad;
  // In order: conv and linear weights and biases; dropout modules hold none, and the
  // classifier's own batch norm layers, absent from the autoencoder, keep their identity.
  std::vector<torch::Tensor> from;
  for (const auto& item : source->named_parameters()) {
    if (item.key().rfind("encoder.", 0) == 0) from.push_back(item.value());
  }
  size_t copied = 0;
  for (const auto& [layer, group] : encoder_layers_) {
    for (auto& to : layer->parameters()) to.copy_(from.at(copied++));
  }
}

void ClassifierImpl::freeze_encoder(bool conv, bool linear) {
  for (size_t i = 0; i < encoder_layers_.size(); ++i) {
    const auto& [layer, group] = encoder_layers_[i];
    // Without a head the latent layer is the output layer: it always trains.
    const bool output_layer = spec_.head == HeadKind::kNone && i + 1 == encoder_layers_.size();
    const bool frozen = !output_layer && (group == LayerGroup::kEncoderConv ? conv : linear);
    for (auto& p : layer->parameters()) p.set_requires_grad(!frozen);
  }
}

ClassificationScores evaluate_classifier(Classifier& model, const ImageSet& images,
                                         int64_t batch_size) {
  if (batch_size <= 0) throw InvalidArgument("batch size must be > 0");
  check_image_shape(model->spec().encoder.input_shape, images.images());
  const int64_t classes = model->spec().classes;
  labels_of(images, classes, "the evaluation set");
  const ImageSet set = images.to(device_of(*model));
  const torch::Tensor& labels = *set.labels();
  const auto counts = torch::TensorOptions(torch::kInt64).device(labels.device());
  torch::NoGradGuard no_grad;
  model->eval();
  ClassificationScores scores;
  scores.confusion = torch::zeros({classes * classes}, counts);
  double loss_sum = 0.0;
  for (int64_t begin = 0; begin < set.size(); begin += batch_size) {
    const int64_t end = std::min(set.size(), begin + batch_size);
    const torch::Tensor log_p = model->forward(set.slice(begin, end));
    const torch::Tensor truth = labels.slice(0, begin, end);
    loss_sum += torch::nll_loss(log_p, truth, {}, at::Reduction::Sum).item<double>();
    scores.confusion.index_add_(0, truth * classes + log_p.argmax(1),
                                torch::ones({end - begin}, counts));
  }
  scores.confusion = scores.confusion.view({classes, classes}).to(torch::kCPU);
  const double n = static_cast<double>(set.size());
  scores.loss = loss_sum / n;
  scores.accuracy = scores.confusion.diagonal().sum().item<double>() / n;
  return scores;
}

ClassifierTrainResult train_classifier(Classifier& model, const ImageSet& data,
                                       const ImageSet* test, const ClassifierConfig& config,
                                       const ClassifierHooks& hooks) {
  validate(config);
  const ClassifierSpec& spec = model->spec();
  validate(config.augmentation, spec.encoder.input_shape);
  check_image_shape(spec.encoder.input_shape, data.images());
  labels_of(data, spec.classes, "the training set");
  if (test != nullptr) {
    check_image_shape(spec.encoder.input_shape, test->images());
    labels_of(*test, spec.classes, "the test set");
  }
  std::vector<torch::Tensor> trainable;
  for (const auto& p : model->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  if (trainable.empty()) throw InvalidArgument("every parameter is frozen: nothing to train");
  detail::Engine<ClassifierEpochRecord> engine("classifier", config, hooks);
  model->move_to(engine.device());
  const TrainValidationSplit split =
      split_train_validation(data.to(engine.device()), config.val_fraction, config.seed);
  const torch::Tensor& train_labels = *split.train.labels();
  torch::optim::Optimizer& optimizer = engine.optimizer(trainable);
  engine.track(model->random_generator());
  at::Generator augmentation_random = model->random_generator();  // shares the tracked state

  int64_t correct = 0;
  auto train_batch = [&](const torch::Tensor& indices) {
    torch::Tensor images = split.train.batch(indices);
    if (config.augmentation.enabled()) {
      images = augment(images, config.augmentation, augmentation_random);
    }
    const torch::Tensor truth = train_labels.index_select(0, indices);
    optimizer.zero_grad();
    const torch::Tensor log_p = model->forward(images);
    torch::Tensor loss = torch::nll_loss(log_p, truth);
    loss.backward();
    optimizer.step();
    correct += log_p.argmax(1).eq(truth).sum().item<int64_t>();
    return loss.item<double>();
  };
  auto run_epoch = [&](int64_t) {
    model->train();
    correct = 0;
    ClassifierEpochRecord record;
    record.train_loss = engine.shuffled_batches(split.train.size(), train_batch);
    record.train_accuracy = static_cast<double>(correct) / static_cast<double>(split.train.size());
    const ClassificationScores val =
        evaluate_classifier(model, split.validation, config.batch_size);
    record.val_loss = val.loss;
    record.val_accuracy = val.accuracy;
    return record;
  };
  ClassifierTrainResult result;
  engine.run(result, *model, run_epoch, &ClassifierEpochRecord::val_loss);
  if (test != nullptr) result.test = evaluate_classifier(model, *test, config.batch_size);
  return result;
}

torch::Tensor classify_images(Classifier& model, const torch::Tensor& images, int64_t batch_size) {
  check_image_batch(model->spec().encoder.input_shape, images);
  return infer_in_batches(*model, images, batch_size,
                          [&](const torch::Tensor& x) { return model->forward(x); });
}

torch::Tensor image_features(Classifier& model, const torch::Tensor& images, int64_t batch_size) {
  check_image_batch(model->spec().encoder.input_shape, images);
  return infer_in_batches(*model, images, batch_size,
                          [&](const torch::Tensor& x) { return model->features(x); });
}

void save_classifier(Classifier& model, const std::string& path) {
  const ClassifierSpec& spec = model->spec();
  write_model_file(*model, "classifier",
                   encode_spec(spec.encoder) + ' ' + std::to_string(spec.classes) + ' ' +
                       head_name(spec.head) + ' ' + std::to_string(spec.head_hidden) + ' ' +
                       std::to_string(static_cast<int>(spec.batch_norm)),
                   path);
}

Classifier load_classifier(const std::string& path) {
  return load_model_file<Classifier>(path, "classifier", [&](std::istream& in) {
    ClassifierSpec spec;
    spec.encoder = decode_spec(in, path);
    std::string head;
    in >> spec.classes >> head >> spec.head_hidden;
    if (!in) throw DataFormatError(path + ": corrupt classifier record");
    // Files written before batch norm end here: they have none.
    int batch_norm = 0;
    if (in >> batch_norm) {
      if (batch_norm != 0 && batch_norm != 1) {
        throw DataFormatError(path + ": corrupt classifier record (batch norm flag " +
                              std::to_string(batch_norm) + ")");
      }
      spec.batch_norm = batch_norm != 0;
    } else if (!in.eof()) {
      throw DataFormatError(path + ": corrupt classifier record");
    }
    try {
      spec.head = parse_head(head);
    } catch (const InvalidArgument&) {
      throw DataFormatError(path + ": corrupt classifier record (head '" + head + "')");
    }
    return spec;
  });
}

}  // namespace udl
