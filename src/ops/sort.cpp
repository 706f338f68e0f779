// Sorting and search: sort, argsort, topk, unique, searchsorted, bincount, histogram, nonzero.
//
// Order is NumPy's: NaN sorts after every number (descending puts it first), ties keep their
// original order (stable). Rows along the sorted axis are independent and split across threads.
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "core/dispatch.h"
#include "core/parallel.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel {
namespace {

template <typename C>
bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>)
    return std::isnan(v);
  else
    return false;
}

// a before b in ascending order, NaN last.
template <typename C>
bool less_nan(C a, C b) {
  return a < b || (is_nan(b) && !is_nan(a));
}

template <typename C>
bool equal_nan(C a, C b) {
  return a == b || (is_nan(a) && is_nan(b));
}

template <typename T>
compute_t<T> cv(T x) {
  return static_cast<compute_t<T>>(x);
}

// `a` with `axis` moved last, as a contiguous copy: rows of length size(axis).
Tensor rows_last(const Tensor& a, int64_t axis) {
  Shape perm;
  for (int64_t d = 0; d < a.ndim(); ++d)
    if (d != axis) perm.push_back(d);
  perm.push_back(axis);
  return a.permute(perm).contiguous();
}

// Undoes rows_last on a result whose last axis replaced `axis`.
Tensor rows_back(const Tensor& r, int64_t axis) {
  const int64_t nd = r.ndim();
  Shape perm;
  for (int64_t d = 0, src = 0; d < nd; ++d) perm.push_back(d == axis ? nd - 1 : src++);
  return r.permute(perm).contiguous();
}

// Calls fn(row_begin, row_end) over `rows` rows of length `len`, split across threads.
template <typename Fn>
void for_rows(int64_t rows, int64_t len, Fn&& fn) {
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(len, 1)), fn);
}

// Stable argsort of one row of n values into idx (descending: reversed order, NaN first).
template <typename T>
void argsort_row(const T* v, int64_t n, int64_t* idx, bool descending) {
  std::iota(idx, idx + n, int64_t{0});
  if (descending)
    std::stable_sort(idx, idx + n,
                     [&](int64_t i, int64_t j) { return less_nan(cv(v[j]), cv(v[i])); });
  else
    std::stable_sort(idx, idx + n,
                     [&](int64_t i, int64_t j) { return less_nan(cv(v[i]), cv(v[j])); });
}

Tensor sort_impl(const Tensor& a, int64_t axis_in, bool descending, bool want_indices) {
  const char* op = want_indices ? "argsort" : "sort";
  NoGradGuard ng;  // the copies below are internal; sort() records its own node
  if (a.ndim() == 0) {
    RAVEL_CHECK(axis_in == -1 || axis_in == 0, op, ": axis ", axis_in,
                " is out of bounds for a 0-d tensor");
    return want_indices ? zeros({}, DType::Int64) : a.clone();
  }
  const int64_t axis = normalize_axis(axis_in, a.ndim(), op);
  Tensor x = rows_last(a, axis);
  if (!want_indices && x.shares_storage(a)) x = x.clone();  // sorted in place below
  const int64_t n = x.ndim() ? x.shape().back() : 1;
  const int64_t rows = n ? x.numel() / n : 0;
  Tensor out = want_indices ? empty(x.shape(), DType::Int64) : x;
  visit_dtype(a.dtype(), [&]<typename T>() {
    T* base = x.data_ptr<T>();
    for_rows(rows, n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        T* v = base + r * n;
        if (want_indices) {
          argsort_row(v, n, out.data_ptr<int64_t>() + r * n, descending);
          continue;
        }
        // Values only: equal values are interchangeable, so an unstable sort is fine.
        T* end = std::partition(v, v + n, [](T t) { return !is_nan(cv(t)); });
        std::sort(v, end, [](T p, T q) { return cv(p) < cv(q); });
        if (descending) std::reverse(v, v + n);
      }
    });
  });
  return rows_back(out, axis);
}

