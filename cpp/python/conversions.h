// Conversions shared by the binding files: NumPy arrays to tensors and back without copies,
// the interrupt poll, and per-epoch callbacks into Python.
#pragma once

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "udl/errors.h"
#include "udl/idx.h"
#include "udl/image_set.h"
#include "udl/loop.h"

namespace py = pybind11;

namespace udl_python {

// A NumPy array viewed as a tensor without a copy; the caller keeps the array alive.
inline torch::Tensor as_tensor(const py::array& array, const char* what) {
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
inline py::array as_numpy(torch::Tensor tensor) {
  tensor = tensor.contiguous();
  const torch::ScalarType type = tensor.scalar_type();
  if (!tensor.is_cpu() ||
      (type != torch::kUInt8 && type != torch::kInt64 && type != torch::kFloat32)) {
    throw std::logic_error(std::string("as_numpy takes uint8, int64 or float32 CPU tensors, got ") +
                           c10::toString(type) + " on " + tensor.device().str());
  }
  py::dtype dtype = type == torch::kUInt8   ? py::dtype::of<uint8_t>()
                    : type == torch::kInt64 ? py::dtype::of<int64_t>()
                                            : py::dtype::of<float>();
  std::vector<py::ssize_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  std::vector<py::ssize_t> strides;
  for (int64_t s : tensor.strides()) strides.push_back(s * tensor.element_size());
  auto* owner = new torch::Tensor(tensor);
  py::capsule capsule(owner, [](void* p) { delete static_cast<torch::Tensor*>(p); });
  return py::array(dtype, shape, strides, tensor.data_ptr(), capsule);
}

inline py::array bytes_to_numpy(udl::IdxArray&& array, std::vector<int64_t> shape) {
  auto* owner = new std::vector<uint8_t>(std::move(array.data));
  py::capsule capsule(owner, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  return py::array(py::dtype::of<uint8_t>(), std::vector<py::ssize_t>(shape.begin(), shape.end()),
                   {}, owner->data(), capsule);
}

// Between batches: every 100 ms, take the GIL and let Python run its signal handlers, so
// Ctrl-C becomes KeyboardInterrupt within a fraction of a second.
inline std::function<void()> make_interrupt_poll() {
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

// The interrupt poll, and the Python per-epoch callback called with the GIL held.
template <typename Stats>
udl::LoopHooks<Stats> make_hooks(const std::optional<py::function>& on_epoch) {
  udl::LoopHooks<Stats> hooks;
  hooks.poll_interrupt = make_interrupt_poll();
  if (on_epoch) {
    hooks.on_epoch = [callback = *on_epoch](const Stats& stats) {
      py::gil_scoped_acquire gil;
      callback(stats);
    };
  }
  return hooks;
}

// Images (and optional labels) from NumPy, validated by ImageSet.
inline udl::ImageSet image_set(const py::array& images, const std::optional<py::array>& labels,
                               const char* what) {
  std::optional<torch::Tensor> label_tensor;
  if (labels) label_tensor = as_tensor(*labels, "labels");
  return udl::ImageSet(as_tensor(images, what), label_tensor);
}

// Runs `fn` on the tensor view of `input` without the GIL and returns a NumPy array.
template <typename Fn>
py::array infer_numpy(const py::array& input, const char* what, Fn fn) {
  const torch::Tensor tensor = as_tensor(input, what);
  torch::Tensor output;
  {
    py::gil_scoped_release release;
    output = fn(tensor);
  }
  return as_numpy(output);
}

}  // namespace udl_python
