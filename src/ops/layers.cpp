// Functional layers. linear and embedding record one node each (their backward is the hot path of
// training and is written with matmul / scatter_add, so it is differentiable again); the others
// are compositions of differentiable ravel ops and record nothing themselves.
#include "ravel/nn/functional/layers.h"

#include <algorithm>
#include <cmath>

#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::nn::functional {

namespace {
Shape prefix_shape(const Tensor& t) {  // every dimension but the last
  return Shape(t.shape().begin(), t.shape().end() - 1);
}
}  // namespace

// ---------------------------------------------------------------- linear
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  RAVEL_CHECK(weight.defined() && weight.ndim() == 2,
              "linear: expected a 2-D weight [out_features, in_features], got shape ",
              weight.defined() ? weight.shape() : Shape{});
  const int64_t out = weight.size(0), in = weight.size(1);
  RAVEL_CHECK(x.defined() && x.ndim() >= 1 && x.size(-1) == in, "linear: input of shape ",
              x.defined() ? x.shape() : Shape{}, " does not fit weight of shape ", weight.shape(),
              "; expected input [..., ", in, "]");
  RAVEL_CHECK(is_floating(x.dtype()) && x.dtype() == weight.dtype(), "linear: input dtype ",
              x.dtype(), " and weight dtype ", weight.dtype(), " must be the same floating dtype");
  const bool has_bias = bias.defined();
  if (has_bias)
    RAVEL_CHECK(bias.ndim() == 1 && bias.size(0) == out && bias.dtype() == weight.dtype(),
                "linear: expected bias [", out, "] of dtype ", weight.dtype(), ", got shape ",
                bias.shape(), " of dtype ", bias.dtype());

  graph::detail::TracedOp traced("Gemm", {x, weight});
  if (traced) {
    if (has_bias) traced.input(bias);
    traced.attr("transB", int64_t{1});
    if (x.ndim() != 2) traced.unsupported("linear on a " + std::to_string(x.ndim()) + "-D input");
  }
  const int64_t rows = shape_numel(prefix_shape(x));
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y;
  {
    NoGradGuard ng;
    y = matmul(x.reshape({rows, in}), weight.transpose());  // BLAS reads W^T as a flag, no copy
    if (has_bias) y.add_(bias);
    y = y.reshape(out_shape);
  }
  if (autograd::needs_grad(x, weight, bias)) {
    const bool gx = autograd::requires_grad(x), gw = autograd::requires_grad(weight),
               gb = autograd::requires_grad(bias);
    std::vector<Tensor> inputs{x, weight};
    if (has_bias) inputs.push_back(bias);
    autograd::record(
        "linear", inputs, y, {x, weight},
        [gx, gw, gb, has_bias, rows, in, out](const Tensor& g, const std::vector<Tensor>& saved) {
          const Tensor &xs = saved[0], &w = saved[1];
          Tensor g2 = g.reshape({rows, out});
          std::vector<Tensor> grads(has_bias ? 3 : 2);
          if (gx) grads[0] = matmul(g2, w).reshape(xs.shape());               // [rows, in]
          if (gw) grads[1] = matmul(g2.transpose(), xs.reshape({rows, in}));  // [out, in]
          if (has_bias && gb) grads[2] = g2.sum(0);                           // [out]
          return grads;
        });
  }
  return traced.output(y);
}

