#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_support.h"
#include "udl/autoencoder.h"
#include "udl/errors.h"

namespace {

namespace fs = std::filesystem;

fs::path temp_file(const std::string& name) { return udl_test::temp_file("autoencoder", name); }

bool same_parameters(udl::Autoencoder& a, udl::Autoencoder& b) {
  const auto pa = a->parameters();
  const auto pb = b->parameters();
  if (pa.size() != pb.size()) return false;
  for (size_t i = 0; i < pa.size(); ++i) {
    if (!pa[i].equal(pb[i])) return false;
  }
  return true;
}

TEST(Autoencoder, ReconstructsTheInputShape) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 0);
  const torch::Tensor images = torch::rand({5, 1, 28, 28});
  EXPECT_EQ(model->encode(images).sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(model->forward(images).sizes(), images.sizes());
}

TEST(Autoencoder, ReconstructsOtherInputShapes) {
  udl::AutoencoderSpec spec;
  spec.input_shape = {3, 32, 32};
  spec.conv_layers = {{8, 4, 2, 1}, {16, 3, 2, 1}};
  spec.hidden_widths = {32, 16};
  spec.latent_dim = 5;
  udl::Autoencoder model(spec, 1);
  EXPECT_EQ(model->forward(torch::rand({2, 3, 32, 32})).sizes(),
            (std::vector<int64_t>{2, 3, 32, 32}));

  spec.conv_layers.clear();  // a purely linear autoencoder
  udl::Autoencoder linear(spec, 1);
  EXPECT_EQ(linear->forward(torch::rand({2, 3, 32, 32})).sizes(),
            (std::vector<int64_t>{2, 3, 32, 32}));
}

TEST(Autoencoder, SeedAloneDeterminesTheWeights) {
  torch::manual_seed(1);
  udl::Autoencoder a(udl::conv_autoencoder_spec(4, 3), 42);
  torch::manual_seed(2);  // the global generator must not matter
  udl::Autoencoder b(udl::conv_autoencoder_spec(4, 3), 42);
  udl::Autoencoder c(udl::conv_autoencoder_spec(4, 3), 43);
  EXPECT_TRUE(same_parameters(a, b));
  EXPECT_FALSE(same_parameters(a, c));
}

TEST(Autoencoder, InitialisesLikePyTorch) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 0);
  for (const auto& item : model->named_parameters()) {
    const torch::Tensor& p = item.value();
    // Weight dimension 1 times the kernel size is PyTorch's fan_in (biases share the bound).
    const std::string name = item.key();
    if (name.find("weight") == std::string::npos) continue;
    const double bound = 1.0 / std::sqrt(static_cast<double>(p.numel() / p.size(0)));
    EXPECT_LE(p.abs().max().item<double>(), bound) << name;
    EXPECT_GT(p.abs().max().item<double>(), 0.5 * bound) << name;
  }
}

TEST(Autoencoder, InferenceAcceptsBytesAndFloatsAlike) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 0);
  const torch::Tensor bytes = torch::randint(0, 256, {7, 1, 28, 28}).to(torch::kUInt8);
  const torch::Tensor floats = bytes.to(torch::kFloat32) / 255.0;
  const torch::Tensor a = udl::encode_images(model, bytes, 3);
  const torch::Tensor b = udl::encode_images(model, floats, 1024);
  EXPECT_TRUE(torch::allclose(a, b, 1e-5, 1e-6));
  const torch::Tensor reconstruction = udl::reconstruct_images(model, bytes);
  EXPECT_EQ(reconstruction.sizes(), bytes.sizes());
  EXPECT_GE(reconstruction.min().item<float>(), 0.0f);
  EXPECT_LE(reconstruction.max().item<float>(), 1.0f);
  EXPECT_EQ(udl::decode_codes(model, a).sizes(), bytes.sizes());
}

TEST(Autoencoder, InferenceRejectsWrongShapes) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 0);
  EXPECT_THROW(udl::encode_images(model, torch::rand({2, 1, 27, 28})), udl::InvalidArgument);
  EXPECT_THROW(udl::encode_images(model, torch::rand({2, 28, 28})), udl::InvalidArgument);
  EXPECT_THROW(udl::decode_codes(model, torch::rand({2, 4})), udl::InvalidArgument);
  EXPECT_THROW(udl::encode_images(model, torch::rand({2, 1, 28, 28}).to(torch::kFloat64)),
               udl::InvalidArgument);
}

