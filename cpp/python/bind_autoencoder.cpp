// Bindings of the autoencoders: spec, model, training settings and result, cross-validation
// and corruptions.
#include "bind_common.h"
#include "udl/autoencoder.h"
#include "udl/autoencoder_training.h"
#include "udl/cross_validation.h"
#include "udl/errors.h"

namespace udl_python {
namespace {

udl::CrossValidationResult cross_validate(const udl::AutoencoderSpec& spec, const py::array& images,
                                          const std::optional<py::array>& labels,
                                          const std::optional<py::array>& test_images,
                                          const udl::TrainConfig& config, int64_t folds,
                                          bool stratified,
                                          const std::optional<py::function>& on_epoch) {
  const udl::ImageSet data = image_set(images, labels, "images");
  std::optional<udl::ImageSet> test;
  if (test_images) test.emplace(as_tensor(*test_images, "test images"));
  const udl::TrainHooks hooks = make_hooks<udl::EpochRecord>(on_epoch);
  udl::CrossValidationConfig cv;
  cv.folds = folds;
  cv.stratified = stratified;
  py::gil_scoped_release release;
  return udl::cross_validate(spec, data, test ? &*test : nullptr, config, cv, hooks);
}

udl::TrainResult train(std::shared_ptr<udl::AutoencoderImpl> module, const py::array& images,
                       const std::optional<py::array>& test_images, const udl::TrainConfig& config,
                       const std::optional<py::function>& on_epoch) {
  const udl::ImageSet data(as_tensor(images, "images"));
  std::optional<udl::ImageSet> test;
  if (test_images) test.emplace(as_tensor(*test_images, "test images"));
  const udl::TrainHooks hooks = make_hooks<udl::EpochRecord>(on_epoch);
  udl::Autoencoder model(std::move(module));
  py::gil_scoped_release release;
  return udl::train_autoencoder(model, data, test ? &*test : nullptr, config, hooks);
}

}  // namespace

void bind_autoencoder(py::module_& m) {
  py::class_<udl::ConvLayerSpec>(m, "ConvLayerSpec")
      .def(py::init([](int64_t channels, int64_t kernel, int64_t stride, int64_t padding) {
             return udl::ConvLayerSpec{channels, kernel, stride, padding};
           }),
           py::arg("channels"), py::arg("kernel") = 3, py::arg("stride") = 1,
           py::arg("padding") = 0)
      .def_readonly("channels", &udl::ConvLayerSpec::channels)
      .def_readonly("kernel", &udl::ConvLayerSpec::kernel)
      .def_readonly("stride", &udl::ConvLayerSpec::stride)
      .def_readonly("padding", &udl::ConvLayerSpec::padding);

  py::class_<udl::AutoencoderSpec>(m, "AutoencoderSpec")
      .def(
          py::init([](std::vector<int64_t> input_shape, std::vector<udl::ConvLayerSpec> conv_layers,
                      std::vector<int64_t> hidden_widths, int64_t latent_dim, double dropout,
                      bool decoder_dropout) {
            udl::AutoencoderSpec spec{std::move(input_shape),
                                      std::move(conv_layers),
                                      std::move(hidden_widths),
                                      latent_dim,
                                      dropout,
                                      decoder_dropout};
            udl::validate_architecture(spec);
            return spec;
          }),
          py::arg("input_shape"), py::arg("conv_layers"), py::arg("hidden_widths"),
          py::arg("latent_dim"), py::arg("dropout") = 0.0, py::arg("decoder_dropout") = false)
      .def_static("conv_autoencoder", &udl::conv_autoencoder_spec, py::arg("nf"),
                  py::arg("latent_dim"), py::arg("input_shape") = std::vector<int64_t>{1, 28, 28})
      .def_readonly("input_shape", &udl::AutoencoderSpec::input_shape)
      .def_readonly("conv_layers", &udl::AutoencoderSpec::conv_layers)
      .def_readonly("hidden_widths", &udl::AutoencoderSpec::hidden_widths)
      .def_readonly("latent_dim", &udl::AutoencoderSpec::latent_dim)
      .def_readonly("dropout", &udl::AutoencoderSpec::dropout)
      .def_readonly("decoder_dropout", &udl::AutoencoderSpec::decoder_dropout)
      .def("__repr__", [](const udl::AutoencoderSpec& spec) { return udl::describe(spec); });

  using Impl = udl::AutoencoderImpl;
  bind_model<Impl, udl::Autoencoder>(m, "Autoencoder", &udl::save_autoencoder,
                                     &udl::load_autoencoder)
      .def("encode",
           [](std::shared_ptr<Impl> self, const py::array& images) {
             udl::Autoencoder model(self);
             return infer_numpy(images, "images", [&](const torch::Tensor& x) {
               return udl::encode_images(model, x);
             });
           })
      .def("decode",
           [](std::shared_ptr<Impl> self, const py::array& codes) {
             udl::Autoencoder model(self);
             return infer_numpy(codes, "codes", [&](const torch::Tensor& z) {
               return udl::decode_codes(model, z);
             });
           })
      .def("reconstruct",
           [](std::shared_ptr<Impl> self, const py::array& images) {
             udl::Autoencoder model(self);
             return infer_numpy(images, "images", [&](const torch::Tensor& x) {
               return udl::reconstruct_images(model, x);
             });
           })
      .def("sparsity", [](std::shared_ptr<Impl> self) {
        return by_layer_group(udl::sparsity(self->prunable_weights()));
      });

  bind_config<udl::CorruptionConfig>(m, "CorruptionConfig")
      .def_readwrite("rotation_degrees", &udl::CorruptionConfig::rotation_degrees)
      .def_readwrite("gaussian_sigma", &udl::CorruptionConfig::gaussian_sigma)
      .def_readwrite("salt_pepper", &udl::CorruptionConfig::salt_pepper)
      .def_readwrite("mask_fraction", &udl::CorruptionConfig::mask_fraction)
      .def_readwrite("mask_rescale", &udl::CorruptionConfig::mask_rescale)
      .def_property_readonly("enabled", &udl::CorruptionConfig::enabled);

  auto train_config = bind_config<udl::TrainConfig, udl::LoopConfig>(m, "TrainConfig");
  train_config.def_readwrite("passes", &udl::TrainConfig::passes)
      .def_readwrite("corruption", &udl::TrainConfig::corruption)
      .def_property(
          "prune_amounts",
          [](const udl::TrainConfig& c) { return by_layer_group(c.pruning.amounts); },
          [](udl::TrainConfig& c, const std::map<std::string, double>& amounts) {
            for (const auto& [name, amount] : amounts) {
              const udl::LayerGroup group =
                  udl::parse_choice(udl::kLayerGroupNames, name, "layer group");
              c.pruning.amounts[static_cast<size_t>(group)] = amount;
            }
          });
  def_choice(train_config, "loss", &udl::TrainConfig::loss, udl::kLossNames);
  def_nested(train_config, "prune_every", &udl::TrainConfig::pruning, &udl::PruningConfig::every);

  bind_record<udl::EpochRecord>(m, "EpochRecord");

  py::class_<udl::DenoisingScores>(m, "DenoisingScores")
      .def_readonly("corrupted_mse", &udl::DenoisingScores::corrupted_mse)
      .def_readonly("denoised_mse", &udl::DenoisingScores::denoised_mse)
      .def_readonly("corrupted_psnr", &udl::DenoisingScores::corrupted_psnr)
      .def_readonly("denoised_psnr", &udl::DenoisingScores::denoised_psnr);

  bind_run<udl::TrainResult>(m, "TrainResult")
      .def_readonly("best_val_mse", &udl::TrainResult::best_val_mse)
      .def_readonly("test_loss", &udl::TrainResult::test_loss)
      .def_readonly("test_mse", &udl::TrainResult::test_mse)
      .def_readonly("test_denoising", &udl::TrainResult::test_denoising);

  m.def(
      "corrupt",
      [](const py::array& images, const udl::CorruptionConfig& config, uint64_t seed) {
        udl::validate(config);
        return infer_numpy(images, "images", [&](const torch::Tensor& x) {
          const udl::ImageSet set(x);  // validates shape, dtype and range
          auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
          return udl::corrupt(set.slice(0, set.size()), config, generator);
        });
      },
      py::arg("images"), py::arg("config"), py::arg("seed") = 0);

  py::class_<udl::CrossValidationResult>(m, "CrossValidationResult")
      .def_readonly("folds", &udl::CrossValidationResult::folds)
      .def_readonly("mean_val_loss", &udl::CrossValidationResult::mean_val_loss)
      .def_readonly("std_val_loss", &udl::CrossValidationResult::std_val_loss)
      .def_readonly("mean_val_mse", &udl::CrossValidationResult::mean_val_mse)
      .def_readonly("std_val_mse", &udl::CrossValidationResult::std_val_mse)
      .def_readonly("seconds", &udl::CrossValidationResult::seconds)
      .def_readonly("best_fold", &udl::CrossValidationResult::best_fold)
      .def_property_readonly(
          "best_model", [](const udl::CrossValidationResult& r) { return r.best_model.ptr(); });

  m.def("cross_validate", &cross_validate, py::arg("spec"), py::arg("images"), py::arg("labels"),
        py::arg("test_images"), py::arg("config"), py::arg("folds"), py::arg("stratified"),
        py::arg("on_epoch") = py::none());
  m.def(
      "make_folds",
      [](const py::array& images, const std::optional<py::array>& labels, int64_t k, uint64_t seed,
         bool stratified) {
        const udl::ImageSet set = image_set(images, labels, "images");
        py::list folds;
        for (const auto& fold : udl::make_folds(set, k, seed, stratified))
          folds.append(as_numpy(fold));
        return folds;
      },
      py::arg("images"), py::arg("labels"), py::arg("k"), py::arg("seed"), py::arg("stratified"));
  m.def("train_autoencoder", &train, py::arg("model"), py::arg("images"), py::arg("test_images"),
        py::arg("config"), py::arg("on_epoch") = py::none());
}

}  // namespace udl_python
