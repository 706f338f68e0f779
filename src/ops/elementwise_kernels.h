// Internal: the loops and drivers behind every elementwise op. An op is a dtype rule plus a
// generic lambda over the compute type (float for float16/bfloat16), e.g.
//
//   Tensor add(const Tensor& a, const Tensor& b) { return binary<Rule::Arith>("add", a, b, kAdd); }
//
// The drivers dispatch on one dtype (the compute dtype), take a lean path for contiguous inputs
// of one shape and dtype (no broadcasting, no TensorIter), and otherwise broadcast with expand()
// and iterate with TensorIter. Inner loops are specialised for contiguous and stride-0
// (scalar / broadcast) operands so that the compiler vectorises them.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/dispatch.h"
#include "core/iter.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::ew {

// ------------------------------------------------------------------ dtype rules
enum class Rule : uint8_t {
  Arith,        // promoted dtype, bool allowed (add: or, mul: and, maximum, ...)
  ArithNoBool,  // promoted dtype, bool rejected (sub, as NumPy)
  ArithInt8,    // promoted dtype, bool computed as int8 (floor_divide, mod, pow, as NumPy)
  Float,        // promoted dtype, integers and bool computed in float32 (ravel's default float)
  Compare,      // compute in the promoted dtype, bool result
  Logical,      // inputs converted to bool, bool result
  Bitwise,      // integers and bool only
  Shift,        // integers only; bool computed as int8
  Close,        // isclose: floats in their dtype, integers in float64; bool result
  // unary only
  Keep,        // same dtype (abs, floor, ...)
  KeepNoBool,  // same dtype, bool rejected (negative, sign)
  Predicate,   // any dtype, bool result (isnan, logical_not)
};

template <Rule R, typename T>
inline constexpr bool rule_allows = [] {
  constexpr bool is_bool = std::is_same_v<T, bool>;
  switch (R) {
    case Rule::ArithNoBool:
    case Rule::ArithInt8:
    case Rule::KeepNoBool:
      return !is_bool;
    case Rule::Float:
    case Rule::Close:
      return is_float_v<T>;
    case Rule::Logical:
      return is_bool;
    case Rule::Bitwise:
      return !is_float_v<T>;
    case Rule::Shift:
      return !is_float_v<T> && !is_bool;
    default:
      return true;
  }
}();

constexpr bool bool_out(Rule r) {
  return r == Rule::Compare || r == Rule::Logical || r == Rule::Close || r == Rule::Predicate;
}

// The dtype the op computes in, given the promoted input dtype; throws for dtypes it rejects.
inline DType compute_dtype(Rule r, DType p, const char* op) {
  switch (r) {
    case Rule::ArithNoBool:
    case Rule::KeepNoBool:
      RAVEL_CHECK(p != DType::Bool, op, ": not supported for bool tensors");
      return p;
    case Rule::ArithInt8:
      return p == DType::Bool ? DType::Int8 : p;
    case Rule::Float:
      return is_floating(p) ? p : kDefaultFloat;
    case Rule::Logical:
      return DType::Bool;
    case Rule::Bitwise:
    case Rule::Shift:
      RAVEL_CHECK(!is_floating(p), op, ": not supported for dtype ", dtype_name(p),
                  " (integer and bool tensors only)");
      return p == DType::Bool && r == Rule::Shift ? DType::Int8 : p;
    case Rule::Close:
      return is_floating(p) ? p : DType::Float64;
    default:
      return p;
  }
}

// ------------------------------------------------------------------ integer helpers
// Integer arithmetic that may overflow is done in an unsigned type at least as wide as int and
// converted back, which wraps like NumPy (signed overflow would be UB).
template <typename T>
using wide_u = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;

