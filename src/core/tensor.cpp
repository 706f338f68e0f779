// Storage, tensor metadata, views, copies and casts: everything that makes a Tensor a strided
// view over shared memory. Each view and copy records its autograd node next to it; the no-grad
// path costs one branch on autograd::needs_grad.
#include "ravel/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/allocator.h"
#include "core/dispatch.h"
#include "core/iter.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel {

// ---------------------------------------------------------------- storage
Storage::Storage(size_t nbytes) : nbytes_(nbytes) {
  kind_ = nbytes <= sizeof(small_) ? Kind::Inline : Kind::Allocated;
  data_ = kind_ == Kind::Inline ? small_ : allocate_bytes(nbytes);
}

Storage::Storage(void* data, size_t nbytes, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), deleter_(std::move(deleter)), kind_(Kind::External) {}

Storage::~Storage() {
  if (kind_ == Kind::Allocated)
    deallocate_bytes(data_, nbytes_);
  else if (kind_ == Kind::External && deleter_)
    deleter_(data_);
}

// ---------------------------------------------------------------- shape helpers
int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size(), 1);
  int64_t acc = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    st[d] = acc;
    acc *= std::max<int64_t>(shape[d], 1);
  }
  return st;
}

int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op) {
  RAVEL_CHECK(axis >= -ndim && axis < ndim, op, ": axis ", axis,
              " is out of bounds for a tensor of dimension ", ndim);
  return axis < 0 ? axis + ndim : axis;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    RAVEL_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

static bool is_c_contiguous(const Shape& sh, const Shape& st) {
  int64_t expected = 1;
  for (size_t d = sh.size(); d-- > 0;) {
    if (sh[d] == 1) continue;
    if (st[d] != expected) return false;
    expected *= sh[d];
  }
  return true;
}

static std::shared_ptr<TensorImpl> make_impl(std::shared_ptr<Storage> st, Shape shape,
                                             Shape strides, int64_t offset, DType dtype) {
  auto impl = std::allocate_shared<TensorImpl>(PoolAllocator<TensorImpl>());
  impl->storage = std::move(st);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = dtype;
  impl->contiguous = is_c_contiguous(impl->shape, impl->strides);
  return impl;
}

// ---------------------------------------------------------------- metadata
void Tensor::throw_undefined() {
  throw Error("tensor is undefined (default-constructed): it has no shape, dtype or data");
}

int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis(axis, ndim(), "size")]; }

int64_t Tensor::numel() const { return shape_numel(shape()); }

bool Tensor::shares_storage(const Tensor& o) const {
  return defined() && o.defined() && storage()->data() == o.storage()->data();
}

void Tensor::check_dtype(DType expected, const char* op) const {
  RAVEL_CHECK(dtype() == expected, op, ": tensor has dtype ", dtype_name(dtype()), " but ",
              dtype_name(expected), " was expected");
}

Scalar Tensor::item_scalar() const {
  RAVEL_CHECK(numel() == 1,
              "item: only a tensor with one element can be converted to a scalar, "
              "got shape ",
              shape());
  return visit_dtype(dtype(), [&]<typename T>() -> Scalar {
    T v = *static_cast<const T*>(raw_data());
    if constexpr (std::is_same_v<T, bool>)
      return Scalar(v);
    else
      return Scalar(v);
  });
}

// ---------------------------------------------------------------- views
// A view of t's storage that records nothing: the public view methods record their own node.
static Tensor make_view(const Tensor& t, const Shape& shape, const Shape& strides, int64_t offset) {
  Tensor v(make_impl(t.storage(), shape, strides, offset, t.dtype()));
  v.impl().is_view = true;
  return v;
}

static Tensor copy_of(const Tensor& t);
static void copy_into(const Tensor& dst, const Tensor& src);

