// Binary elementwise ops, their operators and in-place forms, and the ops built on them
// (where, clip, lerp, isclose). Each op is a dtype rule plus one generic lambda; the loops are in
// elementwise_kernels.h.
#include <array>
#include <atomic>

#include "graph/trace_hook.h"
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

// ---------------------------------------------------------------- autograd recording
namespace ew {

namespace {
// Unpacks the tensors named by `save` (flags in A, B, Out order) from a node's saved list.
std::array<Tensor, 3> unpack(uint8_t save, const std::vector<Tensor>& s) {
  std::array<Tensor, 3> t;
  size_t i = 0;
  for (int k = 0; k < 3; ++k)
    if (save & (1 << k)) t[k] = s[i++];
  return t;
}
std::vector<Tensor> pack(uint8_t save, const Tensor& a, const Tensor& b, const Tensor& out) {
  std::vector<Tensor> saved;
  if (save & kSaveA) saved.push_back(a);
  if (save & kSaveB) saved.push_back(b);
  if (save & kSaveOut) saved.push_back(out);
  return saved;
}
}  // namespace

void record_unary(const char* op, const Tensor& a, const Tensor& out, uint8_t save,
                  UnaryBackward bw) {
  save &= kSaveA | kSaveOut;
  autograd::record(op, {a}, out, pack(save, a, Tensor(), out),
                   [save, bw](const Tensor& g, const std::vector<Tensor>& s) {
                     auto t = unpack(save, s);
                     return std::vector<Tensor>{bw(g, t[0], t[2])};
                   });
}

void record_binary(const char* op, const Tensor& a, const Tensor& b, const Tensor& out,
                   uint8_t save_a, uint8_t save_b, BinaryBackward bw) {
  const bool ga = autograd::requires_grad(a), gb = autograd::requires_grad(b);
  const uint8_t save = (ga ? save_a : 0) | (gb ? save_b : 0);
  autograd::record(op, {a, b}, out, pack(save, a, b, out),
                   [save, bw, ga, gb](const Tensor& g, const std::vector<Tensor>& s) {
                     auto t = unpack(save, s);
                     Grads2 r = bw(g, t[0], t[1], t[2], ga, gb);
                     return std::vector<Tensor>{std::move(r.a), std::move(r.b)};
                   });
}

void record_scalar(const char* op, const Tensor& a, const Scalar& scalar, const Tensor& out,
                   uint8_t save, ScalarBackward bw, bool reverse) {
  graph::detail::TracedOp traced("", {a});
  if (traced) traced.scalar_operand(op, scalar, a.dtype(), reverse);
  save &= kSaveA | kSaveOut;
  autograd::record(op, {a}, out, pack(save, a, Tensor(), out),
                   [save, bw, scalar](const Tensor& g, const std::vector<Tensor>& s) {
                     auto t = unpack(save, s);
                     return std::vector<Tensor>{bw(g, t[0], t[2], scalar)};
                   });
  traced.output(out);
}

}  // namespace ew

