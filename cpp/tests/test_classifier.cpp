#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "test_support.h"
#include "udl/classifier.h"
#include "udl/conv_layers.h"
#include "udl/errors.h"

namespace {

namespace fs = std::filesystem;

using udl_test::OneThread;
class Classifier : public OneThread {};

fs::path temp_file(const std::string& name) { return udl_test::temp_file("classifier", name); }

// Blobs whose column decides the class: class k has its centre in the k-th of `classes`
// vertical bands of the 28×28 image, at a random row.
udl::ImageSet banded_blobs(int64_t n, int64_t classes, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const torch::Tensor labels = torch::randint(0, classes, {n}, generator);
  const double band = 20.0 / static_cast<double>(classes);
  const torch::Tensor rows = torch::rand({n}, generator) * 20 + 4;
  const torch::Tensor columns =
      4 + (labels.to(torch::kFloat32) + 0.2 + 0.6 * torch::rand({n}, generator)) * band;
  const torch::Tensor grid = torch::arange(28, torch::kFloat32);
  const torch::Tensor dy = grid.view({1, 28, 1}) - rows.view({n, 1, 1});
  const torch::Tensor dx = grid.view({1, 1, 28}) - columns.view({n, 1, 1});
  const torch::Tensor images = torch::exp(-(dy * dy + dx * dx) / 18.0);
  return udl::ImageSet((images * 255).round().to(torch::kUInt8).unsqueeze(1), labels);
}

udl::ClassifierSpec small_spec(udl::HeadKind head = udl::HeadKind::kLinear, int64_t classes = 3) {
  udl::ClassifierSpec spec;
  spec.encoder = udl::conv_autoencoder_spec(4, head == udl::HeadKind::kNone ? classes : 6);
  spec.classes = classes;
  spec.head = head;
  spec.head_hidden = 12;
  return spec;
}

udl::ClassifierConfig small_config(int64_t epochs) {
  udl::ClassifierConfig config;
  config.epochs = epochs;
  config.batch_size = 32;
  config.learning_rate = 3e-3;
  config.threads = 1;
  return config;
}

std::map<std::string, torch::Tensor> parameter_copies(torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> copies;
  for (const auto& item : module.named_parameters()) {
    copies[item.key()] = item.value().detach().clone();
  }
  return copies;
}

// Names of the parameters of conv layers (the encoder's body), of the encoder's linear
// layers, and of the head.
enum class Part { kConv, kEncoderLinear, kHead };
Part part_of(udl::Classifier& model, const std::string& name) {
  if (name.rfind("head.", 0) == 0) return Part::kHead;
  const std::string layer = name.substr(0, name.rfind('.'));
  for (const auto& item : model->named_modules()) {
    if (item.key() == layer) {
      return item.value()->as<udl::Conv2dLayer>() != nullptr ? Part::kConv : Part::kEncoderLinear;
    }
  }
  ADD_FAILURE() << "no module " << layer;
  return Part::kHead;
}

bool changed(const torch::Tensor& before, const torch::Tensor& after) {
  return !before.equal(after);
}

TEST_F(Classifier, ForwardGivesLogProbabilities) {
  const torch::Tensor images = torch::rand({5, 1, 28, 28});
  for (auto head : {udl::HeadKind::kLinear, udl::HeadKind::kTwoLayer, udl::HeadKind::kNone}) {
    udl::Classifier model(small_spec(head, 4), 0);
    const torch::Tensor log_p = model->forward(images);
    ASSERT_EQ(log_p.sizes(), (std::vector<int64_t>{5, 4})) << udl::head_name(head);
    EXPECT_LE(log_p.max().item<float>(), 0.0f);
    EXPECT_TRUE(torch::allclose(log_p.exp().sum(1), torch::ones({5}), 1e-5, 1e-5));
    EXPECT_TRUE(udl::classify_images(model, images).equal(log_p.detach()));
  }
}

TEST_F(Classifier, FrozenConvLayersGetNoGradientsAndDoNotTrain) {
  udl::Classifier model(small_spec(), 0);
  model->freeze_encoder(/*conv=*/true, /*linear=*/false);
  const udl::ImageSet data = banded_blobs(64, 3, 1);
  const torch::Tensor loss =
      torch::nll_loss(model->forward(data.slice(0, 16)), data.labels()->slice(0, 0, 16));
  loss.backward();
  int conv = 0;
  int other = 0;
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& grad = item.value().grad();
    if (part_of(model, item.key()) == Part::kConv) {
      ++conv;
      EXPECT_FALSE(item.value().requires_grad()) << item.key();
      EXPECT_TRUE(!grad.defined() || grad.eq(0).all().item<bool>()) << item.key();
    } else {
      ++other;
      EXPECT_TRUE(item.value().requires_grad()) << item.key();
      ASSERT_TRUE(grad.defined()) << item.key();
      EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << item.key();
    }
  }
  EXPECT_EQ(conv, 6);   // three conv layers, weight and bias
  EXPECT_EQ(other, 6);  // two encoder linear layers and the linear head
  model->zero_grad();

