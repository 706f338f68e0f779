// Unary elementwise ops: one dtype rule and one generic lambda each (loops in
// elementwise_kernels.h). float32 (and float16/bfloat16, computed in float) exp, log, tanh and
// sigmoid use the vectorisable versions in backend/cpu/vec_math.h.
#include <bit>

#include "backend/cpu/vec_math.h"
#include "ops/elementwise_kernels.h"

namespace ravel {

using ew::Rule;

namespace {

template <typename C>
constexpr bool is_f32 = std::is_same_v<C, float>;

constexpr auto kExp = [](auto x) {
  if constexpr (is_f32<decltype(x)>)
    return vec::exp(x);
  else
    return std::exp(x);
};
constexpr auto kLog = [](auto x) {
  if constexpr (is_f32<decltype(x)>)
    return vec::log(x);
  else
    return std::log(x);
};
constexpr auto kTanh = [](auto x) {
  if constexpr (is_f32<decltype(x)>)
    return vec::tanh(x);
  else
    return std::tanh(x);
};
constexpr auto kSigmoid = [](auto x) {
  if constexpr (is_f32<decltype(x)>)
    return vec::sigmoid(x);
  else
    return 1.0 / (1.0 + std::exp(-x));
};

}  // namespace

// Backward functions: g the output's gradient, x the input, y the output (see ew::Save).
#define RAVEL_BW1                                                        \
  []([[maybe_unused]] const Tensor& g, [[maybe_unused]] const Tensor& x, \
     [[maybe_unused]] const Tensor& y) -> Tensor
// Records `name` when its input needs a gradient; the forward runs again with grad mode off.
#define RAVEL_UNARY_GRAD(name, expr, save, ...)        \
  if (autograd::needs_grad(a)) [[unlikely]] {          \
    Tensor out = ew::no_grad([&] { return expr; });    \
    ew::record_unary(name, a, out, save, __VA_ARGS__); \
    return out;                                        \
  }
using ew::kSaveA, ew::kSaveOut, ew::kSaveNone;
// Piecewise-constant functions (sign, floor, ...) pass a zero gradient, as PyTorch.
constexpr ew::UnaryBackward kZeroBackward = RAVEL_BW1 { return zeros_like(g); };

constexpr double kLn2 = 0.693147180559945309417, kLn10 = 2.30258509299404568402;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;

// ---------------------------------------------------------------- float functions
// name, forward of one element, what the backward needs, d name(x) as g * f'(x)
#define RAVEL_FLOAT_UNARY(name, expr, save, grad)         \
  Tensor name(const Tensor& a) {                          \
    RAVEL_UNARY_GRAD(                                     \
        #name, name(a), save, RAVEL_BW1 { return grad; }) \
    return ew::unary<Rule::Float>(#name, a, [](auto x) {  \
      using C [[maybe_unused]] = decltype(x);             \
      return expr;                                        \
    });                                                   \
  }
RAVEL_FLOAT_UNARY(reciprocal, C(1) / x, kSaveOut, (-g * (y * y)))
RAVEL_FLOAT_UNARY(sqrt, std::sqrt(x), kSaveOut, (g / (y * 2)))
RAVEL_FLOAT_UNARY(rsqrt, C(1) / std::sqrt(x), kSaveOut, (g * (y * y * y) * -0.5))
RAVEL_FLOAT_UNARY(cbrt, std::cbrt(x), kSaveOut, (g / (y * y * 3)))
RAVEL_FLOAT_UNARY(exp, kExp(x), kSaveOut, (g * y))
RAVEL_FLOAT_UNARY(exp2, std::exp2(x), kSaveOut, (g * y * kLn2))
RAVEL_FLOAT_UNARY(expm1, std::expm1(x), kSaveOut, (g * (y + 1)))
RAVEL_FLOAT_UNARY(log, kLog(x), kSaveA, (g / x))
RAVEL_FLOAT_UNARY(log2, std::log2(x), kSaveA, (g / (x * kLn2)))
RAVEL_FLOAT_UNARY(log10, std::log10(x), kSaveA, (g / (x * kLn10)))
RAVEL_FLOAT_UNARY(log1p, std::log1p(x), kSaveA, (g / (x + 1)))
RAVEL_FLOAT_UNARY(sin, std::sin(x), kSaveA, (g * cos(x)))
RAVEL_FLOAT_UNARY(cos, std::cos(x), kSaveA, (g * -sin(x)))
RAVEL_FLOAT_UNARY(tan, std::tan(x), kSaveOut, (g * (y * y + 1)))
RAVEL_FLOAT_UNARY(asin, std::asin(x), kSaveA, (g * rsqrt(1 - x * x)))
RAVEL_FLOAT_UNARY(acos, std::acos(x), kSaveA, (-g * rsqrt(1 - x * x)))
RAVEL_FLOAT_UNARY(atan, std::atan(x), kSaveA, (g / (x * x + 1)))
RAVEL_FLOAT_UNARY(sinh, std::sinh(x), kSaveA, (g * cosh(x)))
RAVEL_FLOAT_UNARY(cosh, std::cosh(x), kSaveA, (g * sinh(x)))
RAVEL_FLOAT_UNARY(tanh, kTanh(x), kSaveOut, (g * (1 - y * y)))
RAVEL_FLOAT_UNARY(asinh, std::asinh(x), kSaveA, (g * rsqrt(x * x + 1)))
RAVEL_FLOAT_UNARY(acosh, std::acosh(x), kSaveA, (g * rsqrt(x * x - 1)))
RAVEL_FLOAT_UNARY(atanh, std::atanh(x), kSaveA, (g / (1 - x * x)))
RAVEL_FLOAT_UNARY(erf, std::erf(x), kSaveA, (g * exp(-(x * x)) * kTwoOverSqrtPi))
RAVEL_FLOAT_UNARY(erfc, std::erfc(x), kSaveA, (g * exp(-(x * x)) * -kTwoOverSqrtPi))
RAVEL_FLOAT_UNARY(sigmoid, static_cast<C>(kSigmoid(x)), kSaveOut, (g * (y * (1 - y))))
RAVEL_FLOAT_UNARY(deg2rad, x* C(0.017453292519943295769), kSaveNone, (g * 0.017453292519943295769))
RAVEL_FLOAT_UNARY(rad2deg, x* C(57.295779513082320877), kSaveNone, (g * 57.295779513082320877))
#undef RAVEL_FLOAT_UNARY

// ---------------------------------------------------------------- dtype-keeping functions
Tensor neg(const Tensor& a) {
  RAVEL_UNARY_GRAD(
      "negative", neg(a), kSaveNone, RAVEL_BW1 { return -g; })
  return ew::unary<Rule::KeepNoBool>("negative", a, [](auto x) { return ew::wrap_neg(x); });
}

Tensor positive(const Tensor& a) {
  RAVEL_UNARY_GRAD(
      "positive", positive(a), kSaveNone, RAVEL_BW1 { return g; })
  return ew::unary<Rule::KeepNoBool>("positive", a, [](auto x) { return x; });
}

// g * sign(x) with PyTorch's sign, which is 0 at 0 and at NaN (abs'(0) = 0)
Tensor abs(const Tensor& a) {
  RAVEL_UNARY_GRAD(
      "abs", abs(a), kSaveA, RAVEL_BW1 { return ew::masked(x > 0, g) - ew::masked(x < 0, g); })
  return ew::unary<Rule::Keep>("abs", a, [](auto x) {
    using C = decltype(x);
    if constexpr (is_float_v<C>)
      return std::fabs(x);
    else if constexpr (std::is_signed_v<C>)
      return x < 0 ? ew::wrap_neg(x) : x;  // MIN stays MIN
    else
      return x;
  });
}

Tensor sign(const Tensor& a) {
  RAVEL_UNARY_GRAD("sign", sign(a), kSaveNone, kZeroBackward)
  return ew::unary<Rule::KeepNoBool>("sign", a, [](auto x) {
    using C = decltype(x);
    if constexpr (is_float_v<C>)
      return x > 0 ? C(1) : x < 0 ? C(-1) : x;  // keeps NaN and 0
    else if constexpr (std::is_signed_v<C>)
      return static_cast<C>((x > 0) - (x < 0));
    else
      return static_cast<C>(x > 0);
  });
}

Tensor square(const Tensor& a) {
  RAVEL_UNARY_GRAD(
      "square", square(a), kSaveA, RAVEL_BW1 { return g * (x * 2); })
  // bool squares in int8, as NumPy
  const Tensor& x = a.dtype() == DType::Bool ? a.to(DType::Int8) : a;
  return ew::unary<Rule::Keep>("square", x, [](auto v) { return ew::wrap_mul(v, v); });
}

#define RAVEL_ROUNDING(name, fn)                               \
  Tensor name(const Tensor& a) {                               \
    RAVEL_UNARY_GRAD(#name, name(a), kSaveNone, kZeroBackward) \
    return ew::unary<Rule::Keep>(#name, a, [](auto x) {        \
      if constexpr (is_float_v<decltype(x)>)                   \
        return fn(x);                                          \
      else                                                     \
        return x;                                              \
    });                                                        \
  }
RAVEL_ROUNDING(floor, std::floor)
RAVEL_ROUNDING(ceil, std::ceil)
RAVEL_ROUNDING(trunc, std::trunc)
#undef RAVEL_ROUNDING

// numpy.round: scale by 10^decimals, round half to even, scale back; integers only change for
// negative decimals (computed in float64, as NumPy).
Tensor round(const Tensor& a, int64_t decimals) {
  RAVEL_UNARY_GRAD("round", round(a, decimals), kSaveNone, kZeroBackward)
  const double f = std::pow(10.0, static_cast<double>(decimals < 0 ? -decimals : decimals));
  return ew::unary<Rule::Keep>("round", a, [f, decimals](auto x) {
    using C = decltype(x);
    if constexpr (is_float_v<C>) {
      const C s = static_cast<C>(f);
      if (decimals == 0) return std::nearbyint(x);
      return decimals > 0 ? std::nearbyint(x * s) / s : std::nearbyint(x / s) * s;
    } else {
      if (decimals >= 0 || std::is_same_v<C, bool>) return x;
      return cast_value<C>(std::nearbyint(static_cast<double>(x) / f) * f);
    }
  });
}

Tensor bitwise_not(const Tensor& a) {
  return ew::unary<Rule::Bitwise>("bitwise_not", a, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_same_v<C, bool>)
      return !x;
    else
      return static_cast<C>(~x);
  });
}