namespace {

// Parameter lists of the backward functions below (see ew::UnaryBackward etc.).
#define RAVEL_BW2                                                                                  \
  []([[maybe_unused]] const Tensor& g, [[maybe_unused]] const Tensor& a,                           \
     [[maybe_unused]] const Tensor& b, [[maybe_unused]] const Tensor& y, [[maybe_unused]] bool ga, \
     [[maybe_unused]] bool gb) -> ew::Grads2
#define RAVEL_BWS                                                        \
  []([[maybe_unused]] const Tensor& g, [[maybe_unused]] const Tensor& x, \
     [[maybe_unused]] const Tensor& y, [[maybe_unused]] const Scalar& s) -> Tensor

// The gradient of max(a, b) for a (PyTorch's convention): all of it where a wins, half at a
// tie, none where b wins. A NaN on either side passes it to both.
// min(a, b) is the same with the comparison turned round.
Tensor max_share(const Tensor& g, const Tensor& a, const Tensor& b, bool is_max) {
  Tensor other_wins = is_max ? a < b : a > b;
  return where(a == b, g * 0.5, ew::masked(logical_not(other_wins), g));
}

// An exponent minus one, keeping its kind (pow's derivative).
Scalar minus_one(const Scalar& e) {
  return e.is_floating() ? Scalar(e.to_double() - 1) : Scalar(e.to_int() - 1);
}

const ew::BinaryBackward kMaximumBackward = RAVEL_BW2 {
  return {ga ? max_share(g, a, b, true) : Tensor(), gb ? max_share(g, b, a, true) : Tensor()};
};
const ew::BinaryBackward kMinimumBackward = RAVEL_BW2 {
  return {ga ? max_share(g, a, b, false) : Tensor(), gb ? max_share(g, b, a, false) : Tensor()};
};
// fmax/fmin: a takes all of it where it is chosen (ties included) or b is NaN, b the rest.
Tensor fmax_mask(const Tensor& a, const Tensor& b, bool is_max) {
  return logical_or(is_max ? a >= b : a <= b, isnan(b));
}
const ew::BinaryBackward kFmaxBackward = RAVEL_BW2 {
  Tensor m = fmax_mask(a, b, true);
  return {ga ? ew::masked(m, g) : Tensor(), gb ? ew::masked(logical_not(m), g) : Tensor()};
};
const ew::BinaryBackward kFminBackward = RAVEL_BW2 {
  Tensor m = fmax_mask(a, b, false);
  return {ga ? ew::masked(m, g) : Tensor(), gb ? ew::masked(logical_not(m), g) : Tensor()};
};

}  // namespace

