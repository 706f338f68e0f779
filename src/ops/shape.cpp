// Shape ops: views where NumPy gives views (reshape, transpose, flip, ...), and copies built from
// copy_() into slices of the output (concatenate, roll, pad, tile, ...), so every copy runs through
// TensorIter's vectorised, threaded loop.
//
// Autograd: an op built from differentiable views (stack, split, meshgrid, moveaxis, ...) records
// nothing itself. An op that copies computes its forward with grad mode off and records one node
// whose backward is written with differentiable ops, so double backward works.
#include <algorithm>
#include <cstring>

#include "core/parallel.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel {

Tensor reshape(const Tensor& a, const Shape& shape) { return a.reshape(shape); }
Tensor transpose(const Tensor& a) { return a.transpose(); }
Tensor permute(const Tensor& a, const Shape& axes) { return a.permute(axes); }
Tensor swapaxes(const Tensor& a, int64_t a1, int64_t a2) {
  return a.transpose(normalize_axis(a1, a.ndim(), "swapaxes"),
                     normalize_axis(a2, a.ndim(), "swapaxes"));
}

Tensor moveaxis(const Tensor& a, int64_t src, int64_t dst) {
  src = normalize_axis(src, a.ndim(), "moveaxis");
  dst = normalize_axis(dst, a.ndim(), "moveaxis");
  Shape order;
  for (int64_t d = 0; d < a.ndim(); ++d)
    if (d != src) order.push_back(d);
  order.insert(static_cast<size_t>(dst), src);
  return a.permute(order);
}

Tensor squeeze(const Tensor& a, std::optional<int64_t> axis) {
  return axis ? a.squeeze(*axis) : a.squeeze();
}
Tensor unsqueeze(const Tensor& a, int64_t axis) { return a.unsqueeze(axis); }
Tensor broadcast_to(const Tensor& a, const Shape& shape) { return a.expand(shape); }

std::vector<Tensor> broadcast_tensors(const std::vector<Tensor>& ts) {
  Shape shape;
  for (const Tensor& t : ts) shape = broadcast_shapes(shape, t.shape(), "broadcast_tensors");
  std::vector<Tensor> out;
  out.reserve(ts.size());
  for (const Tensor& t : ts) out.push_back(t.expand(shape));
  return out;
}

Tensor concatenate(const std::vector<Tensor>& ts, int64_t axis) {
  RAVEL_CHECK(!ts.empty(), "concatenate: need at least one tensor to concatenate");
  const Tensor& first = ts[0];
  RAVEL_CHECK(first.ndim() > 0, "concatenate: zero-dimensional tensors cannot be concatenated");
  axis = normalize_axis(axis, first.ndim(), "concatenate");
  Shape shape = first.shape();
  DType dtype = first.dtype();
  for (size_t i = 1; i < ts.size(); ++i) {
    const Tensor& t = ts[i];
    bool ok = t.ndim() == first.ndim();
    for (int64_t d = 0; ok && d < t.ndim(); ++d) ok = d == axis || t.shape()[d] == shape[d];
    RAVEL_CHECK(ok, "concatenate: tensor ", i, " has shape ", t.shape(), " but tensor 0 has shape ",
                first.shape(), "; all dimensions except axis ", axis, " must match");
    shape[axis] += t.shape()[axis];
    dtype = promote_types(dtype, t.dtype());
  }
  bool grad = autograd::needs_grad_any(ts);
  graph::detail::TracedOp traced("Concat", {});
  if (traced) {
    for (const Tensor& t : ts) traced.input(t);
    traced.attr("axis", axis);
  }
  Tensor out = empty(shape, dtype);
  {
    NoGradGuard ng;
    int64_t pos = 0;
    for (const Tensor& t : ts) {
      int64_t n = t.shape()[axis];
      if (n > 0) out.slice(axis, pos, pos + n).copy_(t);
      pos += n;
    }
  }
  if (grad) {
    std::vector<int64_t> sizes;
    for (const Tensor& t : ts) sizes.push_back(t.shape()[axis]);
    autograd::record("concatenate", ts, out, {},
                     [axis, sizes](const Tensor& g, const std::vector<Tensor>&) {
                       std::vector<Tensor> grads;
                       int64_t pos = 0;
                       for (int64_t n : sizes) {
                         grads.push_back(g.slice(axis, pos, pos + n));
                         pos += n;
                       }
                       return grads;
                     });
  }
  return traced.output(out);
}