namespace {

// Records out = op(in) for a one-input op whose gradient is backward(g), written with
// differentiable ops (so create_graph gives higher derivatives). Out of line: keeps building the
// node off the no-grad path.
template <typename F>
[[gnu::noinline]] void record_unary(const char* name, const Tensor& in, const Tensor& out,
                                    F backward) {
  autograd::record(name, {in}, out, {},
                   [backward = std::move(backward)](const Tensor& g, const std::vector<Tensor>&) {
                     return std::vector<Tensor>{backward(g)};
                   });
}

// The backward of a view that picks distinct elements of its base (slice, select, diagonal):
// zeros of the base's shape with g written where the view looks. Differentiable: its own
// backward is the same view of the incoming gradient.
template <typename View>
Tensor view_scatter(const Tensor& g, const Shape& base_shape, View view, const char* name) {
  Tensor out = zeros(base_shape, g.dtype());
  copy_into(view(out), g);  // out requires no grad: view() records nothing
  if (autograd::needs_grad(g)) record_unary(name, g, out, view);
  return out;
}

// Sums g over the axes that expand() broadcast, back to `shape`.
Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  size_t lead = g.shape().size() - shape.size();
  Shape axes;
  for (size_t d = 0; d < g.shape().size(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1))
      axes.push_back(static_cast<int64_t>(d));
  return sum(g, Axes(axes), true).reshape(shape);
}

// Storage positions (in elements) of every element of a (shape, strides, offset) view, C order.
std::vector<int64_t> storage_positions(const Shape& shape, const Shape& strides, int64_t offset) {
  std::vector<int64_t> pos(static_cast<size_t>(shape_numel(shape)));
  Shape ix(shape.size(), 0);
  int64_t p = offset;
  for (int64_t& out : pos) {
    out = p;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++ix[d] < shape[d]) {
        p += strides[d];
        break;
      }
      p -= (shape[d] - 1) * strides[d];
      ix[d] = 0;
    }
  }
  return pos;
}

// as_strided's backward: each element of the view adds its gradient to the input element at the
// same storage position (nothing where the view reaches outside the input). Where input elements
// overlap in memory (expanded), the first of them gets it.
[[gnu::noinline]] void record_as_strided(const Tensor& in, const Tensor& out) {
  Shape xs = in.shape(), xst = in.strides(), os = out.shape(), ost = out.strides();
  int64_t xo = in.offset(), oo = out.offset();
  record_unary("as_strided", in, out, [=](const Tensor& g) {
    std::vector<int64_t> xp = storage_positions(xs, xst, xo);
    std::vector<int64_t> op = storage_positions(os, ost, oo);
    int64_t nx = static_cast<int64_t>(xp.size());
    if (nx == 0 || op.empty()) return zeros(xs, g.dtype());
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int64_t p : xp) lo = std::min(lo, p), hi = std::max(hi, p);
    for (int64_t p : op) lo = std::min(lo, p), hi = std::max(hi, p);
    // the input element at each storage position; nx (a slot that is dropped) where none
    std::vector<int64_t> owner(static_cast<size_t>(hi - lo + 1), nx);
    for (int64_t k = nx; k-- > 0;) owner[static_cast<size_t>(xp[k] - lo)] = k;
    for (int64_t& p : op) p = owner[static_cast<size_t>(p - lo)];
    Tensor acc = scatter_add(zeros({nx + 1}, g.dtype()), 0, from_vector(op), g.reshape({-1}));
    return acc.slice(0, 0, nx).reshape(xs);
  });
}

// Views that only regroup the elements (reshape, view, squeeze, unsqueeze): the gradient is
// reshaped back.
Tensor regrouped(const Tensor& in, const Tensor& out, const char* name) {
  if (autograd::needs_grad(in)) [[unlikely]] {
    Shape in_shape = in.shape();
    record_unary(name, in, out, [in_shape](const Tensor& g) { return g.reshape(in_shape); });
  }
  return out;
}

}  // namespace

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  RAVEL_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape, " and strides ", strides,
              " differ in length");
  // Every element must lie inside the storage: [lo, hi] are the first and last reached.
  int64_t lo = offset, hi = offset;
  bool empty_view = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    RAVEL_CHECK(shape[d] >= 0, "as_strided: negative size in shape ", shape);
    empty_view |= shape[d] == 0;
    (strides[d] < 0 ? lo : hi) += (shape[d] - 1) * strides[d];
  }
  int64_t capacity = static_cast<int64_t>(storage()->nbytes() / itemsize());
  RAVEL_CHECK(empty_view || (lo >= 0 && hi < capacity), "as_strided: shape ", shape, ", strides ",
              strides, " and offset ", offset, " reach elements [", lo, ", ", hi,
              "] outside the storage of ", capacity, " elements");
  Tensor out = make_view(*this, shape, strides, offset);
  if (autograd::needs_grad(*this)) [[unlikely]]
    record_as_strided(*this, out);
  return out;
}

