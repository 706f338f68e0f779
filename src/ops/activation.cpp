// Activation functions. Elementwise ones are one pass forward (ew::unary over a scalar formula)
// and one pass backward (g * f'(x), ew::binary); when the backward itself is recorded
// (create_graph), f'(x) is instead built from differentiable ravel ops so higher derivatives
// work. softmax and log_softmax have their own row kernels, forward and backward.
#include "ravel/nn/functional/activation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "backend/cpu/vec_math.h"
#include "core/parallel.h"
#include "graph/trace_hook.h"
#include "ops/elementwise_kernels.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::nn::functional {

using ew::Rule;

namespace {

// Vectorisable float32 math (vec_math.h), the C library for float64.
template <typename C>
RAVEL_VEC_INLINE C vexp(C x) {
  if constexpr (std::is_same_v<C, float>)
    return vec::exp(x);
  else
    return std::exp(x);
}
template <typename C>
RAVEL_VEC_INLINE C vtanh(C x) {
  if constexpr (std::is_same_v<C, float>)
    return vec::tanh(x);
  else
    return std::tanh(x);
}
template <typename C>
RAVEL_VEC_INLINE C vsigmoid(C x) {
  return C(1) / (C(1) + vexp(-x));
}
// log1p(u) for float32 without a library call: log(1 + u) corrected by u / ((1 + u) - 1), which
// cancels the rounding of 1 + u (Goldberg's trick); exact u where 1 + u rounds to 1.
template <typename C>
RAVEL_VEC_INLINE C vlog1p(C u) {
  if constexpr (std::is_same_v<C, float>) {
    float w = 1.0f + u;
    float r = vec::log(w) * (u / (w - 1.0f));
    return w == 1.0f ? u : r;
  } else {
    return std::log1p(u);
  }
}
// expm1(x) for float32 without a library call: (e^x - 1) * x / log(e^x) cancels the rounding of
// e^x (Kahan's trick); exact x where e^x rounds to 1.
template <typename C>
RAVEL_VEC_INLINE C vexpm1(C x) {
  if constexpr (std::is_same_v<C, float>) {
    float u = vec::exp(x);
    float um1 = u - 1.0f;
    float r = um1 * (x / vec::log(u));
    r = u == 1.0f ? x : r;
    r = um1 == -1.0f ? -1.0f : r;
    return u == INFINITY ? u : r;
  } else {
    return std::expm1(x);
  }
}
// log(1 + exp(x)) without overflow.
template <typename C>
RAVEL_VEC_INLINE C softplus1(C x) {
  return (x > C(0) ? x : C(0)) + vlog1p(vexp(-std::fabs(x)));
}
// erfc(x) for float32 in vectorisable form (Numerical Recipes' erfcc, Chebyshev fit): relative
// error about 1e-7 over the whole range, including the tail, where 1 - erf(x) would cancel.
template <typename C>
RAVEL_VEC_INLINE C verfc(C x) {
  if constexpr (std::is_same_v<C, float>) {
    float z = std::fabs(x);
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    float r = t * vec::exp(p - z * z);
    float r2 = 2.0f - r;
    return x >= 0.0f ? r : r2;
  } else {
    return std::erfc(x);
  }
}

// f'(x) as a differentiable expression of x (used when the backward is recorded).
using DerivOps = std::function<Tensor(const Tensor& x)>;

Tensor as_mask(const Tensor& cond, const Tensor& like) { return cond.to(like.dtype()); }

// y = f(x) elementwise with the dtype rule R; backward g * df(x) in one pass, or g * df_ops(x)
// under create_graph. `f` and `df` are generic over the compute type (float or double). They
// compute both sides of a piecewise formula and select (c ? a : b of plain values): GCC does not
// speculate float arithmetic (even a double -> float conversion) written inside a conditional,
// which would stop vectorisation.
template <Rule R, typename F, typename DF>
Tensor pointwise(const char* name, const char* backward_name, const Tensor& x, const F& f,
                 const DF& df, DerivOps df_ops) {
  Tensor y = ew::unary<R>(name, x, f);
  if (autograd::needs_grad(x)) {
    autograd::record(name, {x}, y, {x},
                     [df, df_ops = std::move(df_ops), backward_name](
                         const Tensor& g, const std::vector<Tensor>& saved) {
                       const Tensor& xs = saved[0];
                       if (is_grad_enabled()) return std::vector<Tensor>{g * df_ops(xs)};
                       return std::vector<Tensor>{ew::binary<Rule::Float>(
                           backward_name, g, xs, [df](auto gv, auto xv) { return gv * df(xv); })};
                     });
  }
  return y;
}

// PyTorch's elu(x, alpha, scale, input_scale), which also gives selu and celu.
Tensor elu_general(const char* name, const Tensor& x, double alpha, double scale,
                   double input_scale) {
  return pointwise<Rule::Float>(
      name, "elu_backward", x,
      [=](auto v) {
        using C = decltype(v);
        C pos = C(scale) * v, neg = C(scale * alpha) * vexpm1(v * C(input_scale));
        return v > C(0) ? pos : neg;
      },
      [=](auto v) {
        using C = decltype(v);
        C pos = C(scale), neg = C(scale * alpha * input_scale) * vexp(v * C(input_scale));
        return v > C(0) ? pos : neg;
      },
      [=](const Tensor& v) {
        // clip keeps exp finite in the branch where() drops (its gradient would be 0 * inf)
        return where(v > 0, full_like(v, scale),
                     exp(clip(v, std::nullopt, 0) * input_scale) * (scale * alpha * input_scale));
      });
}

constexpr double kSqrt2OverPi = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kInvSqrt2Pi = 0.3989422804014327;   // 1 / sqrt(2 pi)
constexpr double kSqrtHalf = 0.7071067811865476;     // 1 / sqrt(2)
constexpr double kGeluTanhC = 0.044715;
constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

// ---------------------------------------------------------------- softmax kernels
// x viewed as [outer, n, inner] with the softmax over n. Rows (inner == 1) are reduced with
// several lane accumulators so the loops vectorise; otherwise a block of columns is reduced at
// once, vectorising across the inner axis.
struct SoftmaxLayout {
  int64_t outer = 1, n = 1, inner = 1;
};

SoftmaxLayout softmax_layout(const Shape& s, int64_t dim) {
  SoftmaxLayout l;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d)
    (d < dim ? l.outer : d == dim ? l.n : l.inner) *= s[d];
  return l;
}