Tensor stack(const std::vector<Tensor>& ts, int64_t axis) {
  RAVEL_CHECK(!ts.empty(), "stack: need at least one tensor to stack");
  axis = normalize_axis(axis, ts[0].ndim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    RAVEL_CHECK(ts[i].shape() == ts[0].shape(),
                "stack: all tensors must have the same shape, tensor 0 has shape ", ts[0].shape(),
                " but tensor ", i, " has shape ", ts[i].shape());
    expanded.push_back(ts[i].unsqueeze(axis));
  }
  return concatenate(expanded, axis);
}

// Views of `a` between consecutive split points (Python slice semantics, as numpy.split).
static std::vector<Tensor> split_views(const Tensor& a, const std::vector<int64_t>& points,
                                       int64_t axis) {
  std::vector<Tensor> out;
  out.reserve(points.size() + 1);
  int64_t prev = 0;
  for (int64_t p : points) {
    out.push_back(a.slice(axis, prev, p));
    prev = p;
  }
  out.push_back(a.slice(axis, prev, std::nullopt));
  return out;
}

std::vector<Tensor> split(const Tensor& a, int64_t sections, int64_t axis) {
  axis = normalize_axis(axis, a.ndim(), "split");
  int64_t n = a.shape()[axis];
  RAVEL_CHECK(sections > 0 && n % sections == 0, "split: tensor of shape ", a.shape(),
              " cannot be split into ", sections, " equal sections along axis ", axis);
  std::vector<int64_t> points;
  for (int64_t i = 1; i < sections; ++i) points.push_back(i * (n / sections));
  return split_views(a, points, axis);
}

std::vector<Tensor> split_at(const Tensor& a, const std::vector<int64_t>& indices, int64_t axis) {
  axis = normalize_axis(axis, a.ndim(), "split_at");
  return split_views(a, indices, axis);
}

std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t axis) {
  axis = normalize_axis(axis, a.ndim(), "chunk");
  RAVEL_CHECK(chunks > 0, "chunk: number of sections must be larger than 0, got ", chunks);
  int64_t n = a.shape()[axis], each = n / chunks, extras = n % chunks;
  std::vector<int64_t> points;
  int64_t pos = 0;
  for (int64_t i = 0; i + 1 < chunks; ++i) {
    pos += each + (i < extras ? 1 : 0);
    points.push_back(pos);
  }
  return split_views(a, points, axis);
}

Tensor flip(const Tensor& a, const Axes& axes) {
  Shape strides = a.strides();
  int64_t offset = a.offset();
  std::vector<bool> flipped(static_cast<size_t>(a.ndim()), axes.all);
  for (int64_t d : axes.dims) {
    int64_t ax = normalize_axis(d, a.ndim(), "flip");
    RAVEL_CHECK(!flipped[ax], "flip: repeated axis ", d, " in ", axes.dims);
    flipped[ax] = true;
  }
  if (a.numel() == 0) return a;
  Shape axes_list;
  for (int64_t d = 0; d < a.ndim(); ++d) {
    if (!flipped[d]) continue;
    offset += (a.shape()[d] - 1) * strides[d];
    strides[d] = -strides[d];
    axes_list.push_back(d);
  }
  bool grad = autograd::needs_grad(a);
  Tensor out;
  {
    NoGradGuard ng;
    out = a.as_strided(a.shape(), strides, offset);
  }
  if (grad)
    autograd::record("flip", {a}, out, {},
                     [axes_list](const Tensor& g, const std::vector<Tensor>&) {
                       return std::vector<Tensor>{flip(g, Axes(axes_list))};
                     });
  return out;
}

Tensor roll(const Tensor& a, int64_t shift, std::optional<int64_t> axis) {
  if (!axis) return roll(a.reshape({-1}), Shape{shift}, Shape{0}).reshape(a.shape());
  return roll(a, Shape{shift}, Shape{*axis});
}

