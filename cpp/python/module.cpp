// udl._C: the pybind11 layer over udl_core. It converts arguments and results and nothing
// else; the GIL is released around native work and taken back only inside hooks.
#include "bind_common.h"
#include "udl/device.h"
#include "udl/errors.h"
#include "udl/idx.h"
#include "udl/loop.h"
#include "udl/metrics.h"
#include "udl/model_file.h"
#include "udl_build_info.h"

using namespace udl_python;

PYBIND11_MODULE(_C, m) {
  m.doc() = "udl's native core (LibTorch); use the udl package, not this module";
  m.attr("__torch_version__") = UDL_BUILT_WITH_TORCH;
  m.attr("MODEL_FORMAT_VERSION") = udl::kModelFormatVersion;

  py::register_exception<udl::InvalidArchitecture>(m, "InvalidArchitecture", PyExc_ValueError);
  py::register_exception<udl::DataFormatError>(m, "DataFormatError", PyExc_ValueError);
  py::register_exception<udl::InvalidArgument>(m, "InvalidArgument", PyExc_ValueError);

  m.def(
      "read_idx_images_and_labels",
      [](const std::string& images_path, const std::string& labels_path, int num_classes) {
        udl::IdxImagesAndLabels pair;
        {
          py::gil_scoped_release release;
          pair = udl::read_idx_images_and_labels(images_path, labels_path, num_classes);
        }
        const auto& d = pair.images.dims;
        const std::vector<int64_t> image_shape{d[0], 1, d[1], d[2]};
        const int64_t n = pair.labels.dims[0];
        const auto labels =
            torch::from_blob(pair.labels.data.data(), {n}, torch::kUInt8).to(torch::kInt64);
        return py::make_tuple(bytes_to_numpy(std::move(pair.images), image_shape),
                              as_numpy(labels));
      },
      py::arg("images_path"), py::arg("labels_path"), py::arg("num_classes"));
  m.def(
      "read_idx",
      [](const std::string& path) {
        udl::IdxArray array = udl::read_idx_file(path);
        const std::vector<int64_t> dims = array.dims;
        return bytes_to_numpy(std::move(array), dims);
      },
      py::arg("path"));

  m.def(
      "validate_images",
      [](const py::array& images, const std::optional<py::array>& labels) {
        image_set(images, labels, "images");
      },
      py::arg("images"), py::arg("labels") = py::none());

  auto loop = bind_config<udl::LoopConfig>(m, "LoopConfig");
  loop.def_readwrite("learning_rate", &udl::LoopConfig::learning_rate)
      .def_readwrite("momentum", &udl::LoopConfig::momentum)
      .def_readwrite("beta1", &udl::LoopConfig::beta1)
      .def_readwrite("beta2", &udl::LoopConfig::beta2)
      .def_readwrite("weight_decay", &udl::LoopConfig::weight_decay)
      .def_readwrite("batch_size", &udl::LoopConfig::batch_size)
      .def_readwrite("epochs", &udl::LoopConfig::epochs)
      .def_readwrite("seed", &udl::LoopConfig::seed)
      .def_readwrite("val_fraction", &udl::LoopConfig::val_fraction)
      .def_readwrite("threads", &udl::LoopConfig::threads)
      .def_readwrite("lr_decay", &udl::LoopConfig::lr_decay)
      .def_readwrite("lr_patience", &udl::LoopConfig::lr_patience)
      .def_readwrite("checkpoint_path", &udl::LoopConfig::checkpoint_path)
      .def_readwrite("resume", &udl::LoopConfig::resume)
      .def_readwrite("device", &udl::LoopConfig::device);
  def_choice(loop, "optimizer", &udl::LoopConfig::optimizer, udl::kOptimizerNames);
  def_choice(loop, "precision", &udl::LoopConfig::precision, udl::kPrecisionNames);
  def_choice(loop, "lr_schedule", &udl::LoopConfig::lr_schedule, udl::kLrScheduleNames);
  const auto stopping = &udl::LoopConfig::early_stopping;
  def_nested(loop, "early_stopping", stopping, &udl::EarlyStoppingConfig::enabled);
  def_nested(loop, "patience", stopping, &udl::EarlyStoppingConfig::patience);
  def_nested(loop, "min_delta", stopping, &udl::EarlyStoppingConfig::min_delta);
  def_nested(loop, "restore_best", stopping, &udl::EarlyStoppingConfig::restore_best);

  bind_autoencoder(m);
  bind_classifier(m);
  bind_vae(m);
  bind_gan(m);
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
  m.def(
      "resolve_device",
      [](const std::string& name) { return udl::device_name(udl::resolve_device(name)); },
      py::arg("name"));
  m.def(
      "model_kind",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return udl::read_model_file(path, "").kind;
      },
      py::arg("path"));
}
