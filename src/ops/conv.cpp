// Convolutions: shape rules, then the kernels (oneDNN for float32 when enabled, else the portable
// ones), and the backward next to the forward. A transposed convolution is the data gradient of
// the ordinary convolution described by the same geometry, so three kernels serve both:
//   ordinary:   y = fwd(x, w, b)    dx = bwd_data(g, w)    dw, db = bwd_weight(g, x)
//   transposed: y = bwd_data(x, w) + b    dx = fwd(g, w)    dw = bwd_weight(x, g), db = sum(g)
#include "ravel/nn/functional/conv.h"

#include <sstream>
#include <string>
#include <tuple>
#include <type_traits>

#include "backend/cpu/reference/conv.h"
#include "backend/cpu/reference/kernel_types.h"
#include "backend/cpu/reference/select.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"
#ifdef RAVEL_HAVE_ONEDNN
#include "backend/cpu/onednn/conv.h"
#endif

namespace ravel::nn::functional {

std::vector<int64_t> Ints::expand(size_t n, const char* op, const char* what) const {
  if (values_.size() == 1) return std::vector<int64_t>(n, values_[0]);
  if (values_.size() != n) {
    std::ostringstream os;
    os << "[";
    for (size_t i = 0; i < values_.size(); ++i) os << (i ? ", " : "") << values_[i];
    os << "]";
    detail::throw_error(op, ": ", what, " must be a single int or ", n, " ints, got ", os.str());
  }
  return values_;
}

namespace {

using cpu::ConvGeom;

template <typename T>
void fwd_kernel(const T* x, const T* w, const T* b, T* y, const ConvGeom& g) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (ravel::detail::onednn_enabled() && onednn::conv_forward(x, w, b, y, g)) return;
#endif
  cpu::conv_forward(x, w, b, y, g);
}
template <typename T>
void bwd_data_kernel(const T* gy, const T* w, T* gx, const ConvGeom& g) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (ravel::detail::onednn_enabled() && onednn::conv_backward_data(gy, w, gx, g)) return;
#endif
  cpu::conv_backward_data(gy, w, gx, g);
}
template <typename T>
void bwd_weight_kernel(const T* gy, const T* x, T* gw, T* gb, const ConvGeom& g) {
#ifdef RAVEL_HAVE_ONEDNN
  if constexpr (std::is_same_v<T, float>)
    if (ravel::detail::onednn_enabled() && onednn::conv_backward_weight(gy, x, gw, gb, g)) return;
#endif
  cpu::conv_backward_weight(gy, x, gw, gb, g);
}

using cpu::with_type;

using cpu::ptr;

DType compute_dtype(DType dt) { return dt == DType::Float64 ? DType::Float64 : DType::Float32; }
Tensor prepare(const Tensor& t, DType dt) { return t.defined() ? t.to(dt).contiguous() : t; }

// [n, c, *sp] (or [c, *sp] unbatched) for the last nsp entries of sp.
Shape data_shape(bool batched, int64_t n, int64_t c, const int64_t (&sp)[3], int nsp) {
  Shape s;
  if (batched) s.push_back(n);
  s.push_back(c);
  for (int i = 3 - nsp; i < 3; ++i) s.push_back(sp[i]);
  return s;
}

// The three kernels on tensors (contiguous, compute dtype); outputs are allocated here.
Tensor run_forward(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g,
                   const Shape& out_shape) {
  Tensor y = empty(out_shape, x.dtype());
  with_type(x.dtype(), [&]<typename T>() {
    fwd_kernel<T>(x.data_ptr<T>(), w.data_ptr<T>(), ptr<T>(b), y.data_ptr<T>(), g);
  });
  return y;
}
Tensor run_backward_data(const Tensor& gy, const Tensor& w, const ConvGeom& g,
                         const Shape& in_shape) {
  Tensor gx = empty(in_shape, gy.dtype());
  with_type(gy.dtype(), [&]<typename T>() {
    bwd_data_kernel<T>(gy.data_ptr<T>(), w.data_ptr<T>(), gx.data_ptr<T>(), g);
  });
  return gx;
}
std::pair<Tensor, Tensor> run_backward_weight(const Tensor& gy, const Tensor& x, bool want_bias,
                                              const ConvGeom& g, const Shape& w_shape) {
  Tensor gw = empty(w_shape, gy.dtype());
  Tensor gb = want_bias ? empty({g.c_out}, gy.dtype()) : Tensor();
  with_type(gy.dtype(), [&]<typename T>() {
    bwd_weight_kernel<T>(gy.data_ptr<T>(), x.data_ptr<T>(), gw.data_ptr<T>(),
                         want_bias ? gb.data_ptr<T>() : nullptr, g);
  });
  return {gw, gb};
}