constexpr int kLanes = 16;
constexpr int64_t kColBlock = 256;

template <typename T>
T row_max(const T* x, int64_t n) {
  T acc[kLanes];
  for (T& a : acc) a = -std::numeric_limits<T>::infinity();
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = x[k + l] > acc[l] ? x[k + l] : acc[l];
  T m = -std::numeric_limits<T>::infinity();
  for (; k < n; ++k) m = x[k] > m ? x[k] : m;
  for (T a : acc) m = a > m ? a : m;
  // A NaN anywhere makes the whole row NaN (as PyTorch): exp(NaN - m) below does that.
  return m;
}

// sum(f(k)) over k < n with lane accumulators; f(k) may also store.
template <typename T, typename F>
[[gnu::flatten]] T row_sum(int64_t n, const F& f) {
  T acc[kLanes] = {};
  int64_t k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += f(k + l);
  T s = 0;
  for (; k < n; ++k) s += f(k);
  for (T a : acc) s += a;
  return s;
}

// Runs fn(o, i0, i1) over the blocks of the layout, in parallel when large: whole rows when
// inner == 1 (i0 = 0, i1 = 1), else blocks of up to kColBlock columns of one outer index.
template <typename Fn>
void for_blocks(const SoftmaxLayout& l, const Fn& fn) {
  const int64_t nblk = (l.inner + kColBlock - 1) / kColBlock;
  const int64_t tasks = l.outer * nblk;
  const int64_t per_task = l.n * std::min(l.inner, kColBlock);
  parallel_for(tasks, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(per_task, 1)),
               [&](int64_t b, int64_t e) {
                 for (int64_t t = b; t < e; ++t) {
                   int64_t o = t / nblk, i0 = (t % nblk) * kColBlock;
                   fn(o, i0, std::min(l.inner, i0 + kColBlock));
                 }
               });
}