Tensor roll(const Tensor& a, const Shape& shifts, const Shape& axes) {
  RAVEL_CHECK(shifts.size() == axes.size(), "roll: shifts ", shifts, " and axes ", axes,
              " must have the same length");
  Shape total(static_cast<size_t>(a.ndim()), 0);  // repeated axes add up, as NumPy
  for (size_t i = 0; i < axes.size(); ++i)
    total[normalize_axis(axes[i], a.ndim(), "roll")] += shifts[i];
  bool grad = autograd::needs_grad(a);
  Tensor cur = a;
  {
    NoGradGuard ng;
    for (int64_t d = 0; d < a.ndim(); ++d) {
      int64_t n = a.shape()[d];
      if (n == 0 || total[d] % n == 0) continue;
      int64_t s = ((total[d] % n) + n) % n;
      Tensor out = empty(a.shape(), a.dtype());
      out.slice(d, s, std::nullopt).copy_(cur.slice(d, 0, n - s));
      out.slice(d, 0, s).copy_(cur.slice(d, n - s, std::nullopt));
      cur = out;
    }
    if (cur.is_same(a)) cur = a.clone();
  }
  if (grad) {
    Shape back(total.size()), all_axes(total.size());
    for (size_t d = 0; d < total.size(); ++d) {
      back[d] = -total[d];
      all_axes[d] = static_cast<int64_t>(d);
    }
    autograd::record("roll", {a}, cur, {},
                     [back, all_axes](const Tensor& g, const std::vector<Tensor>&) {
                       return std::vector<Tensor>{roll(g, back, all_axes)};
                     });
  }
  return cur;
}

// pad's backward. Constant: the inside of g. Reflect and edge: along each axis (they are
// separable), every padded position adds its gradient to the element it copied (scatter_add, so
// this is differentiable too).
static Tensor pad_backward(const Tensor& g, const std::vector<std::pair<int64_t, int64_t>>& widths,
                           const Shape& in_shape, const std::vector<std::vector<int64_t>>& source) {
  Tensor r = g;
  for (size_t d = 0; d < in_shape.size(); ++d) {
    int64_t ax = static_cast<int64_t>(d);
    if (source[d].empty()) {
      r = r.slice(ax, widths[d].first, widths[d].first + in_shape[d]);
      continue;
    }
    Shape idx_shape(in_shape.size(), 1), acc_shape = r.shape();
    idx_shape[d] = static_cast<int64_t>(source[d].size());
    acc_shape[d] = in_shape[d];
    Tensor idx = from_vector(source[d]).reshape(idx_shape).expand(r.shape());
    r = scatter_add(zeros(acc_shape, r.dtype()), ax, idx, r);
  }
  return r;
}

Tensor pad(const Tensor& a, const std::vector<std::pair<int64_t, int64_t>>& pad_width,
           const std::string& mode, const Scalar& value) {
  RAVEL_CHECK(mode == "constant" || mode == "reflect" || mode == "edge", "pad: unknown mode '",
              mode, "', expected 'constant', 'reflect' or 'edge'");
  const size_t nd = static_cast<size_t>(a.ndim());
  // One pair for every axis, or a single pair used for all axes (NumPy broadcasts pad_width).
  RAVEL_CHECK(pad_width.size() == nd || pad_width.size() == 1, "pad: got ", pad_width.size(),
              " (before, after) pairs for a tensor of shape ", a.shape(), "; expected ", nd,
              " or 1");
  auto width = [&](size_t d) { return pad_width.size() == 1 ? pad_width[0] : pad_width[d]; };
  Shape shape = a.shape();
  for (size_t d = 0; d < nd; ++d) {
    auto [before, after] = width(d);
    RAVEL_CHECK(before >= 0 && after >= 0, "pad: pad widths must be non-negative, got (", before,
                ", ", after, ") for axis ", d);
    RAVEL_CHECK(mode == "constant" || a.shape()[d] > 0 || before + after == 0,
                "pad: cannot pad empty axis ", d, " of shape ", a.shape(), " in mode '", mode, "'");
    shape[d] += before + after;
  }
  // source[d][p]: the element of axis d that padded position p copies (reflect, edge)
  std::vector<std::vector<int64_t>> source(nd);
  for (size_t d = 0; d < nd && mode != "constant"; ++d) {
    auto [before, after] = width(d);
    int64_t n = a.shape()[d];
    for (int64_t p = 0; p < before + n + after; ++p) {
      int64_t i = p - before, j;
      if (mode == "edge" || n == 1) {
        j = std::clamp<int64_t>(i, 0, n - 1);
      } else {  // mirrors repeatedly when the pad is wider than the axis
        int64_t period = 2 * (n - 1);
        j = ((i % period) + period) % period;
        if (j >= n) j = period - j;
      }
      source[d].push_back(j);
    }
  }
  bool grad = autograd::needs_grad(a);
  graph::detail::TracedOp traced("Pad", {a});
  if (traced) {
    std::vector<int64_t> pads(2 * nd);
    for (size_t d = 0; d < nd; ++d) std::tie(pads[d], pads[d + nd]) = width(d);
    traced.constant(from_vector(pads));
    traced.constant(scalar_tensor(value, a.dtype()));
    traced.attr("mode", mode);
  }
  Tensor out = empty(shape, a.dtype());
  {
    NoGradGuard ng;
    if (mode == "constant" && out.numel() != a.numel()) out.fill_(value);
    Tensor inner = out;
    for (size_t d = 0; d < nd; ++d)
      inner = inner.slice(d, width(d).first, width(d).first + a.shape()[d]);
    inner.copy_(a);
    // Axis by axis (as NumPy), fill each border plane from a plane already in place.
    for (size_t d = 0; d < nd && mode != "constant"; ++d) {
      int64_t before = width(d).first, n = a.shape()[d];
      Tensor full_d = out;  // axes before d are padded in full, axes after d only inside
      for (size_t e = d + 1; e < nd; ++e)
        full_d = full_d.slice(e, width(e).first, width(e).first + a.shape()[e]);
      for (int64_t p = 0; p < static_cast<int64_t>(source[d].size()); ++p)
        if (p < before || p >= before + n)
          full_d.select(d, p).copy_(full_d.select(d, source[d][p] + before));
    }
  }
  if (grad) {
    std::vector<std::pair<int64_t, int64_t>> widths;
    for (size_t d = 0; d < nd; ++d) widths.push_back(width(d));
    Shape in_shape = a.shape();
    autograd::record("pad", {a}, out, {},
                     [widths, in_shape, source](const Tensor& g, const std::vector<Tensor>&) {
                       return std::vector<Tensor>{pad_backward(g, widths, in_shape, source)};
                     });
  }
  return traced.output(out);
}