// Strides for viewing a tensor of (old_shape, old_strides) as new_shape without copying, or
// nothing when the memory layout does not allow it (the algorithm PyTorch and NumPy use).
static std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides,
                                         const Shape& new_shape) {
  Shape out(new_shape.size(), 0);
  // empty or 0-d (one element): any shape of the same numel is a view
  if (shape_numel(old_shape) == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.size() ? old_strides.back() : 1;
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 ||
        (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

static Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      RAVEL_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape);
      infer = static_cast<int64_t>(i);
    } else {
      RAVEL_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    RAVEL_CHECK(known != 0 && numel % known == 0, op, ": cannot reshape tensor of shape ", from,
                " into shape ", shape);
    out[infer] = numel / known;
  }
  RAVEL_CHECK(shape_numel(out) == numel, op, ": cannot reshape tensor of shape ", from, " (", numel,
              " elements) into shape ", shape);
  return out;
}

Tensor Tensor::view(const Shape& new_shape) const {
  Shape shp = infer_shape(new_shape, numel(), shape(), "view");
  auto st = view_strides(shape(), strides(), shp);
  RAVEL_CHECK(st.has_value(), "view: shape ", shp, " is not compatible with the strides ",
              strides(), " of a tensor of shape ", shape(), "; use reshape (which copies)");
  return regrouped(*this, make_view(*this, shp, *st, offset()), "view");
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape shp = infer_shape(new_shape, numel(), shape(), "reshape");
  auto st = view_strides(shape(), strides(), shp);
  Tensor out = st ? make_view(*this, shp, *st, offset())
                  : make_view(copy_of(*this), shp, contiguous_strides(shp), 0);
  if (!st) out.impl().is_view = false;  // a fresh copy, not a view of this tensor
  return regrouped(*this, out, "reshape");
}

Tensor Tensor::flatten(int64_t start_axis, int64_t end_axis) const {
  if (ndim() == 0) return reshape({1});
  int64_t s = normalize_axis(start_axis, ndim(), "flatten");
  int64_t e = normalize_axis(end_axis, ndim(), "flatten");
  RAVEL_CHECK(s <= e, "flatten: start axis ", start_axis, " is after end axis ", end_axis);
  Shape out;
  for (int64_t d = 0; d < s; ++d) out.push_back(shape()[d]);
  int64_t m = 1;
  for (int64_t d = s; d <= e; ++d) m *= shape()[d];
  out.push_back(m);
  for (int64_t d = e + 1; d < ndim(); ++d) out.push_back(shape()[d]);
  return reshape(out);
}

Tensor Tensor::permute(const Shape& axes) const {
  RAVEL_CHECK(static_cast<int64_t>(axes.size()) == ndim(), "permute: got ", axes.size(), " axes ",
              axes, " for a tensor of dimension ", ndim());
  Shape sh(axes.size()), st(axes.size());
  std::vector<bool> seen(axes.size(), false);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = normalize_axis(axes[i], ndim(), "permute");
    RAVEL_CHECK(!seen[a], "permute: axis ", axes[i], " repeated in ", axes);
    seen[a] = true;
    sh[i] = shape()[a];
    st[i] = strides()[a];
  }
  Tensor out = make_view(*this, sh, st, offset());
  if (autograd::needs_grad(*this)) [[unlikely]] {
    graph::detail::TracedOp traced("Transpose", {*this});
    Shape inverse(axes.size());
    std::vector<int64_t> perm(axes.size());
    for (size_t i = 0; i < axes.size(); ++i) {
      perm[i] = normalize_axis(axes[i], ndim(), "permute");
      inverse[perm[i]] = static_cast<int64_t>(i);
    }
    if (traced) traced.attr("perm", perm);
    record_unary("permute", *this, out, [inverse](const Tensor& g) { return g.permute(inverse); });
    traced.output(out);
  }
  return out;
}

