// Image layers: Conv2D, MaxPooling2D / AveragePooling2D, the global pools and
// BatchNormalization.
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "layers_internal.h"
#include "ravel/autograd.h"
#include "ravel/keras/layers.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/functional.h"
#include "ravel/nn/init.h"
#include "ravel/nn/norm.h"
#include "ravel/ops.h"

namespace ravel::keras {

namespace F = nn::functional;
using layer_detail::check_dim;
using layer_detail::check_rank;

namespace {

using Pads = std::vector<std::pair<int64_t, int64_t>>;

// TF's "same" padding of one axis: the output has ceil(in / stride) positions; the padding that
// needs is split with the odd pixel after (bottom/right).
std::pair<int64_t, int64_t> same_padding(int64_t in, int64_t kernel, int64_t stride,
                                         int64_t dilation) {
  int64_t out = (in + stride - 1) / stride;
  int64_t total = std::max<int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - in, 0);
  return {total / 2, total - total / 2};
}

// [N, C, H, W] padding for "same" (zeros for "valid").
Pads spatial_padding(const Tensor& x, const std::string& padding, Size2 kernel, Size2 strides,
                     Size2 dilation) {
  Pads pads(4, {0, 0});
  if (padding == "same") {
    pads[2] = same_padding(x.size(2), kernel.h, strides.h, dilation.h);
    pads[3] = same_padding(x.size(3), kernel.w, strides.w, dilation.w);
  }
  return pads;
}

bool any_padding(const Pads& p) {
  for (auto [a, b] : p)
    if (a || b) return true;
  return false;
}

void check_padding(const char* type, const std::string& padding) {
  RAVEL_CHECK(padding == "valid" || padding == "same", type, ": padding \"", padding,
              "\", expected \"valid\" or \"same\"");
}

void check_size(const char* type, const char* what, Size2 s) {
  RAVEL_CHECK(s.h > 0 && s.w > 0, type, ": ", what, " (", s.h, ", ", s.w,
              ") expected positive sizes");
}

}  // namespace

namespace layers {

// ---------------------------------------------------------------- Conv2D

Conv2D::Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options, std::string name)
    : Layer("Conv2D", std::move(name)),
      filters_(filters),
      kernel_size_(kernel_size),
      options_(std::move(options)) {
  RAVEL_CHECK(filters > 0, "Conv2D: filters ", filters, " expected a positive count");
  check_size("Conv2D", "kernel_size", kernel_size_);
  check_size("Conv2D", "strides", options_.strides);
  check_size("Conv2D", "dilation_rate", options_.dilation_rate);
  check_padding("Conv2D", options_.padding);
  check_activation(options_.activation);
  RAVEL_CHECK(options_.groups > 0 && filters % options_.groups == 0, "Conv2D: groups ",
              options_.groups, " expected a positive divisor of filters (", filters, ")");
}

void Conv2D::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 4, 4, "4 ([batch, channels, height, width])");
  int64_t in = shapes[0][1];
  RAVEL_CHECK(in % options_.groups == 0, "Conv2D: ", in, " input channels are not divisible by ",
              "groups ", options_.groups);
  const auto& o = options_;
  // Stride 1 "same" padding does not depend on the image size; when it is symmetric the
  // convolution pads by itself (no copy of the input).
  int64_t pad_h = 0, pad_w = 0;
  if (o.padding == "same" && o.strides == Size2(1)) {
    auto [top, bottom] = same_padding(shapes[0][2], kernel_size_.h, 1, o.dilation_rate.h);
    auto [left, right] = same_padding(shapes[0][3], kernel_size_.w, 1, o.dilation_rate.w);
    conv_pads_ = top == bottom && left == right;
    if (conv_pads_) pad_h = top, pad_w = left;
  }
  conv = register_module(
      "conv", std::make_shared<nn::Conv2d>(
                  in, filters_, F::Ints{kernel_size_.h, kernel_size_.w},
                  nn::Conv2dOptions{.stride = F::Ints{o.strides.h, o.strides.w},
                                    .padding = F::Ints{pad_h, pad_w},
                                    .dilation = F::Ints{o.dilation_rate.h, o.dilation_rate.w},
                                    .groups = o.groups,
                                    .bias = o.use_bias}));
  nn::init::xavier_uniform_(conv->weight);  // Keras' glorot_uniform
  if (o.use_bias) nn::init::zeros_(conv->bias);
}