  const auto before = parameter_copies(*model);
  udl::train_classifier(model, data, nullptr, small_config(2));
  for (const auto& item : model->named_parameters()) {
    if (part_of(model, item.key()) == Part::kConv) {
      EXPECT_TRUE(item.value().equal(before.at(item.key()))) << item.key();
    } else {
      EXPECT_TRUE(changed(before.at(item.key()), item.value())) << item.key();
    }
  }
}

TEST_F(Classifier, FrozenEncoderLeavesOnlyTheHeadTraining) {
  for (auto head : {udl::HeadKind::kLinear, udl::HeadKind::kTwoLayer}) {
    udl::Classifier model(small_spec(head), 0);
    model->freeze_encoder(true, true);
    const auto before = parameter_copies(*model);
    udl::train_classifier(model, banded_blobs(64, 3, 2), nullptr, small_config(2));
    for (const auto& item : model->named_parameters()) {
      const bool is_head = part_of(model, item.key()) == Part::kHead;
      EXPECT_EQ(changed(before.at(item.key()), item.value()), is_head) << item.key();
    }
  }
  // Unfreezing makes every parameter trainable again.
  udl::Classifier model(small_spec(), 0);
  model->freeze_encoder(true, true);
  model->freeze_encoder(false, false);
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST_F(Classifier, AHeadlessClassifiersOutputLayerAlwaysTrains) {
  udl::Classifier model(small_spec(udl::HeadKind::kNone), 0);
  model->freeze_encoder(true, true);
  int64_t trainable = 0;
  for (const auto& item : model->named_parameters()) {
    if (item.value().requires_grad()) ++trainable;
  }
  EXPECT_EQ(trainable, 2);  // the latent (output) layer's weight and bias
  udl::train_classifier(model, banded_blobs(64, 3, 2), nullptr, small_config(1));
}

TEST_F(Classifier, TrainingRefusesWhenEverythingIsFrozen) {
  udl::Classifier model(small_spec(), 0);
  model->freeze_encoder(true, true);
  for (auto& p : model->parameters()) p.set_requires_grad(false);
  EXPECT_THROW(udl::train_classifier(model, banded_blobs(64, 3, 2), nullptr, small_config(1)),
               udl::InvalidArgument);
}

TEST_F(Classifier, LoadEncoderCopiesExactlyTheAutoencodersEncoder) {
  const udl::ClassifierSpec spec = small_spec(udl::HeadKind::kTwoLayer);
  udl::Autoencoder source(spec.encoder, 7);
  udl::PruningConfig pruning;  // masked weights are zero in the copy too
  pruning.amounts = {0.5, 0.5, 0.5, 0.5};
  udl::prune_l1(source->prunable_weights(), pruning);
  udl::Classifier model(spec, 0);
  const auto head_before = parameter_copies(*model);
  model->load_encoder(source);

  std::map<std::string, torch::Tensor> encoder;
  for (const auto& item : source->named_parameters()) {
    if (item.key().rfind("encoder.", 0) == 0) encoder[item.key()] = item.value();
  }
  size_t copied = 0;
  for (const auto& item : model->named_parameters()) {
    if (item.key().rfind("encoder.", 0) == 0) {
      ASSERT_EQ(encoder.count(item.key()), 1u) << item.key();
      EXPECT_TRUE(item.value().equal(encoder.at(item.key()))) << item.key();
      ++copied;
    } else {
      EXPECT_TRUE(item.value().equal(head_before.at(item.key()))) << item.key();
    }
  }
  EXPECT_EQ(copied, encoder.size());
  // The classifier's encoder computes the autoencoder's codes.
  torch::NoGradGuard no_grad;
  model->eval();
  source->eval();
  const torch::Tensor images = torch::rand({3, 1, 28, 28});
  udl::Classifier linear(small_spec(udl::HeadKind::kLinear), 1);
  linear->load_encoder(source);
  linear->eval();
  EXPECT_TRUE(torch::allclose(linear->features(images), source->encode(images), 1e-6, 1e-6));
}

TEST_F(Classifier, LoadEncoderRejectsAnotherEncoder) {
  udl::Classifier model(small_spec(), 0);
  auto expect_rejected = [&](const udl::AutoencoderSpec& spec) {
    udl::Autoencoder other(spec, 0);
    const auto before = parameter_copies(*model);
    EXPECT_THROW(model->load_encoder(other), udl::InvalidArgument);
    for (const auto& item : model->named_parameters()) {
      EXPECT_TRUE(item.value().equal(before.at(item.key())));
    }
  };
  expect_rejected(udl::conv_autoencoder_spec(4, 7));               // latent
  expect_rejected(udl::conv_autoencoder_spec(8, 6));               // channels
  expect_rejected(udl::conv_autoencoder_spec(4, 6, {1, 32, 32}));  // input shape
  udl::AutoencoderSpec spec = small_spec().encoder;
  spec.hidden_widths = {32};
  expect_rejected(spec);
  spec = small_spec().encoder;
  spec.conv_layers[0].kernel = 5;
  spec.conv_layers[0].padding = 2;
  expect_rejected(spec);
}

TEST_F(Classifier, LearnsClassesByPositionAndScoresConsistently) {
  const udl::ImageSet data = banded_blobs(360, 3, 3);
  const udl::ImageSet test = banded_blobs(150, 3, 4);
  udl::Classifier model(small_spec(), 0);
  const udl::ClassifierTrainResult result =
      udl::train_classifier(model, data, &test, small_config(6));
  ASSERT_EQ(result.history.size(), 6u);
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  ASSERT_TRUE(result.test.has_value());
  const udl::ClassificationScores& scores = *result.test;
  EXPECT_GE(scores.accuracy, 0.9);
  EXPECT_GE(result.history[result.best_epoch - 1].val_accuracy, 0.9);

  ASSERT_EQ(scores.confusion.sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(scores.confusion.scalar_type(), torch::kInt64);
  EXPECT_EQ(scores.confusion.sum().item<int64_t>(), test.size());
  EXPECT_DOUBLE_EQ(scores.confusion.diagonal().sum().item<double>() / test.size(), scores.accuracy);
  // Rows count the true classes, columns the predictions.
  EXPECT_TRUE(scores.confusion.sum(1).equal(torch::bincount(*test.labels(), {}, 3)));
  const torch::Tensor predicted = udl::classify_images(model, test.images()).argmax(1);
  EXPECT_TRUE(scores.confusion.sum(0).equal(torch::bincount(predicted, {}, 3)));
  EXPECT_NEAR(scores.accuracy,
              predicted.eq(*test.labels()).to(torch::kFloat64).mean().item<double>(), 1e-12);
  const torch::Tensor log_p = udl::classify_images(model, test.images());
  EXPECT_NEAR(scores.loss, torch::nll_loss(log_p, *test.labels()).item<double>(), 1e-5);

  // Batching does not change the scores.
  const udl::ClassificationScores again = udl::evaluate_classifier(model, test, 7);
  EXPECT_TRUE(again.confusion.equal(scores.confusion));
  EXPECT_NEAR(again.loss, scores.loss, 1e-5);
}

TEST_F(Classifier, TrainingIsSeeded) {
  const udl::ImageSet data = banded_blobs(96, 3, 5);
  auto run = [&](uint64_t seed) {
    udl::ClassifierConfig config = small_config(2);
    config.seed = seed;
    udl::Classifier model(small_spec(), seed);
    return udl::train_classifier(model, data, nullptr, config).history;
  };
  const auto a = run(1);
  const auto b = run(1);
  const auto c = run(2);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].train_loss, b[i].train_loss);
    EXPECT_EQ(a[i].val_loss, b[i].val_loss);
  }
  EXPECT_NE(a[0].train_loss, c[0].train_loss);
}