Tensor Tensor::transpose() const {
  Shape axes(ndim());
  for (int64_t i = 0; i < ndim(); ++i) axes[i] = ndim() - 1 - i;
  return permute(axes);
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  a = normalize_axis(a, ndim(), "transpose");
  b = normalize_axis(b, ndim(), "transpose");
  Shape sh = shape(), st = strides();
  std::swap(sh[a], sh[b]);
  std::swap(st[a], st[b]);
  Tensor out = make_view(*this, sh, st, offset());
  if (autograd::needs_grad(*this)) [[unlikely]] {
    graph::detail::TracedOp traced("Transpose", {*this});
    if (traced) {
      std::vector<int64_t> perm(static_cast<size_t>(ndim()));
      for (int64_t i = 0; i < ndim(); ++i) perm[i] = i;
      std::swap(perm[a], perm[b]);
      traced.attr("perm", perm);
    }
    record_unary("transpose", *this, out, [a, b](const Tensor& g) { return g.transpose(a, b); });
    traced.output(out);
  }
  return out;
}

// broadcast_to without recording (copy_ broadcasts its source with it).
static Tensor expand_view(const Tensor& t, const Shape& target) {
  RAVEL_CHECK(target.size() >= t.shape().size(), "broadcast_to: cannot broadcast shape ", t.shape(),
              " to ", target, " (target has fewer dimensions)");
  size_t lead = target.size() - t.shape().size();
  Shape st(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      RAVEL_CHECK(target[i] >= 0, "broadcast_to: invalid target shape ", target);
      continue;
    }
    int64_t s = t.shape()[i - lead];
    if (s == target[i])
      st[i] = t.strides()[i - lead];
    else
      RAVEL_CHECK(s == 1, "broadcast_to: cannot broadcast shape ", t.shape(), " to ", target);
  }
  return make_view(t, target, st, t.offset());
}

Tensor Tensor::expand(const Shape& target) const {
  Tensor out = expand_view(*this, target);
  if (autograd::needs_grad(*this)) [[unlikely]] {
    Shape in_shape = shape();
    record_unary("expand", *this, out, [in_shape](const Tensor& g) { return sum_to(g, in_shape); });
  }
  return out;
}

Tensor Tensor::squeeze() const {
  Shape sh, st;
  for (int64_t d = 0; d < ndim(); ++d)
    if (shape()[d] != 1) {
      sh.push_back(shape()[d]);
      st.push_back(strides()[d]);
    }
  return regrouped(*this, make_view(*this, sh, st, offset()), "squeeze");
}

Tensor Tensor::squeeze(int64_t axis) const {
  axis = normalize_axis(axis, ndim(), "squeeze");
  RAVEL_CHECK(shape()[axis] == 1,
              "squeeze: cannot select an axis to squeeze out which has size "
              "not equal to one (axis ",
              axis, " of shape ", shape(), ")");
  Shape sh = shape(), st = strides();
  sh.erase(axis);
  st.erase(axis);
  return regrouped(*this, make_view(*this, sh, st, offset()), "squeeze");
}

Tensor Tensor::unsqueeze(int64_t axis) const {
  axis = normalize_axis(axis, ndim() + 1, "unsqueeze");
  Shape sh = shape(), st = strides();
  int64_t stride = axis < ndim() ? st[axis] * sh[axis] : 1;
  sh.insert(axis, 1);
  st.insert(axis, stride);
  return regrouped(*this, make_view(*this, sh, st, offset()), "unsqueeze");
}