TEST(Autoencoder, SaveAndLoadRoundTrip) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 3);
  spec.hidden_widths = {20, 12};
  udl::Autoencoder model(spec, 5);
  const fs::path path = temp_file("roundtrip.udl");
  udl::save_autoencoder(model, path.string());
  udl::Autoencoder loaded = udl::load_autoencoder(path.string());
  fs::remove(path);
  EXPECT_EQ(loaded->spec().hidden_widths, spec.hidden_widths);
  EXPECT_TRUE(same_parameters(model, loaded));
}

TEST(Autoencoder, LoadRejectsForeignAndTruncatedFiles) {
  const fs::path garbage = temp_file("garbage.udl");
  std::ofstream(garbage) << "not a model";
  EXPECT_THROW(udl::load_autoencoder(garbage.string()), udl::DataFormatError);

  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 5);
  const fs::path truncated = temp_file("truncated.udl");
  udl::save_autoencoder(model, truncated.string());
  fs::resize_file(truncated, fs::file_size(truncated) / 2);
  EXPECT_THROW(udl::load_autoencoder(truncated.string()), udl::DataFormatError);

  // A valid torch archive that udl did not write.
  const fs::path foreign = temp_file("foreign.pt");
  torch::serialize::OutputArchive archive;
  archive.write("x", torch::ones({2}));
  archive.save_to(foreign.string());
  EXPECT_THROW(udl::load_autoencoder(foreign.string()), udl::DataFormatError);

  fs::remove(garbage);
  fs::remove(truncated);
  fs::remove(foreign);
}

TEST(Autoencoder, DropoutActsInTrainingOnly) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 3);
  spec.dropout = 0.5;
  udl::Autoencoder model(spec, 0);
  const torch::Tensor images = torch::rand({4, 1, 28, 28});
  torch::NoGradGuard no_grad;
  model->train();
  EXPECT_FALSE(model->encode(images).equal(model->encode(images)));
  model->eval();
  EXPECT_TRUE(model->encode(images).equal(model->encode(images)));

  spec.dropout = 0.0;  // no dropout: training mode is deterministic too
  udl::Autoencoder plain(spec, 0);
  plain->train();
  EXPECT_TRUE(plain->encode(images).equal(plain->encode(images)));
}

TEST(Autoencoder, DropoutSitsBeforeEncoderHiddenLayersAndOptionallyInTheDecoder) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 3);
  spec.hidden_widths = {32, 16};
  spec.dropout = 0.3;
  udl::Autoencoder encoder_only(spec, 0);
  spec.decoder_dropout = true;
  udl::Autoencoder both(spec, 0);
  auto dropouts = [](udl::Autoencoder& m) {
    int count = 0;
    for (const auto& child : m->modules(false)) {
      count += child->name().find("SeededDropout") != std::string::npos;
    }
    return count;
  };
  EXPECT_EQ(dropouts(encoder_only), 2);
  EXPECT_EQ(dropouts(both), 4);
}

TEST(Autoencoder, GroupsItsPrunableWeights) {
  udl::Autoencoder model(udl::conv_autoencoder_spec(4, 3), 0);
  std::array<int, udl::kLayerGroups> counts{};
  for (const auto& w : model->prunable_weights()) {
    ++counts[static_cast<size_t>(w.group)];
    EXPECT_EQ(w.weight.sizes(), w.mask.sizes());
  }
  EXPECT_EQ(counts, (std::array<int, udl::kLayerGroups>{2, 3, 2, 3}));
}

TEST(Autoencoder, SaveAndLoadKeepMasksAndDropout) {
  udl::AutoencoderSpec spec = udl::conv_autoencoder_spec(4, 3);
  spec.dropout = 0.1905;
  spec.decoder_dropout = true;
  udl::Autoencoder model(spec, 5);
  udl::PruningConfig pruning;
  pruning.every = 1;
  pruning.amounts = {0.5, 0.5, 0.5, 0.5};
  udl::prune_l1(model->prunable_weights(), pruning);
  const fs::path path = temp_file("pruned.udl");
  udl::save_autoencoder(model, path.string());
  udl::Autoencoder loaded = udl::load_autoencoder(path.string());
  fs::remove(path);
  EXPECT_EQ(loaded->spec().dropout, 0.1905);
  EXPECT_TRUE(loaded->spec().decoder_dropout);
  const auto original = model->prunable_weights();
  const auto restored = loaded->prunable_weights();
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_TRUE(original[i].mask.equal(restored[i].mask));
    EXPECT_TRUE(original[i].weight.equal(restored[i].weight));
  }
}

}  // namespace