// ---------------------------------------------------------------- bilinear
Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight, const Tensor& bias) {
  RAVEL_CHECK(weight.defined() && weight.ndim() == 3,
              "bilinear: expected a 3-D weight [out, in1, in2], got shape ",
              weight.defined() ? weight.shape() : Shape{});
  const int64_t out = weight.size(0), in1 = weight.size(1), in2 = weight.size(2);
  RAVEL_CHECK(x1.ndim() >= 1 && x2.ndim() >= 1 && x1.size(-1) == in1 && x2.size(-1) == in2 &&
                  prefix_shape(x1) == prefix_shape(x2),
              "bilinear: inputs of shapes ", x1.shape(), " and ", x2.shape(),
              " do not fit weight of shape ", weight.shape(), "; expected [..., ", in1,
              "] and [..., ", in2, "] with the same leading dimensions");
  if (bias.defined())
    RAVEL_CHECK(bias.ndim() == 1 && bias.size(0) == out, "bilinear: expected bias [", out,
                "], got shape ", bias.shape());
  const int64_t rows = shape_numel(prefix_shape(x1));
  // t[n, o, j] = sum_i x1[n, i] W[o, i, j]: one matmul against W laid out as [in1, out * in2].
  Tensor t = matmul(x1.reshape({rows, in1}), weight.permute({1, 0, 2}).reshape({in1, out * in2}));
  Tensor y = (t.reshape({rows, out, in2}) * x2.reshape({rows, 1, in2})).sum(-1);
  if (bias.defined()) y = y + bias;
  Shape out_shape = x1.shape();
  out_shape.back() = out;
  return y.reshape(out_shape);
}

// ---------------------------------------------------------------- embedding
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<int64_t> padding_idx) {
  RAVEL_CHECK(weight.defined() && weight.ndim() == 2,
              "embedding: expected a 2-D weight [num_embeddings, embedding_dim], got shape ",
              weight.defined() ? weight.shape() : Shape{});
  RAVEL_CHECK(indices.defined() && is_integral(indices.dtype()),
              "embedding: expected integer indices, got ",
              indices.defined() ? indices.dtype() : DType::Float32);
  const int64_t num = weight.size(0), dim = weight.size(1);
  if (indices.numel() > 0) {
    int64_t lo = amin(indices).item<int64_t>(), hi = amax(indices).item<int64_t>();
    RAVEL_CHECK(lo >= 0 && hi < num, "embedding: index out of range: indices span [", lo, ", ", hi,
                "] but the weight has ", num, " rows (shape ", weight.shape(), ")");
  }
  if (padding_idx) {
    if (*padding_idx < 0) padding_idx = *padding_idx + num;
    RAVEL_CHECK(*padding_idx >= 0 && *padding_idx < num, "embedding: padding_idx ", *padding_idx,
                " is out of range for ", num, " embeddings");
  }
  Tensor idx = indices.to(DType::Int64);
  Tensor y;
  {
    NoGradGuard ng;
    y = take(weight, idx, 0);  // indices.shape + [dim]
  }
  if (autograd::needs_grad(weight)) {
    const int64_t n = idx.numel(), pad = padding_idx.value_or(-1);
    autograd::record(
        "embedding", {weight}, y, {idx},
        [n, num, dim, pad](const Tensor& g, const std::vector<Tensor>& saved) {
          Tensor flat = saved[0].reshape({n});
          Tensor g2 = g.reshape({n, dim});
          // The padding row collects nothing (as PyTorch).
          if (pad >= 0) g2 = g2 * (flat != pad).to(g.dtype()).reshape({n, 1});
          Tensor index = flat.reshape({n, 1}).expand({n, dim});
          return std::vector<Tensor>{scatter_add(zeros({num, dim}, g.dtype()), 0, index, g2)};
        });
  }
  return y;
}

// ---------------------------------------------------------------- dropout
namespace {
// Multiplies x by a 0 / (1 / (1 - p)) mask of shape mask_shape (broadcast over x).
Tensor masked_dropout(const Tensor& x, double p, const Shape& mask_shape, Generator& gen,
                      const char* op) {
  RAVEL_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability has to be between 0 and 1, got ", p);
  RAVEL_CHECK(is_floating(x.dtype()), op, ": expected a floating input, got ", x.dtype());
  if (p == 1.0) return x * zeros(mask_shape, x.dtype());
  Tensor mask = bernoulli(1.0 - p, mask_shape, gen, x.dtype());
  mask.mul_(1.0 / (1.0 - p));
  return x * mask;
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!training || p == 0.0) {
    RAVEL_CHECK(p >= 0.0 && p <= 1.0, "dropout: dropout probability has to be between 0 and 1, ",
                "got ", p);
    return x;
  }
  return masked_dropout(x, p, x.shape(), gen, "dropout");
}