Tensor Tensor::slice(int64_t axis, std::optional<int64_t> start, std::optional<int64_t> stop,
                     int64_t step) const {
  axis = normalize_axis(axis, ndim(), "slice");
  RAVEL_CHECK(step != 0, "slice: slice step cannot be zero");
  int64_t len = shape()[axis];
  // Python's slice.indices()
  int64_t lower = step < 0 ? -1 : 0, upper = step < 0 ? len - 1 : len;
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += len;
      if (x < lower) x = lower;
    } else if (x > upper) {
      x = upper;
    }
    return x;
  };
  int64_t b = adjust(start, step < 0 ? upper : lower);
  int64_t e = adjust(stop, step < 0 ? lower : upper);
  int64_t n = 0;
  if (step > 0 && b < e) n = (e - b + step - 1) / step;
  if (step < 0 && e < b) n = (b - e + (-step) - 1) / (-step);
  Shape sh = shape(), st = strides();
  sh[axis] = n;
  st[axis] = strides()[axis] * step;
  int64_t off = offset() + (n > 0 ? b * strides()[axis] : 0);
  Tensor out = make_view(*this, sh, st, off);
  if (autograd::needs_grad(*this)) [[unlikely]] {
    graph::detail::TracedOp traced("Slice", {*this});
    if (traced) {
      std::vector<Index> idx(static_cast<size_t>(axis), Index(Slice()));
      idx.emplace_back(Slice(start, stop, step));
      traced.index(idx, shape());
    }
    Shape in_shape = shape();
    record_unary("slice", *this, out, [=](const Tensor& g) {
      return view_scatter(
          g, in_shape, [=](const Tensor& t) { return t.slice(axis, start, stop, step); },
          "slice_backward");
    });
    traced.output(out);
  }
  return out;
}

Tensor Tensor::select(int64_t axis, int64_t i) const {
  axis = normalize_axis(axis, ndim(), "select");
  int64_t len = shape()[axis];
  RAVEL_CHECK(i >= -len && i < len, "index ", i, " is out of bounds for axis ", axis, " with size ",
              len);
  if (i < 0) i += len;
  Shape sh = shape(), st = strides();
  sh.erase(axis);
  st.erase(axis);
  Tensor out = make_view(*this, sh, st, offset() + i * strides()[axis]);
  if (autograd::needs_grad(*this)) [[unlikely]] {
    Shape in_shape = shape();
    record_unary("select", *this, out, [=](const Tensor& g) {
      return view_scatter(
          g, in_shape, [=](const Tensor& t) { return t.select(axis, i); }, "select_backward");
    });
  }
  return out;
}

Tensor Tensor::diagonal(int64_t off, int64_t axis1, int64_t axis2) const {
  axis1 = normalize_axis(axis1, ndim(), "diagonal");
  axis2 = normalize_axis(axis2, ndim(), "diagonal");
  RAVEL_CHECK(axis1 != axis2, "diagonal: axis1 and axis2 cannot be the same (", axis1, ")");
  int64_t n1 = shape()[axis1], n2 = shape()[axis2];
  int64_t len = off >= 0 ? std::max<int64_t>(0, std::min(n1, n2 - off))
                         : std::max<int64_t>(0, std::min(n1 + off, n2));
  int64_t start = offset();
  if (len > 0) start += off >= 0 ? off * strides()[axis2] : -off * strides()[axis1];
  Shape sh, st;
  for (int64_t d = 0; d < ndim(); ++d)
    if (d != axis1 && d != axis2) {
      sh.push_back(shape()[d]);
      st.push_back(strides()[d]);
    }
  sh.push_back(len);
  st.push_back(strides()[axis1] + strides()[axis2]);
  Tensor out = make_view(*this, sh, st, start);
  if (autograd::needs_grad(*this)) [[unlikely]] {
    Shape in_shape = shape();
    record_unary("diagonal", *this, out, [=](const Tensor& g) {
      return view_scatter(
          g, in_shape, [=](const Tensor& t) { return t.diagonal(off, axis1, axis2); },
          "diagonal_backward");
    });
  }
  return out;
}