TEST_F(Classifier, RejectsMissingAndOutOfRangeLabels) {
  udl::Classifier model(small_spec(udl::HeadKind::kLinear, 3), 0);
  const udl::ImageSet good = banded_blobs(40, 3, 6);
  const udl::ImageSet unlabelled(good.images());
  const udl::ImageSet four_classes = banded_blobs(40, 4, 7);
  const udl::ClassifierConfig config = small_config(1);
  EXPECT_THROW(udl::train_classifier(model, unlabelled, nullptr, config), udl::InvalidArgument);
  EXPECT_THROW(udl::train_classifier(model, four_classes, nullptr, config), udl::InvalidArgument);
  EXPECT_THROW(udl::train_classifier(model, good, &unlabelled, config), udl::InvalidArgument);
  EXPECT_THROW(udl::train_classifier(model, good, &four_classes, config), udl::InvalidArgument);
  EXPECT_THROW(udl::evaluate_classifier(model, unlabelled), udl::InvalidArgument);
  EXPECT_THROW(udl::evaluate_classifier(model, four_classes), udl::InvalidArgument);
  EXPECT_THROW(udl::evaluate_classifier(model, good, 0), udl::InvalidArgument);
  const udl::ImageSet wrong_shape(torch::zeros({10, 1, 32, 32}, torch::kUInt8),
                                  torch::zeros({10}, torch::kInt64));
  EXPECT_THROW(udl::train_classifier(model, wrong_shape, nullptr, config), udl::InvalidArgument);
  EXPECT_THROW(udl::classify_images(model, torch::rand({2, 1, 27, 28})), udl::InvalidArgument);
}

