// Reductions: sum, mean, prod, amax, amin, argmax, argmin, var, std, norm, all, any, logsumexp,
// count_nonzero, cumsum, cumprod.
//
// One engine (run_reduce) serves every reduction: an op is a small struct (identity, load,
// combine) and the engine picks a loop from the memory layout:
//   inner: the reduced axes form one contiguous run -> per output, a pairwise sum over blocks
//          with many independent lane accumulators (vectorises, accurate like NumPy's pairwise);
//   outer: the kept axes end in a contiguous row -> accumulate whole rows into an output tile
//          (vectorises across columns), blocked over rows for accuracy;
//   other: copy with the reduced axes moved innermost, then inner.
// Work is split across outputs, or across one long run when there are few outputs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "core/dispatch.h"
#include "core/iter.h"
#include "core/parallel.h"
#include "graph/trace_hook.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel {
namespace {

// ---------------------------------------------------------------- axes and layout plans

// Bitmask of the reduced axes; throws on out-of-range or duplicate axes.
uint64_t axes_mask(const Axes& axes, const Shape& shape, const char* op) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  RAVEL_CHECK(nd < 64, op, ": tensors with 64 or more dims are not supported, got shape ", shape);
  if (axes.all) return (uint64_t{1} << nd) - 1;
  uint64_t m = 0;
  for (int64_t ax : axes.dims) {
    RAVEL_CHECK(ax >= -nd && ax < nd, op, ": axis ", ax, " is out of bounds for shape ", shape);
    int64_t d = ax < 0 ? ax + nd : ax;
    RAVEL_CHECK(!((m >> d) & 1), op, ": duplicate axis ", ax, " in axes ", axes.dims, " for shape ",
                shape);
    m |= uint64_t{1} << d;
  }
  return m;
}

Shape reduced_shape(const Shape& shape, uint64_t mask, bool keepdims) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!((mask >> d) & 1))
      out.push_back(shape[d]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

int64_t reduced_count(const Shape& shape, uint64_t mask) {
  int64_t n = 1;
  for (size_t d = 0; d < shape.size(); ++d)
    if ((mask >> d) & 1) n *= shape[d];
  return n;
}

// How to walk a tensor for one reduction: the kept axes (in order, so outputs come out in C
// order) and the reduced axes (any order: made positive and sorted by stride so they merge).
struct Plan {
  Shape kshape, kstride;  // kept axes, size-1 axes dropped, contiguous neighbours merged
  Shape rshape, rstride;  // reduced axes, likewise
  int64_t offset = 0;     // element offset of the first element visited, from data_ptr
  int64_t n_out = 1, n_red = 1;
};

Plan make_plan(const Tensor& a, uint64_t mask) {
  Plan p;
  const Shape& sh = a.shape();
  const Shape& st = a.strides();
  Shape rs, rz;  // reduced strides and sizes before sorting
  for (size_t d = 0; d < sh.size(); ++d) {
    bool red = (mask >> d) & 1;
    (red ? p.n_red : p.n_out) *= sh[d];
    if (sh[d] == 1) continue;
    if (red) {
      int64_t s = st[d];
      if (s < 0 && sh[d] > 0) {  // walk flipped axes forwards: the order does not matter
        p.offset += (sh[d] - 1) * s;
        s = -s;
      }
      rs.push_back(s);
      rz.push_back(sh[d]);
    } else if (!p.kshape.empty() && p.kstride.back() == st[d] * sh[d]) {
      p.kshape.back() *= sh[d];
      p.kstride.back() = st[d];
    } else {
      p.kshape.push_back(sh[d]);
      p.kstride.push_back(st[d]);
    }
  }
  // Sort reduced axes by decreasing stride (insertion sort: few axes), then merge.
  for (size_t i = 1; i < rs.size(); ++i)
    for (size_t j = i; j > 0 && rs[j - 1] < rs[j]; --j) {
      std::swap(rs[j - 1], rs[j]);
      std::swap(rz[j - 1], rz[j]);
    }
  for (size_t i = 0; i < rs.size(); ++i) {
    if (!p.rshape.empty() && p.rstride.back() == rs[i] * rz[i]) {
      p.rshape.back() *= rz[i];
      p.rstride.back() = rs[i];
    } else {
      p.rshape.push_back(rz[i]);
      p.rstride.push_back(rs[i]);
    }
  }
  return p;
}

// Element offsets of a multi-index walked in C order.
struct OffsetIter {
  const Shape& shape;
  const Shape& stride;
  Shape idx;
  int64_t off = 0;
  OffsetIter(const Shape& sh, const Shape& st, int64_t linear)
      : shape(sh), stride(st), idx(sh.size(), 0) {
    for (size_t d = sh.size(); d-- > 0;) {
      idx[d] = linear % sh[d];
      linear /= sh[d];
      off += idx[d] * st[d];
    }
  }
  void next() {
    for (size_t d = shape.size(); d-- > 0;) {
      off += stride[d];
      if (++idx[d] < shape[d]) return;
      off -= idx[d] * stride[d];
      idx[d] = 0;
    }
  }
};

// ---------------------------------------------------------------- reduction ops
// An op maps each element into an accumulator (load) and folds accumulators (combine).

template <typename T>
auto compute(T x) {
  return static_cast<compute_t<T>>(x);
}

// Wrapping integer arithmetic (NumPy wraps; signed overflow would be UB).
template <typename A>
A wrap_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}
template <typename A>
A wrap_mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    using U = std::make_unsigned_t<A>;
    return static_cast<A>(static_cast<U>(a) * static_cast<U>(b));
  } else {
    return a * b;
  }
}

// sum/prod accumulate bool and integers in int64, float16/bfloat16 in float32.
template <typename T>
using sum_acc_t = std::conditional_t<is_float_v<T>, compute_t<T>, int64_t>;
// mean (and the norms) accumulate integers in float64.
template <typename T>
using float_acc_t = std::conditional_t<is_float_v<T>, compute_t<T>, double>;

template <typename T, typename A = sum_acc_t<T>>
struct SumOp {
  using In = T;
  using Acc = A;
  Acc identity() const { return Acc(0); }
  Acc load(T x) const { return static_cast<Acc>(compute(x)); }
  Acc combine(Acc a, Acc b) const { return wrap_add(a, b); }
};

