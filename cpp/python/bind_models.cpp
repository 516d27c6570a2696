// Bindings of the classifier, the VAE, the GANs and the generation metrics.
#include "conversions.h"
#include "udl/classifier.h"
#include "udl/gan.h"
#include "udl/layers.h"
#include "udl/metrics.h"
#include "udl/vae.h"

namespace udl_python {
namespace {

int64_t count_parameters(torch::nn::Module& module, bool trainable_only = false) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (!trainable_only || p.requires_grad()) n += p.numel();
  }
  return n;
}

std::optional<udl::ImageSet> optional_set(const std::optional<py::array>& images,
                                          const std::optional<py::array>& labels,
                                          const char* what) {
  if (!images) return std::nullopt;
  return image_set(*images, labels, what);
}

void bind_classifier(py::module_& m) {
  py::class_<udl::ClassifierSpec>(m, "ClassifierSpec")
      .def(py::init([](const udl::AutoencoderSpec& encoder, int64_t classes,
                       const std::string& head, int64_t head_hidden) {
             udl::ClassifierSpec spec{encoder, classes, udl::parse_head(head), head_hidden};
             udl::validate(spec);
             return spec;
           }),
           py::arg("encoder"), py::arg("classes") = 10, py::arg("head") = "linear",
           py::arg("head_hidden") = 64)
      .def_readonly("encoder", &udl::ClassifierSpec::encoder)
      .def_readonly("classes", &udl::ClassifierSpec::classes)
      .def_property_readonly("head",
                             [](const udl::ClassifierSpec& s) { return udl::head_name(s.head); })
      .def_readonly("head_hidden", &udl::ClassifierSpec::head_hidden);

  using Impl = udl::ClassifierImpl;
  py::class_<Impl, std::shared_ptr<Impl>>(m, "Classifier")
      .def(py::init([](const udl::ClassifierSpec& spec, uint64_t seed) {
             return udl::Classifier(spec, seed).ptr();
           }),
           py::arg("spec"), py::arg("seed") = 0)
      .def_property_readonly("spec", &Impl::spec)
      .def_property_readonly("feature_dim", &Impl::feature_dim)
      .def_property_readonly("parameter_count", [](Impl& self) { return count_parameters(self); })
      .def_property_readonly("trainable_parameter_count",
                             [](Impl& self) { return count_parameters(self, true); })
      .def("load_encoder",
           [](Impl& self, std::shared_ptr<udl::AutoencoderImpl> source) {
             udl::Autoencoder autoencoder(std::move(source));
             self.load_encoder(autoencoder);
           })
      .def("freeze_encoder", &Impl::freeze_encoder, py::arg("conv"), py::arg("linear"))
      .def("requires_grad",
           [](Impl& self) {
             py::dict out;
             for (const auto& item : self.named_parameters()) {
               out[py::str(item.key())] = item.value().requires_grad();
             }
             return out;
           })
      .def("log_probabilities",
           [](std::shared_ptr<Impl> self, const py::array& images) {
             udl::Classifier model(self);
             return infer_numpy(images, "images", [&](const torch::Tensor& x) {
               return udl::classify_images(model, x);
             });
           })
      .def("features",
           [](std::shared_ptr<Impl> self, const py::array& images) {
             udl::Classifier model(self);
             return infer_numpy(images, "images", [&](const torch::Tensor& x) {
               return udl::image_features(model, x);
             });
           })
      .def("state_dict",
           [](Impl& self) {
             py::dict state;
             for (const auto& item : self.named_parameters()) {
               state[py::str(item.key())] = as_numpy(item.value().detach().clone());
             }
             return state;
           })
      .def("save",
           [](std::shared_ptr<Impl> self, const std::string& path) {
             udl::Classifier model(self);
             py::gil_scoped_release release;
             udl::save_classifier(model, path);
           })
      .def_static("load", [](const std::string& path) {
        py::gil_scoped_release release;
        return udl::load_classifier(path).ptr();
      });

  py::class_<udl::ClassifierEpochStats>(m, "ClassifierEpochStats")
      .def_readonly("epoch", &udl::ClassifierEpochStats::epoch)
      .def_readonly("train_loss", &udl::ClassifierEpochStats::train_loss)
      .def_readonly("train_accuracy", &udl::ClassifierEpochStats::train_accuracy)
      .def_readonly("val_loss", &udl::ClassifierEpochStats::val_loss)
      .def_readonly("val_accuracy", &udl::ClassifierEpochStats::val_accuracy)
      .def_readonly("seconds", &udl::ClassifierEpochStats::seconds)
      .def_readonly("improved", &udl::ClassifierEpochStats::improved);

  py::class_<udl::ClassificationScores>(m, "ClassificationScores")
      .def_readonly("loss", &udl::ClassificationScores::loss)
      .def_readonly("accuracy", &udl::ClassificationScores::accuracy)
      .def_property_readonly(
          "confusion", [](const udl::ClassificationScores& s) { return as_numpy(s.confusion); });

  py::class_<udl::ClassifierTrainResult>(m, "ClassifierTrainResult")
      .def_readonly("history", &udl::ClassifierTrainResult::history)
      .def_readonly("best_epoch", &udl::ClassifierTrainResult::best_epoch)
      .def_readonly("best_val_loss", &udl::ClassifierTrainResult::best_val_loss)
      .def_readonly("seconds", &udl::ClassifierTrainResult::seconds)
      .def_readonly("stop_reason", &udl::ClassifierTrainResult::stop_reason)
      .def_readonly("test", &udl::ClassifierTrainResult::test);

  m.def(
      "train_classifier",
      [](std::shared_ptr<Impl> module, const py::array& images, const py::array& labels,
         const std::optional<py::array>& test_images, const std::optional<py::array>& test_labels,
         const udl::LoopConfig& config, const std::optional<py::function>& on_epoch) {
        const udl::ImageSet data = image_set(images, labels, "images");
        const std::optional<udl::ImageSet> test = optional_set(test_images, test_labels, "test");
        const auto hooks = make_hooks<udl::ClassifierEpochStats>(on_epoch);
        udl::Classifier model(std::move(module));
        py::gil_scoped_release release;
        return udl::train_classifier(model, data, test ? &*test : nullptr, config, hooks);
      },
      py::arg("model"), py::arg("images"), py::arg("labels"), py::arg("test_images"),
      py::arg("test_labels"), py::arg("config"), py::arg("on_epoch") = py::none());
  m.def(
      "evaluate_classifier",
      [](std::shared_ptr<Impl> module, const py::array& images, const py::array& labels) {
        const udl::ImageSet set = image_set(images, labels, "images");
        udl::Classifier model(std::move(module));
        py::gil_scoped_release release;
        return udl::evaluate_classifier(model, set);
      },
      py::arg("model"), py::arg("images"), py::arg("labels"));
}