Tensor dropout2d(const Tensor& x, double p, bool training, Generator& gen) {
  RAVEL_CHECK(x.ndim() == 3 || x.ndim() == 4,
              "dropout2d: expected an input [N, C, H, W] or [C, H, W], got shape ", x.shape());
  if (!training || p == 0.0) return dropout(x, p, false, gen);
  Shape mask_shape = x.shape();
  mask_shape[x.ndim() - 1] = mask_shape[x.ndim() - 2] = 1;  // one draw per channel
  return masked_dropout(x, p, mask_shape, gen, "dropout2d");
}

// ---------------------------------------------------------------- interpolate
namespace {

// Source positions along one axis, computed in C (float for float32 input) exactly as PyTorch's
// upsample kernels do, so indices agree at every boundary.
struct AxisPlan {
  std::vector<int64_t> i0, i1;
  std::vector<double> lambda;  // weight of i1 (linear modes)
};

template <typename C>
AxisPlan plan_axis(int64_t in, int64_t out, std::optional<double> scale_factor,
                   const std::string& mode, bool align_corners) {
  AxisPlan p;
  // PyTorch's compute_scales_value: 1 / scale_factor when one was given, else in / out.
  C scale = scale_factor ? static_cast<C>(1.0 / *scale_factor)
                         : static_cast<C>(static_cast<C>(in) / static_cast<C>(out));
  for (int64_t d = 0; d < out; ++d) {
    if (mode == "nearest" && (out == in || out == 2 * in)) {  // PyTorch's exact fast paths
      p.i0.push_back(out == in ? d : d / 2);
      continue;
    }
    if (mode == "nearest" || mode == "nearest-exact") {
      C src = mode == "nearest" ? static_cast<C>(d) * scale
                                : static_cast<C>((static_cast<double>(d) + 0.5) * scale);
      p.i0.push_back(std::min(static_cast<int64_t>(std::floor(src)), in - 1));
      continue;
    }
    C s;
    if (align_corners) {
      C sc = out > 1 ? static_cast<C>(in - 1) / static_cast<C>(out - 1) : C(0);
      s = sc * static_cast<C>(d);
    } else {
      s = scale * (static_cast<C>(d) + C(0.5)) - C(0.5);
      if (s < 0) s = 0;
    }
    int64_t i0 = std::min(static_cast<int64_t>(std::floor(s)), in - 1);
    C lam = std::min(std::max(s - static_cast<C>(i0), C(0)), C(1));
    p.i0.push_back(i0);
    p.i1.push_back(i0 + (i0 < in - 1 ? 1 : 0));
    p.lambda.push_back(static_cast<double>(lam));
  }
  return p;
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions& o) {
  const std::string& mode = o.mode;
  const bool nearest = mode == "nearest" || mode == "nearest-exact";
  RAVEL_CHECK(nearest || mode == "linear" || mode == "bilinear" || mode == "trilinear",
              "interpolate: mode \"", mode,
              "\" is not supported; expected nearest, nearest-exact, linear, bilinear or "
              "trilinear");
  RAVEL_CHECK(x.ndim() >= 3 && x.ndim() <= 5,
              "interpolate: expected a 3-D, 4-D or 5-D input [N, C, ...], got shape ", x.shape());
  const int64_t sd = x.ndim() - 2;
  if (!nearest) {
    const int64_t want = mode == "linear" ? 1 : mode == "bilinear" ? 2 : 3;
    RAVEL_CHECK(sd == want, "interpolate: mode \"", mode, "\" expects a ", want + 2,
                "-D input, got shape ", x.shape());
  }
  RAVEL_CHECK(!(nearest && o.align_corners), "interpolate: align_corners can only be set with the ",
              "linear modes (linear, bilinear, trilinear), not \"", mode, "\"");
  RAVEL_CHECK(o.size.empty() != o.scale_factor.empty(),
              "interpolate: give exactly one of size and scale_factor");
  auto per_dim = [&](const auto& v, const char* what) {
    RAVEL_CHECK(v.size() == 1 || static_cast<int64_t>(v.size()) == sd, "interpolate: ", what,
                " has ", v.size(), " values; expected 1 or ", sd, " for input of shape ",
                x.shape());
    return [&v](int64_t d) { return v.size() == 1 ? v[0] : v[d]; };
  };
  RAVEL_CHECK(is_floating(x.dtype()), "interpolate: expected a floating input, got ", x.dtype());

  Tensor y = x;
  for (int64_t d = 0; d < sd; ++d) {
    const int64_t axis = 2 + d, in = x.size(axis);
    int64_t out;
    std::optional<double> sf;
    if (!o.size.empty()) {
      out = per_dim(o.size, "size")(d);
    } else {
      sf = per_dim(o.scale_factor, "scale_factor")(d);
      RAVEL_CHECK(*sf > 0, "interpolate: scale_factor must be positive, got ", *sf);
      out = static_cast<int64_t>(std::floor(static_cast<double>(in) * *sf));
    }
    RAVEL_CHECK(out > 0 && in > 0, "interpolate: input of shape ", x.shape(),
                " gives an empty output size ", out, " along dimension ", axis);
    AxisPlan p = x.dtype() == DType::Float64
                     ? plan_axis<double>(in, out, sf, mode, o.align_corners.value_or(false))
                     : plan_axis<float>(in, out, sf, mode, o.align_corners.value_or(false));
    Tensor i0 = from_vector(p.i0);
    if (nearest) {
      y = take(y, i0, axis);
      continue;
    }
    // out = x[i0] * (1 - lambda) + x[i1] * lambda along this axis; lambda broadcast over the
    // dimensions after it.
    Shape wshape(static_cast<size_t>(sd - d), 1);
    wshape[0] = out;
    Tensor lam = from_vector(p.lambda).to(x.dtype()).reshape(wshape);
    y = take(y, i0, axis) * (1.0 - lam) + take(y, from_vector(p.i1), axis) * lam;
  }
  return y;
}

// ---------------------------------------------------------------- pixel shuffle
namespace {
Tensor shuffle(const Tensor& x, int64_t r, bool up) {
  const char* op = up ? "pixel_shuffle" : "pixel_unshuffle";
  RAVEL_CHECK(r > 0, op, ": the factor must be positive, got ", r);
  RAVEL_CHECK(x.ndim() >= 3, op, ": expected an input [..., C, H, W], got shape ", x.shape());
  const int64_t c = x.size(-3), h = x.size(-2), w = x.size(-1);
  Shape batch(x.shape().begin(), x.shape().end() - 3);
  const int64_t nb = static_cast<int64_t>(batch.size());
  Shape split = batch, perm, result = batch;
  for (int64_t i = 0; i < nb; ++i) perm.push_back(i);
  if (up) {
    RAVEL_CHECK(c % (r * r) == 0, op, ": channels (", c, ") of input ", x.shape(),
                " must be divisible by upscale_factor^2 = ", r * r);
    const int64_t oc = c / (r * r);
    for (int64_t v : {oc, r, r, h, w}) split.push_back(v);     // [..., C, r, r, H, W]
    for (int64_t v : {0, 3, 1, 4, 2}) perm.push_back(nb + v);  // [..., C, H, r, W, r]
    for (int64_t v : {oc, h * r, w * r}) result.push_back(v);
  } else {
    RAVEL_CHECK(h % r == 0 && w % r == 0, op, ": height and width of input ", x.shape(),
                " must be divisible by downscale_factor ", r);
    for (int64_t v : {c, h / r, r, w / r, r}) split.push_back(v);  // [..., C, H/r, r, W/r, r]
    for (int64_t v : {0, 2, 4, 1, 3}) perm.push_back(nb + v);      // [..., C, r, r, H/r, W/r]
    for (int64_t v : {c * r * r, h / r, w / r}) result.push_back(v);
  }
  return x.reshape(split).permute(perm).reshape(result);
}
}  // namespace

Tensor pixel_shuffle(const Tensor& x, int64_t upscale_factor) {
  return shuffle(x, upscale_factor, true);
}
Tensor pixel_unshuffle(const Tensor& x, int64_t downscale_factor) {
  return shuffle(x, downscale_factor, false);
}

}  // namespace ravel::nn::functional