template <typename T>
struct ProdOp {
  using In = T;
  using Acc = sum_acc_t<T>;
  Acc identity() const { return Acc(1); }
  Acc load(T x) const { return static_cast<Acc>(compute(x)); }
  Acc combine(Acc a, Acc b) const { return wrap_mul(a, b); }
};

template <typename A>
bool is_nan(A a) {
  if constexpr (std::is_floating_point_v<A>)
    return a != a;  // vectorises, unlike std::isnan
  else
    return false;
}

// max/min propagate NaN: a NaN on either side wins.
template <typename A>
A max_nan(A a, A b) {
  return (a > b || is_nan(a)) ? a : b;
}
template <typename A>
A min_nan(A a, A b) {
  return (a < b || is_nan(a)) ? a : b;
}

template <typename T>
struct MaxOp {
  using In = T;
  using Acc = compute_t<T>;
  Acc identity() const {
    if constexpr (std::is_floating_point_v<Acc>)
      return -std::numeric_limits<Acc>::infinity();
    else
      return std::numeric_limits<Acc>::lowest();
  }
  Acc load(T x) const { return compute(x); }
  Acc combine(Acc a, Acc b) const { return max_nan(a, b); }
};

template <typename T>
struct MinOp {
  using In = T;
  using Acc = compute_t<T>;
  Acc identity() const {
    if constexpr (std::is_floating_point_v<Acc>)
      return std::numeric_limits<Acc>::infinity();
    else
      return std::numeric_limits<Acc>::max();
  }
  Acc load(T x) const { return compute(x); }
  Acc combine(Acc a, Acc b) const { return min_nan(a, b); }
};

template <typename T>
struct CountNonzeroOp {
  using In = T;
  using Acc = int64_t;
  Acc identity() const { return 0; }
  Acc load(T x) const { return compute(x) != 0; }
  Acc combine(Acc a, Acc b) const { return a + b; }
};

// Norm pieces, instantiated only for floating inputs (integers are cast to float64 first).
template <typename T>
struct SumAbsOp : SumOp<T> {
  compute_t<T> load(T x) const { return std::abs(compute(x)); }
};
template <typename T>
struct SumSqOp : SumOp<T> {
  compute_t<T> load(T x) const { return compute(x) * compute(x); }
};
template <typename T>
struct MaxAbsOp : MaxOp<T> {
  compute_t<T> load(T x) const { return std::abs(compute(x)); }
};
template <typename T>
struct MinAbsOp : MinOp<T> {
  compute_t<T> load(T x) const { return std::abs(compute(x)); }
};
template <typename T>
struct SumPowOp : SumOp<T> {
  double p = 1;
  compute_t<T> load(T x) const {
    return static_cast<compute_t<T>>(std::pow(std::abs(compute(x)), static_cast<compute_t<T>>(p)));
  }
};

// ---------------------------------------------------------------- the engine

// Independent accumulators per contiguous run: 4 AVX-512 registers' worth, so the adds pipeline.
template <typename Acc>
inline constexpr int kLanes = sizeof(Acc) >= 4 ? 256 / static_cast<int>(sizeof(Acc)) : 64;
// Elements per pairwise leaf: each lane adds kLeaf / kLanes values in sequence (NumPy: 16).
template <typename Acc>
inline constexpr int64_t kLeaf = 16 * kLanes<Acc>;
inline constexpr int64_t kRowBlock = 128;  // rows folded into a tile before it joins the total

// Lane-wise pairwise reduction of x[0, n), n a multiple of kLanes: out gets kLanes partials.
// Combining whole lane vectors between leaves (not one scalar per leaf) keeps it vectorised.
template <typename Op>
void lanes_run(const Op& op, const typename Op::In* x, int64_t n, typename Op::Acc* out) {
  using Acc = typename Op::Acc;
  constexpr int L = kLanes<Acc>;
  if (n <= kLeaf<Acc>) {
    Acc acc[L];  // local, so it lives in registers (out might alias x)
    for (int j = 0; j < L; ++j) acc[j] = op.identity();
    for (int64_t i = 0; i < n; i += L)
      for (int j = 0; j < L; ++j) acc[j] = op.combine(acc[j], op.load(x[i + j]));
    std::copy(acc, acc + L, out);
    return;
  }
  const int64_t half = n / 2 / L * L;
  Acc rest[L];
  lanes_run(op, x, half, out);
  lanes_run(op, x + half, n - half, rest);
  for (int j = 0; j < L; ++j) out[j] = op.combine(out[j], rest[j]);
}

// One contiguous run: pairwise, so the error grows with log(n) like NumPy's pairwise sum.
template <typename Op>
typename Op::Acc reduce_run(const Op& op, const typename Op::In* x, int64_t n) {
  using Acc = typename Op::Acc;
  constexpr int L = kLanes<Acc>;
  const int64_t main = n / L * L;
  Acc r = op.identity();
  if (main) {
    Acc acc[L];
    lanes_run(op, x, main, acc);
    for (int w = L / 2; w > 0; w /= 2)
      for (int j = 0; j < w; ++j) acc[j] = op.combine(acc[j], acc[j + w]);
    r = acc[0];
  }
  for (int64_t i = main; i < n; ++i) r = op.combine(r, op.load(x[i]));
  return r;
}

// Number of pieces to split `work` elements into across threads (1: stay on this thread).
inline int64_t split_count(int64_t work) {
  return std::min<int64_t>({detail::max_threads(), work / kParallelGrain, 64});
}

// One long run split across threads; partial results combined pairwise.
template <typename Op>
typename Op::Acc reduce_run_parallel(const Op& op, const typename Op::In* x, int64_t n) {
  using Acc = typename Op::Acc;
  const int64_t chunks = split_count(n);
  if (chunks <= 1) return reduce_run(op, x, n);
  Acc part[64];
  parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      int64_t lo = n * c / chunks / kLanes<Acc> * kLanes<Acc>;
      int64_t hi = c + 1 == chunks ? n : n * (c + 1) / chunks / kLanes<Acc> * kLanes<Acc>;
      part[c] = reduce_run(op, x + lo, hi - lo);
    }
  });
  for (int64_t w = 1; w < chunks; w *= 2)
    for (int64_t c = 0; c + w < chunks; c += 2 * w) part[c] = op.combine(part[c], part[c + w]);
  return part[0];
}