TEST_F(Classifier, ValidateRejectsBadSpecs) {
  udl::ClassifierSpec spec = small_spec();
  EXPECT_NO_THROW(udl::validate(spec));
  spec.classes = 1;
  EXPECT_THROW(udl::validate(spec), udl::InvalidArgument);
  EXPECT_THROW(udl::Classifier(spec, 0), udl::InvalidArgument);

  spec = small_spec(udl::HeadKind::kNone, 3);
  EXPECT_NO_THROW(udl::validate(spec));
  spec.encoder.latent_dim = 4;  // headless: the latent layer must be the output
  EXPECT_THROW(udl::validate(spec), udl::InvalidArgument);
  EXPECT_THROW(udl::Classifier(spec, 0), udl::InvalidArgument);

  spec = small_spec(udl::HeadKind::kTwoLayer);
  spec.head_hidden = 0;
  EXPECT_THROW(udl::validate(spec), udl::InvalidArgument);
  spec.head = udl::HeadKind::kLinear;  // the width only matters for the two-layer head
  EXPECT_NO_THROW(udl::validate(spec));

  spec = small_spec();
  spec.encoder.latent_dim = 0;
  EXPECT_THROW(udl::validate(spec), std::invalid_argument);  // InvalidArgument or -Architecture

  for (auto head : {udl::HeadKind::kLinear, udl::HeadKind::kTwoLayer, udl::HeadKind::kNone}) {
    EXPECT_EQ(udl::parse_head(udl::head_name(head)), head);
  }
  EXPECT_THROW(udl::parse_head("three_layer"), udl::InvalidArgument);
}

