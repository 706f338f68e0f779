// Normalisation. One kernel pair does the work: batch norm over x viewed as [n, c, s]
// (oneDNN for float32 when enabled, else the portable kernels). Layer, group and instance norm
// are batch norm of a reshaped input ([1, rows, k]: each row normalised over its k elements)
// followed by an elementwise affine in differentiable ops, as PyTorch's reference does.
#include "ravel/nn/functional/norm.h"

#include <algorithm>
#include <type_traits>

#include "backend/cpu/reference/kernel_types.h"
#include "backend/cpu/reference/norm.h"
#include "backend/cpu/reference/select.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"
#ifdef RAVEL_HAVE_ONEDNN
#include "backend/cpu/onednn/norm.h"
#endif

namespace ravel::nn::functional {
namespace {

using cpu::NormGeom;

using cpu::with_type;

using cpu::mut_ptr;
using cpu::ptr;

template <typename T>
void forward_kernel(const T* x, const T* w, const T* b, T* y, T* mean, T* var, bool training,
                    const NormGeom& g) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (g.n * g.c * g.s > 0 && ravel::detail::onednn_enabled() &&
        onednn::batch_norm_forward(x, w, b, y, mean, var, training, g))
      return;
#endif
  if (training) cpu::batch_norm_stats(x, mean, var, g);
  cpu::batch_norm_apply(x, mean, var, w, b, y, g);
}

template <typename T>
void backward_kernel(const T* gy, const T* x, const T* mean, const T* var, const T* w, T* gx, T* gw,
                     T* gb, bool training, const NormGeom& g) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (g.n * g.c * g.s > 0 && ravel::detail::onednn_enabled() &&
        onednn::batch_norm_backward(gy, x, mean, var, w, gx, gw, gb, training, g))
      return;
#endif
  cpu::batch_norm_backward(gy, x, mean, var, w, gx, gw, gb, training, g);
}

Tensor prepare(const Tensor& t, DType dt) { return t.defined() ? t.to(dt).contiguous() : t; }

struct BatchStats {
  Tensor mean, var;  // biased variance, compute dtype
};

// Batch norm of input viewed as [n, c, s] (n * c * s == numel). training: normalise with the
// batch statistics (returned in *stats); else with mean/var. weight, bias: [c] or undefined.
// Records one node for input, weight and bias.
Tensor batch_norm_core(const char* op, const Tensor& input, const NormGeom& g, const Tensor& weight,
                       const Tensor& bias, const Tensor& mean_in, const Tensor& var_in,
                       bool training, BatchStats* stats) {
  const DType dt = input.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  const Tensor x = prepare(input, dt), w = prepare(weight, dt), b = prepare(bias, dt);
  Tensor mean, var;
  if (training) {
    mean = empty({g.c}, dt);
    var = empty({g.c}, dt);
  } else {  // copies: the running statistics may change before backward runs
    mean = mean_in.to(dt).clone();
    var = var_in.to(dt).clone();
  }
  Tensor y = empty(input.shape(), dt);
  with_type(dt, [&]<typename T>() {
    forward_kernel<T>(x.data_ptr<T>(), ptr<T>(w), ptr<T>(b), y.data_ptr<T>(), mean.data_ptr<T>(),
                      var.data_ptr<T>(), training, g);
  });
  if (y.dtype() != input.dtype()) y = y.to(input.dtype());
  if (stats) *stats = {mean, var};
  if (!autograd::needs_grad(input, weight, bias)) return y;
  const bool gx_on = autograd::requires_grad(input), gw_on = autograd::requires_grad(weight),
             gb_on = autograd::requires_grad(bias);
  const Shape in_shape = input.shape();
  autograd::record(op, {input, weight, bias}, y, {x, w, mean, var},
                   [=](const Tensor& grad, const std::vector<Tensor>& saved) {
                     const Tensor gy = grad.to(dt).contiguous();
                     Tensor gx = gx_on ? empty(in_shape, dt) : Tensor();
                     Tensor gw = gw_on ? empty({g.c}, dt) : Tensor();
                     Tensor gb = gb_on ? empty({g.c}, dt) : Tensor();
                     with_type(dt, [&]<typename T>() {
                       backward_kernel<T>(gy.data_ptr<T>(), saved[0].data_ptr<T>(),
                                          saved[2].data_ptr<T>(), saved[3].data_ptr<T>(),
                                          ptr<T>(saved[1]), mut_ptr<T>(gx), mut_ptr<T>(gw),
                                          mut_ptr<T>(gb), training, g);
                     });
                     return std::vector<Tensor>{gx, gw, gb};
                   });
  return y;
}