// nan -> `nan`, +inf -> `posinf` (default: the dtype's largest finite value), -inf -> `neginf`.
Tensor nan_to_num(const Tensor& a, double nan, std::optional<double> posinf,
                  std::optional<double> neginf) {
  // the gradient passes where x is finite, as PyTorch
  RAVEL_UNARY_GRAD(
      "nan_to_num", nan_to_num(a, nan, posinf, neginf), kSaveA,
      RAVEL_BW1 { return ew::masked(isfinite(x), g); })
  double big = 0;
  switch (a.dtype()) {
    case DType::Float16:
      big = 65504.0;
      break;
    case DType::BFloat16:
      big = 3.3895313892515355e38;
      break;
    case DType::Float32:
      big = std::numeric_limits<float>::max();
      break;
    case DType::Float64:
      big = std::numeric_limits<double>::max();
      break;
    default:
      return a.clone();
  }
  const double pi = posinf.value_or(big), ni = neginf.value_or(-big);
  return ew::unary<Rule::Keep>("nan_to_num", a, [nan, pi, ni](auto x) {
    using C = decltype(x);
    if constexpr (is_float_v<C>) {
      constexpr C inf = std::numeric_limits<C>::infinity();
      return x != x      ? static_cast<C>(nan)
             : x == inf  ? static_cast<C>(pi)
             : x == -inf ? static_cast<C>(ni)
                         : x;
    } else {
      return x;
    }
  });
}