TEST_F(Classifier, FeaturesAreTheInputOfTheLastLinearLayer) {
  const torch::Tensor images = torch::rand({4, 1, 28, 28});
  udl::ClassifierSpec no_hidden = small_spec(udl::HeadKind::kNone, 3);
  no_hidden.encoder.hidden_widths.clear();  // headless, the latent layer on the conv output
  const std::vector<std::pair<udl::ClassifierSpec, int64_t>> cases = {
      {small_spec(udl::HeadKind::kLinear), 6},
      {small_spec(udl::HeadKind::kTwoLayer), 12},
      {small_spec(udl::HeadKind::kNone), 64},
      {no_hidden, 16 * 3 * 3},
  };
  for (const auto& [spec, dim] : cases) {
    udl::Classifier model(spec, 0);
    model->eval();
    EXPECT_EQ(model->feature_dim(), dim) << udl::head_name(spec.head);
    const torch::Tensor features = udl::image_features(model, images, 3);
    ASSERT_EQ(features.sizes(), (std::vector<int64_t>{4, dim})) << udl::head_name(spec.head);
    // The last linear layer of the network turns them into the logits.
    std::shared_ptr<torch::nn::LinearImpl> last;
    for (const auto& module : model->modules(false)) {
      if (auto linear = std::dynamic_pointer_cast<torch::nn::LinearImpl>(module)) last = linear;
    }
    ASSERT_TRUE(last);
    EXPECT_EQ(last->weight.size(0), spec.classes);
    torch::NoGradGuard no_grad;
    const torch::Tensor expected = torch::log_softmax(last->forward(features), 1);
    EXPECT_TRUE(torch::allclose(udl::classify_images(model, images), expected, 1e-5, 1e-6))
        << udl::head_name(spec.head);
  }
}

TEST_F(Classifier, SaveAndLoadRoundTrip) {
  const torch::Tensor images = torch::rand({4, 1, 28, 28});
  for (auto head : {udl::HeadKind::kLinear, udl::HeadKind::kTwoLayer, udl::HeadKind::kNone}) {
    udl::ClassifierSpec spec = small_spec(head, 3);
    spec.encoder.hidden_widths = {20};
    udl::Classifier model(spec, 5);
    const fs::path path = temp_file(std::string("roundtrip_") + udl::head_name(head) + ".udl");
    udl::save_classifier(model, path.string());
    udl::Classifier loaded = udl::load_classifier(path.string());
    fs::remove(path);
    EXPECT_EQ(loaded->spec().head, head);
    EXPECT_EQ(loaded->spec().classes, 3);
    EXPECT_EQ(loaded->spec().head_hidden, spec.head_hidden);
    EXPECT_EQ(loaded->spec().encoder.hidden_widths, spec.encoder.hidden_widths);
    EXPECT_TRUE(udl::classify_images(loaded, images).equal(udl::classify_images(model, images)));
    EXPECT_TRUE(udl::image_features(loaded, images).equal(udl::image_features(model, images)));
  }
}

TEST_F(Classifier, BatchNormFollowsEveryConvolutionAndSurvivesSaving) {
  udl::ClassifierSpec spec = small_spec(udl::HeadKind::kTwoLayer);
  const int64_t without = udl::Classifier(spec, 0)->parameters().size();
  spec.batch_norm = true;
  udl::Classifier model(spec, 0);
  int64_t norms = 0;
  for (const auto& module : model->modules(false)) {
    norms += module->as<torch::nn::BatchNorm2dImpl>() != nullptr;
  }
  EXPECT_EQ(norms, 3);  // one per convolution
  EXPECT_EQ(static_cast<int64_t>(model->parameters().size()), without + 2 * norms);
  udl::train_classifier(model, banded_blobs(64, 3, 2), nullptr, small_config(1));

  const fs::path path = temp_file("batch_norm.udl");
  udl::save_classifier(model, path.string());
  udl::Classifier loaded = udl::load_classifier(path.string());
  EXPECT_TRUE(loaded->spec().batch_norm);
  const torch::Tensor images = torch::rand({4, 1, 28, 28});
  // Equal in eval mode only if the trained running statistics came along.
  EXPECT_TRUE(udl::classify_images(loaded, images).equal(udl::classify_images(model, images)));
  // A record written before batch norm ends at the head width: none.
  udl::Classifier plain(small_spec(udl::HeadKind::kTwoLayer), 1);
  udl::write_model_file(*plain, "classifier",
                        udl::encode_spec(plain->spec().encoder) + " 3 two_layer 12", path.string());
  EXPECT_FALSE(udl::load_classifier(path.string())->spec().batch_norm);
  for (const char* tail : {" 2", " yes"}) {
    udl::write_model_file(*plain, "classifier",
                          udl::encode_spec(plain->spec().encoder) + " 3 two_layer 12" + tail,
                          path.string());
    EXPECT_THROW(udl::load_classifier(path.string()), udl::DataFormatError) << tail;
  }
  fs::remove(path);
}