Tensor Conv2D::compute(const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  RAVEL_CHECK(x.ndim() == 4, "Conv2D: input shape ", x.shape(),
              " expected 4 dimensions [batch, channels, height, width]");
  check_dim(*this, x, 1, conv->in_channels, "channels");
  if (conv_pads_) return activation(options_.activation, (*conv)(x));
  Pads pads =
      spatial_padding(x, options_.padding, kernel_size_, options_.strides, options_.dilation_rate);
  // Asymmetric "same" padding is made explicit; the convolution itself pads nothing.
  Tensor y = (*conv)(any_padding(pads) ? pad(x, pads) : x);
  return activation(options_.activation, y);
}

nlohmann::json Conv2D::config() const {
  nlohmann::json j = Layer::config();
  j["filters"] = filters_;
  j["kernel_size"] = layer_detail::size2_json(kernel_size_);
  j["strides"] = layer_detail::size2_json(options_.strides);
  j["padding"] = options_.padding;
  j["activation"] = options_.activation;
  j["use_bias"] = options_.use_bias;
  j["dilation_rate"] = layer_detail::size2_json(options_.dilation_rate);
  j["groups"] = options_.groups;
  return j;
}

// ---------------------------------------------------------------- pooling

Pooling2D::Pooling2D(std::string type, bool is_max, Size2 pool_size, PoolOptions options,
                     std::string name)
    : Layer(std::move(type), std::move(name)),
      is_max_(is_max),
      pool_size_(pool_size),
      options_(std::move(options)) {
  if (options_.strides.unset()) options_.strides = pool_size_;
  check_size(type_name().c_str(), "pool_size", pool_size_);
  check_size(type_name().c_str(), "strides", options_.strides);
  check_padding(type_name().c_str(), options_.padding);
}

Tensor Pooling2D::compute(const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  RAVEL_CHECK(x.ndim() == 4, type_name(), ": input shape ", x.shape(),
              " expected 4 dimensions [batch, channels, height, width]");
  F::Ints k{pool_size_.h, pool_size_.w}, s{options_.strides.h, options_.strides.w};
  Pads pads = spatial_padding(x, options_.padding, pool_size_, options_.strides, 1);
  if (!any_padding(pads)) return is_max_ ? F::max_pool2d(x, k, s) : F::avg_pool2d(x, k, s);
  if (is_max_)  // padded cells are -inf: they never win
    return F::max_pool2d(pad(x, pads, "constant", -std::numeric_limits<double>::infinity()), k, s);
  // Keras' average leaves the padding out of the count: the sum over the window divided by
  // the number of real cells in it (an average pool of a padded mask of ones).
  Tensor count;
  {
    NoGradGuard no_grad;
    count = F::avg_pool2d(pad(ones({1, 1, x.size(2), x.size(3)}, x.dtype()), pads), k, s);
  }
  return F::avg_pool2d(pad(x, pads), k, s) / count;
}

nlohmann::json Pooling2D::config() const {
  nlohmann::json j = Layer::config();
  j["pool_size"] = layer_detail::size2_json(pool_size_);
  j["strides"] = layer_detail::size2_json(options_.strides);
  j["padding"] = options_.padding;
  return j;
}

GlobalPooling2D::GlobalPooling2D(std::string type, bool is_max, bool keepdims, std::string name)
    : Layer(std::move(type), std::move(name)), is_max_(is_max), keepdims_(keepdims) {}

Tensor GlobalPooling2D::compute(const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  RAVEL_CHECK(x.ndim() == 4, type_name(), ": input shape ", x.shape(),
              " expected 4 dimensions [batch, channels, height, width]");
  Tensor y = is_max_ ? F::adaptive_max_pool2d(x, 1) : F::adaptive_avg_pool2d(x, 1);
  return keepdims_ ? y : y.flatten(1);
}

nlohmann::json GlobalPooling2D::config() const {
  nlohmann::json j = Layer::config();
  j["keepdims"] = keepdims_;
  return j;
}