// Sum of g [n, c, *] (or [c, *]) over everything but the channel axis.
Tensor channel_sum(const Tensor& g, bool batched) {
  Shape axes;
  for (int64_t a = 0; a < g.ndim(); ++a)
    if (a != (batched ? 1 : 0)) axes.push_back(a);
  return sum(g, Axes(axes));
}

struct ConvArgs {
  const char* op;
  int nsp;
  bool transposed;
};

// Checks the operands common to both kinds; returns whether the input is batched.
bool check_operands(const ConvArgs& a, const Tensor& input, const Tensor& weight,
                    const Tensor& bias, int64_t groups) {
  const int64_t nd = input.ndim();
  RAVEL_CHECK(nd == a.nsp + 1 || nd == a.nsp + 2, a.op, ": expected a ", a.nsp + 1,
              "-D (unbatched) or ", a.nsp + 2, "-D (batched) input, got input of shape ",
              input.shape());
  RAVEL_CHECK(weight.ndim() == a.nsp + 2, a.op, ": expected a ", a.nsp + 2,
              "-D weight, got weight of shape ", weight.shape());
  RAVEL_CHECK(is_floating(input.dtype()), a.op, ": expected a floating-point input, got ",
              dtype_name(input.dtype()));
  RAVEL_CHECK(weight.dtype() == input.dtype(), a.op, ": input (", dtype_name(input.dtype()),
              ") and weight (", dtype_name(weight.dtype()), ") must have the same dtype");
  RAVEL_CHECK(groups > 0, a.op, ": groups must be positive, got ", groups);
  if (bias.defined())
    RAVEL_CHECK(bias.dtype() == input.dtype(), a.op, ": input (", dtype_name(input.dtype()),
                ") and bias (", dtype_name(bias.dtype()), ") must have the same dtype");
  return nd == a.nsp + 2;
}

// Records the node shared by both kinds. saved: x, w (contiguous, compute dtype).
void record_conv(const ConvArgs& a, const Tensor& input, const Tensor& weight, const Tensor& bias,
                 const Tensor& out, const Tensor& x, const Tensor& w, const ConvGeom& g,
                 bool batched) {
  const bool gx_on = autograd::requires_grad(input), gw_on = autograd::requires_grad(weight),
             gb_on = bias.defined() && autograd::requires_grad(bias);
  const Shape in_shape = input.shape(), w_shape = weight.shape();
  const bool transposed = a.transposed;
  autograd::record(a.op, {input, weight, bias}, out, {x, w},
                   [=](const Tensor& grad, const std::vector<Tensor>& saved) {
                     const Tensor& x = saved[0];
                     const Tensor& w = saved[1];
                     Tensor gy = grad.to(x.dtype()).contiguous();
                     Tensor gx, gw, gb;
                     if (!transposed) {
                       if (gx_on) gx = run_backward_data(gy, w, g, in_shape);
                       if (gw_on || gb_on)
                         std::tie(gw, gb) = run_backward_weight(gy, x, gb_on, g, w_shape);
                     } else {
                       if (gx_on) gx = run_forward(gy, w, Tensor(), g, in_shape);
                       if (gw_on) gw = run_backward_weight(x, gy, false, g, w_shape).first;
                       if (gb_on) gb = channel_sum(gy, batched);
                     }
                     return std::vector<Tensor>{gx, gw, gb};
                   });
}