void bind_vae(py::module_& m) {
  py::class_<udl::VaeSpec>(m, "VaeSpec")
      .def(py::init([](const udl::AutoencoderSpec& architecture, bool batch_norm) {
             return udl::VaeSpec{architecture, batch_norm};
           }),
           py::arg("architecture"), py::arg("batch_norm") = false)
      .def_readonly("architecture", &udl::VaeSpec::architecture)
      .def_readonly("batch_norm", &udl::VaeSpec::batch_norm);

  using Impl = udl::VaeImpl;
  py::class_<Impl, std::shared_ptr<Impl>>(m, "Vae")
      .def(py::init(
               [](const udl::VaeSpec& spec, uint64_t seed) { return udl::Vae(spec, seed).ptr(); }),
           py::arg("spec"), py::arg("seed") = 0)
      .def_property_readonly("spec", &Impl::spec)
      .def_property_readonly("parameter_count", [](Impl& self) { return count_parameters(self); })
      .def("encode",
           [](std::shared_ptr<Impl> self, const py::array& images) {
             udl::Vae model(self);
             const torch::Tensor x = as_tensor(images, "images");
             std::pair<torch::Tensor, torch::Tensor> out;
             {
               py::gil_scoped_release release;
               out = udl::vae_encode_images(model, x);
             }
             return py::make_tuple(as_numpy(out.first), as_numpy(out.second));
           })
      .def("decode",
           [](std::shared_ptr<Impl> self, const py::array& codes) {
             udl::Vae model(self);
             return infer_numpy(codes, "codes", [&](const torch::Tensor& z) {
               return udl::vae_decode_codes(model, z);
             });
           })
      .def(
          "sample",
          [](std::shared_ptr<Impl> self, int64_t count, uint64_t seed) {
            udl::Vae model(self);
            torch::Tensor images;
            {
              py::gil_scoped_release release;
              images = udl::vae_sample(model, count, seed);
            }
            return as_numpy(images);
          },
          py::arg("count"), py::arg("seed") = 0)
      .def("save",
           [](std::shared_ptr<Impl> self, const std::string& path) {
             udl::Vae model(self);
             py::gil_scoped_release release;
             udl::save_vae(model, path);
           })
      .def_static("load", [](const std::string& path) {
        py::gil_scoped_release release;
        return udl::load_vae(path).ptr();
      });

  py::class_<udl::VaeConfig, udl::LoopConfig>(m, "VaeConfig")
      .def(py::init<>())
      .def_property(
          "reconstruction",
          [](const udl::VaeConfig& c) {
            return c.reconstruction == udl::LossKind::kBce ? "bce" : "mse";
          },
          [](udl::VaeConfig& c, const std::string& name) {
            c.reconstruction = udl::parse_loss(name);
          })
      .def_readwrite("beta", &udl::VaeConfig::beta)
      .def("validate", [](const udl::VaeConfig& c) { udl::validate(c); });

  py::class_<udl::VaeLoss>(m, "VaeLoss")
      .def_readonly("total", &udl::VaeLoss::total)
      .def_readonly("reconstruction", &udl::VaeLoss::reconstruction)
      .def_readonly("kl", &udl::VaeLoss::kl)
      .def_readonly("mse", &udl::VaeLoss::mse);

  py::class_<udl::VaeEpochStats>(m, "VaeEpochStats")
      .def_readonly("epoch", &udl::VaeEpochStats::epoch)
      .def_readonly("train_loss", &udl::VaeEpochStats::train_loss)
      .def_readonly("train_reconstruction", &udl::VaeEpochStats::train_reconstruction)
      .def_readonly("train_kl", &udl::VaeEpochStats::train_kl)
      .def_readonly("val_loss", &udl::VaeEpochStats::val_loss)
      .def_readonly("val_reconstruction", &udl::VaeEpochStats::val_reconstruction)
      .def_readonly("val_kl", &udl::VaeEpochStats::val_kl)
      .def_readonly("val_mse", &udl::VaeEpochStats::val_mse)
      .def_readonly("seconds", &udl::VaeEpochStats::seconds)
      .def_readonly("improved", &udl::VaeEpochStats::improved);

  py::class_<udl::VaeTrainResult>(m, "VaeTrainResult")
      .def_readonly("history", &udl::VaeTrainResult::history)
      .def_readonly("best_epoch", &udl::VaeTrainResult::best_epoch)
      .def_readonly("best_val_loss", &udl::VaeTrainResult::best_val_loss)
      .def_readonly("seconds", &udl::VaeTrainResult::seconds)
      .def_readonly("stop_reason", &udl::VaeTrainResult::stop_reason)
      .def_readonly("test", &udl::VaeTrainResult::test);

  m.def(
      "train_vae",
      [](std::shared_ptr<Impl> module, const py::array& images,
         const std::optional<py::array>& test_images, const udl::VaeConfig& config,
         const std::optional<py::function>& on_epoch) {
        const udl::ImageSet data = image_set(images, std::nullopt, "images");
        const std::optional<udl::ImageSet> test = optional_set(test_images, std::nullopt, "test");
        const auto hooks = make_hooks<udl::VaeEpochStats>(on_epoch);
        udl::Vae model(std::move(module));
        py::gil_scoped_release release;
        return udl::train_vae(model, data, test ? &*test : nullptr, config, hooks);
      },
      py::arg("model"), py::arg("images"), py::arg("test_images"), py::arg("config"),
      py::arg("on_epoch") = py::none());
}