template <typename T>
void softmax_forward_kernel(const T* x, T* y, const SoftmaxLayout& l, bool log) {
  const int64_t n = l.n, inner = l.inner;
  for_blocks(l, [&](int64_t o, int64_t i0, int64_t i1) {
    const T* xb = x + o * n * inner;
    T* yb = y + o * n * inner;
    if (inner == 1) {
      const T m = row_max(xb, n);
      if (log) {
        const T s = row_sum<T>(n, [&](int64_t k) { return vexp(xb[k] - m); });
        const T shift = m + std::log(s);
        for (int64_t k = 0; k < n; ++k) yb[k] = xb[k] - shift;
      } else {
        const T s = row_sum<T>(n, [&](int64_t k) { return yb[k] = vexp(xb[k] - m); });
        const T r = T(1) / s;
        for (int64_t k = 0; k < n; ++k) yb[k] *= r;
      }
      return;
    }
    const int64_t w = i1 - i0;
    T m[kColBlock], s[kColBlock];
    for (int64_t i = 0; i < w; ++i) m[i] = -std::numeric_limits<T>::infinity(), s[i] = 0;
    for (int64_t k = 0; k < n; ++k) {
      const T* xr = xb + k * inner + i0;
      for (int64_t i = 0; i < w; ++i) m[i] = xr[i] > m[i] ? xr[i] : m[i];
    }
    for (int64_t k = 0; k < n; ++k) {
      const T* xr = xb + k * inner + i0;
      T* yr = yb + k * inner + i0;
      for (int64_t i = 0; i < w; ++i) {
        T e = vexp(xr[i] - m[i]);
        s[i] += e;
        if (!log) yr[i] = e;
      }
    }
    for (int64_t i = 0; i < w; ++i) s[i] = log ? m[i] + std::log(s[i]) : T(1) / s[i];
    for (int64_t k = 0; k < n; ++k) {
      const T* xr = xb + k * inner + i0;
      T* yr = yb + k * inner + i0;
      if (log)
        for (int64_t i = 0; i < w; ++i) yr[i] = xr[i] - s[i];
      else
        for (int64_t i = 0; i < w; ++i) yr[i] *= s[i];
    }
  });
}

// softmax: gx = y * (g - sum(g * y)); log_softmax: gx = g - exp(y) * sum(g).
template <typename T>
void softmax_backward_kernel(const T* g, const T* y, T* gx, const SoftmaxLayout& l, bool log) {
  const int64_t n = l.n, inner = l.inner;
  for_blocks(l, [&](int64_t o, int64_t i0, int64_t i1) {
    const int64_t base = o * n * inner;
    const T* gb = g + base;
    const T* yb = y + base;
    T* ob = gx + base;
    if (inner == 1) {
      if (log) {
        const T s = row_sum<T>(n, [&](int64_t k) { return gb[k]; });
        for (int64_t k = 0; k < n; ++k) ob[k] = gb[k] - vexp(yb[k]) * s;
      } else {
        const T s = row_sum<T>(n, [&](int64_t k) { return gb[k] * yb[k]; });
        for (int64_t k = 0; k < n; ++k) ob[k] = yb[k] * (gb[k] - s);
      }
      return;
    }
    const int64_t w = i1 - i0;
    T s[kColBlock] = {};
    for (int64_t k = 0; k < n; ++k) {
      const T* gr = gb + k * inner + i0;
      const T* yr = yb + k * inner + i0;
      if (log)
        for (int64_t i = 0; i < w; ++i) s[i] += gr[i];
      else
        for (int64_t i = 0; i < w; ++i) s[i] += gr[i] * yr[i];
    }
    for (int64_t k = 0; k < n; ++k) {
      const T* gr = gb + k * inner + i0;
      const T* yr = yb + k * inner + i0;
      T* orow = ob + k * inner + i0;
      if (log)
        for (int64_t i = 0; i < w; ++i) orow[i] = gr[i] - vexp(yr[i]) * s[i];
      else
        for (int64_t i = 0; i < w; ++i) orow[i] = yr[i] * (gr[i] - s[i]);
    }
  });
}