// values are a gathered at idx along axis: the gradient goes back to where each value came from
// (scatter_add: differentiable again, and an index never repeats within a line).
void record_gather(const char* name, const Tensor& a, const Tensor& values, const Tensor& idx,
                   int64_t axis) {
  autograd::record(
      name, {a}, values, {idx},
      [shape = a.shape(), axis](const Tensor& g, const std::vector<Tensor>& s) {
        return std::vector<Tensor>{scatter_add(zeros(shape, g.dtype()), axis, s[0], g)};
      });
}

}  // namespace

// With grad: the values are gathered through argsort's indices, which backward needs.
Tensor sort(const Tensor& a, int64_t axis, bool descending) {
  if (!autograd::needs_grad(a)) return sort_impl(a, axis, descending, false);
  Tensor idx = sort_impl(a, axis, descending, true), vals;  // checks the axis
  if (a.ndim() == 0) return a.clone();                      // clone records its own node
  const int64_t ax = normalize_axis(axis, a.ndim(), "sort");
  {
    NoGradGuard ng;
    vals = take_along_axis(a, idx, ax);
  }
  record_gather("sort", a, vals, idx, ax);
  return vals;
}

Tensor argsort(const Tensor& a, int64_t axis, bool descending) {
  return sort_impl(a, axis, descending, true);
}

std::pair<Tensor, Tensor> topk(const Tensor& a, int64_t k, int64_t axis_in, bool largest) {
  RAVEL_CHECK(a.ndim() > 0, "topk: needs at least 1 dim, got a 0-d tensor");
  const int64_t axis = normalize_axis(axis_in, a.ndim(), "topk");
  const int64_t n = a.size(axis);
  RAVEL_CHECK(k >= 0 && k <= n, "topk: k = ", k, " is out of range for size ", n, " of axis ",
              axis_in, " (shape ", a.shape(), ")");
  Tensor x;
  {
    NoGradGuard ng;
    x = rows_last(a, axis);
  }
  Shape oshape = x.shape();
  oshape.back() = k;
  Tensor vals = empty(oshape, a.dtype()), idx = empty(oshape, DType::Int64);
  const int64_t rows = n ? x.numel() / n : 0;
  if (k > 0) {
    visit_dtype(a.dtype(), [&]<typename T>() {
      const T* base = x.data_ptr<T>();
      T* pv = vals.data_ptr<T>();
      int64_t* pi = idx.data_ptr<int64_t>();
      for_rows(rows, n, [&](int64_t b, int64_t e) {
        std::vector<int64_t> order(static_cast<size_t>(n));
        for (int64_t r = b; r < e; ++r) {
          const T* v = base + r * n;
          std::iota(order.begin(), order.end(), int64_t{0});
          // Largest: NaN first, then descending; ties by lower index (as a stable sort).
          auto before = [&](int64_t i, int64_t j) {
            auto vi = cv(v[i]), vj = cv(v[j]);
            if (equal_nan(vi, vj)) return i < j;
            return largest ? less_nan(vj, vi) : less_nan(vi, vj);
          };
          std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
          for (int64_t j = 0; j < k; ++j) {
            pi[r * k + j] = order[j];
            pv[r * k + j] = v[order[j]];
          }
        }
      });
    });
  }
  Tensor v = rows_back(vals, axis), i = rows_back(idx, axis);
  if (autograd::needs_grad(a)) record_gather("topk", a, v, i, axis);
  return {v, i};
}

