// udl._C: the pybind11 layer over udl_core. It converts arguments and results and nothing
// else; the GIL is released around native work and taken back only inside hooks.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>

#include "udl/autoencoder.h"
#include "udl/cross_validation.h"
#include "udl/errors.h"
#include "udl/idx.h"
#include "udl/training.h"
#include "udl_build_info.h"

namespace py = pybind11;

namespace {

// A NumPy array viewed as a tensor without a copy; the caller keeps the array alive.
torch::Tensor as_tensor(const py::array& array, const char* what) {
  if (!(array.flags() & py::array::c_style)) {
    throw udl::InvalidArgument(std::string(what) + " must be C-contiguous");
  }
  torch::ScalarType dtype;
  if (array.dtype().is(py::dtype::of<uint8_t>())) {
    dtype = torch::kUInt8;
  } else if (array.dtype().is(py::dtype::of<float>())) {
    dtype = torch::kFloat32;
  } else if (array.dtype().is(py::dtype::of<int64_t>())) {
    dtype = torch::kInt64;
  } else {
    throw udl::InvalidArgument(std::string(what) + " has unsupported dtype " +
                               py::str(array.dtype()).cast<std::string>());
  }
  std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
  return torch::from_blob(const_cast<void*>(array.data()), shape, dtype);
}

// A tensor as a NumPy array sharing its memory; the array owns a reference to the tensor.
py::array as_numpy(torch::Tensor tensor) {
  tensor = tensor.contiguous();
  py::dtype dtype = tensor.scalar_type() == torch::kUInt8   ? py::dtype::of<uint8_t>()
                    : tensor.scalar_type() == torch::kInt64 ? py::dtype::of<int64_t>()
                                                            : py::dtype::of<float>();
  std::vector<py::ssize_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  std::vector<py::ssize_t> strides;
  for (int64_t s : tensor.strides()) strides.push_back(s * tensor.element_size());
  auto* owner = new torch::Tensor(tensor);
  py::capsule capsule(owner, [](void* p) { delete static_cast<torch::Tensor*>(p); });
  return py::array(dtype, shape, strides, tensor.data_ptr(), capsule);
}

py::array bytes_to_numpy(udl::IdxArray&& array, std::vector<int64_t> shape) {
  auto* owner = new std::vector<uint8_t>(std::move(array.data));
  py::capsule capsule(owner, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  return py::array(py::dtype::of<uint8_t>(), std::vector<py::ssize_t>(shape.begin(), shape.end()),
                   {}, owner->data(), capsule);
}

// Between batches: every 100 ms, take the GIL and let Python run its signal handlers, so
// Ctrl-C becomes KeyboardInterrupt within a fraction of a second.
std::function<void()> make_interrupt_poll() {
  auto last =
      std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  return [last]() {
    const auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::milliseconds(100)) return;
    *last = now;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  };
}

std::map<std::string, double> sparsity_dict(const std::array<double, udl::kLayerGroups>& values) {
  std::map<std::string, double> out;
  for (size_t g = 0; g < udl::kLayerGroups; ++g) {
    out[udl::layer_group_name(static_cast<udl::LayerGroup>(g))] = values[g];
  }
  return out;
}

udl::LayerGroup layer_group(const std::string& name) {
  for (size_t g = 0; g < udl::kLayerGroups; ++g) {
    if (name == udl::layer_group_name(static_cast<udl::LayerGroup>(g))) {
      return static_cast<udl::LayerGroup>(g);
    }
  }
  throw udl::InvalidArgument("unknown layer group '" + name +
                             "' (expected encoder_linear, encoder_conv, decoder_linear or "
                             "decoder_conv)");
}

// The interrupt poll, and the Python per-epoch callback called with the GIL held.
udl::TrainHooks make_hooks(const std::optional<py::function>& on_epoch) {
  udl::TrainHooks hooks;
  hooks.poll_interrupt = make_interrupt_poll();
  if (on_epoch) {
    hooks.on_epoch = [callback = *on_epoch](const udl::EpochStats& stats) {
      py::gil_scoped_acquire gil;
      callback(stats);
    };
  }
  return hooks;
}

udl::CrossValidationResult cross_validate(const udl::AutoencoderSpec& spec, const py::array& images,
                                          const std::optional<py::array>& labels,
                                          const std::optional<py::array>& test_images,
                                          const udl::TrainConfig& config, int64_t folds,
                                          bool stratified,
                                          const std::optional<py::function>& on_epoch) {
  std::optional<torch::Tensor> label_tensor;
  if (labels) label_tensor = as_tensor(*labels, "labels");
  const udl::ImageSet data(as_tensor(images, "images"), label_tensor);
  std::optional<udl::ImageSet> test;
  if (test_images) test.emplace(as_tensor(*test_images, "test images"));
  const udl::TrainHooks hooks = make_hooks(on_epoch);
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
  const udl::TrainHooks hooks = make_hooks(on_epoch);
  udl::Autoencoder model(std::move(module));
  py::gil_scoped_release release;
  return udl::train_autoencoder(model, data, test ? &*test : nullptr, config, hooks);
}

template <typename Fn>
py::array infer(udl::Autoencoder& model, const py::array& input, const char* what, Fn fn) {
  const torch::Tensor tensor = as_tensor(input, what);
  torch::Tensor output;
  {
    py::gil_scoped_release release;
    output = fn(model, tensor);
  }
  return as_numpy(output);
}

}  // namespace

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
        std::optional<torch::Tensor> label_tensor;
        if (labels) label_tensor = as_tensor(*labels, "labels");
        udl::ImageSet(as_tensor(images, "images"), label_tensor);
      },
      py::arg("images"), py::arg("labels") = py::none());

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

  py::class_<udl::AutoencoderImpl, std::shared_ptr<udl::AutoencoderImpl>>(m, "Autoencoder")
      .def(py::init([](const udl::AutoencoderSpec& spec, uint64_t seed) {
             return udl::Autoencoder(spec, seed).ptr();
           }),
           py::arg("spec"), py::arg("seed") = 0)
      .def_property_readonly("spec", &udl::AutoencoderImpl::spec)
      .def_property_readonly("parameter_count",
                             [](udl::AutoencoderImpl& self) {
                               int64_t n = 0;
                               for (const auto& p : self.parameters()) n += p.numel();
                               return n;
                             })
      .def("encode",
           [](std::shared_ptr<udl::AutoencoderImpl> self, const py::array& images) {
             udl::Autoencoder model(self);
             return infer(model, images, "images", [](udl::Autoencoder& m, const torch::Tensor& x) {
               return udl::encode_images(m, x);
             });
           })
      .def("decode",
           [](std::shared_ptr<udl::AutoencoderImpl> self, const py::array& codes) {
             udl::Autoencoder model(self);
             return infer(model, codes, "codes", [](udl::Autoencoder& m, const torch::Tensor& z) {
               return udl::decode_codes(m, z);
             });
           })
      .def("reconstruct",
           [](std::shared_ptr<udl::AutoencoderImpl> self, const py::array& images) {
             udl::Autoencoder model(self);
             return infer(model, images, "images", [](udl::Autoencoder& m, const torch::Tensor& x) {
               return udl::reconstruct_images(m, x);
             });
           })
      .def("state_dict",
           [](std::shared_ptr<udl::AutoencoderImpl> self) {
             udl::Autoencoder model(self);
             py::dict state;
             for (auto& [name, tensor] : udl::named_state(model)) {
               state[py::str(name)] = as_numpy(tensor.detach().clone());
             }
             return state;
           })
      .def("sparsity",
           [](std::shared_ptr<udl::AutoencoderImpl> self) {
             return sparsity_dict(udl::sparsity(self->prunable_weights()));
           })
      .def("save",
           [](std::shared_ptr<udl::AutoencoderImpl> self, const std::string& path) {
             udl::Autoencoder model(self);
             py::gil_scoped_release release;
             udl::save_autoencoder(model, path);
           })
      .def_static("load", [](const std::string& path) {
        py::gil_scoped_release release;
        return udl::load_autoencoder(path).ptr();
      });

  py::class_<udl::TrainConfig>(m, "TrainConfig")
      .def(py::init<>())
      .def_property(
          "loss",
          [](const udl::TrainConfig& c) { return c.loss == udl::LossKind::kBce ? "bce" : "mse"; },
          [](udl::TrainConfig& c, const std::string& name) { c.loss = udl::parse_loss(name); })
      .def_property(
          "optimizer",
          [](const udl::TrainConfig& c) {
            return c.optimizer == udl::OptimizerKind::kSgd ? "sgd" : "adam";
          },
          [](udl::TrainConfig& c, const std::string& name) {
            c.optimizer = udl::parse_optimizer(name);
          })
      .def_readwrite("learning_rate", &udl::TrainConfig::learning_rate)
      .def_readwrite("momentum", &udl::TrainConfig::momentum)
      .def_readwrite("weight_decay", &udl::TrainConfig::weight_decay)
      .def_readwrite("batch_size", &udl::TrainConfig::batch_size)
      .def_readwrite("epochs", &udl::TrainConfig::epochs)
      .def_readwrite("seed", &udl::TrainConfig::seed)
      .def_readwrite("val_fraction", &udl::TrainConfig::val_fraction)
      .def_readwrite("threads", &udl::TrainConfig::threads)
      .def_property(
          "early_stopping", [](const udl::TrainConfig& c) { return c.early_stopping.enabled; },
          [](udl::TrainConfig& c, bool on) { c.early_stopping.enabled = on; })
      .def_property(
          "patience", [](const udl::TrainConfig& c) { return c.early_stopping.patience; },
          [](udl::TrainConfig& c, int64_t p) { c.early_stopping.patience = p; })
      .def_property(
          "min_delta", [](const udl::TrainConfig& c) { return c.early_stopping.min_delta; },
          [](udl::TrainConfig& c, double d) { c.early_stopping.min_delta = d; })
      .def_property(
          "restore_best", [](const udl::TrainConfig& c) { return c.early_stopping.restore_best; },
          [](udl::TrainConfig& c, bool on) { c.early_stopping.restore_best = on; })
      .def_readwrite("passes", &udl::TrainConfig::passes)
      .def_property(
          "prune_every", [](const udl::TrainConfig& c) { return c.pruning.every; },
          [](udl::TrainConfig& c, int64_t every) { c.pruning.every = every; })
      .def_property(
          "prune_amounts",
          [](const udl::TrainConfig& c) { return sparsity_dict(c.pruning.amounts); },
          [](udl::TrainConfig& c, const std::map<std::string, double>& amounts) {
            for (const auto& [name, amount] : amounts) {
              c.pruning.amounts[static_cast<size_t>(layer_group(name))] = amount;
            }
          })
      .def("validate", [](const udl::TrainConfig& c) { udl::validate(c); });

  py::class_<udl::EpochStats>(m, "EpochStats")
      .def_readonly("fold", &udl::EpochStats::fold)
      .def_readonly("epoch", &udl::EpochStats::epoch)
      .def_readonly("val_mse", &udl::EpochStats::val_mse)
      .def_property_readonly("sparsity",
                             [](const udl::EpochStats& s) { return sparsity_dict(s.sparsity); })
      .def_readonly("train_loss", &udl::EpochStats::train_loss)
      .def_readonly("val_loss", &udl::EpochStats::val_loss)
      .def_readonly("seconds", &udl::EpochStats::seconds)
      .def_readonly("improved", &udl::EpochStats::improved)
      .def("__repr__", [](const udl::EpochStats& s) {
        return "EpochStats(epoch=" + std::to_string(s.epoch) +
               ", train_loss=" + std::to_string(s.train_loss) +
               ", val_loss=" + std::to_string(s.val_loss) +
               ", seconds=" + std::to_string(s.seconds) + ")";
      });

  py::class_<udl::TrainResult>(m, "TrainResult")
      .def_readonly("history", &udl::TrainResult::history)
      .def_readonly("best_epoch", &udl::TrainResult::best_epoch)
      .def_readonly("best_val_loss", &udl::TrainResult::best_val_loss)
      .def_readonly("best_val_mse", &udl::TrainResult::best_val_mse)
      .def_readonly("seconds", &udl::TrainResult::seconds)
      .def_readonly("stop_reason", &udl::TrainResult::stop_reason)
      .def_readonly("test_loss", &udl::TrainResult::test_loss)
      .def_readonly("test_mse", &udl::TrainResult::test_mse);

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
        std::optional<torch::Tensor> label_tensor;
        if (labels) label_tensor = as_tensor(*labels, "labels");
        const udl::ImageSet set(as_tensor(images, "images"), label_tensor);
        py::list folds;
        for (const auto& fold : udl::make_folds(set, k, seed, stratified))
          folds.append(as_numpy(fold));
        return folds;
      },
      py::arg("images"), py::arg("labels"), py::arg("k"), py::arg("seed"), py::arg("stratified"));
  m.def("train_autoencoder", &train, py::arg("model"), py::arg("images"), py::arg("test_images"),
        py::arg("config"), py::arg("on_epoch") = py::none());
  m.def(
      "set_num_threads", [](int n) { at::set_num_threads(n); }, py::arg("threads"));
  m.def("get_num_threads", []() { return at::get_num_threads(); });
}