// The dtype a softmax computes in: float32 and float64 as they are; float16/bfloat16 in
// float32 (rounded once at the end); integers give float32.
DType softmax_compute_dtype(DType t) {
  return t == DType::Float64 ? DType::Float64 : DType::Float32;
}
DType softmax_result_dtype(DType t) { return is_floating(t) ? t : kDefaultFloat; }

// The kernels run on contiguous copies in the compute dtype.
Tensor softmax_forward(const Tensor& x, int64_t dim, bool log) {
  NoGradGuard no_grad;  // the conversions below are internal: the caller records one node
  const DType ct = softmax_compute_dtype(x.dtype());
  Tensor xc = x.to(ct).contiguous();
  Tensor y = empty(x.shape(), ct);
  const SoftmaxLayout l = softmax_layout(x.shape(), dim);
  if (y.numel() > 0) {
    if (ct == DType::Float64)
      softmax_forward_kernel(xc.data_ptr<double>(), y.data_ptr<double>(), l, log);
    else
      softmax_forward_kernel(xc.data_ptr<float>(), y.data_ptr<float>(), l, log);
  }
  return y.to(softmax_result_dtype(x.dtype()));
}

Tensor softmax_backward(const Tensor& g, const Tensor& y, int64_t dim, bool log) {
  const DType ct = softmax_compute_dtype(y.dtype());
  Tensor gc = g.to(ct).contiguous();
  Tensor yc = y.to(ct).contiguous();
  Tensor gx = empty(y.shape(), ct);
  const SoftmaxLayout l = softmax_layout(y.shape(), dim);
  if (gx.numel() > 0) {
    if (ct == DType::Float64)
      softmax_backward_kernel(gc.data_ptr<double>(), yc.data_ptr<double>(), gx.data_ptr<double>(),
                              l, log);
    else
      softmax_backward_kernel(gc.data_ptr<float>(), yc.data_ptr<float>(), gx.data_ptr<float>(), l,
                              log);
  }
  return gx.to(y.dtype());
}

Tensor softmax_op(const Tensor& x, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  RAVEL_CHECK(x.dtype() != DType::Bool, name, ": not supported for bool tensors");
  const int64_t d = x.ndim() == 0 ? 0 : normalize_axis(dim, x.ndim(), name);
  RAVEL_CHECK(x.ndim() > 0 || dim == 0 || dim == -1, name, ": dim ", dim,
              " is out of range for a 0-d tensor");
  graph::detail::TracedOp traced(log ? "LogSoftmax" : "Softmax", {x});
  if (traced) traced.attr("axis", d);
  Tensor y = softmax_forward(x, d, log);
  if (autograd::needs_grad(x)) {
    autograd::record(name, {x}, y, {y}, [d, log](const Tensor& g, const std::vector<Tensor>& s) {
      const Tensor& ys = s[0];
      if (is_grad_enabled()) {  // create_graph: written with differentiable ops
        if (log) return std::vector<Tensor>{g - exp(ys) * sum(g, d, true)};
        return std::vector<Tensor>{ys * (g - sum(g * ys, d, true))};
      }
      return std::vector<Tensor>{softmax_backward(g, ys, d, log)};
    });
  }
  return traced.output(y);
}

}  // namespace

// ---------------------------------------------------------------- piecewise linear
Tensor relu(const Tensor& x) {
  return pointwise<Rule::KeepNoBool>(
      "relu", "relu_backward", x,
      [](auto v) {
        using C = decltype(v);
        if constexpr (std::is_unsigned_v<C>)
          return v;
        else
          return v < C(0) ? C(0) : v;  // NaN stays NaN
      },
      [](auto v) {
        using C = decltype(v);
        return v > C(0) ? C(1) : C(0);
      },
      [](const Tensor& v) { return as_mask(v > 0, v); });
}

Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  RAVEL_CHECK(min_val <= max_val, "hardtanh: min_val ", min_val, " must not exceed max_val ",
              max_val);
  graph::detail::TracedOp traced("Clip", {x});
  if (traced) {
    traced.constant(scalar_tensor(min_val, x.dtype()));
    traced.constant(scalar_tensor(max_val, x.dtype()));
  }
  return traced.output(pointwise<Rule::Float>(
      "hardtanh", "hardtanh_backward", x,
      [=](auto v) {
        using C = decltype(v);
        C lo = C(min_val), hi = C(max_val);
        return v < lo ? lo : (v > hi ? hi : v);
      },
      [=](auto v) {
        using C = decltype(v);
        return v > C(min_val) && v < C(max_val) ? C(1) : C(0);
      },
      [=](const Tensor& v) { return as_mask((v > min_val) & (v < max_val), v); }));
}

