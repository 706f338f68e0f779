// Binary elementwise ops, their operators and in-place forms, and the ops built on them
// (where, clip, lerp, isclose). Each op is a dtype rule plus one generic lambda; the loops are in
// elementwise_kernels.h.
#include <atomic>

#include "ops/elementwise_kernels.h"

namespace ravel {

using ew::Rule;

namespace {

// NumPy's npy_divmod for floats: floor quotient and remainder with the divisor's sign.
template <typename C>
C float_divmod(C a, C b, C* modulus) {
  C mod = std::fmod(a, b);
  if (b == 0) {
    *modulus = mod;
    return a / b;
  }
  C div = (a - mod) / b;
  if (mod != 0) {
    if ((b < 0) != (mod < 0)) {
      mod += b;
      div -= C(1);
    }
  } else {
    mod = std::copysign(C(0), b);
  }
  C floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > C(0.5)) floordiv += C(1);
  } else {
    floordiv = std::copysign(C(0), a / b);
  }
  *modulus = mod;
  return floordiv;
}

template <typename C>
constexpr bool is_signed_int = std::is_integral_v<C>&& std::is_signed_v<C>;

// Integer division and remainder never trap: x / 0 and x % 0 give 0 (as NumPy), and
// MIN / -1 wraps.
constexpr auto kAdd = [](auto x, auto y) { return ew::wrap_add(x, y); };
constexpr auto kSub = [](auto x, auto y) { return ew::wrap_sub(x, y); };
constexpr auto kMul = [](auto x, auto y) { return ew::wrap_mul(x, y); };
constexpr auto kDiv = [](auto x, auto y) { return x / y; };
constexpr auto kFloorDivide = [](auto x, auto y) {
  using C = decltype(x);
  if constexpr (std::is_integral_v<C>) {
    if (y == 0) return C(0);
    if constexpr (is_signed_int<C>) {
      if (y == -1) return ew::wrap_neg(x);
      C q = static_cast<C>(x / y);
      return static_cast<C>(((x % y != 0) && ((x < 0) != (y < 0))) ? q - 1 : q);
    } else {
      return static_cast<C>(x / y);
    }
  } else {
    if (y == 0) return x / y;
    C mod;
    return float_divmod(x, y, &mod);
  }
};
constexpr auto kMod = [](auto x, auto y) {
  using C = decltype(x);
  if constexpr (std::is_integral_v<C>) {
    if (y == 0) return C(0);
    if constexpr (is_signed_int<C>) {
      if (y == -1) return C(0);
      C r = static_cast<C>(x % y);
      return static_cast<C>((r != 0 && ((r < 0) != (y < 0))) ? r + y : r);
    } else {
      return static_cast<C>(x % y);
    }
  } else {
    if (y == 0) return std::fmod(x, y);
    C mod;
    float_divmod(x, y, &mod);
    return mod;
  }
};
constexpr auto kFmod = [](auto x, auto y) {
  using C = decltype(x);
  if constexpr (std::is_integral_v<C>) {
    if (y == 0) return C(0);
    if constexpr (is_signed_int<C>)
      if (y == -1) return C(0);
    return static_cast<C>(x % y);
  } else {
    return std::fmod(x, y);
  }
};
// NaN-propagating (maximum) and NaN-ignoring (fmax) max/min, as NumPy's scalar loops.
constexpr auto kMaximum = [](auto x, auto y) { return (x >= y || x != x) ? x : y; };
constexpr auto kMinimum = [](auto x, auto y) { return (x <= y || x != x) ? x : y; };
constexpr auto kFmax = [](auto x, auto y) { return (x >= y || y != y) ? x : y; };
constexpr auto kFmin = [](auto x, auto y) { return (x <= y || y != y) ? x : y; };
constexpr auto kAtan2 = [](auto x, auto y) { return std::atan2(x, y); };
constexpr auto kHypot = [](auto x, auto y) { return std::hypot(x, y); };
constexpr auto kCopysign = [](auto x, auto y) { return std::copysign(x, y); };
constexpr auto kLogaddexp = [](auto x, auto y) {
  using C = decltype(x);
  if (x == y) return x + C(0.693147180559945309417);  // also equal infinities
  C d = x - y;
  if (d > 0) return x + std::log1p(std::exp(-d));
  if (d <= 0) return y + std::log1p(std::exp(d));
  return d;  // NaN
};
constexpr auto kEq = [](auto x, auto y) { return x == y; };
constexpr auto kNe = [](auto x, auto y) { return x != y; };
constexpr auto kLt = [](auto x, auto y) { return x < y; };
constexpr auto kLe = [](auto x, auto y) { return x <= y; };
constexpr auto kGt = [](auto x, auto y) { return x > y; };
constexpr auto kGe = [](auto x, auto y) { return x >= y; };
constexpr auto kAnd = [](auto x, auto y) { return static_cast<decltype(x)>(x & y); };
constexpr auto kOr = [](auto x, auto y) { return static_cast<decltype(x)>(x | y); };
constexpr auto kXor = [](auto x, auto y) { return static_cast<decltype(x)>(x ^ y); };
constexpr auto kLogicalXor = [](auto x, auto y) { return x != y; };
// Shifts by >= the bit width (or negative) give 0, or -1 for a negative value shifted right.
constexpr auto kLeftShift = [](auto x, auto y) {
  using C = decltype(x);
  if (static_cast<uint64_t>(y) >= sizeof(C) * 8) return C(0);
  return static_cast<C>(ew::wide_u<C>(x) << y);
};
constexpr auto kRightShift = [](auto x, auto y) {
  using C = decltype(x);
  if (static_cast<uint64_t>(y) >= sizeof(C) * 8) {
    if constexpr (std::is_signed_v<C>)
      return C(x < 0 ? -1 : 0);
    else
      return C(0);
  }
  return static_cast<C>(x >> y);
};