// ---------------------------------------------------------------- tensor op tensor
#define RAVEL_BINARY(name, rule, fn) \
  Tensor name(const Tensor& a, const Tensor& b) { return ew::binary<rule>(#name, a, b, fn); }
// A differentiable binary op: save_a / save_b name what the gradient of a / b needs.
#define RAVEL_BINARY_GRAD(name, rule, fn, save_a, save_b, ...)          \
  Tensor name(const Tensor& a, const Tensor& b) {                       \
    if (autograd::needs_grad(a, b)) [[unlikely]] {                      \
      Tensor out = ew::no_grad([&] { return name(a, b); });             \
      ew::record_binary(#name, a, b, out, save_a, save_b, __VA_ARGS__); \
      return out;                                                       \
    }                                                                   \
    return ew::binary<rule>(#name, a, b, fn);                           \
  }
using ew::kSaveA, ew::kSaveB, ew::kSaveOut, ew::kSaveNone;
constexpr uint8_t kSaveAB = kSaveA | kSaveB;

RAVEL_BINARY_GRAD(
    add, Rule::Arith, kAdd, kSaveNone, kSaveNone, RAVEL_BW2 {
      return {ga ? g : Tensor(), gb ? g : Tensor()};
    })
RAVEL_BINARY_GRAD(
    sub, Rule::ArithNoBool, kSub, kSaveNone, kSaveNone, RAVEL_BW2 {
      return {ga ? g : Tensor(), gb ? -g : Tensor()};
    })
RAVEL_BINARY_GRAD(
    mul, Rule::Arith, kMul, kSaveB, kSaveA, RAVEL_BW2 {
      return {ga ? g * b : Tensor(), gb ? g * a : Tensor()};
    })
RAVEL_BINARY_GRAD(
    div, Rule::Float, kDiv, kSaveB, kSaveAB, RAVEL_BW2 {
      return {ga ? g / b : Tensor(), gb ? -g * (a / b / b) : Tensor()};
    })
RAVEL_BINARY(floor_divide, Rule::ArithInt8, kFloorDivide)  // not differentiable (as PyTorch)
// a - b * floor(a / b): the quotient's derivative is 0 almost everywhere
RAVEL_BINARY_GRAD(
    mod, Rule::ArithInt8, kMod, kSaveNone, kSaveAB, RAVEL_BW2 {
      return {ga ? g : Tensor(), gb ? -g * floor_divide(a, b) : Tensor()};
    })
RAVEL_BINARY_GRAD(
    fmod, Rule::ArithInt8, kFmod, kSaveNone, kSaveAB, RAVEL_BW2 {
      return {ga ? g : Tensor(), gb ? -g * trunc(a / b) : Tensor()};
    })
RAVEL_BINARY_GRAD(maximum, Rule::Arith, kMaximum, kSaveAB, kSaveAB, kMaximumBackward)
RAVEL_BINARY_GRAD(minimum, Rule::Arith, kMinimum, kSaveAB, kSaveAB, kMinimumBackward)
RAVEL_BINARY_GRAD(fmax, Rule::Arith, kFmax, kSaveAB, kSaveAB, kFmaxBackward)
RAVEL_BINARY_GRAD(fmin, Rule::Arith, kFmin, kSaveAB, kSaveAB, kFminBackward)
// d atan2(a, b) = (b da - a db) / (a^2 + b^2)
RAVEL_BINARY_GRAD(
    atan2, Rule::Float, kAtan2, kSaveAB, kSaveAB, RAVEL_BW2 {
      Tensor r = reciprocal(a * a + b * b);
      return {ga ? g * b * r : Tensor(), gb ? g * -a * r : Tensor()};
    })
RAVEL_BINARY_GRAD(
    hypot, Rule::Float, kHypot, kSaveA | kSaveOut, kSaveB | kSaveOut, RAVEL_BW2 {
      return {ga ? g * a / y : Tensor(), gb ? g * b / y : Tensor()};
    })
// |a| with b's sign: the gradient of a is g * y / a (0 at a = 0); b's is 0.
RAVEL_BINARY_GRAD(
    copysign, Rule::Float, kCopysign, kSaveA | kSaveOut, kSaveNone, RAVEL_BW2 {
      return {ga ? ew::masked(a != 0, g * (y / a)) : Tensor(), gb ? zeros_like(g) : Tensor()};
    })
// d log(e^a + e^b) = sigmoid(a - b) da + sigmoid(b - a) db
RAVEL_BINARY_GRAD(
    logaddexp, Rule::Float, kLogaddexp, kSaveAB, kSaveAB, RAVEL_BW2 {
      return {ga ? g / (1 + exp(b - a)) : Tensor(), gb ? g / (1 + exp(a - b)) : Tensor()};
    })
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
#undef RAVEL_BINARY_GRAD

// d a^b = b a^(b-1) da + a^b log(a) db; PyTorch's conventions: no gradient to a where b = 0,
// none to b where a = 0 and b >= 0.
Tensor pow(const Tensor& a, const Tensor& b) {
  if (autograd::needs_grad(a, b)) [[unlikely]] {
    Tensor out = ew::no_grad([&] { return pow(a, b); });
    ew::record_binary(
        "pow", a, b, out, kSaveAB, kSaveAB | kSaveOut, RAVEL_BW2 {
          Tensor da, db;
          if (ga) da = ew::masked(b != 0, g * (b * pow(a, b - 1)));
          if (gb) db = ew::masked(logical_not(logical_and(a == 0, b >= 0)), g * (y * log(a)));
          return {da, db};
        });
    return out;
  }
  std::atomic<bool> negative{false};
  Tensor out = ew::binary<Rule::ArithInt8>("pow", a, b, PowOp{&negative});
  check_pow(negative);
  return out;
}

// ---------------------------------------------------------------- tensor op scalar
// A differentiable `tensor op scalar` (or `scalar op tensor`, `expr` computes it again).
#define RAVEL_SCALAR_GRAD(name, expr, save, ...)           \
  if (autograd::needs_grad(a)) [[unlikely]] {              \
    Tensor out = ew::no_grad([&] { return expr; });        \
    ew::record_scalar(name, a, b, out, save, __VA_ARGS__); \
    return out;                                            \
  }
#define RAVEL_BINARY_SCALAR(name, rule, fn, save, ...)      \
  Tensor name(const Tensor& a, const Scalar& b) {           \
    RAVEL_SCALAR_GRAD(#name, name(a, b), save, __VA_ARGS__) \
    return ew::binary_scalar<rule>(#name, a, b, false, fn); \
  }
RAVEL_BINARY_SCALAR(
    add, Rule::Arith, kAdd, kSaveNone, RAVEL_BWS { return g; })
RAVEL_BINARY_SCALAR(
    sub, Rule::ArithNoBool, kSub, kSaveNone, RAVEL_BWS { return g; })
RAVEL_BINARY_SCALAR(
    mul, Rule::Arith, kMul, kSaveNone, RAVEL_BWS { return g * s; })
RAVEL_BINARY_SCALAR(
    div, Rule::Float, kDiv, kSaveNone, RAVEL_BWS { return g / s; })
RAVEL_BINARY_SCALAR(
    maximum, Rule::Arith, kMaximum, kSaveA,
    RAVEL_BWS { return max_share(g, x, scalar_tensor(s, x.dtype()), true); })
RAVEL_BINARY_SCALAR(
    minimum, Rule::Arith, kMinimum, kSaveA,
    RAVEL_BWS { return max_share(g, x, scalar_tensor(s, x.dtype()), false); })
#undef RAVEL_BINARY_SCALAR

Tensor pow(const Tensor& a, const Scalar& b) {
  RAVEL_SCALAR_GRAD(
      "pow", pow(a, b), kSaveA, RAVEL_BWS {
        if (s.to_double() == 0) return zeros_like(g);
        return g * (pow(x, minus_one(s)) * s);
      })
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
  RAVEL_SCALAR_GRAD(
      "mod", a % b, kSaveNone, RAVEL_BWS { return g; })
  return ew::binary_scalar<Rule::ArithInt8>("mod", a, b, false, kMod);
}
// scalar op tensor: the tensor is `a` (x in the backward), the scalar `b`
Tensor operator+(const Scalar& b, const Tensor& a) {
  RAVEL_SCALAR_GRAD(
      "add", b + a, kSaveNone, RAVEL_BWS { return g; })
  return ew::binary_scalar<Rule::Arith>("add", a, b, true, kAdd);
}
Tensor operator-(const Scalar& b, const Tensor& a) {
  RAVEL_SCALAR_GRAD(
      "sub", b - a, kSaveNone, RAVEL_BWS { return -g; }, true)
  return ew::binary_scalar<Rule::ArithNoBool>("sub", a, b, true, kSub);
}
Tensor operator*(const Scalar& b, const Tensor& a) {
  RAVEL_SCALAR_GRAD(
      "mul", b * a, kSaveNone, RAVEL_BWS { return g * s; })
  return ew::binary_scalar<Rule::Arith>("mul", a, b, true, kMul);
}
// d(s / x) = -s / x^2 = -y / x
Tensor operator/(const Scalar& b, const Tensor& a) {
  RAVEL_SCALAR_GRAD(
      "div", b / a, kSaveA | kSaveOut, RAVEL_BWS { return -g * (y / x); }, true)
  return ew::binary_scalar<Rule::Float>("div", a, b, true, kDiv);
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
namespace {
// Under autograd the op is computed out of place on a clone (which records its own node, so
// what the op saves is the clone, not self), and self takes the result's data and history.
template <Rule R, typename Fn>
[[gnu::noinline, gnu::cold]] Tensor& inplace_with_grad(const char* op, Tensor& self,
                                                       const Tensor* other, const Scalar& s,
                                                       const Fn& outplace) {
  DType ct = other ? ew::inplace_dtype<R>(op, self, *other)
                   : ew::scalar_compute_dtype(R, self.dtype(), s, op);
  ew::check_inplace_args(op, self, ct, other);
  autograd::check_inplace(self, op);
  Tensor result = other ? outplace(self.clone(), *other) : outplace(self.clone(), s);
  return autograd::rebase_history(self, result, op);
}
}  // namespace

#define RAVEL_INPLACE(name, outplace, rule, fn)                                                    \
  Tensor& Tensor::name(const Tensor& o) {                                                          \
    if (autograd::needs_grad(*this, o)) [[unlikely]]                                               \
      return inplace_with_grad<rule>(#name, *this, &o, Scalar(),                                   \
                                     [](const auto& x, const auto& y) { return outplace(x, y); }); \
    ew::inplace<rule>(#name, *this, o, fn);                                                        \
    return *this;                                                                                  \
  }                                                                                                \
  Tensor& Tensor::name(const Scalar& o) {                                                          \
    if (autograd::needs_grad(*this)) [[unlikely]]                                                  \
      return inplace_with_grad<rule>(#name, *this, nullptr, o,                                     \
                                     [](const auto& x, const auto& y) { return outplace(x, y); }); \
    ew::inplace_scalar<rule>(#name, *this, o, fn);                                                 \
    return *this;                                                                                  \
  }
RAVEL_INPLACE(add_, add, Rule::Arith, kAdd)
RAVEL_INPLACE(sub_, sub, Rule::ArithNoBool, kSub)
RAVEL_INPLACE(mul_, mul, Rule::Arith, kMul)
RAVEL_INPLACE(div_, div, Rule::Float, kDiv)
#undef RAVEL_INPLACE

// ---------------------------------------------------------------- where, clip, lerp, isclose
// The gradient goes to a where cond holds and to b elsewhere; cond gets none.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (autograd::needs_grad(a, b)) [[unlikely]] {
    Tensor out = ew::no_grad([&] { return where(cond, a, b); });
    const bool ga = autograd::requires_grad(a), gb = autograd::requires_grad(b);
    autograd::record("where", {a, b}, out, {cond},
                     [ga, gb](const Tensor& g, const std::vector<Tensor>& s) {
                       Tensor zero = scalar_tensor(0, g.dtype());
                       return std::vector<Tensor>{ga ? where(s[0], g, zero) : Tensor(),
                                                  gb ? where(s[0], zero, g) : Tensor()};
                     });
    return out;
  }
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

// The gradient passes where lo <= a <= hi (bounds included, as PyTorch's clamp).
Tensor clip(const Tensor& a, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  if (autograd::needs_grad(a)) [[unlikely]] {
    graph::detail::TracedOp traced("Clip", {a});
    if (traced) {
      lo ? traced.constant(scalar_tensor(*lo, a.dtype())) : traced.no_input();
      hi ? traced.constant(scalar_tensor(*hi, a.dtype())) : traced.no_input();
    }
    Tensor out = ew::no_grad([&] { return clip(a, lo, hi); });
    autograd::record("clip", {a}, out, {a},
                     [lo, hi](const Tensor& g, const std::vector<Tensor>& s) {
                       const Tensor& x = s[0];
                       Tensor in;  // lo <= x <= hi
                       if (lo) in = x >= *lo;
                       if (hi) in = in.defined() ? logical_and(in, x <= *hi) : x <= *hi;
                       return std::vector<Tensor>{in.defined() ? ew::masked(in, g) : g};
                     });
    return traced.output(out);
  }
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

// PyTorch's clamp with tensor bounds: a's gradient passes where lo <= a <= hi, lo's where a is
// below it (and lo < hi), hi's where a is above it or hi < lo (the result is hi there).
Tensor clip(const Tensor& a, const Tensor& lo, const Tensor& hi) {
  if (autograd::needs_grad(a, lo, hi)) [[unlikely]] {
    Tensor out = ew::no_grad([&] { return clip(a, lo, hi); });
    const bool ga = autograd::requires_grad(a), gl = autograd::requires_grad(lo),
               gh = autograd::requires_grad(hi);
    autograd::record("clip", {a, lo, hi}, out, {a, lo, hi},
                     [ga, gl, gh](const Tensor& g, const std::vector<Tensor>& s) {
                       const Tensor &x = s[0], &l = s[1], &h = s[2];
                       std::vector<Tensor> r(3);
                       if (ga) r[0] = ew::masked(logical_and(x >= l, x <= h), g);
                       if (gl) r[1] = ew::masked(logical_and(x < l, l < h), g);
                       if (gh) r[2] = ew::masked(logical_or(x > h, h < l), g);
                       return r;
                     });
    return out;
  }
  return minimum(maximum(a, lo), hi);
}

// lerp is built from differentiable ops, so it needs no node of its own.
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
