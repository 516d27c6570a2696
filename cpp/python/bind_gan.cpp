// Bindings of the GANs.
#include "bind_common.h"
#include "udl/gan.h"
#include "udl/layers.h"

namespace udl_python {

void bind_gan(py::module_& m) {
  py::class_<udl::GanSpec>(m, "GanSpec")
      .def(py::init([](const std::string& architecture, std::vector<int64_t> image_shape,
                       int64_t noise_dim, int64_t dcgan_width, bool discriminator_batch_norm,
                       bool minibatch_stddev) {
             udl::GanSpec spec{udl::parse_gan_architecture(architecture),
                               std::move(image_shape),
                               noise_dim,
                               dcgan_width,
                               discriminator_batch_norm,
                               minibatch_stddev};
             udl::validate(spec);
             return spec;
           }),
           py::arg("architecture") = "fc", py::arg("image_shape") = std::vector<int64_t>{1, 28, 28},
           py::arg("noise_dim") = 100, py::arg("dcgan_width") = 64,
           py::arg("discriminator_batch_norm") = true, py::arg("minibatch_stddev") = false)
      .def_property_readonly(
          "architecture",
          [](const udl::GanSpec& s) { return udl::gan_architecture_name(s.architecture); })
      .def_readonly("image_shape", &udl::GanSpec::image_shape)
      .def_readonly("noise_dim", &udl::GanSpec::noise_dim)
      .def_readonly("dcgan_width", &udl::GanSpec::dcgan_width)
      .def_readonly("discriminator_batch_norm", &udl::GanSpec::discriminator_batch_norm)
      .def_readonly("minibatch_stddev", &udl::GanSpec::minibatch_stddev);

  using Impl = udl::GanImpl;
  bind_model<Impl, udl::Gan>(m, "Gan", &udl::save_gan, &udl::load_gan)
      .def_property_readonly(
          "generator_parameter_count",
          [](Impl& self) { return count_parameters(self.generator_parameters()); })
      .def_property_readonly(
          "discriminator_parameter_count",
          [](Impl& self) { return count_parameters(self.discriminator_parameters()); })
      .def(
          "generate",
          [](std::shared_ptr<Impl> self, int64_t count, uint64_t seed) {
            udl::Gan model(self);
            return without_gil([&] { return udl::gan_generate(model, count, seed); });
          },
          py::arg("count"), py::arg("seed") = 0)
      .def("real_probability", [](std::shared_ptr<Impl> self, const py::array& images) {
        udl::Gan model(self);
        return infer_numpy(images, "images", [&](const torch::Tensor& x) {
          udl::check_image_batch(model->spec().image_shape, x);
          return udl::infer_in_batches(*model, x, 1024, [&](const torch::Tensor& batch) {
            return torch::sigmoid(model->discriminate(batch * 2.0 - 1.0));
          });
        });
      });

  bind_config<udl::GanConfig, udl::LoopConfig>(m, "GanConfig")
      .def_readwrite("sample_epochs", &udl::GanConfig::sample_epochs)
      .def_readwrite("sample_count", &udl::GanConfig::sample_count)
      .def_readwrite("label_smoothing", &udl::GanConfig::label_smoothing)
      .def_readwrite("gradient_penalty", &udl::GanConfig::gradient_penalty)
      .def_readwrite("gradient_penalty_interval", &udl::GanConfig::gradient_penalty_interval)
      .def_readwrite("discriminator_learning_rate", &udl::GanConfig::discriminator_learning_rate)
      .def_readwrite("generator_average", &udl::GanConfig::generator_average);

  bind_record<udl::GanEpochRecord>(m, "GanEpochRecord");

  bind_run<udl::GanTrainResult>(m, "GanTrainResult")
      .def_property_readonly("samples", [](const udl::GanTrainResult& r) {
        py::list out;
        for (const auto& [epoch, images] : r.samples) {
          out.append(py::make_tuple(epoch, as_numpy(images)));
        }
        return out;
      });

  m.def(
      "train_gan",
      [](std::shared_ptr<Impl> module, const py::array& images, const udl::GanConfig& config,
         const std::optional<py::function>& on_epoch) {
        const udl::ImageSet data = image_set(images, std::nullopt, "images");
        const auto hooks = make_hooks<udl::GanEpochRecord>(on_epoch);
        udl::Gan model(std::move(module));
        py::gil_scoped_release release;
        return udl::train_gan(model, data, config, hooks);
      },
      py::arg("model"), py::arg("images"), py::arg("config"), py::arg("on_epoch") = py::none());
}

}  // namespace udl_python