// Inner strategy: every output reduces one contiguous run of n_red elements.
template <typename Op>
void reduce_inner(const Op& op, const typename Op::In* base, const Plan& p, typename Op::Acc* out) {
  const int64_t R = p.n_red;
  if (p.n_out < detail::max_threads() && split_count(R) > 1) {  // few long runs
    OffsetIter it(p.kshape, p.kstride, 0);
    for (int64_t o = 0; o < p.n_out; ++o, it.next())
      out[o] = reduce_run_parallel(op, base + it.off, R);
    return;
  }
  parallel_for(p.n_out, std::max<int64_t>(1, kParallelGrain / R), [&](int64_t b, int64_t e) {
    OffsetIter it(p.kshape, p.kstride, b);
    for (int64_t o = b; o < e; ++o, it.next()) out[o] = reduce_run(op, base + it.off, R);
  });
}

// Folds rows [r0, r1) of the reduced axes, each w contiguous elements from col, into tot
// (already initialised). Rows go four at a time into a block tile, blocks into tot: whole rows
// stream through memory and the column loops vectorise.
template <typename Op>
void fold_rows(const Op& op, const typename Op::In* col, const Plan& p, int64_t r0, int64_t r1,
               int64_t w, typename Op::Acc* tot) {
  using Acc = typename Op::Acc;
  using In = typename Op::In;
  alignas(64) Acc blk[16384 / sizeof(Acc)];
  OffsetIter rows(p.rshape, p.rstride, r0);
  for (int64_t b0 = r0; b0 < r1; b0 += kRowBlock) {
    const int64_t b1 = std::min(r1, b0 + kRowBlock);
    for (int64_t j = 0; j < w; ++j) blk[j] = op.identity();
    int64_t r = b0;
    for (; r + 4 <= b1; r += 4) {
      const In* x0 = col + rows.off;
      rows.next();
      const In* x1 = col + rows.off;
      rows.next();
      const In* x2 = col + rows.off;
      rows.next();
      const In* x3 = col + rows.off;
      rows.next();
      for (int64_t j = 0; j < w; ++j)
        blk[j] = op.combine(blk[j], op.combine(op.combine(op.load(x0[j]), op.load(x1[j])),
                                               op.combine(op.load(x2[j]), op.load(x3[j]))));
    }
    for (; r < b1; ++r, rows.next()) {
      const In* x0 = col + rows.off;
      for (int64_t j = 0; j < w; ++j) blk[j] = op.combine(blk[j], op.load(x0[j]));
    }
    for (int64_t j = 0; j < w; ++j) tot[j] = op.combine(tot[j], blk[j]);
  }
}

// Outer strategy: the last kept axis is contiguous (K columns); each reduced index names a row
// of K elements folded into the outputs. Work is split over (outer index, column tile) items,
// or over rows with per-thread partial tiles when there are fewer items than threads.
template <typename Op>
void reduce_outer(const Op& op, const typename Op::In* base, const Plan& p, typename Op::Acc* out) {
  using Acc = typename Op::Acc;
  constexpr int64_t W = 16384 / sizeof(Acc);  // tile: 16 KB, with the block tile fits L1
  const int64_t K = p.kshape.back(), R = p.n_red;
  const Shape oshape(p.kshape.begin(), p.kshape.end() - 1);
  const Shape ostride(p.kstride.begin(), p.kstride.end() - 1);
  const int64_t ntiles = (K + W - 1) / W, items = (p.n_out / K) * ntiles;
  auto item_at = [&](int64_t item, const typename Op::In*& col, Acc*& dst, int64_t& w) {
    const int64_t o = item / ntiles, c0 = item % ntiles * W;
    w = std::min(W, K - c0);
    col = base + OffsetIter(oshape, ostride, o).off + c0;
    dst = out + o * K + c0;
  };
  const int64_t chunks = split_count(R * std::min(W, K));
  if (items < detail::max_threads() && chunks > 1) {
    std::unique_ptr<Acc[]> part(new Acc[static_cast<size_t>(chunks * W)]);  // not vector<bool>
    for (int64_t item = 0; item < items; ++item) {
      const typename Op::In* col;
      Acc* dst;
      int64_t w;
      item_at(item, col, dst, w);
      parallel_for(chunks, 1, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          Acc* tot = part.get() + c * W;
          std::fill(tot, tot + w, op.identity());
          fold_rows(op, col, p, R * c / chunks, R * (c + 1) / chunks, w, tot);
        }
      });
      std::fill(dst, dst + w, op.identity());
      for (int64_t c = 0; c < chunks; ++c)
        for (int64_t j = 0; j < w; ++j) dst[j] = op.combine(dst[j], part[c * W + j]);
    }
    return;
  }
  parallel_for(items, std::max<int64_t>(1, kParallelGrain / (R * std::min(W, K))),
               [&](int64_t b, int64_t e) {
                 for (int64_t item = b; item < e; ++item) {
                   const typename Op::In* col;
                   Acc* dst;
                   int64_t w;
                   item_at(item, col, dst, w);
                   std::fill(dst, dst + w, op.identity());
                   fold_rows(op, col, p, 0, R, w, dst);
                 }
               });
}

// Reduces `a` over the axes in `mask` into out (n_out accumulators, kept axes in C order).
template <typename Op>
void run_reduce(const Op& op, const Tensor& a, uint64_t mask, typename Op::Acc* out) {
  Plan p = make_plan(a, mask);
  if (p.n_out == 0) return;
  if (p.n_red == 0) {
    std::fill(out, out + p.n_out, op.identity());
    return;
  }
  const typename Op::In* base = a.data_ptr<typename Op::In>() + p.offset;
  if (p.rshape.empty() || (p.rshape.size() == 1 && p.rstride[0] == 1)) {
    reduce_inner(op, base, p, out);
  } else if (!p.kshape.empty() && p.kstride.back() == 1 && p.kshape.back() >= 8) {
    reduce_outer(op, base, p, out);
  } else {  // move the reduced axes innermost with one copy; then they are one contiguous run
    Shape perm;
    int64_t nd = a.ndim(), nk = 0;
    for (int64_t d = 0; d < nd; ++d)
      if (!((mask >> d) & 1)) perm.push_back(d), ++nk;
    for (int64_t d = 0; d < nd; ++d)
      if ((mask >> d) & 1) perm.push_back(d);
    Tensor c = a.permute(perm).contiguous();
    run_reduce(op, c, ((uint64_t{1} << nd) - 1) & ~((uint64_t{1} << nk) - 1), out);
  }
}

