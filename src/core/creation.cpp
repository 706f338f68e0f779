// Tensors made from nothing: constants, ranges, identity, nested lists.
#include <cmath>

#include "core/dispatch.h"
#include "ravel/tensor.h"

namespace ravel {

Tensor zeros(const Shape& shape, DType dtype) { return empty(shape, dtype).fill_(0); }
Tensor ones(const Shape& shape, DType dtype) { return empty(shape, dtype).fill_(1); }
Tensor full(const Shape& shape, const Scalar& value, std::optional<DType> dtype) {
  return empty(shape, dtype.value_or(value.default_dtype())).fill_(value);
}
Tensor empty_like(const Tensor& t, std::optional<DType> dtype) {
  return empty(t.shape(), dtype.value_or(t.dtype()));
}
Tensor zeros_like(const Tensor& t, std::optional<DType> dtype) {
  return zeros(t.shape(), dtype.value_or(t.dtype()));
}
Tensor ones_like(const Tensor& t, std::optional<DType> dtype) {
  return ones(t.shape(), dtype.value_or(t.dtype()));
}
Tensor full_like(const Tensor& t, const Scalar& value, std::optional<DType> dtype) {
  return full(t.shape(), value, dtype.value_or(t.dtype()));
}
Tensor scalar_tensor(const Scalar& value, std::optional<DType> dtype) {
  return full({}, value, dtype);
}

Tensor arange(const Scalar& stop, std::optional<DType> dtype) { return arange(0, stop, 1, dtype); }

Tensor arange(const Scalar& start, const Scalar& stop, const Scalar& step,
              std::optional<DType> dtype) {
  bool all_int = !start.is_floating() && !stop.is_floating() && !step.is_floating();
  DType dt = dtype.value_or(all_int ? kDefaultInt : kDefaultFloat);
  double b = start.to_double(), e = stop.to_double(), s = step.to_double();
  RAVEL_CHECK(s != 0, "arange: step must not be zero");
  RAVEL_CHECK(std::isfinite(b) && std::isfinite(e) && std::isfinite(s),
              "arange: start, stop and step must be finite");
  int64_t n = 0;
  if (all_int) {
    int64_t bi = start.to_int(), ei = stop.to_int(), si = step.to_int();
    if (si > 0 && bi < ei) n = (ei - bi + si - 1) / si;
    if (si < 0 && ei < bi) n = (bi - ei - si - 1) / (-si);
  } else {
    n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((e - b) / s)));
  }
  Tensor t = empty({n}, dt);
  visit_dtype(dt, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    if (all_int && !is_float_v<T>) {
      int64_t bi = start.to_int(), si = step.to_int();
      for (int64_t i = 0; i < n; ++i) p[i] = cast_value<T>(bi + i * si);
    } else {
      // NumPy fills from the first two values and their difference, in the output type.
      using C = compute_t<T>;
      if constexpr (std::is_same_v<T, bool>) {
        for (int64_t i = 0; i < n; ++i) p[i] = (b + i * s) != 0;
      } else {
        C first = static_cast<C>(b), delta = static_cast<C>(static_cast<C>(b + s) - first);
        for (int64_t i = 0; i < n; ++i)
          p[i] = cast_value<T>(static_cast<C>(first + static_cast<C>(i) * delta));
      }
    }
  });
  return t;
}

Tensor linspace(double start, double stop, int64_t num, bool endpoint, DType dtype) {
  RAVEL_CHECK(num >= 0, "linspace: number of samples must be non-negative, got ", num);
  Tensor t = empty({num}, dtype);
  int64_t div = endpoint ? num - 1 : num;
  double delta = stop - start;
  visit_dtype(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < num; ++i) {
      double v = div > 0 ? start + i * (delta / div) : start + i * delta;
      if (endpoint && num > 1 && i == num - 1) v = stop;
      p[i] = cast_value<T>(v);
    }
  });
  return t;
}

Tensor logspace(double start, double stop, int64_t num, bool endpoint, double base, DType dtype) {
  Tensor e = linspace(start, stop, num, endpoint, DType::Float64);
  Tensor t = empty({num}, dtype);
  const double* pe = e.data_ptr<double>();
  visit_dtype(dtype, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < num; ++i) p[i] = cast_value<T>(std::pow(base, pe[i]));
  });
  return t;
}

Tensor eye(int64_t n, std::optional<int64_t> m, int64_t k, DType dtype) {
  int64_t cols = m.value_or(n);
  RAVEL_CHECK(n >= 0 && cols >= 0, "eye: negative size (", n, ", ", cols, ")");
  Tensor t = zeros({n, cols}, dtype);
  t.diagonal(k).fill_(1);
  return t;
}

// ---------------------------------------------------------------- nested lists
namespace {
void infer_nested(const NestedList& l, size_t depth, Shape& shape, bool& any_float, bool& any_int,
                  bool& shape_known) {
  if (l.is_leaf()) {
    RAVEL_CHECK(!shape_known || shape.size() == depth,
                "tensor: ragged nested list (a value at "
                "depth ",
                depth, " where lists of shape ", shape, " were expected)");
    if (!shape_known) {
      shape.resize(depth);
      shape_known = true;
    }
    any_float |= l.value().is_floating();
    any_int |= l.value().is_integral();
    return;
  }
  int64_t n = static_cast<int64_t>(l.items().size());
  if (!shape_known) {
    if (shape.size() <= depth) shape.push_back(n);
  }
  RAVEL_CHECK(shape.size() > depth && shape[depth] == n, "tensor: ragged nested list (a list of ",
              n, " items at depth ", depth, " where ", shape.size() > depth ? shape[depth] : 0,
              " were expected)");
  if (n == 0 && !shape_known) {
    shape.resize(depth + 1);
    shape_known = true;
  }
  for (const auto& item : l.items())
    infer_nested(item, depth + 1, shape, any_float, any_int, shape_known);
}

void collect_leaves(const NestedList& l, std::vector<Scalar>& out) {
  if (l.is_leaf())
    out.push_back(l.value());
  else
    for (const auto& item : l.items()) collect_leaves(item, out);
}
}  // namespace

Tensor tensor(const NestedList& values, std::optional<DType> dtype) {
  Shape shape;
  bool any_float = false, any_int = false, known = false;
  infer_nested(values, 0, shape, any_float, any_int, known);
  DType dt = dtype.value_or(any_float ? kDefaultFloat : any_int ? kDefaultInt : DType::Bool);
  if (!any_float && !any_int && !dtype && shape_numel(shape) == 0) dt = kDefaultFloat;
  std::vector<Scalar> leaves;
  collect_leaves(values, leaves);
  Tensor t = empty(shape, dt);
  visit_dtype(dt, [&]<typename T>() {
    T* p = t.data_ptr<T>();
    for (size_t i = 0; i < leaves.size(); ++i) {
      const Scalar& s = leaves[i];
      if (s.is_floating())
        p[i] = cast_value<T>(s.to_double());
      else
        p[i] = cast_value<T>(s.to_int());
    }
  });
  return t;
}

}  // namespace ravel
