// Pooling layers: thin wrappers over the functional pooling ops.
#include "ravel/nn/pool.h"

namespace ravel::nn {

namespace F = functional;

namespace {
// As PyTorch prints a size it was given: an int stays an int, a tuple a tuple.
std::string repr_ints(const F::Ints& v) {
  return v.values().size() == 1 ? std::to_string(v.values()[0]) : repr_tuple(v.values());
}
}  // namespace

MaxPoolNd::MaxPoolNd(int64_t dims, F::Ints kernel_size, const MaxPoolOptions& o)
    : kernel_size(std::move(kernel_size)),
      stride(o.stride.empty() ? this->kernel_size : o.stride),
      padding(o.padding),
      dilation(o.dilation),
      ceil_mode(o.ceil_mode),
      dims_(dims) {}

Tensor MaxPoolNd::forward(const Tensor& x) {
  return dims_ == 1 ? F::max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode)
                    : F::max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
}

std::string MaxPoolNd::extra_repr() const {
  return "kernel_size=" + repr_ints(kernel_size) + ", stride=" + repr_ints(stride) +
         ", padding=" + repr_ints(padding) + ", dilation=" + repr_ints(dilation) +
         ", ceil_mode=" + repr_bool(ceil_mode);
}

AvgPoolNd::AvgPoolNd(int64_t dims, F::Ints kernel_size, const AvgPoolOptions& o)
    : kernel_size(std::move(kernel_size)),
      stride(o.stride.empty() ? this->kernel_size : o.stride),
      padding(o.padding),
      ceil_mode(o.ceil_mode),
      count_include_pad(o.count_include_pad),
      divisor_override(o.divisor_override),
      dims_(dims) {
  RAVEL_CHECK(dims == 2 || !divisor_override, "AvgPool1d: divisor_override is not supported");
}

Tensor AvgPoolNd::forward(const Tensor& x) {
  if (dims_ == 1)
    return F::avg_pool1d(x, kernel_size, stride, padding, ceil_mode, count_include_pad);
  return F::avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override);
}

std::string AvgPoolNd::extra_repr() const {
  // PyTorch stores AvgPool1d's sizes as 1-tuples and AvgPool2d's as given.
  auto r = [&](const F::Ints& v) {
    return dims_ == 1 ? repr_tuple(v.expand(1, "AvgPool1d", "size")) : repr_ints(v);
  };
  return "kernel_size=" + r(kernel_size) + ", stride=" + r(stride) + ", padding=" + r(padding);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  return F::adaptive_avg_pool2d(x, output_size);
}
std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + repr_ints(output_size);
}

Tensor AdaptiveMaxPool2d::forward(const Tensor& x) {
  return F::adaptive_max_pool2d(x, output_size);
}
std::string AdaptiveMaxPool2d::extra_repr() const {
  return "output_size=" + repr_ints(output_size);
}

}  // namespace ravel::nn