Tensor relu6(const Tensor& x) { return hardtanh(x, 0.0, 6.0); }

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  graph::detail::TracedOp traced("LeakyRelu", {x});
  if (traced) traced.attr("alpha", negative_slope);
  return traced.output(pointwise<Rule::Float>(
      "leaky_relu", "leaky_relu_backward", x,
      [=](auto v) {
        using C = decltype(v);
        C neg = v * C(negative_slope);
        return v > C(0) ? v : neg;
      },
      [=](auto v) {
        using C = decltype(v);
        C neg = C(negative_slope);
        return v > C(0) ? C(1) : neg;
      },
      [=](const Tensor& v) { return where(v > 0, ones_like(v), full_like(v, negative_slope)); }));
}

Tensor prelu(const Tensor& x, const Tensor& weight) {
  RAVEL_CHECK(weight.ndim() <= 1, "prelu: weight must be 0-d or 1-d, got shape ", weight.shape());
  RAVEL_CHECK(x.ndim() > 0, "prelu: the input must have at least one dimension");
  Tensor w = weight;
  if (weight.numel() != 1) {
    const int64_t channels = x.ndim() >= 2 ? x.size(1) : 1;
    RAVEL_CHECK(weight.numel() == channels, "prelu: weight has ", weight.numel(),
                " elements but the input of shape ", x.shape(), " has ", channels,
                " channels (dim 1); expected 1 or ", channels);
    Shape ws(static_cast<size_t>(x.ndim()), 1);
    ws[1] = channels;
    w = weight.reshape(ws);
  }
  return where(x > 0, x, w * x);
}

// ---------------------------------------------------------------- exponential family
Tensor elu(const Tensor& x, double alpha) { return elu_general("elu", x, alpha, 1.0, 1.0); }
Tensor selu(const Tensor& x) { return elu_general("selu", x, kSeluAlpha, kSeluScale, 1.0); }
Tensor celu(const Tensor& x, double alpha) {
  RAVEL_CHECK(alpha != 0.0, "celu: alpha must not be 0");
  return elu_general("celu", x, alpha, 1.0, 1.0 / alpha);
}

Tensor gelu(const Tensor& x, const std::string& approximate) {
  if (approximate == "none") {
    return pointwise<Rule::Float>(
        "gelu", "gelu_backward", x,
        // Phi(x) = erfc(-x / sqrt 2) / 2 keeps its relative accuracy for negative x
        [](auto v) {
          using C = decltype(v);
          return C(0.5) * v * verfc(-v * C(kSqrtHalf));
        },
        [](auto v) {
          using C = decltype(v);
          return C(0.5) * verfc(-v * C(kSqrtHalf)) + v * vexp(C(-0.5) * v * v) * C(kInvSqrt2Pi);
        },
        [](const Tensor& v) {
          return (erf(v * kSqrtHalf) + 1.0) * 0.5 + v * exp(v * v * -0.5) * kInvSqrt2Pi;
        });
  }
  RAVEL_CHECK(approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '",
              approximate, "'");
  return pointwise<Rule::Float>(
      "gelu", "gelu_backward", x,
      [](auto v) {
        using C = decltype(v);
        return C(0.5) * v * (C(1) + vtanh(C(kSqrt2OverPi) * (v + C(kGeluTanhC) * v * v * v)));
      },
      [](auto v) {
        using C = decltype(v);
        C t = vtanh(C(kSqrt2OverPi) * (v + C(kGeluTanhC) * v * v * v));
        return C(0.5) * (C(1) + t) +
               C(0.5) * v * (C(1) - t * t) * C(kSqrt2OverPi) * (C(1) + C(3 * kGeluTanhC) * v * v);
      },
      [](const Tensor& v) {
        Tensor t = ravel::tanh((v + v * v * v * kGeluTanhC) * kSqrt2OverPi);
        return (t + 1.0) * 0.5 +
               v * 0.5 * (1.0 - t * t) * kSqrt2OverPi * (v * v * (3 * kGeluTanhC) + 1.0);
      });
}

