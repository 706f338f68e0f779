// NumPy indexing. Basic indices (integers, slices, newaxis, ellipsis) turn into a view; advanced
// indices (integer tensors, boolean masks) then pick, for each entry of their broadcast shape B,
// a byte offset into that view. The copy is one TensorIter loop over the result with three
// operands: the result, the offsets (stride 0 along the view's other axes R) and the view (stride
// 0 along B); elements move by item size (1, 2, 4 or 8 bytes), not by dtype.
//
// Autograd: index's backward scatters the gradient back through the same index, adding where an
// index repeats (as PyTorch); that scatter is itself an op whose backward is index again, so
// double backward works. gather and scatter_add are each other's backward.
#include <algorithm>
#include <cstring>
#include <limits>

#include "core/dispatch.h"
#include "core/iter.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel {
namespace {

constexpr int64_t kSerial = std::numeric_limits<int64_t>::max() / 4;  // grain: never split

// Throws unless every value of the int64 tensor `idx` is in [-size, size).
void check_bounds(const Tensor& idx, int64_t size, int64_t axis, const char* op) {
  int64_t bad = 0;
  bool found = false;
  TensorIter it({&idx});
  it.for_each(
      [&](char** p, const int64_t* s, int64_t n) {
        for (int64_t i = 0; i < n && !found; ++i) {
          int64_t v = *reinterpret_cast<const int64_t*>(p[0] + i * s[0]);
          if (v < -size || v >= size) found = true, bad = v;
        }
      },
      kSerial);
  RAVEL_CHECK(!found, op, ": index ", bad, " is out of bounds for axis ", axis, " with size ",
              size);
}

Tensor as_index(const Tensor& t, const char* op) {
  RAVEL_CHECK(is_integral(t.dtype()), op,
              ": arrays used as indices must be of integer (or boolean) type, got ",
              dtype_name(t.dtype()), " with shape ", t.shape());
  return t.to(DType::Int64);
}

// Coordinates of the true entries of a bool tensor: one int64 1-D tensor per axis, C order.
std::vector<Tensor> mask_coords(const Tensor& mask) {
  Tensor m = mask.contiguous();
  const bool* p = m.data_ptr<bool>();
  int64_t n = m.numel(), count = 0;
  for (int64_t i = 0; i < n; ++i) count += p[i];
  size_t nd = static_cast<size_t>(m.ndim());
  Tensor coords = empty({static_cast<int64_t>(nd), count}, DType::Int64);
  int64_t* c = coords.data_ptr<int64_t>();
  int64_t inner = nd ? m.shape()[nd - 1] : 1;
  for (int64_t row = 0, k = 0; inner > 0 && row < n / inner; ++row) {
    const bool* q = p + row * inner;
    for (int64_t j = 0; j < inner; ++j) {
      if (!q[j]) continue;
      int64_t rem = row;
      for (size_t d = nd - 1; d-- > 0;) {
        c[d * count + k] = rem % m.shape()[d];
        rem /= m.shape()[d];
      }
      c[(nd - 1) * count + k] = j;
      ++k;
    }
  }
  std::vector<Tensor> out;
  for (size_t d = 0; d < nd; ++d) out.push_back(coords.select(0, static_cast<int64_t>(d)));
  return out;
}

// An index expression after its basic part is applied: `view`, plus the advanced indices, each
// at an axis of `view` (ascending), with the original axis for messages.
struct Parsed {
  Tensor view;
  struct Adv {
    int64_t dim, orig_axis;
    Tensor idx;  // int64
  };
  std::vector<Adv> adv;
};

Parsed parse_index(const Tensor& self, const std::vector<Index>& idx, const char* op) {
  bool has_adv = false, has_ellipsis = false;
  int64_t consumed = 0;
  for (const Index& i : idx) {
    switch (i.kind()) {
      case Index::Kind::Integer:
      case Index::Kind::Slice:
        ++consumed;
        break;
      case Index::Kind::NewAxis:
        break;
      case Index::Kind::Ellipsis:
        RAVEL_CHECK(!has_ellipsis, op, ": an index can only have a single ellipsis ('...')");
        has_ellipsis = true;
        break;
      case Index::Kind::Tensor:
        RAVEL_CHECK(i.tensor().defined(), op, ": index tensor is undefined");
        has_adv = true;
        consumed += i.tensor().dtype() == DType::Bool ? i.tensor().ndim() : 1;
        break;
    }
  }
  RAVEL_CHECK(consumed <= self.ndim(), op, ": too many indices for tensor of shape ", self.shape(),
              ": tensor is ", self.ndim(), "-dimensional, but ", consumed, " were indexed");
  Parsed r{self, {}};
  Tensor& v = r.view;
  int64_t d = 0, orig = 0;  // axis of the view, axis of self
  for (const Index& i : idx) {
    switch (i.kind()) {
      case Index::Kind::Integer: {
        int64_t size = v.shape()[d];
        RAVEL_CHECK(i.integer() >= -size && i.integer() < size, op, ": index ", i.integer(),
                    " is out of bounds for axis ", orig, " with size ", size);
        if (has_adv) {  // NumPy: with array indices, integers are array indices too
          r.adv.push_back({d++, orig, scalar_tensor(i.integer(), DType::Int64)});
        } else {
          v = v.select(d, i.integer());
        }
        ++orig;
        break;
      }
      case Index::Kind::Slice: {
        const Slice& s = i.slice();
        RAVEL_CHECK(s.step != 0, op, ": slice step cannot be zero");
        v = v.slice(d++, s.start, s.stop, s.step);
        ++orig;
        break;
      }
      case Index::Kind::NewAxis:
        v = v.unsqueeze(d++);
        break;
      case Index::Kind::Ellipsis:
        d += self.ndim() - consumed;
        orig += self.ndim() - consumed;
        break;
      case Index::Kind::Tensor: {
        const Tensor& t = i.tensor();
        if (t.dtype() != DType::Bool) {
          r.adv.push_back({d++, orig++, as_index(t, op)});
          break;
        }
        if (t.ndim() == 0) {  // a[True] / a[False]: a new axis of length 1 or 0
          v = v.unsqueeze(d);
          r.adv.push_back({d++, orig, mask_coords(t.reshape({1}))[0]});
          break;
        }
        for (int64_t k = 0; k < t.ndim(); ++k)
          RAVEL_CHECK(t.shape()[k] == v.shape()[d + k], op, ": boolean index of shape ", t.shape(),
                      " did not match the indexed tensor of shape ", self.shape(), " at axis ",
                      orig + k, ": size ", v.shape()[d + k], " vs ", t.shape()[k]);
        std::vector<Tensor> coords = mask_coords(t);
        for (Tensor& c : coords) r.adv.push_back({d++, orig++, std::move(c)});
        break;
      }
    }
  }
  return r;
}

// An advanced index ready to run: the result's shape, and two views of that shape over the
// byte offsets (int64) and over the indexed view, for a TensorIter.
struct AdvPlan {
  Shape result_shape;
  Tensor offsets;  // stride 0 along the axes that come from the view
  Tensor source;   // the indexed view, stride 0 along the axes that come from B
};

AdvPlan plan_advanced(const Parsed& p, const char* op) {
  const Tensor& v = p.view;
  int64_t isz = static_cast<int64_t>(v.itemsize());
  Shape b_shape;
  bool ok = true;
  for (const auto& a : p.adv) {
    try {
      b_shape = broadcast_shapes(b_shape, a.idx.shape(), op);
    } catch (const Error&) {
      ok = false;
    }
  }
  if (!ok) {
    std::ostringstream shapes;
    for (size_t j = 0; j < p.adv.size(); ++j) shapes << (j ? ", " : "") << p.adv[j].idx.shape();
    detail::throw_error(op,
                        ": shape mismatch: indexing tensors could not be broadcast together with "
                        "shapes ",
                        shapes.str());
  }
  Tensor offsets = zeros(b_shape, DType::Int64);
  for (const auto& a : p.adv) {
    int64_t size = v.shape()[a.dim], stride = v.strides()[a.dim] * isz;
    check_bounds(a.idx, size, a.orig_axis, op);
    Tensor ix = a.idx.expand(b_shape);
    TensorIter it({&offsets, &ix});
    it.for_each([&](char** q, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        int64_t x = *reinterpret_cast<const int64_t*>(q[1] + i * s[1]);
        *reinterpret_cast<int64_t*>(q[0] + i * s[0]) += (x < 0 ? x + size : x) * stride;
      }
    });
  }
  // Advanced axes next to each other keep their place; separated ones go first (NumPy's rule).
  bool adjacent = true;
  for (size_t j = 1; j < p.adv.size(); ++j) adjacent &= p.adv[j].dim == p.adv[j - 1].dim + 1;
  int64_t first = adjacent ? p.adv[0].dim : 0;
  Shape rest_shape, rest_strides;
  for (int64_t d = 0, j = 0; d < v.ndim(); ++d) {
    if (j < static_cast<int64_t>(p.adv.size()) && p.adv[j].dim == d) {
      ++j;
    } else {
      rest_shape.push_back(v.shape()[d]);
      rest_strides.push_back(v.strides()[d]);
    }
  }
  AdvPlan plan;
  Shape off_strides, src_strides;
  Shape b_strides = contiguous_strides(b_shape);
  auto push = [&](int64_t size, int64_t off_st, int64_t src_st) {
    plan.result_shape.push_back(size);
    off_strides.push_back(off_st);
    src_strides.push_back(src_st);
  };
  for (int64_t k = 0; k < first; ++k) push(rest_shape[k], 0, rest_strides[k]);
  for (size_t k = 0; k < b_shape.size(); ++k) push(b_shape[k], b_strides[k], 0);
  for (size_t k = first; k < rest_shape.size(); ++k) push(rest_shape[k], 0, rest_strides[k]);
  plan.offsets = offsets.as_strided(plan.result_shape, off_strides, 0);
  plan.source = v.as_strided(plan.result_shape, src_strides, v.offset());
  return plan;
}

