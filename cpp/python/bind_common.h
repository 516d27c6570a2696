// What every model's binding shares: its epoch record (made from the record's figure table),
// its training result's common fields, and the methods every model has (parameter count,
// state dict, save, load).
#pragma once

#include <map>
#include <string>
#include <utility>

#include "conversions.h"
#include "udl/choices.h"
#include "udl/device.h"
#include "udl/figures.h"
#include "udl/layers.h"
#include "udl/loop.h"
#include "udl/pruning.h"

namespace udl_python {

// Masked fraction (or pruning amount) per layer group, by the group's name.
inline std::map<std::string, double> by_layer_group(
    const std::array<double, udl::kLayerGroups>& values) {
  std::map<std::string, double> out;
  for (size_t g = 0; g < udl::kLayerGroups; ++g) {
    out[udl::layer_group_name(static_cast<udl::LayerGroup>(g))] = values[g];
  }
  return out;
}

template <typename T>
py::object figure_value(const T& value) {
  return py::cast(value);
}
inline py::object figure_value(const std::array<double, udl::kLayerGroups>& value) {
  return py::cast(by_layer_group(value));
}

// A read-only class with one property per declared figure, and `figures`: their names in
// order, from which Python makes its records and history tables.
template <typename Record>
py::class_<Record> bind_record(py::module_& m, const char* name) {
  py::class_<Record> cls(m, name);
  py::list names;
  udl::for_each_figure_member<Record>([&](const char* figure, auto member) {
    cls.def_property_readonly(figure,
                              [member](const Record& r) { return figure_value(r.*member); });
    names.append(figure);
  });
  cls.attr("figures") = py::tuple(names);
  cls.def("__repr__", [name](const Record& record) {
    std::string text = std::string(name) + "(";
    udl::for_each_figure(record, [&](const char* figure, const auto& value) {
      text += std::string(text.back() == '(' ? "" : ", ") + figure + "=" +
              py::repr(figure_value(value)).template cast<std::string>();
    });
    return text + ")";
  });
  return cls;
}

// The result of a training run: the fields every run has; the caller adds its own.
template <typename Result>
py::class_<Result> bind_run(py::module_& m, const char* name) {
  return py::class_<Result>(m, name)
      .def_readonly("history", &Result::history)
      .def_readonly("best_epoch", &Result::best_epoch)
      .def_readonly("best_val_loss", &Result::best_val_loss)
      .def_readonly("seconds", &Result::seconds)
      .def_readonly("stop_reason", &Result::stop_reason);
}

// A copy on the CPU, whatever the tensor's device (a copy also when it is there already).
inline torch::Tensor cpu_copy(const torch::Tensor& tensor) {
  return tensor.detach().to(tensor.options().device(torch::kCPU), /*non_blocking=*/false,
                            /*copy=*/true);
}

inline int64_t count_parameters(const std::vector<torch::Tensor>& parameters,
                                bool trainable_only = false) {
  int64_t n = 0;
  for (const auto& p : parameters) {
    if (!trainable_only || p.requires_grad()) n += p.numel();
  }
  return n;
}

// A model held by a shared pointer (TORCH_MODULE's Impl), with what every model has: a
// constructor from its spec and a seed, its spec, parameter counts, a state dict of copies,
// save to and load from a udl model file.
template <typename Impl, typename Holder, typename Save, typename Load>
py::class_<Impl, std::shared_ptr<Impl>> bind_model(py::module_& m, const char* name, Save save,
                                                   Load load) {
  using Spec = std::decay_t<decltype(std::declval<Impl&>().spec())>;
  return py::class_<Impl, std::shared_ptr<Impl>>(m, name)
      .def(py::init([](const Spec& spec, uint64_t seed) { return Holder(spec, seed).ptr(); }),
           py::arg("spec"), py::arg("seed") = 0)
      .def_property_readonly("spec", &Impl::spec)
      .def_property_readonly("parameter_count",
                             [](Impl& self) { return count_parameters(self.parameters()); })
      .def_property_readonly(
          "trainable_parameter_count",
          [](Impl& self) { return count_parameters(self.parameters(), /*trainable_only=*/true); })
      .def("state_dict",
           [](Impl& self) {
             py::dict state;
             for (const auto& item : self.named_parameters()) {
               state[py::str(item.key())] = as_numpy(cpu_copy(item.value()));
             }
             for (const auto& item : self.named_buffers()) {
               state[py::str(item.key())] = as_numpy(cpu_copy(item.value()));
             }
             return state;
           })
      .def_property_readonly("device",
                             [](Impl& self) { return udl::device_name(udl::device_of(self)); })
      .def(
          "move_to",
          [](Impl& self, const std::string& device) { self.move_to(udl::resolve_device(device)); },
          py::arg("device"))
      .def("layers",
           [](Impl& self) {
             py::list layers;
             for (const udl::LayerRecord& layer : udl::describe_layers(self)) {
               layers.append(py::make_tuple(layer.path, layer.kind, layer.arguments));
             }
             return layers;
           })
      .def("save",
           [save](std::shared_ptr<Impl> self, const std::string& path) {
             Holder model(std::move(self));
             py::gil_scoped_release release;
             save(model, path);
           })
      .def_static("load", [load](const std::string& path) {
        py::gil_scoped_release release;
        return load(path).ptr();
      });
}

// A settings struct: default-constructed, its fields set one by one, then `validate()`d
// (InvalidArgument naming the first bad one).
template <typename Config, typename... Bases>
py::class_<Config, Bases...> bind_config(py::module_& m, const char* name) {
  py::class_<Config, Bases...> cls(m, name);
  // Unqualified: argument-dependent lookup finds the overload in the config's own header.
  cls.def(py::init<>()).def("validate", [](const Config& c) { validate(c); });
  return cls;
}

// A property of an enum member `member` that Python reads and sets by name.
template <typename Class, typename Enum, size_t N, typename... Options>
void def_choice(py::class_<Class, Options...>& cls, const char* name, Enum Class::*member,
                const std::array<udl::Choice<Enum>, N>& choices) {
  cls.def_property(
      name, [member, &choices](const Class& c) { return udl::choice_name(choices, c.*member); },
      [member, &choices, name](Class& c, const std::string& value) {
        c.*member = udl::parse_choice(choices, value, name);
      });
}

// A flat property of the field `inner` of the member struct `outer` (the early-stopping
// settings inside the loop's, for one).
template <typename Class, typename Outer, typename T, typename... Options>
void def_nested(py::class_<Class, Options...>& cls, const char* name, Outer Class::*outer,
                T Outer::*inner) {
  cls.def_property(
      name, [outer, inner](const Class& c) { return c.*outer.*inner; },
      [outer, inner](Class& c, T value) { (c.*outer).*inner = value; });
}

// Runs `make` (a tensor) without the GIL and returns its result as NumPy.
template <typename Make>
py::array without_gil(Make&& make) {
  torch::Tensor out;
  {
    py::gil_scoped_release release;
    out = make();
  }
  return as_numpy(out);
}

// Optional labelled images from NumPy.
inline std::optional<udl::ImageSet> optional_set(const std::optional<py::array>& images,
                                                 const std::optional<py::array>& labels,
                                                 const char* what) {
  if (!images) return std::nullopt;
  return image_set(*images, labels, what);
}

// One function per binding file, called by the module (module.cpp).
void bind_autoencoder(py::module_& m);
void bind_classifier(py::module_& m);
void bind_vae(py::module_& m);
void bind_gan(py::module_& m);

}  // namespace udl_python
