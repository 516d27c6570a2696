// Bindings of the variational autoencoder.
#include "bind_common.h"
#include "udl/vae.h"

namespace udl_python {

void bind_vae(py::module_& m) {
  py::class_<udl::VaeSpec>(m, "VaeSpec")
      .def(py::init([](const udl::AutoencoderSpec& architecture, bool batch_norm) {
             return udl::VaeSpec{architecture, batch_norm};
           }),
           py::arg("architecture"), py::arg("batch_norm") = false)
      .def_readonly("architecture", &udl::VaeSpec::architecture)
      .def_readonly("batch_norm", &udl::VaeSpec::batch_norm);

  using Impl = udl::VaeImpl;
  bind_model<Impl, udl::Vae>(m, "Vae", &udl::save_vae, &udl::load_vae)
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
            return without_gil([&] { return udl::vae_sample(model, count, seed); });
          },
          py::arg("count"), py::arg("seed") = 0);

  auto config = bind_config<udl::VaeConfig, udl::LoopConfig>(m, "VaeConfig");
  config.def_readwrite("beta", &udl::VaeConfig::beta);
  def_choice(config, "loss", &udl::VaeConfig::loss, udl::kLossNames);

  py::class_<udl::VaeLoss>(m, "VaeLoss")
      .def_readonly("total", &udl::VaeLoss::total)
      .def_readonly("reconstruction", &udl::VaeLoss::reconstruction)
      .def_readonly("kl", &udl::VaeLoss::kl)
      .def_readonly("mse", &udl::VaeLoss::mse);

  bind_record<udl::VaeEpochRecord>(m, "VaeEpochRecord");

  bind_run<udl::VaeTrainResult>(m, "VaeTrainResult")
      .def_readonly("test", &udl::VaeTrainResult::test);

  m.def(
      "train_vae",
      [](std::shared_ptr<Impl> module, const py::array& images,
         const std::optional<py::array>& test_images, const udl::VaeConfig& config,
         const std::optional<py::function>& on_epoch) {
        const udl::ImageSet data = image_set(images, std::nullopt, "images");
        const std::optional<udl::ImageSet> test = optional_set(test_images, std::nullopt, "test");
        const auto hooks = make_hooks<udl::VaeEpochRecord>(on_epoch);
        udl::Vae model(std::move(module));
        py::gil_scoped_release release;
        return udl::train_vae(model, data, test ? &*test : nullptr, config, hooks);
      },
      py::arg("model"), py::arg("images"), py::arg("test_images"), py::arg("config"),
      py::arg("on_epoch") = py::none());
}

}  // namespace udl_python