// ---------------------------------------------------------------- iteration
TensorIter::TensorIter(std::initializer_list<const Tensor*> operands) {
  nops_ = static_cast<int>(operands.size());
  RAVEL_CHECK(nops_ >= 1 && nops_ <= kMaxOperands, "internal: TensorIter takes 1..", kMaxOperands,
              " operands");
  const Tensor& first = **operands.begin();
  const Shape& full = first.shape();
  numel_ = shape_numel(full);
  int k = 0;
  std::array<Shape, kMaxOperands> st;
  for (const Tensor* t : operands) {
    RAVEL_CHECK(t->shape() == full, "internal: TensorIter operand shapes differ: ", t->shape(),
                " vs ", full);
    base_[k] = static_cast<char*>(t->raw_data());
    st[k] = t->strides();
    for (auto& s : st[k]) s *= static_cast<int64_t>(t->itemsize());
    ++k;
  }
  // Drop size-1 axes, then merge neighbours that are contiguous for every operand.
  for (size_t d = 0; d < full.size(); ++d) {
    if (full[d] == 1) continue;
    bool merge = !shape_.empty();
    for (int o = 0; o < nops_ && merge; ++o) merge = strides_[o].back() == st[o][d] * full[d];
    if (merge) {
      shape_.back() *= full[d];
      for (int o = 0; o < nops_; ++o) strides_[o].back() = st[o][d];
    } else {
      shape_.push_back(full[d]);
      for (int o = 0; o < nops_; ++o) strides_[o].push_back(st[o][d]);
    }
  }
  if (shape_.empty()) {
    shape_.push_back(numel_ == 0 ? 0 : 1);
    for (int o = 0; o < nops_; ++o) strides_[o].push_back(0);
  }
  contiguous_ = shape_.size() == 1;
  for (int o = 0; o < nops_; ++o) inner_stride_[o] = strides_[o].back();
}

// ---------------------------------------------------------------- copies and casts
static void fill_into(const Tensor& t, const Scalar& v) {
  visit_dtype(t.dtype(), [&]<typename T>() {
    T value;
    if constexpr (std::is_same_v<T, bool>)
      value = v.to_bool();
    else if constexpr (is_float_v<T>)
      value = cast_value<T>(v.to_double());
    else
      value = v.is_floating() ? cast_value<T>(v.to_double()) : static_cast<T>(v.to_int());
    TensorIter it({&t});
    it.for_each([&](char** p, const int64_t* s, int64_t n) {
      if (s[0] == static_cast<int64_t>(sizeof(T))) {
        T* out = reinterpret_cast<T*>(p[0]);
        for (int64_t i = 0; i < n; ++i) out[i] = value;
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = value;
      }
    });
  });
  t.bump_version();
}

// dst = src (broadcast, cast), recording nothing.
static void copy_into(const Tensor& dst, const Tensor& src_in) {
  Tensor src = src_in.shape() == dst.shape() ? src_in : expand_view(src_in, dst.shape());
  if (src.shares_storage(dst) && !src.is_same(dst)) src = copy_of(src);  // overlap-safe
  if (src.dtype() == dst.dtype() && dst.is_contiguous() && src.is_contiguous()) {
    if (dst.numel() > 0 && dst.raw_data() != src.raw_data())
      std::memcpy(dst.raw_data(), src.raw_data(), dst.nbytes());
  } else {
    TensorIter it({&dst, &src});
    visit_dtype(dst.dtype(), [&]<typename To>() {
      visit_dtype(src.dtype(), [&]<typename From>() {
        map_kernel<To, From>(it, [](From v) { return cast_value<To>(v); });
      });
    });
  }
  dst.bump_version();
}

static Tensor copy_of(const Tensor& t) {
  Tensor out = empty(t.shape(), t.dtype());
  copy_into(out, t);
  return out;
}