#undef RAVEL_UNARY_GRAD
#undef RAVEL_BW1

// ---------------------------------------------------------------- predicates (bool results)
Tensor logical_not(const Tensor& a) {
  return ew::unary<Rule::Predicate>("logical_not", a, [](auto x) { return !x; });
}

Tensor isnan(const Tensor& a) {
  return ew::unary<Rule::Predicate>("isnan", a, [](auto x) { return x != x; });
}

Tensor isinf(const Tensor& a) {
  return ew::unary<Rule::Predicate>("isinf", a, [](auto x) {
    if constexpr (is_float_v<decltype(x)>)
      return std::fabs(x) == std::numeric_limits<decltype(x)>::infinity();
    else
      return false;
  });
}

Tensor isfinite(const Tensor& a) {
  return ew::unary<Rule::Predicate>("isfinite", a, [](auto x) {
    if constexpr (is_float_v<decltype(x)>)
      return std::fabs(x) < std::numeric_limits<decltype(x)>::infinity();
    else
      return true;
  });
}

Tensor signbit(const Tensor& a) {
  return ew::unary<Rule::Predicate>("signbit", a, [](auto x) {
    using C = decltype(x);
    // bit test rather than std::signbit, which makes GCC 12 ICE when vectorising
    if constexpr (std::is_same_v<C, float>)
      return (std::bit_cast<uint32_t>(x) >> 31) != 0;
    else if constexpr (std::is_same_v<C, double>)
      return (std::bit_cast<uint64_t>(x) >> 63) != 0;
    else if constexpr (std::is_signed_v<C>)
      return x < 0;
    else
      return false;
  });
}

}  // namespace ravel
