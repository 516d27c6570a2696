#include "udl/conv_layers.h"

#include <ATen/record_function.h>

#include <algorithm>

namespace udl {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
constexpr auto kChannelsLast = at::MemoryFormat::ChannelsLast;

// `x` in NHWC memory, with strides that say so. A one-channel tensor is NCHW and NHWC at once,
// and ATen reads its usual strides as NCHW, so oneDNN would pick its NCHW kernels and hand
// NCHW on to the next layers; its strides are rewritten to the NHWC form (same memory).
torch::Tensor channels_last(const torch::Tensor& x) {
  const torch::Tensor y = x.contiguous(kChannelsLast);
  if (y.dim() != 4 || y.size(1) != 1 || y.stride(1) == 1) return y;
  return y.as_strided(y.sizes(), {y.stride(0), 1, y.stride(2), y.stride(3)});
}

// MKL multiplies by a 16-column matrix about 4x faster than by a 9-column one (the taps of a
// single-channel 3x3 layer), so the column matrices are padded to a multiple of 16 floats.
constexpr int64_t kColumnAlignment = 16;

// The sizes of one transposed convolution: input N×Cin×H×W, output N×Cout×OH×OW, and the
// column matrix of (N·H·W) rows of k·k·Cout taps ([ky][kx][c]), `row_stride` floats apart.
struct Sizes {
  int64_t n, in_channels, height, width;
  int64_t out_channels, out_height, out_width;
  int64_t kernel, stride, padding;
  int64_t taps;        // k·k·Cout
  int64_t row_stride;  // taps rounded up to kColumnAlignment

  Sizes(const torch::Tensor& x, const torch::Tensor& weight, const ConvGeometry& g)
      : n(x.size(0)),
        in_channels(x.size(1)),
        height(x.size(2)),
        width(x.size(3)),
        out_channels(weight.size(1)),
        out_height((height - 1) * g.stride - 2 * g.padding + g.kernel + g.output_padding_h),
        out_width((width - 1) * g.stride - 2 * g.padding + g.kernel + g.output_padding_w),
        kernel(g.kernel),
        stride(g.stride),
        padding(g.padding),
        taps(g.kernel * g.kernel * weight.size(1)),
        row_stride((taps + kColumnAlignment - 1) / kColumnAlignment * kColumnAlignment) {}
};

// in × out × k × k → the in × row_stride matrix whose columns are [ky][kx][out], zero-padded.
torch::Tensor weight_matrix(const torch::Tensor& weight, const Sizes& s) {
  const torch::Tensor matrix = weight.permute({0, 2, 3, 1}).reshape({s.in_channels, s.taps});
  if (s.row_stride == s.taps) return matrix.contiguous();
  return at::constant_pad_nd(matrix, {0, s.row_stride - s.taps});
}

// The N·H·W × Cin matrix of an NHWC tensor (a view).
torch::Tensor pixel_matrix(const torch::Tensor& nhwc, const Sizes& s) {
  return nhwc.permute({0, 2, 3, 1}).reshape({s.n * s.height * s.width, s.in_channels});
}

// The input pixels [begin, end) of one axis whose tap `offset` (ky or kx) lands inside an
// output of `out_size`: out = in·stride − padding + offset must lie in [0, out_size).
struct TapRange {
  int64_t begin, end;
  TapRange(int64_t in_size, int64_t out_size, int64_t offset, const Sizes& s) {
    const int64_t low = s.padding - offset;                  // in·stride ≥ low
    const int64_t high = out_size - 1 + s.padding - offset;  // in·stride ≤ high
    begin = low <= 0 ? 0 : (low + s.stride - 1) / s.stride;
    end = high < 0 ? 0 : std::min(in_size, high / s.stride + 1);
  }
};

// col2im: out (NHWC) = bias + the sum of every column tap that lands on each pixel. One
// image per task, so no two threads write the same pixel. Taps are the outer loops so that
// the pixel loop is branch-free.
void scatter_columns(const float* columns, const float* bias, float* out, const Sizes& s) {
  const int64_t c = s.out_channels;
  const int64_t image_size = s.out_height * s.out_width * c;
  at::parallel_for(0, s.n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float* image = out + i * image_size;
      for (int64_t pixel = 0; pixel < image_size; pixel += c) {
        std::copy(bias, bias + c, image + pixel);
      }
      for (int64_t ky = 0; ky < s.kernel; ++ky) {
        const TapRange rows(s.height, s.out_height, ky, s);
        for (int64_t kx = 0; kx < s.kernel; ++kx) {
          const TapRange cols(s.width, s.out_width, kx, s);
          const int64_t tap = (ky * s.kernel + kx) * c;
          for (int64_t y = rows.begin; y < rows.end; ++y) {
            const int64_t out_y = y * s.stride - s.padding + ky;
            const float* src =
                columns + ((i * s.height + y) * s.width + cols.begin) * s.row_stride + tap;
            float* dst = image + (out_y * s.out_width + cols.begin * s.stride - s.padding + kx) * c;
            const int64_t count = cols.end - cols.begin;
            if (c == 1) {  // a grayscale output layer: one float per tap
              for (int64_t x = 0; x < count; ++x) dst[x * s.stride] += src[x * s.row_stride];
            } else {
              for (int64_t x = 0; x < count; ++x, src += s.row_stride, dst += s.stride * c) {
                for (int64_t k = 0; k < c; ++k) dst[k] += src[k];
              }
            }
          }
        }
      }
    }
  });
}