// In-place writes to a tensor with history (PyTorch's semantics): the result is computed out of
// place, recorded, and becomes self's data and history. The old value of self gets a zero
// gradient; `src` (copy_ only) gets the incoming gradient, summed to its shape and cast by the
// engine.
[[gnu::noinline]] static Tensor& overwrite_with_grad(Tensor& self, const Tensor* src,
                                                     const Scalar& value, const char* op) {
  autograd::check_inplace(self, op);
  Tensor result = empty(self.shape(), self.dtype());
  std::vector<Tensor> inputs{self};
  if (src) {
    copy_into(result, *src);
    inputs.push_back(*src);
  } else {
    fill_into(result, value);
  }
  bool self_grad = autograd::requires_grad(self), has_src = src != nullptr;
  autograd::record(op, inputs, result, {},
                   [self_grad, has_src](const Tensor& g, const std::vector<Tensor>&) {
                     std::vector<Tensor> grads{self_grad ? zeros_like(g) : Tensor()};
                     if (has_src) grads.push_back(g);
                     return grads;
                   });
  return autograd::rebase_history(self, result, op);
}

Tensor& Tensor::fill_(const Scalar& v) {
  if (autograd::needs_grad(*this)) [[unlikely]]
    return overwrite_with_grad(*this, nullptr, v, "fill_");
  fill_into(*this, v);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (autograd::needs_grad(*this, src)) [[unlikely]]
    return overwrite_with_grad(*this, &src, 0, "copy_");
  copy_into(*this, src);
  return *this;
}

Tensor Tensor::clone() const {
  Tensor out = copy_of(*this);
  if (autograd::needs_grad(*this)) [[unlikely]]
    record_unary("clone", *this, out, [](const Tensor& g) { return g; });
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

// The gradient comes back as is: the engine casts it to this tensor's dtype.
Tensor Tensor::to(DType t, bool copy) const {
  if (t == dtype() && !copy) return *this;
  Tensor out = empty(shape(), t);
  copy_into(out, *this);
  if (autograd::needs_grad(*this)) [[unlikely]]
    record_unary("to", *this, out, [](const Tensor& g) { return g; });
  return out;
}

// ---------------------------------------------------------------- creation
Tensor empty(const Shape& shape, DType dtype) {
  // The hot path of every op's output: one pass over the shape, no intermediate Shapes.
  auto impl = std::allocate_shared<TensorImpl>(PoolAllocator<TensorImpl>());
  impl->shape = shape;
  impl->strides.resize(shape.size());
  int64_t stride = 1, numel = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    RAVEL_CHECK(shape[d] >= 0, "empty: negative dimension ", shape[d], " in shape ", shape);
    impl->strides[d] = stride;
    // Overflow-checked: a zero dim next to huge ones has no elements but still needs strides.
    bool overflow = __builtin_mul_overflow(stride, std::max<int64_t>(shape[d], 1), &stride);
    overflow |= __builtin_mul_overflow(numel, shape[d], &numel);
    RAVEL_CHECK(!overflow, "empty: shape ", shape, " is too large (its size overflows int64)");
  }
  impl->dtype = dtype;
  impl->storage = std::allocate_shared<Storage>(PoolAllocator<Storage>(),
                                                static_cast<size_t>(numel) * itemsize(dtype));
  return Tensor(std::move(impl));
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter,
                 std::optional<Shape> strides) {
  RAVEL_CHECK(data != nullptr || shape_numel(shape) == 0, "from_blob: data pointer is null");
  Shape st = strides ? *strides : contiguous_strides(shape);
  RAVEL_CHECK(st.size() == shape.size(), "from_blob: strides ", st, " do not match shape ", shape);
  int64_t extent = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    RAVEL_CHECK(shape[d] >= 0 && st[d] >= 0, "from_blob: negative size or stride in shape ", shape,
                " strides ", st);
    if (shape[d] > 0) extent += (shape[d] - 1) * st[d];
  }
  if (shape_numel(shape) == 0) extent = 0;
  auto storage = std::make_shared<Storage>(data, static_cast<size_t>(extent) * itemsize(dtype),
                                           std::move(deleter));
  return Tensor(make_impl(std::move(storage), shape, st, 0, dtype));
}

Tensor from_buffer(const void* data, const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  if (t.nbytes()) std::memcpy(t.raw_data(), data, t.nbytes());
  return t;
}

}  // namespace ravel