// *o += v, wrapping for integers (as NumPy, without UB), logical or for bool.
template <typename T>
inline void add_to(T* o, T v) {
  if constexpr (std::is_same_v<T, bool>) {
    *o = *o || v;
  } else if constexpr (std::is_integral_v<T>) {
    using UT = std::make_unsigned_t<T>;
    *o = static_cast<T>(static_cast<UT>(static_cast<UT>(*o) + static_cast<UT>(v)));
  } else {
    *o = static_cast<T>(static_cast<compute_t<T>>(*o) + static_cast<compute_t<T>>(v));
  }
}

// Adds `dense` (operand 0) into the indexed view (operand 2) at the offsets (operand 1). Serial:
// repeated indices add up.
void run_index_add(const TensorIter& it, DType dtype) {
  visit_dtype(dtype, [&]<typename T>() {
    it.for_each(
        [&](char** p, const int64_t* s, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            T* at = reinterpret_cast<T*>(p[2] + i * s[2] +
                                         *reinterpret_cast<const int64_t*>(p[1] + i * s[1]));
            add_to(at, *reinterpret_cast<const T*>(p[0] + i * s[0]));
          }
        },
        kSerial);
  });
}

// Moves elements between `dense` (operand 0, the result or the value) and the indexed view
// (operand 2) at the offsets (operand 1): gathers, or scatters when Put.
template <bool Put>
void run_index(const TensorIter& it, size_t itemsize, int64_t grain) {
  visit_itemsize(itemsize, [&]<typename U>() {
    constexpr int64_t sz = sizeof(U);
    it.for_each(
        [&](char** p, const int64_t* s, int64_t n) {
          if (s[1] == 0 && s[0] == sz && s[2] == sz) {  // one index, a contiguous run
            char* at = p[2] + *reinterpret_cast<const int64_t*>(p[1]);
            if constexpr (Put)
              std::memcpy(at, p[0], static_cast<size_t>(n * sz));
            else
              std::memcpy(p[0], at, static_cast<size_t>(n * sz));
            return;
          }
          for (int64_t i = 0; i < n; ++i) {
            char* dense = p[0] + i * s[0];
            char* at = p[2] + i * s[2] + *reinterpret_cast<const int64_t*>(p[1] + i * s[1]);
            if constexpr (Put)
              std::memcpy(at, dense, sz);
            else
              std::memcpy(dense, at, sz);
          }
        },
        grain);
  });
}