// Reduces with OpT<T> for the input's dtype T; returns a tensor of the accumulator dtype with the
// reduced shape. FloatOnly ops are never instantiated for integer inputs.
template <template <typename...> class OpT, bool FloatOnly = false, typename Init = int>
Tensor reduce_acc(const Tensor& a, uint64_t mask, bool keepdims, Init init = 0) {
  return visit_dtype(a.dtype(), [&]<typename T>() -> Tensor {
    if constexpr (FloatOnly && !is_float_v<T>) {
      detail::throw_error("internal: float-only reduction on ", a.dtype());
    } else {
      OpT<T> op;
      if constexpr (!std::is_same_v<Init, int>) init(op);
      using Acc = typename OpT<T>::Acc;
      Tensor out = empty(reduced_shape(a.shape(), mask, keepdims), dtype_of<Acc>);
      run_reduce(op, a, mask, out.data_ptr<Acc>());
      return out;
    }
  });
}

template <typename T>
using MeanOp = SumOp<T, float_acc_t<T>>;

// Applies f to every element of a contiguous tensor in place (results are small: no threads).
template <typename F>
void apply_inplace(Tensor& t, F&& f) {
  visit_dtype(t.dtype(), [&]<typename T>() {
    if constexpr (std::is_floating_point_v<T>) {
      T* p = t.data_ptr<T>();
      for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(f(p[i]));
    } else {
      detail::throw_error("internal: apply_inplace on ", t.dtype());
    }
  });
}

DType sum_dtype(DType t) { return is_floating(t) ? t : DType::Int64; }
// Floating result of mean/var/norm/logsumexp: ints give ravel's default float.
DType float_dtype(DType t) { return is_floating(t) ? t : kDefaultFloat; }

Tensor sum_or_prod(const Tensor& a, const Axes& axes, bool keepdims, std::optional<DType> dtype,
                   bool is_prod) {
  const char* op = is_prod ? "prod" : "sum";
  uint64_t mask = axes_mask(axes, a.shape(), op);
  if (dtype && *dtype != sum_dtype(a.dtype()))  // accumulate in the requested dtype
    return sum_or_prod(a.to(*dtype), axes, keepdims, std::nullopt, is_prod).to(*dtype);
  Tensor r = is_prod ? reduce_acc<ProdOp>(a, mask, keepdims) : reduce_acc<SumOp>(a, mask, keepdims);
  return r.to(sum_dtype(a.dtype()));
}

Tensor max_or_min(const Tensor& a, const Axes& axes, bool keepdims, bool is_max) {
  const char* op = is_max ? "amax" : "amin";
  uint64_t mask = axes_mask(axes, a.shape(), op);
  RAVEL_CHECK(reduced_count(a.shape(), mask) > 0, op, ": zero-size array to reduction operation ",
              is_max ? "maximum" : "minimum", " which has no identity (shape ", a.shape(), ")");
  Tensor r = is_max ? reduce_acc<MaxOp>(a, mask, keepdims) : reduce_acc<MinOp>(a, mask, keepdims);
  return r.to(a.dtype());
}

// x - mean(x) squared, materialised in the compute dtype of x (float32 or float64).
Tensor squared_deviation(const Tensor& x, const Tensor& m) {
  Tensor dev = empty(x.shape(), x.dtype());
  Tensor mb = m.expand(x.shape());
  TensorIter it({&dev, &x, &mb});
  visit_dtype(x.dtype(), [&]<typename C>() {
    if constexpr (std::is_floating_point_v<C>) {
      map_kernel<C, C, C>(it, [](C v, C mu) {
        C d = v - mu;
        return d * d;
      });
    }
  });
  return dev;
}

Tensor var_impl(const Tensor& a, const Axes& axes, int64_t ddof, bool keepdims, const char* op) {
  uint64_t mask = axes_mask(axes, a.shape(), op);
  DType ct =
      a.dtype() == DType::Float32 || a.dtype() == DType::Float16 || a.dtype() == DType::BFloat16
          ? DType::Float32
          : DType::Float64;
  Tensor x = a.to(ct);
  const int64_t n = reduced_count(a.shape(), mask);
  Tensor m = reduce_acc<SumOp>(x, mask, true);
  apply_inplace(m, [&](auto v) { return v / static_cast<decltype(v)>(n); });
  Tensor s = reduce_acc<SumOp>(squared_deviation(x, m), mask, keepdims);
  // NumPy divides by max(n - ddof, 0): 0/0 gives NaN, as NumPy (with a warning).
  const double div = static_cast<double>(std::max<int64_t>(n - ddof, 0));
  apply_inplace(s, [&](auto v) { return v / static_cast<decltype(v)>(div); });
  return s;
}

// ---------------------------------------------------------------- arg reductions

template <typename C>
bool arg_better(C x, C best, bool is_max) {
  // Strictly better keeps the first of ties; the first NaN wins and is never replaced.
  return (is_max ? x > best : x < best) || (is_nan(x) && !is_nan(best));
}