Tensor convolution(const ConvArgs& a, const Tensor& input, const Tensor& weight, const Tensor& bias,
                   const Ints& stride_, const Padding& padding_, const Ints& dilation_,
                   int64_t groups) {
  graph::detail::TracedOp traced("Conv", {input, weight, bias});
  const bool batched = check_operands(a, input, weight, bias, groups);
  const size_t nsp = static_cast<size_t>(a.nsp);
  const int64_t c_in = input.size(batched ? 1 : 0), c_out = weight.size(0);
  RAVEL_CHECK(weight.size(1) * groups == c_in, a.op, ": input of shape ", input.shape(), " has ",
              c_in, " channels, but weight of shape ", weight.shape(), " with groups=", groups,
              " expects ", weight.size(1) * groups, " (weight.size(1) * groups)");
  RAVEL_CHECK(c_out % groups == 0, a.op, ": weight of shape ", weight.shape(), " has ", c_out,
              " output channels, not divisible by groups=", groups);
  RAVEL_CHECK(!bias.defined() || (bias.ndim() == 1 && bias.size(0) == c_out), a.op,
              ": expected bias of shape [", c_out, "], got ", bias.shape());
  std::vector<int64_t> stride = stride_.expand(nsp, a.op, "stride");
  std::vector<int64_t> dil = dilation_.expand(nsp, a.op, "dilation");
  std::vector<int64_t> pad_l(nsp, 0), pad_r(nsp, 0);
  const std::string& mode = padding_.mode();
  if (mode.empty()) {
    pad_l = padding_.ints().empty() ? std::vector<int64_t>(nsp, 0)
                                    : padding_.ints().expand(nsp, a.op, "padding");
    pad_r = pad_l;
  } else if (mode == "same") {
    for (size_t i = 0; i < nsp; ++i) {
      RAVEL_CHECK(stride[i] == 1, a.op, ": padding='same' is not supported for strided ",
                  "convolutions (stride ", stride_.values().size() == 1 ? stride[0] : stride[i],
                  ")");
      const int64_t total = dil[i] * (weight.size(static_cast<int64_t>(i) + 2) - 1);
      pad_l[i] = total / 2;  // the extra one goes on the right, as PyTorch
      pad_r[i] = total - pad_l[i];
    }
  } else {
    RAVEL_CHECK(mode == "valid", a.op, ": padding must be ints, 'same' or 'valid', got '", mode,
                "'");
  }
  if (traced) {
    std::vector<int64_t> pads = pad_l;
    pads.insert(pads.end(), pad_r.begin(), pad_r.end());
    traced.attr("kernel_shape",
                std::vector<int64_t>(weight.shape().begin() + 2, weight.shape().end()));
    traced.attr("strides", stride);
    traced.attr("pads", pads);
    traced.attr("dilations", dil);
    traced.attr("group", groups);
    if (!batched) traced.unsupported(std::string(a.op) + " on an unbatched input");
  }
  ConvGeom g;
  g.nsp = a.nsp;
  g.n = batched ? input.size(0) : 1;
  g.c_in = c_in;
  g.c_out = c_out;
  g.groups = groups;
  for (size_t i = 0; i < nsp; ++i) {
    const size_t j = 3 - nsp + i;
    const int64_t in = input.size(static_cast<int64_t>(i) + (batched ? 2 : 1));
    const int64_t k = weight.size(static_cast<int64_t>(i) + 2);
    RAVEL_CHECK(stride[i] > 0 && dil[i] > 0 && pad_l[i] >= 0, a.op,
                ": stride and dilation must be positive and padding non-negative");
    const int64_t span = dil[i] * (k - 1) + 1, padded = in + pad_l[i] + pad_r[i];
    RAVEL_CHECK(padded >= span, a.op, ": kernel of size ", span,
                " (dilated) is larger than the padded input of size ", padded, " (input shape ",
                input.shape(), ", weight shape ", weight.shape(), ")");
    g.in[j] = in;
    g.k[j] = k;
    g.out[j] = (padded - span) / stride[i] + 1;
    g.stride[j] = stride[i];
    g.dil[j] = dil[i];
    g.pad_l[j] = pad_l[i];
    // What makes oneDNN's size rule hold exactly (trailing input a stride skips is not padding).
    g.pad_r[j] = (g.out[j] - 1) * stride[i] + span - in - pad_l[i];
  }
  const DType dt = compute_dtype(input.dtype());
  Tensor x = prepare(input, dt), w = prepare(weight, dt), b = prepare(bias, dt);
  Tensor out;
  {
    NoGradGuard ng;
    out = run_forward(x, w, b, g, data_shape(batched, g.n, c_out, g.out, a.nsp));
    if (out.dtype() != input.dtype()) out = out.to(input.dtype());
  }
  if (autograd::needs_grad(input, weight, bias))
    record_conv(a, input, weight, bias, out, x, w, g, batched);
  return traced.output(out);
}