// self[idx] = value, or += when accumulate (repeated indices add up). Records nothing.
void index_put_impl(const Tensor& self, const std::vector<Index>& idx, const Tensor& value,
                    bool accumulate) {
  Parsed p = parse_index(self, idx, "index_put_");
  AdvPlan plan;
  if (!p.adv.empty()) plan = plan_advanced(p, "index_put_");
  const Shape& target = p.adv.empty() ? p.view.shape() : plan.result_shape;
  bool ok = true;
  try {
    ok = broadcast_shapes(value.shape(), target, "index_put_") == target;
  } catch (const Error&) {
    ok = false;
  }
  RAVEL_CHECK(ok, "index_put_: could not broadcast value of shape ", value.shape(),
              " into indexed shape ", target);
  if (p.adv.empty()) {
    // copy_ casts, broadcasts, handles overlap and bumps the version
    if (accumulate)
      p.view.add_(value);
    else
      p.view.copy_(value);
    return;
  }
  Tensor val = value.to(self.dtype()).expand(target);
  if (val.shares_storage(self)) val = val.clone();  // read it all before writing
  TensorIter it({&val, &plan.offsets, &plan.source});
  if (accumulate)
    run_index_add(it, self.dtype());
  else  // serial, in C order: with repeated indices the last write wins, as in NumPy
    run_index<true>(it, self.itemsize(), kSerial);
  self.bump_version();
}