Tensor arg_reduce(const Tensor& a_in, std::optional<int64_t> axis_opt, bool keepdims, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  Tensor a = axis_opt ? a_in : a_in.reshape({-1});
  const int64_t axis = axis_opt ? normalize_axis(*axis_opt, a.ndim(), op) : 0;
  const int64_t R = a.size(axis);
  RAVEL_CHECK(R > 0, op, ": attempt to get ", op, " of an empty sequence (shape ", a_in.shape(),
              ")");
  Shape out_shape;
  if (!axis_opt) {
    if (keepdims) out_shape = Shape(a_in.shape().size(), 1);
  } else {
    out_shape = reduced_shape(a.shape(), uint64_t{1} << axis, keepdims);
  }
  Tensor out = empty(out_shape, DType::Int64);
  int64_t* o = out.data_ptr<int64_t>();
  Plan p = make_plan(a.select(axis, 0), 0);  // the kept axes
  const int64_t rs = a.strides()[axis];
  if (p.n_out == 0) return out;
  visit_dtype(a.dtype(), [&]<typename T>() {
    using C = compute_t<T>;
    const T* base = a.data_ptr<T>();
    if (rs != 1 && !p.kshape.empty() && p.kstride.back() == 1 && p.kshape.back() >= 8) {
      // Rows: keep the best value and index per column (vectorises across columns).
      const int64_t K = p.kshape.back();
      const Shape oshape(p.kshape.begin(), p.kshape.end() - 1);
      const Shape ostride(p.kstride.begin(), p.kstride.end() - 1);
      const int64_t outer = p.n_out / K;
      parallel_for(outer * K, std::max<int64_t>(1, kParallelGrain / R), [&](int64_t b, int64_t e) {
        std::unique_ptr<C[]> best(new C[static_cast<size_t>(K)]);  // not vector<bool>
        for (int64_t oi = b / K; oi * K < e; ++oi) {
          const int64_t c0 = std::max(b, oi * K) - oi * K, c1 = std::min(e, (oi + 1) * K) - oi * K;
          const T* col = base + OffsetIter(oshape, ostride, oi).off;
          int64_t* idx = o + oi * K;
          for (int64_t j = c0; j < c1; ++j) best[j] = compute(col[j]), idx[j] = 0;
          for (int64_t r = 1; r < R; ++r) {
            const T* row = col + r * rs;
            for (int64_t j = c0; j < c1; ++j) {
              C v = compute(row[j]);
              bool take = arg_better(v, best[j], is_max);
              best[j] = take ? v : best[j];
              idx[j] = take ? r : idx[j];
            }
          }
        }
      });
    } else {
      parallel_for(p.n_out, std::max<int64_t>(1, kParallelGrain / R), [&](int64_t b, int64_t e) {
        OffsetIter it(p.kshape, p.kstride, b);
        for (int64_t i = b; i < e; ++i, it.next()) {
          const T* x = base + it.off;
          C best = compute(x[0]);
          int64_t bi = 0;
          for (int64_t r = 1; r < R && !is_nan(best); ++r) {  // stop at the first NaN
            C v = compute(x[r * rs]);
            if (arg_better(v, best, is_max)) best = v, bi = r;
          }
          o[i] = bi;
        }
      });
    }
  });
  return out;
}

// ---------------------------------------------------------------- cumulative ops

Tensor cumulative(const Tensor& a, std::optional<int64_t> axis_opt, std::optional<DType> dtype,
                  bool is_prod) {
  const char* op = is_prod ? "cumprod" : "cumsum";
  const DType out_dt = dtype ? *dtype : sum_dtype(a.dtype());
  Tensor src = axis_opt ? a : a.reshape({-1});
  const int64_t axis = normalize_axis(axis_opt.value_or(0), src.ndim(), op);
  src = src.to(out_dt);
  Tensor out = empty(src.shape(), out_dt);
  const int64_t L = src.size(axis);
  if (out.numel() == 0) return out;
  Tensor so = out.select(axis, 0), ss = src.select(axis, 0);
  TensorIter it({&so, &ss});
  const int64_t ao = out.strides()[axis] * static_cast<int64_t>(out.itemsize());
  const int64_t ai = src.strides()[axis] * static_cast<int64_t>(src.itemsize());
  visit_dtype(out_dt, [&]<typename T>() {
    using C = std::conditional_t<std::is_same_v<T, bool>, int64_t, compute_t<T>>;
    // The output is the running accumulator: each step rounds to T, as NumPy's accumulate.
    auto step = [&](T prev, T x) -> T {
      C r = is_prod ? wrap_mul<C>(static_cast<C>(prev), static_cast<C>(x))
                    : wrap_add<C>(static_cast<C>(prev), static_cast<C>(x));
      return cast_value<T>(r);
    };
    auto at = [](char* p, int64_t byte_off) -> T& { return *reinterpret_cast<T*>(p + byte_off); };
    it.for_each(
        [&](char** p, const int64_t* s, int64_t n) {
          if (ao == static_cast<int64_t>(sizeof(T))) {  // the axis is innermost: scan each line
            for (int64_t i = 0; i < n; ++i) {
              char* po = p[0] + i * s[0];
              char* pi = p[1] + i * s[1];
              T acc = at(pi, 0);
              at(po, 0) = acc;
              for (int64_t k = 1; k < L; ++k) at(po, k * ao) = acc = step(acc, at(pi, k * ai));
            }
          } else {  // the axis is outer: step whole rows (vectorises across the run)
            for (int64_t i = 0; i < n; ++i) at(p[0], i * s[0]) = at(p[1], i * s[1]);
            for (int64_t k = 1; k < L; ++k)
              for (int64_t i = 0; i < n; ++i)
                at(p[0], i * s[0] + k * ao) =
                    step(at(p[0], i * s[0] + (k - 1) * ao), at(p[1], i * s[1] + k * ai));
          }
        },
        std::max<int64_t>(1, kParallelGrain / L));
  });
  return out;
}

// ---------------------------------------------------------------- norms

// Vector norm of order `ord` over the axes in mask (all of them one vector).
Tensor vector_norm_value(const Tensor& a, double ord, uint64_t mask, bool keepdims) {
  Tensor x = is_floating(a.dtype()) ? a : a.to(DType::Float64);
  Tensor r;
  if (std::isinf(ord)) {
    RAVEL_CHECK(reduced_count(a.shape(), mask) > 0, "norm: zero-size array to reduction ",
                "operation ", ord > 0 ? "maximum" : "minimum", " which has no identity (shape ",
                a.shape(), ")");
    r = ord > 0 ? reduce_acc<MaxAbsOp, true>(x, mask, keepdims)
                : reduce_acc<MinAbsOp, true>(x, mask, keepdims);
  } else if (ord == 0) {
    r = reduce_acc<CountNonzeroOp>(x, mask, keepdims).to(DType::Float64);
  } else if (ord == 1) {
    r = reduce_acc<SumAbsOp, true>(x, mask, keepdims);
  } else if (ord == 2) {
    r = reduce_acc<SumSqOp, true>(x, mask, keepdims);
    apply_inplace(r, [](auto v) { return std::sqrt(v); });
  } else {
    r = reduce_acc<SumPowOp, true>(x, mask, keepdims, [&](auto& op) { op.p = ord; });
    apply_inplace(r, [&](auto v) { return std::pow(v, static_cast<decltype(v)>(1 / ord)); });
  }
  return r.to(float_dtype(a.dtype()));
}