Tensor transposed_convolution(const ConvArgs& a, const Tensor& input, const Tensor& weight,
                              const Tensor& bias, const Ints& stride_, const Ints& padding_,
                              const Ints& output_padding_, int64_t groups, const Ints& dilation_) {
  const bool batched = check_operands(a, input, weight, bias, groups);
  const size_t nsp = static_cast<size_t>(a.nsp);
  const int64_t c_in = input.size(batched ? 1 : 0), c_out = weight.size(1) * groups;
  RAVEL_CHECK(weight.size(0) == c_in, a.op, ": input of shape ", input.shape(), " has ", c_in,
              " channels, but weight of shape ", weight.shape(), " expects ", weight.size(0),
              " (weight.size(0))");
  RAVEL_CHECK(c_in % groups == 0, a.op, ": input channels ", c_in,
              " are not divisible by groups=", groups);
  RAVEL_CHECK(!bias.defined() || (bias.ndim() == 1 && bias.size(0) == c_out), a.op,
              ": expected bias of shape [", c_out, "], got ", bias.shape());
  std::vector<int64_t> stride = stride_.expand(nsp, a.op, "stride");
  std::vector<int64_t> dil = dilation_.expand(nsp, a.op, "dilation");
  std::vector<int64_t> pad = padding_.expand(nsp, a.op, "padding");
  std::vector<int64_t> opad = output_padding_.expand(nsp, a.op, "output_padding");
  // The ordinary convolution this one is the data gradient of: from the output back to the input.
  ConvGeom g;
  g.nsp = a.nsp;
  g.n = batched ? input.size(0) : 1;
  g.c_in = c_out;
  g.c_out = c_in;
  g.groups = groups;
  for (size_t i = 0; i < nsp; ++i) {
    const size_t j = 3 - nsp + i;
    const int64_t in = input.size(static_cast<int64_t>(i) + (batched ? 2 : 1));
    const int64_t k = weight.size(static_cast<int64_t>(i) + 2);
    RAVEL_CHECK(stride[i] > 0 && dil[i] > 0 && pad[i] >= 0 && opad[i] >= 0, a.op,
                ": stride and dilation must be positive, padding and output_padding non-negative");
    RAVEL_CHECK(opad[i] < stride[i] || opad[i] < dil[i], a.op, ": output_padding (", opad[i],
                ") must be smaller than either stride (", stride[i], ") or dilation (", dil[i],
                ")");
    const int64_t span = dil[i] * (k - 1) + 1;
    const int64_t out = (in - 1) * stride[i] - 2 * pad[i] + span + opad[i];
    RAVEL_CHECK(out > 0, a.op, ": output size ", out, " is too small (input shape ", input.shape(),
                ", weight shape ", weight.shape(), ")");
    g.in[j] = out;
    g.out[j] = in;
    g.k[j] = k;
    g.stride[j] = stride[i];
    g.dil[j] = dil[i];
    g.pad_l[j] = pad[i];
    g.pad_r[j] = (in - 1) * stride[i] + span - out - pad[i];
  }
  const DType dt = compute_dtype(input.dtype());
  Tensor x = prepare(input, dt), w = prepare(weight, dt);
  Tensor out;
  {
    NoGradGuard ng;
    out = run_backward_data(x, w, g, data_shape(batched, g.n, c_out, g.in, a.nsp));
    if (bias.defined()) {
      Shape bshape(static_cast<size_t>(out.ndim()) - (batched ? 1 : 0), 1);
      bshape[0] = c_out;
      out.add_(prepare(bias, dt).reshape(bshape));
    }
    if (out.dtype() != input.dtype()) out = out.to(input.dtype());
  }
  if (autograd::needs_grad(input, weight, bias))
    record_conv(a, input, weight, bias, out, x, w, g, batched);
  return out;
}

}  // namespace

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Ints& stride,
              const Padding& padding, const Ints& dilation, int64_t groups) {
  return convolution({"conv1d", 1, false}, input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Ints& stride,
              const Padding& padding, const Ints& dilation, int64_t groups) {
  return convolution({"conv2d", 2, false}, input, weight, bias, stride, padding, dilation, groups);
}
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Ints& stride,
              const Padding& padding, const Ints& dilation, int64_t groups) {
  return convolution({"conv3d", 3, false}, input, weight, bias, stride, padding, dilation, groups);
}

Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Ints& stride, const Ints& padding, const Ints& output_padding,
                        int64_t groups, const Ints& dilation) {
  return transposed_convolution({"conv_transpose1d", 1, true}, input, weight, bias, stride, padding,
                                output_padding, groups, dilation);
}
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Ints& stride, const Ints& padding, const Ints& output_padding,
                        int64_t groups, const Ints& dilation) {
  return transposed_convolution({"conv_transpose2d", 2, true}, input, weight, bias, stride, padding,
                                output_padding, groups, dilation);
}
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const Ints& stride, const Ints& padding, const Ints& output_padding,
                        int64_t groups, const Ints& dilation) {
  return transposed_convolution({"conv_transpose3d", 3, true}, input, weight, bias, stride, padding,
                                output_padding, groups, dilation);
}

}  // namespace ravel::nn::functional