// r = (1 - momentum) * r + momentum * stat, in place, unrecorded.
void update_running(Tensor r, const Tensor& stat, double momentum) {
  if (!r.defined()) return;
  NoGradGuard ng;
  r.copy_(r * (1.0 - momentum) + stat.to(r.dtype()) * momentum);
}

void check_channel_param(const char* op, const char* name, const Tensor& t, int64_t c,
                         const Tensor& input) {
  if (!t.defined()) return;
  RAVEL_CHECK(t.ndim() == 1 && t.size(0) == c, op, ": expected ", name, " of shape [", c,
              "] (the channels of input ", input.shape(), "), got ", t.shape());
}

void check_float(const char* op, const Tensor& input) {
  RAVEL_CHECK(is_floating(input.dtype()), op, ": expected a floating-point input, got ",
              dtype_name(input.dtype()));
}

// Shape [c, 1, ...] that broadcasts a per-channel tensor against [n, c, *] of rank nd.
Shape channel_shape(int64_t c, int64_t nd) {
  Shape s(static_cast<size_t>(nd - 1), 1);
  s[0] = c;
  return s;
}

// y * weight + bias with differentiable ops; weight/bias reshaped to `shape`.
Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias, const Shape& shape) {
  if (weight.defined()) y = y * weight.reshape(shape);
  if (bias.defined()) y = y + bias.reshape(shape);
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum,
                  double eps) {
  const char* op = "batch_norm";
  check_float(op, input);
  RAVEL_CHECK(input.ndim() >= 2 && input.ndim() <= 5, op,
              ": expected a 2-D to 5-D input [N, C, *], got input of shape ", input.shape());
  const int64_t n = input.size(0), c = input.size(1),
                s = input.numel() / std::max<int64_t>(n * c, 1);
  check_channel_param(op, "weight", weight, c, input);
  check_channel_param(op, "bias", bias, c, input);
  check_channel_param(op, "running_mean", running_mean, c, input);
  check_channel_param(op, "running_var", running_var, c, input);
  RAVEL_CHECK(training || (running_mean.defined() && running_var.defined()), op,
              ": running_mean and running_var are required when not training");
  RAVEL_CHECK(running_mean.defined() == running_var.defined(), op,
              ": give both running_mean and running_var, or neither");
  RAVEL_CHECK(!training || n * s > 1, op,
              ": expected more than 1 value per channel when training, got input of shape ",
              input.shape());
  graph::detail::TracedOp traced("BatchNormalization", {input});
  if (traced) {
    weight.defined() ? traced.input(weight) : traced.constant(ones({c}, input.dtype()));
    bias.defined() ? traced.input(bias) : traced.constant(zeros({c}, input.dtype()));
    traced.input(running_mean);
    traced.input(running_var);
    traced.attr("epsilon", eps);
    traced.attr("momentum", 1.0 - momentum);  // ONNX weighs the running value
    if (training || !running_mean.defined())
      traced.unsupported("batch_norm in training mode (trace runs in eval mode)");
  }
  NormGeom g{n, c, s, eps};
  BatchStats stats;
  Tensor y = traced.output(
      batch_norm_core(op, input, g, weight, bias, running_mean, running_var, training, &stats));
  if (training && running_mean.defined()) {
    const double m = static_cast<double>(n * s);
    update_running(running_mean, stats.mean, momentum);
    update_running(running_var, stats.var * (m / (m - 1)), momentum);
  }
  return y;
}

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const char* op = "layer_norm";
  check_float(op, input);
  const int64_t nd = input.ndim(), k = static_cast<int64_t>(normalized_shape.size());
  bool ok = k >= 1 && k <= nd;
  for (int64_t i = 0; ok && i < k; ++i) ok = input.size(nd - k + i) == normalized_shape[i];
  RAVEL_CHECK(ok, op, ": input of shape ", input.shape(), " does not end with normalized_shape ",
              normalized_shape);
  for (const Tensor* t : {&weight, &bias})
    RAVEL_CHECK(!t->defined() || t->shape() == normalized_shape, op, ": expected ",
                t == &weight ? "weight" : "bias", " of shape ", normalized_shape, ", got ",
                t->shape());
  const int64_t inner = shape_numel(normalized_shape);
  NormGeom g{1, inner > 0 ? input.numel() / inner : 0, inner, eps};
  Tensor y = batch_norm_core(op, input, g, Tensor(), Tensor(), Tensor(), Tensor(), true, nullptr);
  return affine(y, weight, bias, normalized_shape);
}

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const char* op = "group_norm";
  check_float(op, input);
  RAVEL_CHECK(input.ndim() >= 2, op, ": expected an input [N, C, *], got input of shape ",
              input.shape());
  const int64_t n = input.size(0), c = input.size(1);
  RAVEL_CHECK(num_groups > 0 && c % num_groups == 0, op, ": expected the channels (", c,
              ") of input ", input.shape(), " to be divisible by num_groups (", num_groups, ")");
  check_channel_param(op, "weight", weight, c, input);
  check_channel_param(op, "bias", bias, c, input);
  const int64_t rows = n * num_groups;
  NormGeom g{1, rows, rows > 0 ? input.numel() / rows : 0, eps};
  Tensor y = batch_norm_core(op, input, g, Tensor(), Tensor(), Tensor(), Tensor(), true, nullptr);
  return affine(y, weight, bias, channel_shape(c, input.ndim()));
}