// An index without its tensors (kept by value in a backward function) and the tensors (saved).
std::vector<Index> strip_tensors(const std::vector<Index>& idx, std::vector<Tensor>& tensors) {
  std::vector<Index> out;
  for (const Index& i : idx) {
    if (i.kind() == Index::Kind::Tensor) {
      tensors.push_back(i.tensor());
      out.emplace_back(Tensor());
    } else {
      out.push_back(i);
    }
  }
  return out;
}

std::vector<Index> with_tensors(std::vector<Index> idx, const std::vector<Tensor>& tensors) {
  size_t k = 0;
  for (Index& i : idx)
    if (i.kind() == Index::Kind::Tensor) i = Index(tensors[k++]);
  return idx;
}

// index's backward: zeros of `shape` with g added at idx. Differentiable: its backward is
// gg.index(idx).
Tensor index_backward(const Tensor& g, const Shape& shape, const std::vector<Index>& idx) {
  bool grad = autograd::needs_grad(g);
  Tensor out = zeros(shape, g.dtype());
  {
    NoGradGuard ng;
    index_put_impl(out, idx, g, true);
  }
  if (grad) {
    std::vector<Tensor> tensors;
    std::vector<Index> stripped = strip_tensors(idx, tensors);
    autograd::record("index_backward", {g}, out, tensors,
                     [stripped](const Tensor& gg, const std::vector<Tensor>& saved) {
                       return std::vector<Tensor>{gg.index(with_tensors(stripped, saved))};
                     });
  }
  return out;
}

[[gnu::noinline]] void record_index(const Tensor& self, const std::vector<Index>& idx,
                                    const Tensor& out) {
  std::vector<Tensor> tensors;
  std::vector<Index> stripped = strip_tensors(idx, tensors);
  Shape shape = self.shape();
  autograd::record(
      "index", {self}, out, tensors,
      [stripped, shape](const Tensor& g, const std::vector<Tensor>& saved) {
        return std::vector<Tensor>{index_backward(g, shape, with_tensors(stripped, saved))};
      });
}

// index_put_ on a tensor with history, or with a value that requires grad: the write happens on
// a copy that becomes self's data and history. Grad to self: g with the written positions
// zeroed; to value: g at those positions (the engine sums it to value's shape).
[[gnu::noinline]] Tensor& index_put_with_grad(Tensor& self, const std::vector<Index>& idx,
                                              const Tensor& value) {
  autograd::check_inplace(self, "index_put_");
  Tensor result;
  {
    NoGradGuard ng;
    result = self.clone();
    index_put_impl(result, idx, value, false);
  }
  std::vector<Tensor> tensors;
  std::vector<Index> stripped = strip_tensors(idx, tensors);
  bool grad_self = autograd::requires_grad(self), grad_value = autograd::requires_grad(value);
  autograd::record(
      "index_put_", {self, value}, result, tensors,
      [stripped, grad_self, grad_value](const Tensor& g, const std::vector<Tensor>& saved) {
        std::vector<Index> ix = with_tensors(stripped, saved);
        Tensor g_self, g_value;
        if (grad_self) {
          g_self = g.clone();
          g_self.index_put_(ix, Scalar(0));
        }
        if (grad_value) g_value = g.index(ix);
        return std::vector<Tensor>{g_self, g_value};
      });
  return autograd::rebase_history(self, result, "index_put_");
}

}  // namespace