Tensor repeat(const Tensor& a, int64_t repeats, std::optional<int64_t> axis) {
  RAVEL_CHECK(repeats >= 0, "repeat: repeats must be non-negative, got ", repeats);
  Shape split = axis ? a.shape() : Shape{a.numel()};
  int64_t ax = normalize_axis(axis.value_or(0), static_cast<int64_t>(split.size()), "repeat");
  Shape shape = split;
  shape[ax] *= repeats;
  // out viewed as [..., n, repeats, ...] takes src broadcast along the new repeats axis.
  split.insert(static_cast<size_t>(ax) + 1, repeats);
  bool grad = autograd::needs_grad(a);
  Tensor out = empty(shape, a.dtype());
  {
    NoGradGuard ng;
    Tensor src = axis ? a : a.reshape({-1});
    out.view(split).copy_(src.unsqueeze(ax + 1).expand(split));
  }
  if (grad) {
    Shape in_shape = a.shape();
    autograd::record("repeat", {a}, out, {},
                     [split, ax, in_shape](const Tensor& g, const std::vector<Tensor>&) {
                       return std::vector<Tensor>{sum(g.reshape(split), ax + 1).reshape(in_shape)};
                     });
  }
  return out;
}

Tensor repeat(const Tensor& a, const Tensor& repeats, std::optional<int64_t> axis) {
  RAVEL_CHECK(is_integral(repeats.dtype()) && repeats.ndim() <= 1,
              "repeat: repeats must be a 0-d or 1-D integer tensor, got shape ", repeats.shape(),
              " dtype ", dtype_name(repeats.dtype()));
  if (repeats.numel() == 1) return repeat(a, repeats.item<int64_t>(), axis);  // broadcasts
  Tensor src = axis ? a : a.reshape({-1});
  int64_t ax = normalize_axis(axis.value_or(0), src.ndim(), "repeat");
  int64_t n = src.shape()[ax];
  RAVEL_CHECK(repeats.numel() == n, "repeat: ", repeats.numel(), " repeats given for axis ", ax,
              " of size ", n, " (shape ", src.shape(), ")");
  std::vector<int64_t> r = repeats.to_vector<int64_t>();
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i) {
    RAVEL_CHECK(r[i] >= 0, "repeat: repeats must be non-negative, got ", r[i]);
    idx.insert(idx.end(), static_cast<size_t>(r[i]), i);
  }
  return take(src, from_vector(idx), ax);
}