void bind_gan(py::module_& m) {
  py::class_<udl::GanSpec>(m, "GanSpec")
      .def(py::init([](const std::string& architecture, std::vector<int64_t> image_shape,
                       int64_t noise_dim) {
             udl::GanSpec spec{udl::parse_gan_architecture(architecture), std::move(image_shape),
                               noise_dim};
             udl::validate(spec);
             return spec;
           }),
           py::arg("architecture") = "fc", py::arg("image_shape") = std::vector<int64_t>{1, 28, 28},
           py::arg("noise_dim") = 100)
      .def_property_readonly(
          "architecture",
          [](const udl::GanSpec& s) { return udl::gan_architecture_name(s.architecture); })
      .def_readonly("image_shape", &udl::GanSpec::image_shape)
      .def_readonly("noise_dim", &udl::GanSpec::noise_dim);

  using Impl = udl::GanImpl;
  py::class_<Impl, std::shared_ptr<Impl>>(m, "Gan")
      .def(py::init(
               [](const udl::GanSpec& spec, uint64_t seed) { return udl::Gan(spec, seed).ptr(); }),
           py::arg("spec"), py::arg("seed") = 0)
      .def_property_readonly("spec", &Impl::spec)
      .def_property_readonly("generator_parameter_count",
                             [](Impl& self) {
                               int64_t n = 0;
                               for (const auto& p : self.generator_parameters()) n += p.numel();
                               return n;
                             })
      .def_property_readonly("discriminator_parameter_count",
                             [](Impl& self) {
                               int64_t n = 0;
                               for (const auto& p : self.discriminator_parameters()) n += p.numel();
                               return n;
                             })
      .def(
          "generate",
          [](std::shared_ptr<Impl> self, int64_t count, uint64_t seed) {
            udl::Gan model(self);
            torch::Tensor images;
            {
              py::gil_scoped_release release;
              images = udl::gan_generate(model, count, seed);
            }
            return as_numpy(images);
          },
          py::arg("count"), py::arg("seed") = 0)
      .def("real_probability",
           [](std::shared_ptr<Impl> self, const py::array& images) {
             udl::Gan model(self);
             return infer_numpy(images, "images", [&](const torch::Tensor& x) {
               udl::check_image_batch(model->spec().image_shape, x);
               return udl::infer_in_batches(*model, x, 1024, [&](const torch::Tensor& batch) {
                 return torch::sigmoid(model->discriminate(batch * 2.0 - 1.0));
               });
             });
           })
      .def("save",
           [](std::shared_ptr<Impl> self, const std::string& path) {
             udl::Gan model(self);
             py::gil_scoped_release release;
             udl::save_gan(model, path);
           })
      .def_static("load", [](const std::string& path) {
        py::gil_scoped_release release;
        return udl::load_gan(path).ptr();
      });

  py::class_<udl::GanConfig>(m, "GanConfig")
      .def(py::init<>())
      .def_readwrite("learning_rate", &udl::GanConfig::learning_rate)
      .def_readwrite("beta1", &udl::GanConfig::beta1)
      .def_readwrite("beta2", &udl::GanConfig::beta2)
      .def_readwrite("batch_size", &udl::GanConfig::batch_size)
      .def_readwrite("epochs", &udl::GanConfig::epochs)
      .def_readwrite("seed", &udl::GanConfig::seed)
      .def_readwrite("threads", &udl::GanConfig::threads)
      .def_readwrite("sample_epochs", &udl::GanConfig::sample_epochs)
      .def_readwrite("sample_count", &udl::GanConfig::sample_count)
      .def("validate", [](const udl::GanConfig& c) { udl::validate(c); });

  py::class_<udl::GanEpochStats>(m, "GanEpochStats")
      .def_readonly("epoch", &udl::GanEpochStats::epoch)
      .def_readonly("generator_loss", &udl::GanEpochStats::generator_loss)
      .def_readonly("discriminator_loss", &udl::GanEpochStats::discriminator_loss)
      .def_readonly("real_score", &udl::GanEpochStats::real_score)
      .def_readonly("fake_score", &udl::GanEpochStats::fake_score)
      .def_readonly("seconds", &udl::GanEpochStats::seconds);

  py::class_<udl::GanTrainResult>(m, "GanTrainResult")
      .def_readonly("history", &udl::GanTrainResult::history)
      .def_property_readonly("samples",
                             [](const udl::GanTrainResult& r) {
                               py::list out;
                               for (const auto& [epoch, images] : r.samples) {
                                 out.append(py::make_tuple(epoch, as_numpy(images)));
                               }
                               return out;
                             })
      .def_readonly("seconds", &udl::GanTrainResult::seconds)
      .def_readonly("stop_reason", &udl::GanTrainResult::stop_reason);

  m.def(
      "train_gan",
      [](std::shared_ptr<Impl> module, const py::array& images, const udl::GanConfig& config,
         const std::optional<py::function>& on_epoch) {
        const udl::ImageSet data = image_set(images, std::nullopt, "images");
        const auto hooks = make_hooks<udl::GanEpochStats>(on_epoch);
        udl::Gan model(std::move(module));
        py::gil_scoped_release release;
        return udl::train_gan(model, data, config, hooks);
      },
      py::arg("model"), py::arg("images"), py::arg("config"), py::arg("on_epoch") = py::none());
}

void bind_metrics(py::module_& m) {
  m.def(
      "frechet_distance",
      [](const py::array& a, const py::array& b) {
        const torch::Tensor x = as_tensor(a, "features_a");
        const torch::Tensor y = as_tensor(b, "features_b");
        py::gil_scoped_release release;
        return udl::frechet_distance(x, y);
      },
      py::arg("features_a"), py::arg("features_b"));
  m.def(
      "inception_score",
      [](const py::array& log_probabilities, int64_t splits) {
        const torch::Tensor x = as_tensor(log_probabilities, "log_probabilities");
        udl::InceptionScore score;
        {
          py::gil_scoped_release release;
          score = udl::inception_score(x, splits);
        }
        return py::make_tuple(score.mean, score.std);
      },
      py::arg("log_probabilities"), py::arg("splits") = 10);
}

}  // namespace

void bind_models(py::module_& m) {
  bind_classifier(m);
  bind_vae(m);
  bind_gan(m);
  bind_metrics(m);
}

}  // namespace udl_python