// ---------------------------------------------------------------- backward helpers
// Backward functions are written with ravel ops, so they are differentiable again (create_graph).

Axes axes_of(uint64_t mask, size_t nd) {
  Shape dims;
  for (size_t d = 0; d < nd; ++d)
    if ((mask >> d) & 1) dims.push_back(static_cast<int64_t>(d));
  return Axes(dims);
}

// A reduction's output (or its gradient) with the reduced axes back as size-1 axes, so it
// broadcasts against the input.
Tensor keep_dims(const Tensor& t, const Shape& in_shape, uint64_t mask, bool keepdims) {
  return keepdims ? t : t.reshape(reduced_shape(in_shape, mask, true));
}

// Reverse cumulative sum along axis: r[i] = sum_{j >= i} t[j].
Tensor reverse_cumsum(const Tensor& t, int64_t axis) {
  return flip(cumsum(flip(t, axis), axis), axis);
}

// Exclusive cumulative product along the last axis: r[i] = prod_{j < i} t[j].
Tensor exclusive_cumprod(const Tensor& t) {
  Shape one = t.shape();
  one.back() = 1;
  return cumprod(concatenate({ones(one, t.dtype()), t.slice(-1, 0, t.size(-1) - 1)}, -1), -1);
}

// prod over the masked axes of every element but the one itself, in x's shape: exact with zeros
// (the products of the elements before and after each one along the flattened reduced axes).
Tensor prod_of_others(const Tensor& x, uint64_t mask) {
  const int64_t nd = x.ndim();
  Shape perm, kept, inv(static_cast<size_t>(nd));
  for (int64_t d = 0; d < nd; ++d)
    if (!((mask >> d) & 1)) perm.push_back(d), kept.push_back(x.size(d));
  for (int64_t d = 0; d < nd; ++d)
    if ((mask >> d) & 1) perm.push_back(d);
  for (int64_t d = 0; d < nd; ++d) inv[static_cast<size_t>(perm[d])] = d;
  Tensor p = x.permute(perm);
  Shape flat = kept;
  flat.push_back(-1);
  Tensor y = p.reshape(flat);  // [kept..., n_reduced]
  Tensor r = exclusive_cumprod(y) * flip(exclusive_cumprod(flip(y, -1)), -1);
  return r.reshape(p.shape()).permute(inv);
}

// Spreads g evenly over the elements of x equal to the reduced value out (as torch.amax: ties
// share the gradient).
Tensor spread_to_ties(const Tensor& g, const Tensor& x, const Tensor& out, const Axes& axes) {
  Tensor hit = (x == out).to(g.dtype());
  return hit * (g / sum(hit, axes, true));
}

// d var / d x times g (g in keepdims shape): 2 (x - mean) g / max(n - ddof, 0).
Tensor var_backward(const Tensor& g, const Tensor& x, const Axes& axes, double div) {
  return (x - mean(x, axes, true)) * (g * (2.0 / div));
}

Tensor norm_backward(const Tensor& g, const Tensor& x, const Tensor& out, double ord,
                     const Axes& axes) {
  if (ord == 0) return Tensor();  // piecewise constant
  if (std::isinf(ord)) return sign(x) * spread_to_ties(g, abs(x), out, axes);
  if (ord == 1) return sign(x) * g;
  // x |x|^(p-2) g / norm^(p-1), with 0 where the norm is 0 (as PyTorch).
  Tensor scale = where(out == 0, zeros_like(g), ord == 2 ? g / out : g / pow(out, ord - 1));
  if (ord == 2) return x * scale;
  Tensor xs = sign(x) * pow(abs(x), ord - 1);
  if (ord < 1) xs = where(x == 0, zeros_like(xs), xs);  // |x|^(p-1) is inf at 0
  return xs * scale;
}

// Gradient of cumprod along axis. Without zeros: reverse_cumsum(g * out) / x. With zeros, per
// line: positions before the first zero use that formula, the first zero z gets
// sum_{j >= z} g[j] prod_{k <= j, k != z} x[k], positions after it get 0 (not twice
// differentiable at zeros).
Tensor cumprod_backward(const Tensor& g, const Tensor& x, const Tensor& out, int64_t axis) {
  if (all(x).item<bool>()) return reverse_cumsum(g * out, axis) / x;
  Tensor zeros_upto = cumsum(x == 0, axis);  // zeros at or before each position
  Tensor before = zeros_upto == 0;
  Tensor first = (x == 0) & (zeros_upto == 1);
  Tensor zero = zeros_like(g);
  Tensor x_safe = where(before, x, ones_like(x));
  Tensor g_before = where(before, reverse_cumsum(g * out, axis) / x_safe, zero);
  Tensor without_z = cumprod(where(first, ones_like(x), x), axis);
  Tensor g_first = sum(where(before, zero, g * without_z), axis, true);
  return g_before + where(first, g_first.expand(x.shape()), zero);
}

// Records `name` for a reduction of a over the masked axes: backward(gk, saved) gets the
// gradient in keepdims shape and saved = {a, out in keepdims shape} when save is set.
template <typename Backward>
void record_reduction(const char* name, const Tensor& a, const Tensor& out, uint64_t mask,
                      bool keepdims, bool save, Backward backward) {
  const std::vector<Tensor> saved = save ? std::vector<Tensor>{a, out} : std::vector<Tensor>{};
  autograd::record(
      name, {a}, out, saved,
      [shape = a.shape(), mask, keepdims, backward](const Tensor& g, const std::vector<Tensor>& s) {
        const Tensor gk = keep_dims(g, shape, mask, keepdims);
        if (s.empty()) return std::vector<Tensor>{backward(gk, Tensor(), Tensor())};
        return std::vector<Tensor>{backward(gk, s[0], keep_dims(s[1], shape, mask, keepdims))};
      });
}

}  // namespace

// ---------------------------------------------------------------- public API
// Each op computes its value with the kernels above without recording (NoGradGuard: some reach
// public ops such as to()), then records one node when its input requires grad.