UniqueResult unique(const Tensor& a, bool return_index, bool return_inverse, bool return_counts) {
  Tensor x = a.reshape({-1}).contiguous();
  const int64_t n = x.numel();
  std::vector<int64_t> order(static_cast<size_t>(n));
  UniqueResult res;
  visit_dtype(a.dtype(), [&]<typename T>() {
    const T* v = x.data_ptr<T>();
    argsort_row(v, n, order.data(), false);  // stable: each group starts at its first occurrence
    std::vector<int64_t> starts;  // position in `order` where each group of equal values begins
    for (int64_t i = 0; i < n; ++i)
      if (i == 0 || !equal_nan(cv(v[order[i]]), cv(v[order[i - 1]]))) starts.push_back(i);
    const int64_t g = static_cast<int64_t>(starts.size());
    res.values = empty({g}, a.dtype());
    T* pv = res.values.data_ptr<T>();
    for (int64_t j = 0; j < g; ++j) pv[j] = v[order[starts[j]]];
    if (return_index) {
      res.indices = empty({g}, DType::Int64);
      for (int64_t j = 0; j < g; ++j) res.indices.data_ptr<int64_t>()[j] = order[starts[j]];
    }
    if (return_counts) {
      res.counts = empty({g}, DType::Int64);
      for (int64_t j = 0; j < g; ++j)
        res.counts.data_ptr<int64_t>()[j] = (j + 1 < g ? starts[j + 1] : n) - starts[j];
    }
    if (return_inverse) {
      res.inverse = empty({n}, DType::Int64);
      int64_t* inv = res.inverse.data_ptr<int64_t>();
      for (int64_t j = 0; j < g; ++j)
        for (int64_t i = starts[j]; i < (j + 1 < g ? starts[j + 1] : n); ++i) inv[order[i]] = j;
    }
  });
  return res;
}

Tensor searchsorted(const Tensor& sorted, const Tensor& values, bool right) {
  RAVEL_CHECK(sorted.ndim() == 1, "searchsorted: sorted must be 1-D, got shape ", sorted.shape());
  const DType ct = promote_types(sorted.dtype(), values.dtype());
  Tensor s = sorted.to(ct).contiguous(), v = values.to(ct).contiguous();
  Tensor out = empty(values.shape(), DType::Int64);
  visit_dtype(ct, [&]<typename T>() {
    const T* ps = s.data_ptr<T>();
    const T* pv = v.data_ptr<T>();
    int64_t* po = out.data_ptr<int64_t>();
    const int64_t n = s.numel();
    parallel_for(v.numel(), 4096, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        auto q = cv(pv[i]);
        const T* it =
            right ? std::upper_bound(ps, ps + n, pv[i], [&](T, T t) { return less_nan(q, cv(t)); })
                  : std::lower_bound(ps, ps + n, pv[i], [&](T t, T) { return less_nan(cv(t), q); });
        po[i] = it - ps;
      }
    });
  });
  return out;
}

Tensor bincount(const Tensor& x, std::optional<Tensor> weights, int64_t minlength) {
  RAVEL_CHECK(x.ndim() == 1, "bincount: input must be 1-D, got shape ", x.shape());
  RAVEL_CHECK(is_integral(x.dtype(), true), "bincount: input must be integer or bool, got ",
              dtype_name(x.dtype()));
  RAVEL_CHECK(minlength >= 0, "bincount: minlength must be non-negative, got ", minlength);
  std::vector<int64_t> xs = x.to_vector<int64_t>();
  int64_t len = minlength;
  for (int64_t v : xs) {
    RAVEL_CHECK(v >= 0, "bincount: input must be non-negative, found ", v);
    len = std::max(len, v + 1);
  }
  if (!weights) {
    Tensor out = zeros({len}, DType::Int64);
    int64_t* p = out.data_ptr<int64_t>();
    for (int64_t v : xs) ++p[v];
    return out;
  }
  RAVEL_CHECK(weights->shape() == x.shape(), "bincount: weights shape ", weights->shape(),
              " does not match input shape ", x.shape());
  std::vector<double> w = weights->to_vector<double>();  // NumPy sums weights as float64
  Tensor out = zeros({len}, DType::Float64);
  double* p = out.data_ptr<double>();
  for (size_t i = 0; i < xs.size(); ++i) p[xs[i]] += w[i];
  return out;
}