Tensor instance_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                     const Tensor& weight, const Tensor& bias, bool use_input_stats,
                     double momentum, double eps) {
  const char* op = "instance_norm";
  check_float(op, input);
  RAVEL_CHECK(input.ndim() >= 3, op, ": expected an input [N, C, *spatial], got input of shape ",
              input.shape());
  const int64_t n = input.size(0), c = input.size(1);
  const int64_t s = n * c > 0 ? input.numel() / (n * c) : 0;
  check_channel_param(op, "weight", weight, c, input);
  check_channel_param(op, "bias", bias, c, input);
  check_channel_param(op, "running_mean", running_mean, c, input);
  check_channel_param(op, "running_var", running_var, c, input);
  RAVEL_CHECK(running_mean.defined() == running_var.defined(), op,
              ": give both running_mean and running_var, or neither");
  const Shape cshape = channel_shape(c, input.ndim());
  if (!use_input_stats) {
    RAVEL_CHECK(running_mean.defined(), op,
                ": running_mean and running_var are required when use_input_stats is false");
    NormGeom g{n, c, s, eps};
    Tensor y =
        batch_norm_core(op, input, g, weight, bias, running_mean, running_var, false, nullptr);
    return y;
  }
  RAVEL_CHECK(s > 1, op, ": expected more than 1 spatial element when training, got input of ",
              "shape ", input.shape());
  NormGeom g{1, n * c, s, eps};
  BatchStats stats;
  Tensor y = batch_norm_core(op, input, g, Tensor(), Tensor(), Tensor(), Tensor(), true, &stats);
  if (running_mean.defined()) {
    NoGradGuard ng;
    const double m = static_cast<double>(s);
    update_running(running_mean, mean(stats.mean.reshape({n, c}), 0), momentum);
    update_running(running_var, mean(stats.var.reshape({n, c}), 0) * (m / (m - 1)), momentum);
  }
  return affine(y, weight, bias, cshape);
}

}  // namespace ravel::nn::functional