Tensor sum(const Tensor& a, const Axes& axes, bool keepdims, std::optional<DType> dtype) {
  Tensor r;
  {
    NoGradGuard ng;
    r = sum_or_prod(a, axes, keepdims, dtype, false);
  }
  if (autograd::needs_grad(a)) {
    record_reduction("sum", a, r, axes_mask(axes, a.shape(), "sum"), keepdims, false,
                     [shape = a.shape()](const Tensor& gk, const Tensor&, const Tensor&) {
                       return gk.expand(shape);
                     });
  }
  return r;
}

Tensor prod(const Tensor& a, const Axes& axes, bool keepdims, std::optional<DType> dtype) {
  Tensor r;
  {
    NoGradGuard ng;
    r = sum_or_prod(a, axes, keepdims, dtype, true);
  }
  if (autograd::needs_grad(a)) {
    const uint64_t mask = axes_mask(axes, a.shape(), "prod");
    record_reduction("prod", a, r, mask, keepdims, true,
                     [mask](const Tensor& gk, const Tensor& x, const Tensor& out) {
                       if (all(x).item<bool>()) return gk * out / x;
                       return gk * prod_of_others(x, mask);
                     });
  }
  return r;
}

Tensor mean(const Tensor& a, const Axes& axes, bool keepdims, std::optional<DType> dtype) {
  uint64_t mask = axes_mask(axes, a.shape(), "mean");
  const double n = static_cast<double>(reduced_count(a.shape(), mask));
  graph::detail::TracedOp traced("GlobalAveragePool", {a});
  if (traced) {
    // Only the global average of [N, C, spatial...] has an ONNX form here.
    const uint64_t spatial = a.ndim() >= 3 ? ((uint64_t{1} << a.ndim()) - 1) & ~uint64_t{3} : 0;
    if (mask != spatial || (dtype && *dtype != a.dtype()))
      traced.unsupported("mean over other axes than the spatial ones of [N, C, ...]");
    if (!keepdims) traced.reshape_output();
  }
  Tensor r;
  {
    NoGradGuard ng;
    if (dtype && *dtype != float_dtype(a.dtype())) {
      r = mean(a.to(*dtype), axes, keepdims, std::nullopt).to(*dtype);
    } else {
      r = reduce_acc<MeanOp>(a, mask, keepdims);
      apply_inplace(r, [&](auto v) { return v / static_cast<decltype(v)>(n); });
      r = r.to(float_dtype(a.dtype()));
    }
  }
  if (autograd::needs_grad(a)) {
    record_reduction("mean", a, r, mask, keepdims, false,
                     [shape = a.shape(), n](const Tensor& gk, const Tensor&, const Tensor&) {
                       return (gk / n).expand(shape);
                     });
  }
  return traced.output(r);
}

namespace {
Tensor max_or_min_op(const Tensor& a, const Axes& axes, bool keepdims, bool is_max) {
  Tensor r;
  {
    NoGradGuard ng;
    r = max_or_min(a, axes, keepdims, is_max);
  }
  if (autograd::needs_grad(a)) {
    const uint64_t mask = axes_mask(axes, a.shape(), "amax");
    record_reduction(is_max ? "amax" : "amin", a, r, mask, keepdims, true,
                     [axes = axes_of(mask, a.shape().size())](const Tensor& gk, const Tensor& x,
                                                              const Tensor& out) {
                       return spread_to_ties(gk, x, out, axes);
                     });
  }
  return r;
}

Tensor var_or_std(const Tensor& a, const Axes& axes, int64_t ddof, bool keepdims, bool is_std) {
  const char* op = is_std ? "std" : "var";
  Tensor r;
  {
    NoGradGuard ng;
    r = var_impl(a, axes, ddof, keepdims, op);
    if (is_std) apply_inplace(r, [](auto x) { return std::sqrt(x); });
    r = r.to(float_dtype(a.dtype()));
  }
  if (autograd::needs_grad(a)) {
    const uint64_t mask = axes_mask(axes, a.shape(), op);
    const double div =
        static_cast<double>(std::max<int64_t>(reduced_count(a.shape(), mask) - ddof, 0));
    record_reduction(op, a, r, mask, keepdims, true,
                     [axes = axes_of(mask, a.shape().size()), div, is_std](
                         const Tensor& gk, const Tensor& x, const Tensor& out) {
                       // d std = d var / (2 std); 0 where std is 0 (as PyTorch)
                       Tensor gv = is_std ? where(out == 0, zeros_like(gk), gk / (out * 2.0)) : gk;
                       return var_backward(gv, x, axes, div);
                     });
  }
  return r;
}

Tensor vector_norm(const Tensor& a, double ord, uint64_t mask, bool keepdims) {
  Tensor r;
  {
    NoGradGuard ng;
    r = vector_norm_value(a, ord, mask, keepdims);
  }
  if (autograd::needs_grad(a)) {
    record_reduction("norm", a, r, mask, keepdims, true,
                     [axes = axes_of(mask, a.shape().size()), ord](
                         const Tensor& gk, const Tensor& x, const Tensor& out) {
                       return norm_backward(gk, x, out, ord, axes);
                     });
  }
  return r;
}

Tensor cumulative_op(const Tensor& a, std::optional<int64_t> axis, std::optional<DType> dtype,
                     bool is_prod) {
  Tensor r;
  {
    NoGradGuard ng;
    r = cumulative(a, axis, dtype, is_prod);
  }
  if (autograd::needs_grad(a)) {
    const int64_t ax = axis ? normalize_axis(*axis, a.ndim(), "cumsum") : 0;
    autograd::record(is_prod ? "cumprod" : "cumsum", {a}, r,
                     is_prod ? std::vector<Tensor>{a, r} : std::vector<Tensor>{},
                     [shape = a.shape(), flat = !axis, ax, is_prod](const Tensor& g,
                                                                    const std::vector<Tensor>& s) {
                       Tensor ga =
                           is_prod ? cumprod_backward(g, flat ? s[0].reshape({-1}) : s[0], s[1], ax)
                                   : reverse_cumsum(g, ax);
                       return std::vector<Tensor>{flat ? ga.reshape(shape) : ga};
                     });
  }
  return r;
}
}  // namespace

Tensor amax(const Tensor& a, const Axes& axes, bool keepdims) {
  return max_or_min_op(a, axes, keepdims, true);
}

Tensor amin(const Tensor& a, const Axes& axes, bool keepdims) {
  return max_or_min_op(a, axes, keepdims, false);
}