Tensor silu(const Tensor& x) {
  return pointwise<Rule::Float>(
      "silu", "silu_backward", x, [](auto v) { return v * vsigmoid(v); },
      [](auto v) {
        using C = decltype(v);
        C s = vsigmoid(v);
        return s * (C(1) + v * (C(1) - s));
      },
      [](const Tensor& v) {
        Tensor s = ravel::sigmoid(v);
        return s * (v * (1.0 - s) + 1.0);
      });
}

Tensor mish(const Tensor& x) {
  return pointwise<Rule::Float>(
      "mish", "mish_backward", x, [](auto v) { return v * vtanh(softplus1(v)); },
      [](auto v) {
        using C = decltype(v);
        C t = vtanh(softplus1(v));
        return t + v * (C(1) - t * t) * vsigmoid(v);
      },
      [](const Tensor& v) {
        Tensor t = ravel::tanh(softplus(v));
        return t + v * (1.0 - t * t) * ravel::sigmoid(v);
      });
}

Tensor hardswish(const Tensor& x) {
  return pointwise<Rule::Float>(
      "hardswish", "hardswish_backward", x,
      [](auto v) {
        using C = decltype(v);
        C r = v + C(3);
        r = r < C(0) ? C(0) : (r > C(6) ? C(6) : r);
        return v * r / C(6);
      },
      [](auto v) {  // PyTorch's convention at the kinks: 0 below -3, 1 from 3 on
        using C = decltype(v);
        C mid = v / C(3) + C(0.5);
        return v < C(-3) ? C(0) : (v < C(3) ? mid : C(1));
      },
      [](const Tensor& v) {
        return where(v < -3, zeros_like(v), where(v < 3, v / 3.0 + 0.5, ones_like(v)));
      });
}

Tensor hardsigmoid(const Tensor& x) {
  return pointwise<Rule::Float>(
      "hardsigmoid", "hardsigmoid_backward", x,
      [](auto v) {
        using C = decltype(v);
        C r = v + C(3);
        r = r < C(0) ? C(0) : (r > C(6) ? C(6) : r);
        return r / C(6);
      },
      [](auto v) {
        using C = decltype(v);
        return v > C(-3) && v < C(3) ? C(1) / C(6) : C(0);
      },
      [](const Tensor& v) { return as_mask((v > -3) & (v < 3), v) / 6.0; });
}

Tensor sigmoid(const Tensor& x) { return ravel::sigmoid(x); }
Tensor tanh(const Tensor& x) { return ravel::tanh(x); }

Tensor logsigmoid(const Tensor& x) {
  return pointwise<Rule::Float>(
      "logsigmoid", "logsigmoid_backward", x,
      [](auto v) {
        using C = decltype(v);
        return (v < C(0) ? v : C(0)) - vlog1p(vexp(-std::fabs(v)));
      },
      [](auto v) { return vsigmoid(-v); }, [](const Tensor& v) { return ravel::sigmoid(-v); });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  RAVEL_CHECK(beta != 0.0, "softplus: beta must not be 0");
  return pointwise<Rule::Float>(
      "softplus", "softplus_backward", x,
      [=](auto v) {
        using C = decltype(v);
        C bx = v * C(beta);
        C r = softplus1(bx) / C(beta);
        return bx > C(threshold) ? v : r;
      },
      [=](auto v) {
        using C = decltype(v);
        C bx = v * C(beta);
        C s = vsigmoid(bx);
        return bx > C(threshold) ? C(1) : s;
      },
      [=](const Tensor& v) {
        Tensor bx = v * beta;
        return where(bx > threshold, ones_like(v), ravel::sigmoid(bx));
      });
}

// ---------------------------------------------------------------- softmax
Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, true); }

}  // namespace ravel::nn::functional