// ---------------------------------------------------------------- BatchNormalization

BatchNormalization::BatchNormalization(const BatchNormalizationOptions& options, std::string name)
    : Layer("BatchNormalization", std::move(name)), options_(options) {
  RAVEL_CHECK(options_.momentum >= 0 && options_.momentum <= 1, "BatchNormalization: momentum ",
              options_.momentum, " expected in [0, 1]");
  RAVEL_CHECK(options_.epsilon > 0, "BatchNormalization: epsilon ", options_.epsilon,
              " expected > 0");
}

int64_t BatchNormalization::axis(int64_t rank) const {
  int64_t a = options_.axis < 0 ? options_.axis + rank : options_.axis;
  RAVEL_CHECK(a >= 1 && a < rank, "BatchNormalization: axis ", options_.axis,
              " is out of range for an input of ", rank,
              " dimensions (the batch axis 0 cannot be the feature axis)");
  return a;
}

void BatchNormalization::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 2, 5, "2 to 5 ([batch, features, ...])");
  auto rank = static_cast<int64_t>(shapes[0].size());
  int64_t features = shapes[0][axis(rank)];
  bool affine = options_.center || options_.scale;
  bn = register_module(
      "bn", std::make_shared<nn::BatchNormNd>(
                rank == 2 ? 1 : rank - 2, features,
                nn::BatchNormOptions{
                    .eps = options_.epsilon, .momentum = 1 - options_.momentum, .affine = affine}));
  // Without center (scale), beta (gamma) stays fixed at 0 (1): kept as a frozen parameter.
  if (affine && !options_.center) bn->bias.requires_grad_(false);
  if (affine && !options_.scale) bn->weight.requires_grad_(false);
}

Tensor BatchNormalization::compute(const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  RAVEL_CHECK(x.ndim() == static_cast<int64_t>(built_input_shapes()[0].size()),
              "BatchNormalization: input shape ", x.shape(), " expected ",
              built_input_shapes()[0].size(), " dimensions (the layer was built for ",
              layer_detail::shape_str(built_input_shapes()[0]), ")");
  int64_t a = axis(x.ndim());
  check_dim(*this, x, a, bn->num_features, "features on the normalised axis");
  if (a == 1) return (*bn)(x);
  return moveaxis((*bn)(moveaxis(x, a, 1)), 1, a);
}

nlohmann::json BatchNormalization::config() const {
  nlohmann::json j = Layer::config();
  j["axis"] = options_.axis;
  j["momentum"] = options_.momentum;
  j["epsilon"] = options_.epsilon;
  j["center"] = options_.center;
  j["scale"] = options_.scale;
  return j;
}

}  // namespace layers

// ---------------------------------------------------------------- factories

LayerPtr<layers::Conv2D> Conv2D(int64_t filters, Size2 kernel_size, const Conv2DOptions& options,
                                const std::string& name) {
  return std::make_shared<layers::Conv2D>(filters, kernel_size, options, name);
}
LayerPtr<layers::MaxPooling2D> MaxPooling2D(Size2 pool_size, const PoolOptions& options,
                                            const std::string& name) {
  return std::make_shared<layers::MaxPooling2D>(pool_size, options, name);
}
LayerPtr<layers::AveragePooling2D> AveragePooling2D(Size2 pool_size, const PoolOptions& options,
                                                    const std::string& name) {
  return std::make_shared<layers::AveragePooling2D>(pool_size, options, name);
}
LayerPtr<layers::GlobalAveragePooling2D> GlobalAveragePooling2D(bool keepdims,
                                                                const std::string& name) {
  return std::make_shared<layers::GlobalAveragePooling2D>(keepdims, name);
}
LayerPtr<layers::GlobalMaxPooling2D> GlobalMaxPooling2D(bool keepdims, const std::string& name) {
  return std::make_shared<layers::GlobalMaxPooling2D>(keepdims, name);
}
LayerPtr<layers::BatchNormalization> BatchNormalization(const BatchNormalizationOptions& options,
                                                        const std::string& name) {
  return std::make_shared<layers::BatchNormalization>(options, name);
}

}  // namespace ravel::keras