Tensor argmax(const Tensor& a, std::optional<int64_t> axis, bool keepdims) {
  return arg_reduce(a, axis, keepdims, true);
}

Tensor argmin(const Tensor& a, std::optional<int64_t> axis, bool keepdims) {
  return arg_reduce(a, axis, keepdims, false);
}

Tensor var(const Tensor& a, const Axes& axes, int64_t ddof, bool keepdims) {
  return var_or_std(a, axes, ddof, keepdims, false);
}

Tensor std(const Tensor& a, const Axes& axes, int64_t ddof, bool keepdims) {
  return var_or_std(a, axes, ddof, keepdims, true);
}

Tensor norm(const Tensor& a, const std::string& ord, const Axes& axes, bool keepdims) {
  RAVEL_CHECK(ord == "fro", "norm: unsupported ord '", ord,
              "' (supported: \"fro\" or a number; 'nuc' needs singular values)");
  return vector_norm(a, 2, axes_mask(axes, a.shape(), "norm"), keepdims);
}

Tensor norm(const Tensor& a, double ord, const Axes& axes_in, bool keepdims) {
  Axes axes = axes_in;
  if (axes.all) {  // as numpy.linalg.norm with ord given: a 1-D vector or a 2-D matrix
    RAVEL_CHECK(a.ndim() == 1 || a.ndim() == 2, "norm: ord ", ord,
                " without axes needs a 1-D or 2-D tensor, got shape ", a.shape());
    axes = a.ndim() == 1 ? Axes(0) : Axes({0, 1});
  }
  uint64_t mask = axes_mask(axes, a.shape(), "norm");
  if (axes.dims.size() == 1) return vector_norm(a, ord, mask, keepdims);
  RAVEL_CHECK(axes.dims.size() == 2, "norm: a numeric ord needs 1 or 2 axes, got ", axes.dims,
              " for shape ", a.shape());
  // Matrix norms: 1 / -1 = max / min column sum of |a|, inf / -inf = max / min row sum.
  // Built from differentiable reductions, so they need no backward of their own.
  RAVEL_CHECK(std::abs(ord) == 1 || std::isinf(ord), "norm: matrix ord ", ord,
              " is not supported (supported: 1, -1, inf, -inf, \"fro\")");
  const int64_t nd = a.ndim();
  int64_t row = normalize_axis(axes.dims[0], nd, "norm");
  int64_t col = normalize_axis(axes.dims[1], nd, "norm");
  int64_t sum_axis = std::isinf(ord) ? col : row, pick_axis = std::isinf(ord) ? row : col;
  RAVEL_CHECK(a.size(pick_axis) > 0, "norm: zero-size array to reduction operation which has ",
              "no identity (shape ", a.shape(), ")");
  Tensor s = vector_norm(a, 1, uint64_t{1} << sum_axis, true);
  Tensor r = ord > 0 ? amax(s, pick_axis, true) : amin(s, pick_axis, true);
  return keepdims ? r : r.reshape(reduced_shape(a.shape(), mask, false));
}

Tensor count_nonzero(const Tensor& a, const Axes& axes, bool keepdims) {
  return reduce_acc<CountNonzeroOp>(a, axes_mask(axes, a.shape(), "count_nonzero"), keepdims);
}

Tensor all(const Tensor& a, const Axes& axes, bool keepdims) {
  uint64_t mask = axes_mask(axes, a.shape(), "all");
  Tensor c = reduce_acc<CountNonzeroOp>(a, mask, keepdims);
  const int64_t n = reduced_count(a.shape(), mask);
  Tensor out = empty(c.shape(), DType::Bool);
  const int64_t* pc = c.data_ptr<int64_t>();
  bool* po = out.data_ptr<bool>();
  for (int64_t i = 0; i < c.numel(); ++i) po[i] = pc[i] == n;
  return out;
}

Tensor any(const Tensor& a, const Axes& axes, bool keepdims) {
  return reduce_acc<CountNonzeroOp>(a, axes_mask(axes, a.shape(), "any"), keepdims).to(DType::Bool);
}

namespace {
Tensor logsumexp_value(const Tensor& a, uint64_t mask, bool keepdims) {
  DType ct = a.dtype() == DType::Float64 ? DType::Float64 : DType::Float32;
  Tensor x = a.to(ct);
  // Shift by the max (0 where it is not finite) so exp cannot overflow.
  Tensor m = reduce_acc<MaxOp>(x, mask, true);
  apply_inplace(m, [](auto v) { return std::isfinite(v) ? v : decltype(v)(0); });
  Tensor e = empty(x.shape(), ct);
  Tensor mb = m.expand(x.shape());
  TensorIter it({&e, &x, &mb});
  visit_dtype(ct, [&]<typename C>() {
    if constexpr (std::is_floating_point_v<C>)
      map_kernel<C, C, C>(it, [](C v, C mu) { return std::exp(v - mu); });
  });
  Tensor s = reduce_acc<SumOp>(e, mask, true);
  visit_dtype(ct, [&]<typename C>() {
    if constexpr (std::is_floating_point_v<C>) {
      C* ps = s.data_ptr<C>();
      const C* pmax = m.data_ptr<C>();
      for (int64_t i = 0; i < s.numel(); ++i) ps[i] = std::log(ps[i]) + pmax[i];
    }
  });
  if (!keepdims) s = s.reshape(reduced_shape(a.shape(), mask, false));
  return s.to(float_dtype(a.dtype()));
}
}  // namespace

Tensor logsumexp(const Tensor& a, const Axes& axes, bool keepdims) {
  uint64_t mask = axes_mask(axes, a.shape(), "logsumexp");
  Tensor r;
  {
    NoGradGuard ng;
    r = logsumexp_value(a, mask, keepdims);
  }
  if (autograd::needs_grad(a)) {
    record_reduction(
        "logsumexp", a, r, mask, keepdims, true,
        [](const Tensor& gk, const Tensor& x, const Tensor& out) { return gk * exp(x - out); });
  }
  return r;
}

Tensor cumsum(const Tensor& a, std::optional<int64_t> axis, std::optional<DType> dtype) {
  return cumulative_op(a, axis, dtype, false);
}

Tensor cumprod(const Tensor& a, std::optional<int64_t> axis, std::optional<DType> dtype) {
  return cumulative_op(a, axis, dtype, true);
}

}  // namespace ravel