Tensor Tensor::index(const std::vector<Index>& idx) const {
  auto forward = [&] {
    Parsed p = parse_index(*this, idx, "index");
    if (p.adv.empty()) return p.view;
    AdvPlan plan = plan_advanced(p, "index");
    Tensor out = empty(plan.result_shape, dtype());
    TensorIter it({&out, &plan.offsets, &plan.source});
    run_index<false>(it, itemsize(), kParallelGrain);
    return out;
  };
  if (!autograd::needs_grad(*this)) return forward();
  graph::detail::TracedOp traced("Slice", {*this});
  if (traced) traced.index(idx, shape());
  Tensor out;
  {
    NoGradGuard ng;  // one node for the whole index, not one per view step
    out = forward();
  }
  record_index(*this, idx, out);
  return traced.output(out);
}

Tensor& Tensor::index_put_(const std::vector<Index>& idx, const Tensor& value) {
  if (autograd::needs_grad(*this, value)) [[unlikely]]
    return index_put_with_grad(*this, idx, value);
  index_put_impl(*this, idx, value, false);
  return *this;
}

Tensor& Tensor::index_put_(const std::vector<Index>& idx, const Scalar& value) {
  return index_put_(idx, scalar_tensor(value, dtype()));
}

Tensor take(const Tensor& a, const Tensor& indices, std::optional<int64_t> axis) {
  int64_t ax = axis ? normalize_axis(*axis, a.ndim(), "take") : 0;
  Tensor idx = as_index(indices, "take");
  check_bounds(idx, axis ? a.shape()[ax] : a.numel(), ax, "take");  // errors that name take
  if (!axis) return a.reshape({-1}).index({idx});
  std::vector<Index> index(static_cast<size_t>(ax), Slice());
  index.emplace_back(idx);
  return a.index(index);
}

Tensor gather(const Tensor& a, int64_t axis, const Tensor& index) {
  axis = normalize_axis(axis, a.ndim(), "gather");
  RAVEL_CHECK(index.ndim() == a.ndim(), "gather: index of shape ", index.shape(),
              " must have as many dimensions as the input of shape ", a.shape());
  for (int64_t d = 0; d < a.ndim(); ++d)
    RAVEL_CHECK(d == axis || index.shape()[d] <= a.shape()[d], "gather: index of shape ",
                index.shape(), " is larger than the input of shape ", a.shape(), " at axis ", d);
  Tensor idx = as_index(index, "gather");
  int64_t size = a.shape()[axis];
  check_bounds(idx, size, axis, "gather");
  bool grad = autograd::needs_grad(a);
  // src: a cut to the index's shape, with the gathered axis at stride 0 (the kernel adds it).
  Shape st = a.strides();
  int64_t axis_bytes = st[axis] * static_cast<int64_t>(a.itemsize());
  st[axis] = 0;
  Tensor src;
  {
    NoGradGuard ng;
    src = a.as_strided(index.shape(), st, a.offset());
  }
  Tensor out = empty(index.shape(), a.dtype());
  TensorIter it({&out, &idx, &src});
  visit_itemsize(a.itemsize(), [&]<typename U>() {
    it.for_each([&](char** p, const int64_t* s, int64_t n) {
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = *reinterpret_cast<const int64_t*>(p[1] + i * s[1]);
        if (k < 0) k += size;
        std::memcpy(p[0] + i * s[0], p[2] + i * s[2] + k * axis_bytes, sizeof(U));
      }
    });
  });
  if (grad) {
    Shape in_shape = a.shape();
    autograd::record(
        "gather", {a}, out, {idx},
        [axis, in_shape](const Tensor& g, const std::vector<Tensor>& saved) {
          return std::vector<Tensor>{scatter_add(zeros(in_shape, g.dtype()), axis, saved[0], g)};
        });
  }
  return out;
}