Tensor tile(const Tensor& a, const Shape& reps) {
  for (int64_t r : reps) RAVEL_CHECK(r >= 0, "tile: repetitions must be non-negative, got ", reps);
  size_t nd = std::max<size_t>(reps.size(), static_cast<size_t>(a.ndim()));
  Shape sh(nd, 1), rp(nd, 1);
  for (size_t i = 0; i < static_cast<size_t>(a.ndim()); ++i) sh[nd - a.ndim() + i] = a.shape()[i];
  for (size_t i = 0; i < reps.size(); ++i) rp[nd - reps.size() + i] = reps[i];
  // out viewed as [r0, s0, r1, s1, ...] takes a viewed as [1, s0, 1, s1, ...], broadcast.
  Shape out_shape(nd), inter, src_shape;
  for (size_t i = 0; i < nd; ++i) {
    out_shape[i] = sh[i] * rp[i];
    inter.push_back(rp[i]);
    inter.push_back(sh[i]);
    src_shape.push_back(1);
    src_shape.push_back(sh[i]);
  }
  bool grad = autograd::needs_grad(a);
  Tensor out = empty(out_shape, a.dtype());
  {
    NoGradGuard ng;
    out.view(inter).copy_(a.reshape(src_shape).expand(inter));
  }
  if (grad) {
    Shape rep_axes, in_shape = a.shape();
    for (size_t i = 0; i < nd; ++i) rep_axes.push_back(static_cast<int64_t>(2 * i));
    autograd::record(
        "tile", {a}, out, {},
        [inter, rep_axes, in_shape](const Tensor& g, const std::vector<Tensor>&) {
          return std::vector<Tensor>{sum(g.reshape(inter), Axes(rep_axes)).reshape(in_shape)};
        });
  }
  return out;
}

// Zeroes, in a contiguous copy of `a`, the part of each matrix on one side of diagonal k: bytes
// of zero are zero in every dtype, so one memset per row does it for all of them.
static Tensor triangle(const Tensor& a, int64_t k, bool lower, const char* op) {
  RAVEL_CHECK(a.ndim() >= 2, op, ": input must have at least 2 dimensions, got shape ", a.shape());
  bool grad = autograd::needs_grad(a);
  Tensor out;
  {
    NoGradGuard ng;
    out = a.clone();
  }
  if (grad)  // the node saves nothing, so it may be recorded before the data is written
    autograd::record(op, {a}, out, {}, [k, lower](const Tensor& g, const std::vector<Tensor>&) {
      return std::vector<Tensor>{lower ? tril(g, k) : triu(g, k)};
    });
  int64_t rows = a.shape()[a.ndim() - 2], cols = a.shape()[a.ndim() - 1];
  if (out.numel() == 0) return out;
  int64_t nrows = out.numel() / cols;
  char* base = static_cast<char*>(out.raw_data());
  size_t sz = out.itemsize();
  parallel_for(nrows, std::max<int64_t>(1, kParallelGrain / cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      int64_t i = r % rows;
      // lower keeps columns j <= i + k; upper keeps j >= i + k
      int64_t lo = lower ? std::clamp<int64_t>(i + k + 1, 0, cols) : 0;
      int64_t hi = lower ? cols : std::clamp<int64_t>(i + k, 0, cols);
      if (hi > lo) std::memset(base + (r * cols + lo) * sz, 0, (hi - lo) * sz);
    }
  });
  return out;
}

Tensor tril(const Tensor& a, int64_t k) { return triangle(a, k, true, "tril"); }
Tensor triu(const Tensor& a, int64_t k) { return triangle(a, k, false, "triu"); }

Tensor diag(const Tensor& a, int64_t k) {
  if (a.ndim() == 2) return a.diagonal(k).clone();
  RAVEL_CHECK(a.ndim() == 1, "diag: input must be 1-D or 2-D, got shape ", a.shape());
  int64_t n = a.shape()[0] + (k < 0 ? -k : k);
  bool grad = autograd::needs_grad(a);
  Tensor out = zeros({n, n}, a.dtype());
  {
    NoGradGuard ng;
    out.diagonal(k).copy_(a);
  }
  if (grad)
    autograd::record("diag", {a}, out, {}, [k](const Tensor& g, const std::vector<Tensor>&) {
      return std::vector<Tensor>{g.diagonal(k)};
    });
  return out;
}

std::vector<Tensor> meshgrid(const std::vector<Tensor>& ts, const std::string& indexing) {
  RAVEL_CHECK(indexing == "xy" || indexing == "ij",
              "meshgrid: indexing must be 'xy' or 'ij', got '", indexing, "'");
  size_t n = ts.size();
  Shape shape(n);
  for (size_t i = 0; i < n; ++i) shape[i] = ts[i].numel();
  bool xy = indexing == "xy" && n >= 2;
  if (xy) std::swap(shape[0], shape[1]);
  std::vector<Tensor> out;
  for (size_t i = 0; i < n; ++i) {
    size_t pos = xy && i < 2 ? 1 - i : i;
    Shape s(n, 1);
    s[pos] = shape[pos];
    out.push_back(ts[i].reshape(s).expand(shape).clone());
  }
  return out;
}

Tensor ravel(const Tensor& a) { return a.reshape({-1}); }

}  // namespace ravel