// Integer power by squaring (wrapping); a negative exponent sets `negative` (NumPy raises).
struct PowOp {
  std::atomic<bool>* negative;
  template <typename C>
  C operator()(C x, C y) const {
    if constexpr (std::is_integral_v<C>) {
      if constexpr (std::is_signed_v<C>) {
        if (y < 0) {
          negative->store(true, std::memory_order_relaxed);
          return C(0);
        }
      }
      using U = ew::wide_u<C>;
      U base = static_cast<U>(x), r = 1;
      for (uint64_t e = static_cast<uint64_t>(y); e; e >>= 1) {
        if (e & 1) r = static_cast<U>(r * base);
        base = static_cast<U>(base * base);
      }
      return static_cast<C>(r);
    } else {
      return std::pow(x, y);
    }
  }
};

void check_pow(const std::atomic<bool>& negative) {
  RAVEL_CHECK(!negative.load(), "pow: integers to negative integer powers are not allowed");
}

}  // namespace

// ---------------------------------------------------------------- tensor op tensor
#define RAVEL_BINARY(name, rule, fn) \
  Tensor name(const Tensor& a, const Tensor& b) { return ew::binary<rule>(#name, a, b, fn); }
RAVEL_BINARY(add, Rule::Arith, kAdd)
RAVEL_BINARY(sub, Rule::ArithNoBool, kSub)
RAVEL_BINARY(mul, Rule::Arith, kMul)
RAVEL_BINARY(div, Rule::Float, kDiv)
RAVEL_BINARY(floor_divide, Rule::ArithInt8, kFloorDivide)
RAVEL_BINARY(mod, Rule::ArithInt8, kMod)
RAVEL_BINARY(fmod, Rule::ArithInt8, kFmod)
RAVEL_BINARY(maximum, Rule::Arith, kMaximum)
RAVEL_BINARY(minimum, Rule::Arith, kMinimum)
RAVEL_BINARY(fmax, Rule::Arith, kFmax)
RAVEL_BINARY(fmin, Rule::Arith, kFmin)
RAVEL_BINARY(atan2, Rule::Float, kAtan2)
RAVEL_BINARY(hypot, Rule::Float, kHypot)
RAVEL_BINARY(copysign, Rule::Float, kCopysign)
RAVEL_BINARY(logaddexp, Rule::Float, kLogaddexp)
RAVEL_BINARY(equal, Rule::Compare, kEq)
RAVEL_BINARY(not_equal, Rule::Compare, kNe)
RAVEL_BINARY(less, Rule::Compare, kLt)
RAVEL_BINARY(less_equal, Rule::Compare, kLe)
RAVEL_BINARY(greater, Rule::Compare, kGt)
RAVEL_BINARY(greater_equal, Rule::Compare, kGe)
RAVEL_BINARY(logical_and, Rule::Logical, kAnd)
RAVEL_BINARY(logical_or, Rule::Logical, kOr)
RAVEL_BINARY(logical_xor, Rule::Logical, kLogicalXor)
RAVEL_BINARY(bitwise_and, Rule::Bitwise, kAnd)
RAVEL_BINARY(bitwise_or, Rule::Bitwise, kOr)
RAVEL_BINARY(bitwise_xor, Rule::Bitwise, kXor)
RAVEL_BINARY(left_shift, Rule::Shift, kLeftShift)
RAVEL_BINARY(right_shift, Rule::Shift, kRightShift)
#undef RAVEL_BINARY

Tensor pow(const Tensor& a, const Tensor& b) {
  std::atomic<bool> negative{false};
  Tensor out = ew::binary<Rule::ArithInt8>("pow", a, b, PowOp{&negative});
  check_pow(negative);
  return out;
}

// ---------------------------------------------------------------- tensor op scalar
#define RAVEL_BINARY_SCALAR(name, rule, fn)                 \
  Tensor name(const Tensor& a, const Scalar& b) {           \
    return ew::binary_scalar<rule>(#name, a, b, false, fn); \
  }
RAVEL_BINARY_SCALAR(add, Rule::Arith, kAdd)
RAVEL_BINARY_SCALAR(sub, Rule::ArithNoBool, kSub)
RAVEL_BINARY_SCALAR(mul, Rule::Arith, kMul)
RAVEL_BINARY_SCALAR(div, Rule::Float, kDiv)
RAVEL_BINARY_SCALAR(maximum, Rule::Arith, kMaximum)
RAVEL_BINARY_SCALAR(minimum, Rule::Arith, kMinimum)
#undef RAVEL_BINARY_SCALAR

Tensor pow(const Tensor& a, const Scalar& b) {
  std::atomic<bool> negative{false};
  Tensor out = ew::binary_scalar<Rule::ArithInt8>("pow", a, b, false, PowOp{&negative});
  check_pow(negative);
  return out;
}

// ---------------------------------------------------------------- operators
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator%(const Tensor& a, const Tensor& b) { return mod(a, b); }
Tensor operator+(const Tensor& a, const Scalar& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Scalar& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Scalar& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Scalar& b) { return div(a, b); }
Tensor operator%(const Tensor& a, const Scalar& b) {
  return ew::binary_scalar<Rule::ArithInt8>("mod", a, b, false, kMod);
}
Tensor operator+(const Scalar& a, const Tensor& b) {
  return ew::binary_scalar<Rule::Arith>("add", b, a, true, kAdd);
}
Tensor operator-(const Scalar& a, const Tensor& b) {
  return ew::binary_scalar<Rule::ArithNoBool>("sub", b, a, true, kSub);
}
Tensor operator*(const Scalar& a, const Tensor& b) {
  return ew::binary_scalar<Rule::Arith>("mul", b, a, true, kMul);
}
Tensor operator/(const Scalar& a, const Tensor& b) {
  return ew::binary_scalar<Rule::Float>("div", b, a, true, kDiv);
}
Tensor operator-(const Tensor& a) { return neg(a); }
Tensor operator==(const Tensor& a, const Tensor& b) { return equal(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return not_equal(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return less(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return less_equal(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return greater(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return greater_equal(a, b); }
#define RAVEL_COMPARE_SCALAR(op, name, fn)                          \
  Tensor operator op(const Tensor& a, const Scalar& b) {            \
    return ew::binary_scalar<Rule::Compare>(name, a, b, false, fn); \
  }
RAVEL_COMPARE_SCALAR(==, "equal", kEq)
RAVEL_COMPARE_SCALAR(!=, "not_equal", kNe)
RAVEL_COMPARE_SCALAR(<, "less", kLt)
RAVEL_COMPARE_SCALAR(<=, "less_equal", kLe)
RAVEL_COMPARE_SCALAR(>, "greater", kGt)
RAVEL_COMPARE_SCALAR(>=, "greater_equal", kGe)
#undef RAVEL_COMPARE_SCALAR
Tensor operator&(const Tensor& a, const Tensor& b) { return bitwise_and(a, b); }
Tensor operator|(const Tensor& a, const Tensor& b) { return bitwise_or(a, b); }
Tensor operator^(const Tensor& a, const Tensor& b) { return bitwise_xor(a, b); }
Tensor operator~(const Tensor& a) { return bitwise_not(a); }
Tensor operator!(const Tensor& a) { return logical_not(a); }

// ---------------------------------------------------------------- in-place
#define RAVEL_INPLACE(name, rule, fn)              \
  Tensor& Tensor::name(const Tensor& o) {          \
    ew::inplace<rule>(#name, *this, o, fn);        \
    return *this;                                  \
  }                                                \
  Tensor& Tensor::name(const Scalar& o) {          \
    ew::inplace_scalar<rule>(#name, *this, o, fn); \
    return *this;                                  \
  }
RAVEL_INPLACE(add_, Rule::Arith, kAdd)
RAVEL_INPLACE(sub_, Rule::ArithNoBool, kSub)
RAVEL_INPLACE(mul_, Rule::Arith, kMul)
RAVEL_INPLACE(div_, Rule::Float, kDiv)
#undef RAVEL_INPLACE

// ---------------------------------------------------------------- where, clip, lerp, isclose
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  DType dt = promote_types(a.dtype(), b.dtype());
  Shape shape = cond.shape();
  if (a.shape() != shape || b.shape() != shape)
    shape =
        broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  auto prep = [&](const Tensor& t, DType d) {
    Tensor r = t.dtype() == d ? t : t.to(d);
    return r.shape() == shape ? r : r.expand(shape);
  };
  Tensor c = prep(cond, DType::Bool), x = prep(a, dt), y = prep(b, dt);
  Tensor out = empty(shape, dt);
  TensorIter it({&out, &c, &x, &y});
  // Only bytes move, so dispatch on the item size.
  auto run = [&]<typename T>() {
    it.for_each([&](char** p, const int64_t* s, int64_t n) {
      constexpr int64_t k = sizeof(T);
      if (s[0] == k && s[1] == 1 && s[2] == k && s[3] == k) {
        T* o = reinterpret_cast<T*>(p[0]);
        const bool* cp = reinterpret_cast<const bool*>(p[1]);
        const T* xp = reinterpret_cast<const T*>(p[2]);
        const T* yp = reinterpret_cast<const T*>(p[3]);
        for (int64_t i = 0; i < n; ++i) o[i] = cp[i] ? xp[i] : yp[i];
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const bool*>(p[1] + i * s[1])
                                                     ? *reinterpret_cast<const T*>(p[2] + i * s[2])
                                                     : *reinterpret_cast<const T*>(p[3] + i * s[3]);
      }
    });
  };
  switch (itemsize(dt)) {
    case 1:
      run.template operator()<uint8_t>();
      break;
    case 2:
      run.template operator()<uint16_t>();
      break;
    case 4:
      run.template operator()<uint32_t>();
      break;
    default:
      run.template operator()<uint64_t>();
      break;
  }
  return out;
}

Tensor where(const Tensor& cond, const Scalar& a, const Scalar& b) {
  DType dt = promote_types(a.default_dtype(), b.default_dtype());
  return where(cond, scalar_tensor(a, dt), scalar_tensor(b, dt));
}

Tensor clip(const Tensor& a, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  // Integer bounds outside an integer tensor's range are clamped to it (they cannot be
  // represented in the tensor's dtype, which the result keeps).
  auto fit = [&](std::optional<Scalar>& s) {
    if (s && s->is_integral() && is_integral(a.dtype())) {
      auto [mn, mx] = ew::int_range(a.dtype());
      s = Scalar(std::clamp(s->to_int(), mn, mx));
    }
  };
  fit(lo);
  fit(hi);
  Tensor out = a;
  if (lo) out = maximum(out, *lo);
  if (hi) out = minimum(out, *hi);
  return out.is_same(a) ? a.clone() : out;
}

Tensor clip(const Tensor& a, const Tensor& lo, const Tensor& hi) {
  return minimum(maximum(a, lo), hi);
}

Tensor lerp(const Tensor& a, const Tensor& b, const Tensor& weight) {
  return add(a, mul(weight, sub(b, a)));
}

Tensor lerp(const Tensor& a, const Tensor& b, const Scalar& weight) {
  return add(a, mul(sub(b, a), weight));
}

// NumPy's isclose: |a - b| <= atol + rtol * |b| for finite b, plus exact equality (infinities).
Tensor isclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  return ew::binary<Rule::Close>("isclose", a, b, [=](auto x, auto y) {
    using C = decltype(x);
    bool close = (std::fabs(x - y) <= C(atol) + C(rtol) * std::fabs(y) &&
                  std::fabs(y) < std::numeric_limits<C>::infinity()) ||
                 x == y;
    return close || (equal_nan && x != x && y != y);
  });
}

static bool all_true(const Tensor& t) {
  const bool* p = t.data_ptr<bool>();  // results of ops are contiguous
  const int64_t n = t.numel();
  bool ok = true;
  for (int64_t i = 0; i < n; ++i) ok &= p[i];
  return ok;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol, bool equal_nan) {
  return all_true(isclose(a, b, rtol, atol, equal_nan));
}

bool array_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && all_true(equal(a, b));
}

}  // namespace ravel