template <typename T>
inline T wrap_add(T x, T y) {
  if constexpr (std::is_same_v<T, bool>)
    return x || y;
  else if constexpr (std::is_integral_v<T>)
    return static_cast<T>(wide_u<T>(x) + wide_u<T>(y));
  else
    return x + y;
}
template <typename T>
inline T wrap_sub(T x, T y) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return static_cast<T>(wide_u<T>(x) - wide_u<T>(y));
  else
    return x - y;
}
template <typename T>
inline T wrap_mul(T x, T y) {
  if constexpr (std::is_same_v<T, bool>)
    return x && y;
  else if constexpr (std::is_integral_v<T>)
    return static_cast<T>(wide_u<T>(x) * wide_u<T>(y));
  else
    return x * y;
}
template <typename T>
inline T wrap_neg(T x) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(wide_u<T>(0) - wide_u<T>(x));
  else
    return -x;
}

// ------------------------------------------------------------------ loops
// out[i] = f(x[i], y[i]) over n elements with byte strides; T is the input dtype, C its compute
// type. Layouts: all contiguous, one operand stride 0 (a scalar or broadcast), else strided.
// flatten: the op lambdas and vec_math functions must be inlined for the loops to vectorise,
// and GCC's inliner gives up on them in files that instantiate many loops.
template <typename Out, typename T, typename F>
[[gnu::flatten]] inline void binary_run(char* o, int64_t so, const char* x, int64_t sx,
                                        const char* y, int64_t sy, int64_t n, const F& f) {
  using C = compute_t<T>;
  constexpr int64_t kO = sizeof(Out), kT = sizeof(T);
  auto g = [&f](C a, C b) { return cast_value<Out>(f(a, b)); };
  if (so == kO) {
    Out* out = reinterpret_cast<Out*>(o);
    const T* xp = reinterpret_cast<const T*>(x);
    const T* yp = reinterpret_cast<const T*>(y);
    if (sx == kT && sy == kT) {
      for (int64_t i = 0; i < n; ++i) out[i] = g(static_cast<C>(xp[i]), static_cast<C>(yp[i]));
      return;
    }
    if (sx == kT && sy == 0) {
      const C yv = static_cast<C>(*yp);
      for (int64_t i = 0; i < n; ++i) out[i] = g(static_cast<C>(xp[i]), yv);
      return;
    }
    if (sx == 0 && sy == kT) {
      const C xv = static_cast<C>(*xp);
      for (int64_t i = 0; i < n; ++i) out[i] = g(xv, static_cast<C>(yp[i]));
      return;
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    *reinterpret_cast<Out*>(o + i * so) =
        g(static_cast<C>(*reinterpret_cast<const T*>(x + i * sx)),
          static_cast<C>(*reinterpret_cast<const T*>(y + i * sy)));
  }
}

template <typename Out, typename In, typename G>
[[gnu::flatten]] inline void unary_run(char* o, int64_t so, const char* x, int64_t sx, int64_t n,
                                       const G& g) {
  if (so == static_cast<int64_t>(sizeof(Out)) && sx == static_cast<int64_t>(sizeof(In))) {
    Out* out = reinterpret_cast<Out*>(o);
    const In* xp = reinterpret_cast<const In*>(x);
    for (int64_t i = 0; i < n; ++i) out[i] = g(xp[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    *reinterpret_cast<Out*>(o + i * so) = g(*reinterpret_cast<const In*>(x + i * sx));
}

// parallel_for, with the small case decided before asking OpenMP anything.
template <typename Fn>
inline void split(int64_t n, Fn&& fn) {
  if (n < 2 * kParallelGrain)
    fn(int64_t{0}, n);
  else
    parallel_for(n, kParallelGrain, fn);
}

// Runs out = f(x, y) over tensors of one shape; x and y have the compute dtype. Either may be
// replaced by a scalar (pointer to one T, stride 0).
template <typename Out, typename T, typename F>
void run_binary(const Tensor& out, const Tensor* x, const Tensor* y, const T* scalar, const F& f) {
  const int64_t n = out.numel();
  auto base = [&](const Tensor* t) {
    return t ? static_cast<const char*>(t->raw_data()) : reinterpret_cast<const char*>(scalar);
  };
  if (out.is_contiguous() && (!x || x->is_contiguous()) && (!y || y->is_contiguous())) {
    char* o = static_cast<char*>(out.raw_data());
    const char* xb = base(x);
    const char* yb = base(y);
    const int64_t sx = x ? sizeof(T) : 0, sy = y ? sizeof(T) : 0;
    split(n, [&](int64_t b, int64_t e) {
      binary_run<Out, T>(o + b * static_cast<int64_t>(sizeof(Out)), sizeof(Out), xb + b * sx, sx,
                         yb + b * sy, sy, e - b, f);
    });
    return;
  }
  if (x && y) {
    TensorIter it({&out, x, y});
    it.for_each([&](char** p, const int64_t* s, int64_t m) {
      binary_run<Out, T>(p[0], s[0], p[1], s[1], p[2], s[2], m, f);
    });
  } else {
    TensorIter it({&out, x ? x : y});
    const char* sc = reinterpret_cast<const char*>(scalar);
    it.for_each([&](char** p, const int64_t* s, int64_t m) {
      if (x)
        binary_run<Out, T>(p[0], s[0], p[1], s[1], sc, 0, m, f);
      else
        binary_run<Out, T>(p[0], s[0], sc, 0, p[1], s[1], m, f);
    });
  }
}

// ------------------------------------------------------------------ scalars
// The range of an integer dtype (int64's for the others).
inline std::pair<int64_t, int64_t> int_range(DType t) {
  switch (t) {
    case DType::Bool:
      return {0, 1};
    case DType::UInt8:
      return {0, 255};
    case DType::Int8:
      return {-128, 127};
    case DType::Int16:
      return {-32768, 32767};
    case DType::Int32:
      return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default:
      return {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()};
  }
}
inline bool int_fits(int64_t v, DType t) {
  auto [lo, hi] = int_range(t);
  return v >= lo && v <= hi;
}

// The compute dtype for `tensor op scalar` (weak scalar, see dtype.h). Comparisons instead look
// at the value, so that int8 < 1000 or int64 < 2.5 give the mathematically right answer.
inline DType scalar_compute_dtype(Rule r, DType t, const Scalar& s, const char* op) {
  if (r == Rule::Compare && !is_floating(t)) {
    if (s.is_floating()) return DType::Float64;
    if (s.is_integral() && !int_fits(s.to_int(), t)) return DType::Int64;
  }
  DType ct = compute_dtype(r, result_type(t, s), op);
  RAVEL_CHECK(!is_integral(ct) || !s.is_integral() || int_fits(s.to_int(), ct), op,
              ": Python-style integer ", s.to_int(), " is out of bounds for dtype ",
              dtype_name(ct));
  return ct;
}

template <typename T>
inline T scalar_as(const Scalar& s) {
  if constexpr (std::is_same_v<T, bool>)
    return s.to_bool();
  else if constexpr (is_float_v<T>)
    return cast_value<T>(s.to_double());
  else
    return s.is_floating() ? cast_value<T>(s.to_double()) : static_cast<T>(s.to_int());
}

// ------------------------------------------------------------------ drivers
template <Rule R, typename F>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, const F& f) {
  DType p = a.dtype() == b.dtype() ? a.dtype() : promote_types(a.dtype(), b.dtype());
  DType ct = compute_dtype(R, p, op);
  DType od = bool_out(R) ? DType::Bool : ct;
  const bool same_shape = a.shape() == b.shape();
  Shape bshape;
  const Shape& shape =
      same_shape ? a.shape() : (bshape = broadcast_shapes(a.shape(), b.shape(), op));
  // Operands are converted / broadcast only when needed (no handle copies on the fast path).
  Tensor xc, yc;
  auto prep = [&](const Tensor& t, Tensor& c) -> const Tensor* {
    if (t.dtype() == ct && (same_shape || t.shape() == shape)) return &t;
    c = t.dtype() == ct ? t : t.to(ct);
    if (c.shape() != shape) c = c.expand(shape);
    return &c;
  };
  const Tensor* x = prep(a, xc);
  const Tensor* y = prep(b, yc);
  Tensor out = empty(shape, od);
  visit_dtype(ct, [&]<typename T>() {
    if constexpr (rule_allows<R, T>) {
      using Out = std::conditional_t<bool_out(R), bool, T>;
      run_binary<Out, T>(out, x, y, static_cast<const T*>(nullptr), f);
    }
  });
  return out;
}

// tensor op scalar (or scalar op tensor when scalar_first).
template <Rule R, typename F>
Tensor binary_scalar(const char* op, const Tensor& a, const Scalar& s, bool scalar_first,
                     const F& f) {
  DType ct = scalar_compute_dtype(R, a.dtype(), s, op);
  DType od = bool_out(R) ? DType::Bool : ct;
  Tensor x = a.dtype() == ct ? a : a.to(ct);
  Tensor out = empty(a.shape(), od);
  visit_dtype(ct, [&]<typename T>() {
    if constexpr (rule_allows<R, T>) {
      using Out = std::conditional_t<bool_out(R), bool, T>;
      const T v = scalar_as<T>(s);
      if (scalar_first)
        run_binary<Out, T>(out, nullptr, &x, &v, f);
      else
        run_binary<Out, T>(out, &x, nullptr, &v, f);
    }
  });
  return out;
}

// The checks of `self op= other`: the result (compute dtype ct) must cast to self's dtype under
// same_kind casting, and other (when a tensor) must broadcast to self's shape.
inline void check_inplace_args(const char* op, const Tensor& self, DType ct, const Tensor* other) {
  RAVEL_CHECK(can_cast(ct, self.dtype(), "same_kind"), op, ": cannot cast the result of dtype ",
              dtype_name(ct), " to the tensor's dtype ", dtype_name(self.dtype()),
              " (same_kind casting)");
  if (other && other->shape() != self.shape())
    RAVEL_CHECK(broadcast_shapes(self.shape(), other->shape(), op) == self.shape(), op,
                ": the other operand of shape ", other->shape(),
                " does not broadcast to the tensor's shape ", self.shape());
}

template <Rule R>
DType inplace_dtype(const char* op, const Tensor& self, const Tensor& other) {
  DType p =
      self.dtype() == other.dtype() ? self.dtype() : promote_types(self.dtype(), other.dtype());
  return compute_dtype(R, p, op);
}

// self op= other, NumPy's `op(self, other, out=self)`: the result is cast to self's dtype under
// same_kind casting, and other must broadcast to self's shape.
template <Rule R, typename F>
void inplace(const char* op, Tensor& self, const Tensor& other, const F& f) {
  DType ct = inplace_dtype<R>(op, self, other);
  check_inplace_args(op, self, ct, &other);
  Tensor y = other;
  if (y.shape() != self.shape()) y = y.expand(self.shape());
  if (ct != self.dtype()) {  // compute in the wider dtype, then cast back
    self.copy_(binary<R>(op, self, y, f));
    return;
  }
  if (y.dtype() != ct)
    y = y.to(ct);
  else if (y.shares_storage(self) && !y.is_same(self))
    y = y.clone();  // overlapping views
  visit_dtype(ct, [&]<typename T>() {
    if constexpr (rule_allows<R, T>)
      run_binary<T, T>(self, &self, &y, static_cast<const T*>(nullptr), f);
  });
  self.bump_version();
}

template <Rule R, typename F>
void inplace_scalar(const char* op, Tensor& self, const Scalar& s, const F& f) {
  DType ct = scalar_compute_dtype(R, self.dtype(), s, op);
  check_inplace_args(op, self, ct, nullptr);
  if (ct != self.dtype()) {
    self.copy_(binary_scalar<R>(op, self, s, false, f));
    return;
  }
  visit_dtype(ct, [&]<typename T>() {
    if constexpr (rule_allows<R, T>) {
      const T v = scalar_as<T>(s);
      run_binary<T, T>(self, &self, nullptr, &v, f);
    }
  });
  self.bump_version();
}

// Unary: out = f(x) computed in compute_t of the output (Float rule: integers -> float32).
template <Rule R, typename F>
Tensor unary(const char* op, const Tensor& a, const F& f) {
  DType in = a.dtype();
  DType od;
  if (R == Rule::Predicate)
    od = DType::Bool;
  else
    od = compute_dtype(R, in, op);
  Tensor out = empty(a.shape(), od);
  visit_dtype(in, [&]<typename In>() {
    using Out =
        std::conditional_t<R == Rule::Predicate, bool,
                           std::conditional_t<R == Rule::Float && !is_float_v<In>, float, In>>;
    if constexpr (R == Rule::Predicate || rule_allows<R, Out>) {
      using C = compute_t<std::conditional_t<R == Rule::Predicate, In, Out>>;
      auto g = [&f](In x) { return cast_value<Out>(f(cast_value<C>(x))); };
      const int64_t n = out.numel();
      if (a.is_contiguous()) {
        char* o = static_cast<char*>(out.raw_data());
        const char* x = static_cast<const char*>(a.raw_data());
        split(n, [&](int64_t b, int64_t e) {
          unary_run<Out, In>(o + b * static_cast<int64_t>(sizeof(Out)), sizeof(Out),
                             x + b * static_cast<int64_t>(sizeof(In)), sizeof(In), e - b, g);
        });
      } else {
        TensorIter it({&out, &a});
        it.for_each([&](char** p, const int64_t* s, int64_t m) {
          unary_run<Out, In>(p[0], s[0], p[1], s[1], m, g);
        });
      }
    }
  });
  return out;
}

// ------------------------------------------------------------------ autograd
// A differentiable op checks autograd::needs_grad (inline: one branch when nothing requires
// grad) and only then takes the recording path: it runs its forward again inside no_grad (so
// the conversions and sub-ops of the forward record nothing) and records one node. Backward
// functions are plain function pointers written with ravel ops (so double backward works); they
// get the tensors named by their Save flags, the others undefined.
enum Save : uint8_t { kSaveNone = 0, kSaveA = 1, kSaveB = 2, kSaveOut = 4 };
struct Grads2 {
  Tensor a, b;
};
// y = f(x)
using UnaryBackward = Tensor (*)(const Tensor& g, const Tensor& x, const Tensor& y);
// y = f(a, b); ga / gb: whether a / b need a gradient (return undefined tensors for the others)
using BinaryBackward = Grads2 (*)(const Tensor& g, const Tensor& a, const Tensor& b,
                                  const Tensor& y, bool ga, bool gb);
// y = f(x, s) for a Scalar s
using ScalarBackward = Tensor (*)(const Tensor& g, const Tensor& x, const Tensor& y,
                                  const Scalar& s);

void record_unary(const char* op, const Tensor& a, const Tensor& out, uint8_t save,
                  UnaryBackward bw);
// save_a / save_b: what the gradient of a / b needs (only kept when that input needs one)
void record_binary(const char* op, const Tensor& a, const Tensor& b, const Tensor& out,
                   uint8_t save_a, uint8_t save_b, BinaryBackward bw);
// reverse: the op was `scalar op a` (graph::trace needs the order for sub and div).
void record_scalar(const char* op, const Tensor& a, const Scalar& s, const Tensor& out,
                   uint8_t save, ScalarBackward bw, bool reverse = false);

template <typename Fwd>
[[gnu::noinline, gnu::cold]] Tensor no_grad(const Fwd& fwd) {
  NoGradGuard ng;
  return fwd();
}

// g where mask is true, else 0 (PyTorch's where(mask, grad, 0): a NaN gradient stays out).
inline Tensor masked(const Tensor& mask, const Tensor& g) {
  return where(mask, g, scalar_tensor(0, g.dtype()));
}

}  // namespace ravel::ew