Tensor take_along_axis(const Tensor& a, const Tensor& indices, int64_t axis) {
  axis = normalize_axis(axis, a.ndim(), "take_along_axis");
  RAVEL_CHECK(indices.ndim() == a.ndim(), "take_along_axis: indices of shape ", indices.shape(),
              " and input of shape ", a.shape(), " must have the same number of dimensions");
  Shape sa = a.shape(), si = indices.shape();
  sa[axis] = si[axis] = 1;
  Shape common = broadcast_shapes(sa, si, "take_along_axis");
  Shape ta = common, ti = common;
  ta[axis] = a.shape()[axis];
  ti[axis] = indices.shape()[axis];
  return gather(a.expand(ta), axis, indices.expand(ti));
}

Tensor masked_select(const Tensor& a, const Tensor& mask) {
  RAVEL_CHECK(mask.dtype() == DType::Bool, "masked_select: mask must be bool, got ",
              dtype_name(mask.dtype()));
  Shape shape = broadcast_shapes(a.shape(), mask.shape(), "masked_select");
  return a.expand(shape).index({mask.expand(shape)});
}

// out[..., idx[i], ...] += src[i] along axis (serial: index entries may repeat). No recording.
static void scatter_add_into(const Tensor& out, int64_t axis, const Tensor& idx,
                             const Tensor& src) {
  int64_t size = out.shape()[axis];
  Shape st = out.strides();
  int64_t axis_bytes = st[axis] * static_cast<int64_t>(out.itemsize());
  st[axis] = 0;
  Tensor dst = out.as_strided(idx.shape(), st, out.offset());
  Tensor vals = src.to(out.dtype());
  vals = vals.as_strided(idx.shape(), vals.strides(), vals.offset());
  TensorIter it({&dst, &idx, &vals});
  visit_dtype(out.dtype(), [&]<typename T>() {
    it.for_each(
        [&](char** p, const int64_t* sd, int64_t n) {
          for (int64_t i = 0; i < n; ++i) {
            int64_t k = *reinterpret_cast<const int64_t*>(p[1] + i * sd[1]);
            if (k < 0) k += size;
            add_to(reinterpret_cast<T*>(p[0] + i * sd[0] + k * axis_bytes),
                   *reinterpret_cast<const T*>(p[2] + i * sd[2]));
          }
        },
        kSerial);
  });
  out.bump_version();
}

Tensor scatter_add(const Tensor& a, int64_t axis, const Tensor& index, const Tensor& src) {
  axis = normalize_axis(axis, a.ndim(), "scatter_add");
  RAVEL_CHECK(index.ndim() == a.ndim() && src.ndim() == a.ndim(), "scatter_add: input ", a.shape(),
              ", index ", index.shape(), " and src ", src.shape(),
              " must have the same number of dimensions");
  for (int64_t d = 0; d < a.ndim(); ++d)
    RAVEL_CHECK(
        index.shape()[d] <= src.shape()[d] && (d == axis || index.shape()[d] <= a.shape()[d]),
        "scatter_add: index of shape ", index.shape(), " is larger than src of shape ", src.shape(),
        " or input of shape ", a.shape(), " at axis ", d);
  Tensor idx = as_index(index, "scatter_add");
  check_bounds(idx, a.shape()[axis], axis, "scatter_add");
  bool grad = autograd::needs_grad(a, src);
  Tensor out;
  {
    NoGradGuard ng;
    out = a.clone();
    scatter_add_into(out, axis, idx, src);
  }
  if (grad) {
    bool grad_a = autograd::requires_grad(a), grad_src = autograd::requires_grad(src);
    // src may be larger than index: its gradient is zero outside index's extent
    std::vector<std::pair<int64_t, int64_t>> src_pad;
    bool padded = false;
    for (int64_t d = 0; d < src.ndim(); ++d) {
      src_pad.emplace_back(0, src.shape()[d] - index.shape()[d]);
      padded |= src_pad.back().second > 0;
    }
    autograd::record("scatter_add", {a, src}, out, {idx},
                     [=](const Tensor& g, const std::vector<Tensor>& saved) {
                       Tensor g_src;
                       if (grad_src) {
                         g_src = gather(g, axis, saved[0]);
                         if (padded) g_src = pad(g_src, src_pad);
                       }
                       return std::vector<Tensor>{grad_a ? g : Tensor(), g_src};
                     });
  }
  return out;
}

}  // namespace ravel