TEST_F(Classifier, FineTuningWithBatchNormCopiesTheWeightsAndTrainsTheNorms) {
  udl::ClassifierSpec spec = small_spec();
  udl::Autoencoder source(spec.encoder, 7);
  spec.batch_norm = true;
  udl::Classifier model(spec, 0);
  model->load_encoder(source);
  model->freeze_encoder(/*conv=*/true, /*linear=*/false);
  torch::NoGradGuard no_grad;
  model->eval();
  source->eval();
  // Fresh norms are the identity but for their epsilon: the codes are the autoencoder's.
  udl::Classifier linear_head(spec, 1);
  linear_head->load_encoder(source);
  linear_head->eval();
  const torch::Tensor images = torch::rand({3, 1, 28, 28});
  EXPECT_TRUE(torch::allclose(linear_head->features(images), source->encode(images), 1e-4, 1e-4));

  const auto before = parameter_copies(*model);
  {
    torch::AutoGradMode grad(true);
    udl::train_classifier(model, banded_blobs(64, 3, 2), nullptr, small_config(2));
  }
  for (const auto& item : model->named_parameters()) {  // the norms count as not conv
    const bool conv = part_of(model, item.key()) == Part::kConv;
    EXPECT_EQ(changed(before.at(item.key()), item.value()), !conv) << item.key();
  }
}

TEST_F(Classifier, AugmentationChangesTheTrainingBatchesOnly) {
  const udl::ImageSet data = banded_blobs(96, 3, 5);
  udl::ClassifierConfig config = small_config(1);
  auto run = [&](const udl::AugmentationConfig& augmentation) {
    config.augmentation = augmentation;
    udl::Classifier model(small_spec(), 3);
    const auto history = udl::train_classifier(model, data, nullptr, config).history;
    return std::make_pair(history[0], model);
  };
  const auto [plain, plain_model] = run({});
  const auto [shifted, shifted_model] = run({3, true});
  EXPECT_NE(plain.train_loss, shifted.train_loss);
  EXPECT_EQ(run({3, true}).first.train_loss, shifted.train_loss);  // seeded
  // The validation images are seen as they are: scoring them again gives the recorded loss.
  const udl::ImageSet validation =
      udl::split_train_validation(data, config.val_fraction, config.seed).validation;
  udl::Classifier trained = shifted_model;
  EXPECT_NEAR(udl::evaluate_classifier(trained, validation).loss, shifted.val_loss, 1e-6);

  udl::ClassifierConfig too_far = small_config(1);
  too_far.augmentation.max_shift = 28;
  udl::Classifier model(small_spec(), 0);
  const auto before = parameter_copies(*model);
  EXPECT_THROW(udl::train_classifier(model, data, nullptr, too_far), udl::InvalidArgument);
  for (const auto& item : model->named_parameters()) {
    EXPECT_TRUE(item.value().equal(before.at(item.key()))) << item.key();
  }
}

TEST_F(Classifier, LoadRejectsAnotherKindOfModel) {
  udl::Autoencoder autoencoder(small_spec().encoder, 0);
  const fs::path path = temp_file("autoencoder.udl");
  udl::save_autoencoder(autoencoder, path.string());
  EXPECT_THROW(udl::load_classifier(path.string()), udl::DataFormatError);
  fs::remove(path);

  udl::Classifier model(small_spec(), 0);
  const fs::path classifier = temp_file("classifier.udl");
  udl::save_classifier(model, classifier.string());
  EXPECT_THROW(udl::load_autoencoder(classifier.string()), udl::DataFormatError);
  fs::remove(classifier);
}

}  // namespace