void save_geometry(AutogradContext* ctx, const ConvGeometry& g) {
  ctx->saved_data["geometry"] =
      std::vector<int64_t>{g.in_channels, g.out_channels,     g.kernel,          g.stride,
                           g.padding,     g.output_padding_h, g.output_padding_w};
}

ConvGeometry geometry_of(AutogradContext* ctx) {
  const std::vector<int64_t> v = ctx->saved_data["geometry"].toIntVector();
  return ConvGeometry{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
}

class TransposedConvFunction : public torch::autograd::Function<TransposedConvFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               ConvGeometry g) {
    const torch::Tensor input = channels_last(x);
    ctx->save_for_backward({input, weight});
    save_geometry(ctx, g);
    const Sizes s(input, weight, g);
    const torch::Tensor columns = pixel_matrix(input, s).mm(weight_matrix(weight, s));
    torch::Tensor out = at::empty({s.n, s.out_channels, s.out_height, s.out_width},
                                  input.options().memory_format(kChannelsLast));
    scatter_columns(columns.data_ptr<float>(), bias.contiguous().data_ptr<float>(),
                    out.data_ptr<float>(), s);
    return out;
  }

  // ATen's own backward of the transposed convolution on channels-last tensors: oneDNN
  // computes both gradients in one primitive, faster than any split of them (measured).
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const ConvGeometry g = geometry_of(ctx);
    const auto [grad_input, grad_weight, grad_bias] = at::convolution_backward(
        channels_last(grad_outputs[0]), saved[0], channels_last(saved[1]),
        std::vector<int64_t>{g.out_channels}, {g.stride, g.stride}, {g.padding, g.padding}, {1, 1},
        /*transposed=*/true, {g.output_padding_h, g.output_padding_w}, /*groups=*/1,
        {ctx->needs_input_grad(0), ctx->needs_input_grad(1), ctx->needs_input_grad(2)});
    return {grad_input, grad_weight, grad_bias, torch::Tensor()};
  }
};

// Registered as zeros: every model sets its layers' values (init_like_pytorch, init_dcgan).
torch::Tensor zero_parameter(torch::nn::Module& module, const std::string& name,
                             at::IntArrayRef shape) {
  return module.register_parameter(name, torch::zeros(shape));
}

}  // namespace

bool gemm_is_faster(const ConvGeometry& g) { return g.stride > 1 && g.out_channels <= 32; }

bool uses_cpu_kernels(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
}

torch::Tensor transposed_conv2d_gemm(const torch::Tensor& x, const torch::Tensor& weight,
                                     const torch::Tensor& bias, const ConvGeometry& geometry) {
  TORCH_CHECK(uses_cpu_kernels(x) && uses_cpu_kernels(weight),
              "transposed_conv2d_gemm takes float32 CPU tensors");
  TORCH_CHECK(x.dim() == 4 && weight.dim() == 4 && x.size(1) == weight.size(0),
              "transposed_conv2d_gemm: input and weight do not match");
  // The autograd function takes a defined bias; none is a zero bias.
  const torch::Tensor defined_bias =
      bias.defined() ? bias : at::zeros({weight.size(1)}, x.options());
  return TransposedConvFunction::apply(x, weight, defined_bias, geometry);
}

Conv2dLayerImpl::Conv2dLayerImpl(const ConvGeometry& geometry) : geometry_(geometry) {
  const auto& g = geometry_;
  weight = zero_parameter(*this, "weight", {g.out_channels, g.in_channels, g.kernel, g.kernel});
  bias = zero_parameter(*this, "bias", {g.out_channels});
}

torch::Tensor Conv2dLayerImpl::forward(const torch::Tensor& x) {
  RECORD_FUNCTION("udl::Conv2dLayer", std::vector<c10::IValue>({x}));  // for profiles
  const auto& g = geometry_;
  if (!uses_cpu_kernels(x)) return at::conv2d(x, weight, bias, g.stride, g.padding);
  return at::conv2d(channels_last(x), channels_last(weight), bias, g.stride, g.padding);
}

ConvTranspose2dLayerImpl::ConvTranspose2dLayerImpl(const ConvGeometry& geometry)
    : geometry_(geometry) {
  const auto& g = geometry_;
  weight = zero_parameter(*this, "weight", {g.in_channels, g.out_channels, g.kernel, g.kernel});
  bias = zero_parameter(*this, "bias", {g.out_channels});
}

torch::Tensor ConvTranspose2dLayerImpl::forward(const torch::Tensor& x) {
  RECORD_FUNCTION("udl::ConvTranspose2dLayer", std::vector<c10::IValue>({x}));
  const auto& g = geometry_;
  const std::vector<int64_t> output_padding{g.output_padding_h, g.output_padding_w};
  if (!uses_cpu_kernels(x)) {
    return at::conv_transpose2d(x, weight, bias, g.stride, g.padding, output_padding);
  }
  if (gemm_is_faster(g)) return transposed_conv2d_gemm(x, weight, bias, g);
  return at::conv_transpose2d(channels_last(x), channels_last(weight), bias, g.stride, g.padding,
                              output_padding);
}

}  // namespace udl
