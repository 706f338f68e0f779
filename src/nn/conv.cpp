// Convolution layers: one implementation (ConvNd) for every dimension count, plain and
// transposed.
#include "ravel/nn/conv.h"

#include <cmath>

#include "ravel/nn/init.h"
#include "ravel/ops.h"

namespace ravel::nn {

namespace F = functional;

namespace {
std::string conv_name(int64_t dims, bool transposed) {
  return std::string(transposed ? "ConvTranspose" : "Conv") + std::to_string(dims) + "d";
}

// Pads axis `axis` circularly: the last `left` entries before, the first `right` after.
Tensor pad_circular(const Tensor& x, int64_t axis, int64_t left, int64_t right) {
  const int64_t n = x.size(axis);
  RAVEL_CHECK(left <= n && right <= n, "circular padding: padding (", left, ", ", right,
              ") is larger than dimension ", axis, " of the input ", x.shape());
  std::vector<Tensor> parts;
  if (left > 0) parts.push_back(x.slice(axis, n - left, n));
  parts.push_back(x);
  if (right > 0) parts.push_back(x.slice(axis, 0, right));
  return parts.size() == 1 ? x : concatenate(parts, axis);
}
}  // namespace

ConvNd::ConvNd(int64_t dims, int64_t in_channels, int64_t out_channels, const F::Ints& kernel_size,
               const ConvOptions& o)
    : in_channels(in_channels),
      out_channels(out_channels),
      groups(o.groups),
      padding_mode(o.padding_mode),
      transposed(false),
      dims_(dims) {
  const std::string name = conv_name(dims, false);
  const size_t n = static_cast<size_t>(dims);
  this->kernel_size = kernel_size.expand(n, name.c_str(), "kernel_size");
  stride = o.stride.expand(n, name.c_str(), "stride");
  dilation = o.dilation.expand(n, name.c_str(), "dilation");
  output_padding.assign(n, 0);
  padding_str = o.padding.mode();
  if (padding_str.empty()) {
    padding = o.padding.ints().expand(n, name.c_str(), "padding");
  } else {
    RAVEL_CHECK(padding_str == "same" || padding_str == "valid", name, ": padding \"", padding_str,
                "\" is not supported; expected \"same\", \"valid\" or sizes");
    padding.assign(n, 0);
    if (padding_str == "same") {
      for (int64_t s : stride)
        RAVEL_CHECK(s == 1, name, ": padding=\"same\" is not supported for strided convolutions");
      // Kept for explicit (non-zero) padding modes: the left part of the total padding.
      for (size_t i = 0; i < n; ++i) padding[i] = dilation[i] * (this->kernel_size[i] - 1) / 2;
    }
  }
  RAVEL_CHECK(padding_mode == "zeros" || padding_mode == "reflect" || padding_mode == "replicate" ||
                  padding_mode == "circular",
              name, ": padding_mode \"", padding_mode,
              "\" is not supported; expected zeros, reflect, replicate or circular");
  init_parameters(o.bias);
}

ConvNd::ConvNd(int64_t dims, int64_t in_channels, int64_t out_channels, const F::Ints& kernel_size,
               const ConvTransposeOptions& o)
    : in_channels(in_channels),
      out_channels(out_channels),
      groups(o.groups),
      padding_mode("zeros"),
      transposed(true),
      dims_(dims) {
  const std::string name = conv_name(dims, true);
  const size_t n = static_cast<size_t>(dims);
  this->kernel_size = kernel_size.expand(n, name.c_str(), "kernel_size");
  stride = o.stride.expand(n, name.c_str(), "stride");
  padding = o.padding.expand(n, name.c_str(), "padding");
  output_padding = o.output_padding.expand(n, name.c_str(), "output_padding");
  dilation = o.dilation.expand(n, name.c_str(), "dilation");
  init_parameters(o.bias);
}

void ConvNd::init_parameters(bool has_bias) {
  const std::string name = type_name();
  RAVEL_CHECK(groups > 0, name, ": groups must be positive, got ", groups);
  RAVEL_CHECK(in_channels > 0 && out_channels > 0, name, ": channels must be positive, got ",
              in_channels, " and ", out_channels);
  RAVEL_CHECK(in_channels % groups == 0, name, ": in_channels (", in_channels,
              ") must be divisible by groups (", groups, ")");
  RAVEL_CHECK(out_channels % groups == 0, name, ": out_channels (", out_channels,
              ") must be divisible by groups (", groups, ")");
  Shape wshape = transposed ? Shape{in_channels, out_channels / groups}
                            : Shape{out_channels, in_channels / groups};
  for (int64_t k : kernel_size) wshape.push_back(k);
  weight = register_parameter("weight", empty(wshape));
  if (has_bias) bias = register_parameter("bias", empty({out_channels}));
  reset_parameters();
}

void ConvNd::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

std::string ConvNd::type_name() const { return conv_name(dims_, transposed); }

Tensor ConvNd::forward(const Tensor& x) {
  if (transposed) {
    switch (dims_) {
      case 1:
        return F::conv_transpose1d(x, weight, bias, stride, padding, output_padding, groups,
                                   dilation);
      case 2:
        return F::conv_transpose2d(x, weight, bias, stride, padding, output_padding, groups,
                                   dilation);
      default:
        return F::conv_transpose3d(x, weight, bias, stride, padding, output_padding, groups,
                                   dilation);
    }
  }
  Tensor in = x;
  F::Padding conv_pad =
      padding_str.empty() ? F::Padding(F::Ints(padding)) : F::Padding(padding_str);
  if (padding_mode != "zeros" && padding_str != "valid") {
    // Explicit padding of the spatial axes, then an unpadded convolution (as PyTorch).
    RAVEL_CHECK(x.ndim() == dims_ + 1 || x.ndim() == dims_ + 2, type_name(), ": expected a ",
                dims_ + 1, "-D or ", dims_ + 2, "-D input, got shape ", x.shape());
    const int64_t first = x.ndim() - dims_;
    std::vector<std::pair<int64_t, int64_t>> widths(static_cast<size_t>(x.ndim()), {0, 0});
    for (int64_t d = 0; d < dims_; ++d) {
      const size_t i = static_cast<size_t>(d);
      int64_t left = padding[i], right = padding[i];
      if (padding_str == "same") right = dilation[i] * (kernel_size[i] - 1) - left;
      widths[static_cast<size_t>(first + d)] = {left, right};
      if (padding_mode == "circular") in = pad_circular(in, first + d, left, right);
    }
    if (padding_mode != "circular")
      in = ravel::pad(in, widths, padding_mode == "reflect" ? "reflect" : "edge");
    conv_pad = F::Padding(0);
  }
  switch (dims_) {
    case 1:
      return F::conv1d(in, weight, bias, stride, conv_pad, dilation, groups);
    case 2:
      return F::conv2d(in, weight, bias, stride, conv_pad, dilation, groups);
    default:
      return F::conv3d(in, weight, bias, stride, conv_pad, dilation, groups);
  }
}

std::string ConvNd::extra_repr() const {
  auto all = [](const std::vector<int64_t>& v, int64_t x) {
    for (int64_t e : v)
      if (e != x) return false;
    return true;
  };
  std::string s = std::to_string(in_channels) + ", " + std::to_string(out_channels) +
                  ", kernel_size=" + repr_tuple(kernel_size) + ", stride=" + repr_tuple(stride);
  if (!padding_str.empty())
    s += ", padding=" + padding_str;
  else if (!all(padding, 0))
    s += ", padding=" + repr_tuple(padding);
  if (!all(dilation, 1)) s += ", dilation=" + repr_tuple(dilation);
  if (!all(output_padding, 0)) s += ", output_padding=" + repr_tuple(output_padding);
  if (groups != 1) s += ", groups=" + std::to_string(groups);
  if (!bias.defined()) s += ", bias=False";
  if (padding_mode != "zeros") s += ", padding_mode=" + padding_mode;
  return s;
}

}  // namespace ravel::nn