std::pair<Tensor, Tensor> histogram(const Tensor& a, int64_t bins,
                                    std::optional<std::pair<double, double>> range) {
  RAVEL_CHECK(bins >= 1, "histogram: bins must be positive, got ", bins);
  Tensor x = a.reshape({-1});
  double lo = 0, hi = 1;
  if (range) {
    std::tie(lo, hi) = *range;
    RAVEL_CHECK(lo <= hi, "histogram: max must be larger than min in range [", lo, ", ", hi, "]");
    RAVEL_CHECK(std::isfinite(lo) && std::isfinite(hi), "histogram: range [", lo, ", ", hi,
                "] is not finite");
  } else if (x.numel() > 0) {
    lo = amin(x).item<double>();
    hi = amax(x).item<double>();
    RAVEL_CHECK(std::isfinite(lo) && std::isfinite(hi), "histogram: autodetected range of [", lo,
                ", ", hi, "] is not finite (shape ", a.shape(), ")");
  }
  if (lo == hi) lo -= 0.5, hi += 0.5;
  // Edges as numpy.linspace: start + i * step in float64, the last one exactly hi.
  // Edges dtype as NumPy's (float64 for integers); bfloat16 bins in float32 (NumPy has none).
  const DType et = a.dtype() == DType::BFloat16 ? DType::Float32
                   : is_floating(a.dtype())     ? a.dtype()
                                                : DType::Float64;
  Tensor edges64 = empty({bins + 1}, DType::Float64);
  double* pe = edges64.data_ptr<double>();
  const double step = (hi - lo) / static_cast<double>(bins);
  for (int64_t i = 0; i <= bins; ++i) pe[i] = static_cast<double>(i) * step + lo;
  pe[bins] = hi;
  Tensor edges = edges64.to(et);
  Tensor hist = zeros({bins}, DType::Int64);
  int64_t* ph = hist.data_ptr<int64_t>();
  Tensor xc = x.to(et).contiguous();
  visit_dtype(et, [&]<typename E>() {
    if constexpr (is_float_v<E>) {
      using C = compute_t<E>;
      const E* px = xc.data_ptr<E>();
      const E* pedge = edges.data_ptr<E>();
      const C first = static_cast<C>(lo), last = static_cast<C>(hi);
      const C norm = static_cast<C>(static_cast<double>(bins) / (hi - lo));
      for (int64_t i = 0, n = xc.numel(); i < n; ++i) {
        C v = cv(px[i]);
        if (!(v >= first && v <= last)) continue;  // outside the range, or NaN
        // NumPy's guess from the scaled value, then corrected against the actual edges.
        int64_t k = std::clamp<int64_t>(static_cast<int64_t>((v - first) * norm), 0, bins - 1);
        if (v < cv(pedge[k]))
          --k;
        else if (k != bins - 1 && v >= cv(pedge[k + 1]))
          ++k;
        ++ph[std::clamp<int64_t>(k, 0, bins - 1)];
      }
    }
  });
  return {hist, edges};
}

Tensor nonzero(const Tensor& a) {
  Tensor x = a.contiguous();
  const int64_t nd = a.ndim(), n = x.numel();
  std::vector<uint8_t> nz(static_cast<size_t>(n));
  int64_t count = 0;
  visit_dtype(a.dtype(), [&]<typename T>() {
    const T* p = x.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) {
      nz[i] = cv(p[i]) != 0;
      count += nz[i];
    }
  });
  Tensor out = empty({count, nd}, DType::Int64);
  int64_t* po = out.data_ptr<int64_t>();
  Shape idx(static_cast<size_t>(nd), 0);
  for (int64_t i = 0; i < n; ++i) {
    if (nz[i]) po = std::copy(idx.begin(), idx.end(), po);
    for (int64_t d = nd - 1; d >= 0 && ++idx[d] == a.shape()[d]; --d) idx[d] = 0;
  }
  return out;
}

}  // namespace ravel
