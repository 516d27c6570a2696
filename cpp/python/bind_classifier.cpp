// Bindings of the classifiers.
#include "bind_common.h"
#include "udl/classifier.h"
#include "udl/layers.h"

namespace udl_python {

void bind_classifier(py::module_& m) {
  py::class_<udl::ClassifierSpec>(m, "ClassifierSpec")
      .def(py::init([](const udl::AutoencoderSpec& encoder, int64_t classes,
                       const std::string& head, int64_t head_hidden, bool batch_norm) {
             udl::ClassifierSpec spec{encoder, classes, udl::parse_head(head), head_hidden,
                                      batch_norm};
             udl::validate(spec);
             return spec;
           }),
           py::arg("encoder"), py::arg("classes") = 10, py::arg("head") = "linear",
           py::arg("head_hidden") = 64, py::arg("batch_norm") = false)
      .def_readonly("encoder", &udl::ClassifierSpec::encoder)
      .def_readonly("classes", &udl::ClassifierSpec::classes)
      .def_property_readonly("head",
                             [](const udl::ClassifierSpec& s) { return udl::head_name(s.head); })
      .def_readonly("head_hidden", &udl::ClassifierSpec::head_hidden)
      .def_readonly("batch_norm", &udl::ClassifierSpec::batch_norm);

  auto config = bind_config<udl::ClassifierConfig, udl::LoopConfig>(m, "ClassifierConfig");
  def_nested(config, "max_shift", &udl::ClassifierConfig::augmentation,
             &udl::AugmentationConfig::max_shift);
  def_nested(config, "horizontal_flip", &udl::ClassifierConfig::augmentation,
             &udl::AugmentationConfig::horizontal_flip);

  using Impl = udl::ClassifierImpl;
  bind_model<Impl, udl::Classifier>(m, "Classifier", &udl::save_classifier, &udl::load_classifier)
      .def_property_readonly("feature_dim", &Impl::feature_dim)
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
      .def("features", [](std::shared_ptr<Impl> self, const py::array& images) {
        udl::Classifier model(self);
        return infer_numpy(images, "images",
                           [&](const torch::Tensor& x) { return udl::image_features(model, x); });
      });

  bind_record<udl::ClassifierEpochRecord>(m, "ClassifierEpochRecord");

  py::class_<udl::ClassificationScores>(m, "ClassificationScores")
      .def_readonly("loss", &udl::ClassificationScores::loss)
      .def_readonly("accuracy", &udl::ClassificationScores::accuracy)
      .def_property_readonly(
          "confusion", [](const udl::ClassificationScores& s) { return as_numpy(s.confusion); });

  bind_run<udl::ClassifierTrainResult>(m, "ClassifierTrainResult")
      .def_readonly("test", &udl::ClassifierTrainResult::test);

  m.def(
      "train_classifier",
      [](std::shared_ptr<Impl> module, const py::array& images, const py::array& labels,
         const std::optional<py::array>& test_images, const std::optional<py::array>& test_labels,
         const udl::ClassifierConfig& config, const std::optional<py::function>& on_epoch) {
        const udl::ImageSet data = image_set(images, labels, "images");
        const std::optional<udl::ImageSet> test = optional_set(test_images, test_labels, "test");
        const auto hooks = make_hooks<udl::ClassifierEpochRecord>(on_epoch);
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

}  // namespace udl_python
