// Elementwise ops against NumPy: every op over every dtype it supports, broadcasting, memory
// layouts (transposed, strided, negative strides, 0-d, zero-size), NaN/inf, integer edge cases
// (division by zero, negative mod, overflow wrap, shifts past the width), scalar forms,
// in-place forms, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ravel/ops.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using namespace ravel::testing;

namespace {

enum class Vals { Normal, Positive, Small, Shift, Wide };

// Random values that fit the dtype. Floats get NaN, +-inf and +-0 sprinkled in (Normal, Wide).
Tensor sample(const Shape& shape, DType dt, uint64_t seed, Vals kind = Vals::Normal) {
  std::mt19937_64 rng(seed);
  const int64_t n = shape_numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double x;
    if (dt == DType::Bool) {
      x = static_cast<double>(rng() % 2);
    } else if (is_integral(dt)) {
      int64_t lo = -20, hi = 20;
      if (kind == Vals::Small) lo = -3, hi = 5;
      if (kind == Vals::Shift) lo = -2, hi = 70;
      if (kind == Vals::Wide) lo = -100, hi = 100;
      if (kind == Vals::Positive) lo = 0;
      if (dt == DType::UInt8) lo = std::max<int64_t>(lo, 0), hi = kind == Vals::Wide ? 250 : hi;
      x = static_cast<double>(lo +
                              static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1)));
    } else {
      std::normal_distribution<double> nd(0.0, kind == Vals::Wide ? 30.0 : 2.0);
      x = nd(rng);
      if (kind == Vals::Positive) x = std::fabs(x) + 0.05;
      if (kind == Vals::Small) x = std::tanh(x) * 0.95;
      if (kind == Vals::Normal || kind == Vals::Wide) {
        const double special[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0};
        if (rng() % 9 == 0) x = special[rng() % 5];
      }
    }
    v[static_cast<size_t>(i)] = x;
  }
  return from_vector(v, shape).to(dt);
}

// Tolerances: ours vs NumPy in the same dtype (bfloat16 is compared with NumPy's float32).
struct Tol {
  double rtol, atol;
};
Tol tol_for(DType dt, bool transcendental) {
  switch (dt) {
    case DType::Float16:
      return {2e-3, 2e-3};
    case DType::BFloat16:
      return {1.6e-2, 1e-2};
    case DType::Float32:
      return transcendental ? Tol{1e-5, 1e-6} : Tol{1e-6, 1e-7};
    case DType::Float64:
      return {1e-12, 1e-13};
    default:
      return {0, 0};
  }
}

struct Layout {
  std::string name;
  std::function<std::pair<Tensor, Tensor>(DType, DType, uint64_t, Vals, Vals)> make;
};

std::vector<Layout> binary_layouts() {
  return {
      {"same",
       [](DType da, DType db, uint64_t s, Vals va, Vals vb) {
         return std::pair{sample({4, 5}, da, s, va), sample({4, 5}, db, s + 1, vb)};
       }},
      {"broadcast",
       [](DType da, DType db, uint64_t s, Vals va, Vals vb) {
         return std::pair{sample({3, 1, 5}, da, s, va), sample({4, 5}, db, s + 1, vb)};
       }},
      {"transposed",
       [](DType da, DType db, uint64_t s, Vals va, Vals vb) {
         return std::pair{sample({5, 4}, da, s, va).transpose(), sample({4, 5}, db, s + 1, vb)};
       }},
      {"negstride",
       [](DType da, DType db, uint64_t s, Vals va, Vals vb) {
         return std::pair{sample({4, 5}, da, s, va).slice(1, None, None, -1),
                          sample({4, 10}, db, s + 1, vb).slice(1, 1, None, 2)};
       }},
      {"scalar0d",
       [](DType da, DType db, uint64_t s, Vals va, Vals vb) {
         return std::pair{sample({4, 5}, da, s, va), sample({}, db, s + 1, vb)};
       }},
      {"zero",
       [](DType da, DType db, uint64_t s, Vals va, Vals vb) {
         return std::pair{sample({0, 5}, da, s, va), sample({5}, db, s + 1, vb)};
       }},
  };
}

std::vector<DType> floats() {
  return {DType::Float16, DType::BFloat16, DType::Float32, DType::Float64};
}
std::vector<DType> ints() {
  return {DType::UInt8, DType::Int8, DType::Int16, DType::Int32, DType::Int64};
}
std::vector<DType> join(std::vector<DType> a, const std::vector<DType>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

enum Kind : unsigned {
  kAll = 0,
  kFloatRule = 1,      // integers compute in float32 (NumPy: float64/float16): values only
  kTranscend = 2,      // looser float32 tolerance
  kNoBool = 4,         // op rejects bool
  kNoFloat = 8,        // op rejects floats
  kIntDtypeDiff = 16,  // NumPy 1.x gives a float dtype for integer inputs: values only
};

struct BinaryCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  std::string expr;
  unsigned kind;
  Vals va = Vals::Normal, vb = Vals::Normal;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](auto& a, auto& b) { return add(a, b); }, "np.add(a, b)", kAll},
      {"sub", [](auto& a, auto& b) { return sub(a, b); }, "np.subtract(a, b)", kNoBool},
      {"mul", [](auto& a, auto& b) { return mul(a, b); }, "np.multiply(a, b)", kAll},
      {"div", [](auto& a, auto& b) { return div(a, b); }, "np.true_divide(a, b)", kFloatRule},
      {"floor_divide", [](auto& a, auto& b) { return floor_divide(a, b); }, "np.floor_divide(a, b)",
       kAll, Vals::Wide, Vals::Small},
      {"mod", [](auto& a, auto& b) { return mod(a, b); }, "np.remainder(a, b)", kAll, Vals::Wide,
       Vals::Small},
      {"fmod", [](auto& a, auto& b) { return fmod(a, b); }, "np.fmod(a, b)", kAll, Vals::Wide,
       Vals::Small},
      {"pow", [](auto& a, auto& b) { return pow(a, b); }, "np.power(a, b)", kTranscend,
       Vals::Normal, Vals::Positive},
      {"maximum", [](auto& a, auto& b) { return maximum(a, b); }, "np.maximum(a, b)", kAll},
      {"minimum", [](auto& a, auto& b) { return minimum(a, b); }, "np.minimum(a, b)", kAll},
      {"fmax", [](auto& a, auto& b) { return fmax(a, b); }, "np.fmax(a, b)", kAll},
      {"fmin", [](auto& a, auto& b) { return fmin(a, b); }, "np.fmin(a, b)", kAll},
      {"atan2", [](auto& a, auto& b) { return atan2(a, b); }, "np.arctan2(a, b)",
       kFloatRule | kTranscend},
      {"hypot", [](auto& a, auto& b) { return hypot(a, b); }, "np.hypot(a, b)",
       kFloatRule | kTranscend},
      {"copysign", [](auto& a, auto& b) { return copysign(a, b); }, "np.copysign(a, b)",
       kFloatRule},
      {"logaddexp", [](auto& a, auto& b) { return logaddexp(a, b); }, "np.logaddexp(a, b)",
       kFloatRule | kTranscend},
      {"equal", [](auto& a, auto& b) { return a == b; }, "a == b", kAll, Vals::Small, Vals::Small},
      {"not_equal", [](auto& a, auto& b) { return a != b; }, "a != b", kAll, Vals::Small,
       Vals::Small},
      {"less", [](auto& a, auto& b) { return a < b; }, "a < b", kAll, Vals::Small, Vals::Small},
      {"less_equal", [](auto& a, auto& b) { return a <= b; }, "a <= b", kAll, Vals::Small,
       Vals::Small},
      {"greater", [](auto& a, auto& b) { return a > b; }, "a > b", kAll, Vals::Small, Vals::Small},
      {"greater_equal", [](auto& a, auto& b) { return a >= b; }, "a >= b", kAll, Vals::Small,
       Vals::Small},
      {"logical_and", [](auto& a, auto& b) { return logical_and(a, b); }, "np.logical_and(a, b)",
       kAll, Vals::Small, Vals::Small},
      {"logical_or", [](auto& a, auto& b) { return logical_or(a, b); }, "np.logical_or(a, b)", kAll,
       Vals::Small, Vals::Small},
      {"logical_xor", [](auto& a, auto& b) { return logical_xor(a, b); }, "np.logical_xor(a, b)",
       kAll, Vals::Small, Vals::Small},
      {"bitwise_and", [](auto& a, auto& b) { return a & b; }, "a & b", kNoFloat, Vals::Wide,
       Vals::Wide},
      {"bitwise_or", [](auto& a, auto& b) { return a | b; }, "a | b", kNoFloat, Vals::Wide,
       Vals::Wide},
      {"bitwise_xor", [](auto& a, auto& b) { return a ^ b; }, "a ^ b", kNoFloat, Vals::Wide,
       Vals::Wide},
      {"left_shift", [](auto& a, auto& b) { return left_shift(a, b); }, "np.left_shift(a, b)",
       kNoFloat, Vals::Wide, Vals::Shift},
      {"right_shift", [](auto& a, auto& b) { return right_shift(a, b); }, "np.right_shift(a, b)",
       kNoFloat, Vals::Wide, Vals::Shift},
      {"operator%", [](auto& a, auto& b) { return a % b; }, "a % b", kAll, Vals::Wide, Vals::Small},
  };
}

// The dtypes an op is tested on, as (a, b) pairs: every dtype with itself plus mixed pairs.
std::vector<std::pair<DType, DType>> dtype_pairs(unsigned kind) {
  std::vector<DType> all = join({DType::Bool}, join(ints(), floats()));
  std::vector<std::pair<DType, DType>> out;
  for (DType t : all) {
    if ((kind & kNoBool) && t == DType::Bool) continue;
    if ((kind & kNoFloat) && is_floating(t)) continue;
    out.push_back({t, t});
  }
  out.push_back({DType::Int8, DType::UInt8});
  out.push_back({DType::Int32, DType::Int64});
  if (!(kind & kNoFloat)) {
    out.push_back({DType::Int32, DType::Float32});
    out.push_back({DType::Float16, DType::Float32});
    out.push_back({DType::Float32, DType::Float64});
    out.push_back({DType::Bool, DType::Float64});
  }
  return out;
}

struct Pending {
  std::string what;
  Tensor ours;
  int handle;
  Tol tol;
  bool check_dtype;
};

void check_all(NumpyOracle& np, const std::vector<Pending>& pending) {
  np.run();
  for (const auto& p : pending) {
    SCOPED_TRACE(p.what);
    ASSERT_TRUE(np.error(p.handle).empty()) << np.error(p.handle);
    EXPECT_TRUE(matches(p.ours, np.result(p.handle), p.tol.rtol, p.tol.atol, p.check_dtype));
  }
}

bool has_bf16(DType a, DType b) { return a == DType::BFloat16 || b == DType::BFloat16; }

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

TEST(Elementwise, BinaryOpsMatchNumpy) {
  NumpyOracle np;
  std::vector<Pending> pending;
  uint64_t seed = 1;
  for (const auto& c : binary_cases()) {
    for (auto [da, db] : dtype_pairs(c.kind)) {
      for (const auto& lay : binary_layouts()) {
        auto [a, b] = lay.make(da, db, seed++, c.va, c.vb);
        // pow of integers needs non-negative exponents (tested separately)
        Tensor ours = c.fn(a, b);
        DType common = promote_types(da, db);
        bool ints_in = !is_floating(common);
        bool check_dtype = !has_bf16(da, db) && !(ints_in && (c.kind & kFloatRule)) &&
                           !(common == DType::Bool && c.name == "pow") &&
                           // NumPy 1.x value-casts 0-d arrays like scalars (NumPy 2 does not)
                           !(lay.name == "scalar0d" && da != db);
        Tol tol = tol_for(ours.dtype(), c.kind & kTranscend);
        if (has_bf16(da, db)) tol = tol_for(DType::BFloat16, true);
        // Where NumPy 1.x picks another dtype (value-based casting of 0-d arrays; float16 or
        // float64 for integers in float functions), give NumPy the inputs in ravel's compute
        // dtype so that the values are compared; ResultDtypes checks the dtype rule.
        bool float_rule_ints = ints_in && (c.kind & kFloatRule);
        if (float_rule_ints || (lay.name == "scalar0d" && da != db)) {
          DType ct = float_rule_ints ? DType::Float32 : common;
          a = a.to(ct);
          b = b.to(ct);
        }
        int h = np.add(c.expr, {a, b});
        pending.push_back({c.name + " " + dtype_name(da) + "," + dtype_name(db) + " " + lay.name,
                           ours, h, tol, check_dtype});
      }
    }
  }
  check_all(np, pending);
}

struct UnaryCase {
  std::string name;
  std::function<Tensor(const Tensor&)> fn;
  std::string expr;
  unsigned kind;
  Vals vals = Vals::Normal;
};

std::vector<UnaryCase> unary_cases() {
  const unsigned F = kFloatRule | kTranscend;
  return {
      {"neg", [](auto& a) { return -a; }, "np.negative(a)", kNoBool, Vals::Wide},
      {"positive", [](auto& a) { return positive(a); }, "np.positive(a)", kNoBool},
      {"abs", [](auto& a) { return abs(a); }, "np.abs(a)", kAll, Vals::Wide},
      {"sign", [](auto& a) { return sign(a); }, "np.sign(a)", kNoBool},
      {"reciprocal", [](auto& a) { return reciprocal(a); }, "np.reciprocal(a)", F},
      {"square", [](auto& a) { return square(a); }, "np.square(a)", kAll, Vals::Wide},
      {"sqrt", [](auto& a) { return sqrt(a); }, "np.sqrt(a)", F},
      {"rsqrt", [](auto& a) { return rsqrt(a); }, "np.reciprocal(np.sqrt(a))", F},
      {"cbrt", [](auto& a) { return cbrt(a); }, "np.cbrt(a)", F},
      {"exp", [](auto& a) { return exp(a); }, "np.exp(a)", F, Vals::Wide},
      {"exp2", [](auto& a) { return exp2(a); }, "np.exp2(a)", F},
      {"expm1", [](auto& a) { return expm1(a); }, "np.expm1(a)", F},
      {"log", [](auto& a) { return log(a); }, "np.log(a)", F, Vals::Wide},
      {"log2", [](auto& a) { return log2(a); }, "np.log2(a)", F},
      {"log10", [](auto& a) { return log10(a); }, "np.log10(a)", F},
      {"log1p", [](auto& a) { return log1p(a); }, "np.log1p(a)", F},
      {"sin", [](auto& a) { return sin(a); }, "np.sin(a)", F},
      {"cos", [](auto& a) { return cos(a); }, "np.cos(a)", F},
      {"tan", [](auto& a) { return tan(a); }, "np.tan(a)", F, Vals::Small},
      {"asin", [](auto& a) { return asin(a); }, "np.arcsin(a)", F, Vals::Small},
      {"acos", [](auto& a) { return acos(a); }, "np.arccos(a)", F, Vals::Small},
      {"atan", [](auto& a) { return atan(a); }, "np.arctan(a)", F},
      {"sinh", [](auto& a) { return sinh(a); }, "np.sinh(a)", F},
      {"cosh", [](auto& a) { return cosh(a); }, "np.cosh(a)", F},
      {"tanh", [](auto& a) { return tanh(a); }, "np.tanh(a)", F, Vals::Wide},
      {"asinh", [](auto& a) { return asinh(a); }, "np.arcsinh(a)", F},
      {"acosh", [](auto& a) { return acosh(a); }, "np.arccosh(a)", F},
      {"atanh", [](auto& a) { return atanh(a); }, "np.arctanh(a)", F, Vals::Small},
      {"erf", [](auto& a) { return erf(a); },
       "np.vectorize(math.erf, otypes=[a.dtype if a.dtype.kind == 'f' else np.float64])(a)", F},
      {"erfc", [](auto& a) { return erfc(a); },
       "np.vectorize(math.erfc, otypes=[a.dtype if a.dtype.kind == 'f' else np.float64])(a)", F},
      {"sigmoid", [](auto& a) { return sigmoid(a); },
       "(1 / (1 + np.exp(-a.astype(np.float64)))).astype(a.dtype if a.dtype.kind == 'f' else "
       "np.float64)",
       F, Vals::Wide},
      {"floor", [](auto& a) { return floor(a); }, "np.floor(a)", kIntDtypeDiff},
      {"ceil", [](auto& a) { return ceil(a); }, "np.ceil(a)", kIntDtypeDiff},
      {"trunc", [](auto& a) { return trunc(a); }, "np.trunc(a)", kIntDtypeDiff},
      {"round", [](auto& a) { return round(a); }, "np.round(a)", kIntDtypeDiff},
      {"round2", [](auto& a) { return round(a, 2); }, "np.round(a, 2)", kIntDtypeDiff | kNoBool},
      {"round-1", [](auto& a) { return round(a, -1); }, "np.round(a, -1)", kIntDtypeDiff | kNoBool,
       Vals::Wide},
      {"logical_not", [](auto& a) { return !a; }, "np.logical_not(a)", kAll, Vals::Small},
      {"bitwise_not", [](auto& a) { return ~a; }, "np.invert(a)", kNoFloat, Vals::Wide},
      {"isnan", [](auto& a) { return isnan(a); }, "np.isnan(a)", kAll},
      {"isinf", [](auto& a) { return isinf(a); }, "np.isinf(a)", kAll},
      {"isfinite", [](auto& a) { return isfinite(a); }, "np.isfinite(a)", kAll},
      {"signbit", [](auto& a) { return signbit(a); }, "np.signbit(a)", kAll},
      {"deg2rad", [](auto& a) { return deg2rad(a); }, "np.deg2rad(a)", F},
      {"rad2deg", [](auto& a) { return rad2deg(a); }, "np.rad2deg(a)", F},
      {"nan_to_num", [](auto& a) { return nan_to_num(a); }, "np.nan_to_num(a)", kAll},
      {"nan_to_num_args", [](auto& a) { return nan_to_num(a, 1.5, 100.0, -7.0); },
       "np.nan_to_num(a, nan=1.5, posinf=100.0, neginf=-7.0)", kAll},
  };
}

std::vector<std::pair<std::string, std::function<Tensor(DType, uint64_t, Vals)>>> unary_layouts() {
  return {
      {"contiguous",
       [](DType d, uint64_t s, Vals v) {
         return sample({6, 7}, d, s, v);
       }},
      {"transposed",
       [](DType d, uint64_t s, Vals v) {
         return sample({7, 6}, d, s, v).transpose();
       }},
      {"negstride",
       [](DType d, uint64_t s, Vals v) {
         return sample({6, 14}, d, s, v).slice(1, None, None, -2);
       }},
      {"broadcast",
       [](DType d, uint64_t s, Vals v) {
         return sample({1, 7}, d, s, v).expand({6, 7});
       }},
      {"0d", [](DType d, uint64_t s, Vals v) { return sample({}, d, s, v); }},
      {"zero",
       [](DType d, uint64_t s, Vals v) {
         return sample({3, 0}, d, s, v);
       }},
  };
}

TEST(Elementwise, UnaryOpsMatchNumpy) {
  NumpyOracle np;
  std::vector<Pending> pending;
  uint64_t seed = 1000;
  std::vector<DType> all = join({DType::Bool}, join(ints(), floats()));
  for (const auto& c : unary_cases()) {
    for (DType dt : all) {
      if ((c.kind & kNoBool) && dt == DType::Bool) continue;
      if ((c.kind & kNoFloat) && is_floating(dt)) continue;
      for (const auto& [lname, make] : unary_layouts()) {
        Tensor a = make(dt, seed++, c.vals);
        Tensor ours = c.fn(a);
        bool int_in = !is_floating(dt);
        bool check_dtype =
            dt != DType::BFloat16 && !(int_in && (c.kind & (kFloatRule | kIntDtypeDiff)));
        Tol tol = tol_for(ours.dtype(), c.kind & kTranscend);
        if (dt == DType::BFloat16) tol = tol_for(DType::BFloat16, true);
        if (int_in && (c.kind & kFloatRule)) tol = tol_for(DType::Float32, true);
        std::string expr = c.expr;
        // NumPy rounds x * 100 to float16 before rounding; ravel scales in float32
        if (c.name == "round2" && dt == DType::Float16)
          expr = "np.round(a.astype(np.float32), 2).astype(np.float16)";
        // NumPy sees bfloat16 as float32, whose largest finite value differs (checked below)
        if (c.name == "nan_to_num" && dt == DType::BFloat16) continue;
        if (int_in && (c.kind & kFloatRule)) a = a.to(DType::Float32);  // NumPy: float16/64
        int h = np.add(expr, {a});
        pending.push_back({c.name + " " + dtype_name(dt) + " " + lname, ours, h, tol, check_dtype});
      }
    }
  }
  check_all(np, pending);
}

// Integer results: true division and float functions give float32; integer dtypes are kept by
// the rounding functions and square; bool squares in int8.
TEST(Elementwise, ResultDtypes) {
  Tensor i = tensor({1, 2, 3});
  EXPECT_EQ(div(i, i).dtype(), DType::Float32);
  EXPECT_EQ(exp(i).dtype(), DType::Float32);
  EXPECT_EQ(sqrt(tensor({true})).dtype(), DType::Float32);
  EXPECT_EQ(exp(i.to(DType::Float64)).dtype(), DType::Float64);
  EXPECT_EQ(floor(i).dtype(), DType::Int64);
  EXPECT_EQ(round(i, -1).dtype(), DType::Int64);
  EXPECT_EQ(square(tensor({true})).dtype(), DType::Int8);
  EXPECT_EQ((i < i).dtype(), DType::Bool);
  EXPECT_EQ(add(i.to(DType::UInt8), i.to(DType::Int8)).dtype(), DType::Int16);
  EXPECT_EQ(add(i.to(DType::Float16), i.to(DType::BFloat16)).dtype(), DType::Float32);
  EXPECT_EQ((i.to(DType::Int8) + 1).dtype(), DType::Int8);
  EXPECT_EQ((i.to(DType::Int8) + 1.5).dtype(), DType::Float32);
  EXPECT_EQ((i.to(DType::Float16) * 2.0).dtype(), DType::Float16);
  EXPECT_EQ((tensor({true}) + 1).dtype(), DType::Int64);
  EXPECT_EQ(floor_divide(tensor({true}), tensor({true})).dtype(), DType::Int8);
  // bfloat16's largest finite value (NumPy has no bfloat16)
  Tensor bf = nan_to_num(tensor({INFINITY, -INFINITY}).to(DType::BFloat16));
  EXPECT_EQ(bf.dtype(), DType::BFloat16);
  EXPECT_EQ(bf.to_vector<double>(),
            (std::vector<double>{3.3895313892515355e38, -3.3895313892515355e38}));
}

// Integer edge cases: division by zero, MIN / -1, negative mod, overflow wrap, big shifts.
TEST(Elementwise, IntegerEdgeCases) {
  NumpyOracle np;
  std::vector<Pending> pending;
  for (DType dt : {DType::Int8, DType::Int16, DType::Int32, DType::Int64, DType::UInt8}) {
    bool u = dt == DType::UInt8;
    // the dtype's minimum (twice, for MIN / -1 and MIN % 1)
    int64_t mn = std::numeric_limits<int64_t>::min() >> (64 - itemsize(dt) * 8);
    Tensor a = from_vector<int64_t>({7, -7, 7, -7, 0, 5, 100, mn, mn}).to(dt);
    Tensor b = tensor({0, 0, -3, 3, 0, -1, 3, -1, 1}).to(dt);
    if (u) {
      a = tensor({7, 250, 7, 200, 0, 5, 100, 0, 0}).to(dt);
      b = tensor({0, 0, 3, 3, 0, 1, 3, 255, 1}).to(dt);
    }
    Tensor big = full({9}, u ? 200 : 100, dt);
    struct {
      const char* name;
      Tensor ours;
      std::string expr;
    } cases[] = {
        {"floor_divide", floor_divide(a, b), "np.floor_divide(a, b)"},
        {"mod", mod(a, b), "np.remainder(a, b)"},
        {"fmod", fmod(a, b), "np.fmod(a, b)"},
        {"add wrap", add(big, big), "np.add(c, c)"},
        {"sub wrap", sub(a, big), "np.subtract(a, c)"},
        {"mul wrap", mul(big, big), "np.multiply(c, c)"},
        {"neg", neg(a), "np.negative(a)"},
        {"abs", abs(a), "np.abs(a)"},
        {"square", square(big), "np.square(c)"},
        {"pow wrap", pow(big, full({9}, 5, dt)), "np.power(c, np.full(9, 5, c.dtype))"},
        {"pow0", pow(a, full({9}, 0, dt)), "np.power(a, np.zeros(9, a.dtype))"},
        {"lshift", left_shift(a, b), "np.left_shift(a, b)"},
        {"rshift", right_shift(a, b), "np.right_shift(a, b)"},
    };
    for (auto& c : cases) {
      int h = np.add(c.expr, {a, b, big});
      pending.push_back({std::string(c.name) + " " + dtype_name(dt), c.ours, h, {0, 0}, true});
    }
  }
  check_all(np, pending);
}

// tensor op scalar and scalar op tensor, with NumPy's value-based result for in-range scalars.
TEST(Elementwise, ScalarFormsMatchNumpy) {
  NumpyOracle np;
  std::vector<Pending> pending;
  uint64_t seed = 5000;
  std::vector<DType> all = join({DType::Bool}, join(ints(), floats()));
  std::vector<Scalar> scalars = {Scalar(3), Scalar(-2), Scalar(2.5), Scalar(true)};
  for (DType dt : all) {
    Tensor a = sample({3, 4}, dt, seed++, Vals::Small).transpose();
    for (const Scalar& s : scalars) {
      if (dt == DType::UInt8 && s.is_integral() && s.to_int() < 0) continue;
      std::string sv = s.is_bool()       ? (s.to_bool() ? "True" : "False")
                       : s.is_floating() ? fmt(s.to_double())
                                         : std::to_string(s.to_int());
      bool b = dt == DType::Bool;
      bool sb = s.is_bool();
      std::vector<std::tuple<std::string, Tensor, std::string>> cases;
      cases.emplace_back("a+s", a + s, "a + " + sv);
      cases.emplace_back("s+a", s + a, sv + " + a");
      if (!b && !sb) {
        cases.emplace_back("a-s", a - s, "a - " + sv);
        cases.emplace_back("s-a", s - a, sv + " - a");
      }
      cases.emplace_back("a*s", a * s, "a * " + sv);
      cases.emplace_back("s*a", s * a, sv + " * a");
      cases.emplace_back("a/s", a / s, "a / " + sv);
      cases.emplace_back("s/a", s / a, sv + " / a");
      if (!(b && sb)) cases.emplace_back("a%s", a % s, "a % " + sv);
      cases.emplace_back("max", maximum(a, s), "np.maximum(a, " + sv + ")");
      cases.emplace_back("min", minimum(a, s), "np.minimum(a, " + sv + ")");
      cases.emplace_back("a<s", a < s, "a < " + sv);
      cases.emplace_back("a<=s", a <= s, "a <= " + sv);
      cases.emplace_back("a>s", a > s, "a > " + sv);
      cases.emplace_back("a>=s", a >= s, "a >= " + sv);
      cases.emplace_back("a==s", a == s, "a == " + sv);
      cases.emplace_back("a!=s", a != s, "a != " + sv);
      if (!s.is_bool() && (is_floating(dt) || s.to_double() >= 0))
        cases.emplace_back("pow", pow(a, s), "np.power(a, " + sv + ")");
      for (auto& [name, ours, expr] : cases) {
        int h = np.add(expr, {a});
        Tol tol = tol_for(ours.dtype(), true);
        if (dt == DType::BFloat16) tol = tol_for(DType::BFloat16, true);
        // NumPy 1.x value-based casting differs from ravel's weak scalars for int + float
        pending.push_back({name + " " + dtype_name(dt) + " " + sv, ours, h, tol, false});
      }
    }
  }
  // comparisons with values outside the tensor's range / precision
  Tensor i8 = tensor({-100, 0, 100}).to(DType::Int8);
  pending.push_back({"int8 < 1000", i8 < 1000, np.add("a < 1000", {i8}), {0, 0}, true});
  pending.push_back({"int8 > -1000", i8 > -1000, np.add("a > -1000", {i8}), {0, 0}, true});
  Tensor i64 = tensor({int64_t{1} << 40, (int64_t{1} << 40) + 1});
  pending.push_back({"int64 < 2^40+0.5",
                     i64 < (std::ldexp(1.0, 40) + 0.5),
                     np.add("a < 2.0**40 + 0.5", {i64}),
                     {0, 0},
                     true});
  check_all(np, pending);
}

TEST(Elementwise, InPlaceMatchesNumpy) {
  NumpyOracle np;
  std::vector<Pending> pending;
  uint64_t seed = 7000;
  for (DType dt : join(ints(), floats())) {
    bool f = is_floating(dt);
    Tensor a = sample({3, 4}, dt, seed++, Vals::Small);
    Tensor b = sample({4}, dt, seed++, Vals::Small);
    // NumPy expressions are evaluated with eval(): use np.add(a, b, out=a) forms.
    pending.push_back({"add_ " + std::string(dtype_name(dt)), a.clone().add_(b),
                       np.add("np.add(a, b, out=a.copy())", {a, b}), tol_for(dt, false),
                       dt != DType::BFloat16});
    pending.push_back({"sub_ " + std::string(dtype_name(dt)), a.clone().sub_(b),
                       np.add("np.subtract(a, b, out=a.copy())", {a, b}), tol_for(dt, false),
                       dt != DType::BFloat16});
    pending.push_back({"mul_ " + std::string(dtype_name(dt)), a.clone().mul_(b),
                       np.add("np.multiply(a, b, out=a.copy())", {a, b}), tol_for(dt, false),
                       dt != DType::BFloat16});
    pending.push_back({"add_ scalar " + std::string(dtype_name(dt)), a.clone().add_(3),
                       np.add("np.add(a, 3, out=a.copy())", {a}), tol_for(dt, false),
                       dt != DType::BFloat16});
    pending.push_back(
        {"mul_ scalar " + std::string(dtype_name(dt)), a.clone().mul_(f ? -2 : 2),
         np.add(f ? "np.multiply(a, -2, out=a.copy())" : "np.multiply(a, 2, out=a.copy())", {a}),
         tol_for(dt, false), dt != DType::BFloat16});
    if (f) {
      pending.push_back({"div_ " + std::string(dtype_name(dt)), a.clone().div_(b),
                         np.add("np.divide(a, b, out=a.copy())", {a, b}), tol_for(dt, false),
                         dt != DType::BFloat16});
      pending.push_back({"div_ scalar " + std::string(dtype_name(dt)), a.clone().div_(0.5),
                         np.add("np.divide(a, 0.5, out=a.copy())", {a}), tol_for(dt, false),
                         dt != DType::BFloat16});
      pending.push_back({"sub_ scalar " + std::string(dtype_name(dt)), a.clone().sub_(1.25),
                         np.add("np.subtract(a, 1.25, out=a.copy())", {a}), tol_for(dt, false),
                         dt != DType::BFloat16});
    }
  }
  // int32 += int64: computed in int64, cast back (same_kind); float32 += int tensor
  Tensor i32 = tensor({1, 2, 2147483647}).to(DType::Int32);
  Tensor i64 = tensor({int64_t{5}, int64_t{1} << 33, int64_t{1}});
  pending.push_back({"int32 += int64",
                     i32.clone().add_(i64),
                     np.add("np.add(a, b, out=a.copy(), casting='same_kind')", {i32, i64}),
                     {0, 0},
                     true});
  Tensor f32 = tensor({1.5, 2.5, 3.5});
  pending.push_back({"float32 *= int64",
                     f32.clone().mul_(i64),
                     np.add("np.multiply(a, b, out=a.copy())", {f32, i64}),
                     {1e-6, 0},
                     true});
  // in-place into a non-contiguous view, and with an overlapping operand
  Tensor m = sample({4, 4}, DType::Float32, seed++);
  Tensor mv = m.clone();
  Tensor view = mv.slice(1, None, None, -2);
  view.add_(1.0);
  pending.push_back(
      {"view add_",
       mv,
       np.add("(lambda x: (np.add(x[:, ::-2], 1.0, out=x[:, ::-2]), x)[1])(a.copy())", {m}),
       {1e-6, 1e-7},
       true});
  Tensor ov = m.clone();
  ov.add_(ov.transpose());
  pending.push_back({"overlap add_", ov, np.add("a + a.T", {m}), {1e-6, 1e-7}, true});
  check_all(np, pending);

  // the version counter moves on every in-place write
  Tensor t = zeros({3});
  uint64_t v = t.storage()->version();
  t += 1;
  t.mul_(ones({3}));
  EXPECT_GE(t.storage()->version(), v + 2);
}

TEST(Elementwise, WhereClipLerpMatchNumpy) {
  NumpyOracle np;
  std::vector<Pending> pending;
  uint64_t seed = 9000;
  for (DType dt : join({DType::Bool}, join(ints(), floats()))) {
    Tensor c = sample({3, 1, 5}, DType::Int32, seed++, Vals::Small);  // nonzero -> true
    Tensor a = sample({4, 5}, dt, seed++);
    Tensor b = sample({5}, DType::Float32, seed++).to(dt);
    Tol tol = tol_for(dt, false);
    bool cd = dt != DType::BFloat16;
    pending.push_back({"where " + std::string(dtype_name(dt)), where(c, a, b),
                       np.add("np.where(a, b, c)", {c, a, b}), tol, cd});
    pending.push_back(
        {"where T " + std::string(dtype_name(dt)),
         where(c.transpose(), a.transpose().unsqueeze(2), b.unsqueeze(1).unsqueeze(2)),
         np.add("np.where(a.T, b.T[:, :, None], c[:, None, None])", {c, a, b}), tol, cd});
    if (dt == DType::Bool) continue;
    Tensor lo = sample({5}, dt, seed++, Vals::Small), hi = add(lo, full({1}, 3, dt));
    pending.push_back({"clip tensors " + std::string(dtype_name(dt)), clip(a, lo, hi),
                       np.add("np.clip(a, b, c)", {a, lo, hi}), tol, cd});
    pending.push_back({"clip scalars " + std::string(dtype_name(dt)), clip(a, -2, 3),
                       np.add("np.clip(a, -2 if a.dtype != np.uint8 else 0, 3)", {a}), tol, cd});
    pending.push_back({"clip lo only " + std::string(dtype_name(dt)), clip(a, 1, std::nullopt),
                       np.add("np.clip(a, 1, None)", {a}), tol, cd});
    pending.push_back({"clip hi only " + std::string(dtype_name(dt)),
                       clip(a.slice(1, None, None, -1), std::nullopt, 1),
                       np.add("np.clip(a[:, ::-1], None, 1)", {a}), tol, cd});
    if (is_floating(dt)) {
      Tensor w = sample({4, 1}, dt, seed++, Vals::Small);
      Tensor bb = sample({4, 5}, dt, seed++, Vals::Small),
             aa = sample({5}, dt, seed++, Vals::Small);
      Tol lt = dt == DType::BFloat16 ? tol_for(dt, true) : Tol{tol.rtol * 4, tol.rtol * 4};
      pending.push_back({"lerp " + std::string(dtype_name(dt)), lerp(aa, bb, w),
                         np.add("a + c * (b - a)", {aa, bb, w}), lt, cd});
      pending.push_back({"lerp scalar " + std::string(dtype_name(dt)), lerp(aa, bb, 0.25),
                         np.add("a + 0.25 * (b - a)", {aa, bb}), lt, cd});
    }
  }
  Tensor cond = tensor({true, false, true});
  pending.push_back({"where scalars",
                     where(cond, 1, 2.5),
                     np.add("np.where(a, 1, 2.5)", {cond}),
                     {1e-6, 0},
                     false});
  pending.push_back(
      {"where int scalars", where(cond, 1, 2), np.add("np.where(a, 1, 2)", {cond}), {0, 0}, true});
  pending.push_back({"where zero",
                     where(zeros({0, 3}, DType::Bool), zeros({3}), ones({0, 1})),
                     np.add("np.where(np.zeros((0, 3), bool), np.zeros(3, np.float32), "
                            "np.ones((0, 1), np.float32))",
                            {}),
                     {0, 0},
                     true});
  Tensor x = tensor({1.0, NAN, -INFINITY, 3.0});
  pending.push_back({"clip nan", clip(x, 0, 2), np.add("np.clip(a, 0, 2)", {x}), {0, 0}, true});
  Tensor u8 = tensor({0, 100, 255}).to(DType::UInt8);
  pending.push_back({"clip u8 out of range", clip(u8, -5, 300), np.add("a", {u8}), {0, 0}, true});
  check_all(np, pending);
}

TEST(Elementwise, IscloseAllcloseArrayEqual) {
  NumpyOracle np;
  std::vector<Pending> pending;
  Tensor a = tensor({1.0, 1.0, NAN, INFINITY, -INFINITY, 1e-9, 100.0, 0.0});
  Tensor b = tensor({1.0 + 1e-6, 1.1, NAN, INFINITY, INFINITY, 0.0, 100.001, 1e-8});
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16}) {
    Tensor x = a.to(dt), y = b.to(dt);
    pending.push_back({"isclose " + std::string(dtype_name(dt)),
                       isclose(x, y),
                       np.add("np.isclose(a, b)", {x, y}),
                       {0, 0},
                       true});
    pending.push_back({"isclose nan " + std::string(dtype_name(dt)),
                       isclose(x, y, 1e-3, 1e-5, true),
                       np.add("np.isclose(a, b, 1e-3, 1e-5, True)", {x, y}),
                       {0, 0},
                       true});
  }
  Tensor i = tensor({1, 2, 3}), j = tensor({1, 3, 3}).to(DType::Int32);
  pending.push_back(
      {"isclose int", isclose(i, j), np.add("np.isclose(a, b)", {i, j}), {0, 0}, true});
  Tensor m = sample({3, 4}, DType::Float32, 11);
  pending.push_back({"isclose bcast",
                     isclose(m, m.slice(0, 0, 1)),
                     np.add("np.isclose(a, a[0:1])", {m}),
                     {0, 0},
                     true});
  check_all(np, pending);

  Tensor f = tensor({1.0, 2.0, 3.0});
  EXPECT_TRUE(allclose(f, f + 1e-7));
  EXPECT_FALSE(allclose(f, f + 1e-3));
  EXPECT_FALSE(allclose(tensor({NAN}), tensor({NAN})));
  EXPECT_TRUE(allclose(tensor({NAN}), tensor({NAN}), 1e-5, 1e-8, true));
  EXPECT_TRUE(allclose(zeros({0}), zeros({0})));
  EXPECT_TRUE(f.all_close(f.transpose()));
  EXPECT_TRUE(array_equal(f, f.clone()));
  EXPECT_TRUE(array_equal(f, tensor({1, 2, 3})));
  EXPECT_FALSE(array_equal(f, tensor({1, 2})));
  EXPECT_FALSE(array_equal(f, f.reshape({3, 1})));
  EXPECT_FALSE(array_equal(tensor({NAN}), tensor({NAN})));
}

// The threaded paths and the vectorised float32 exp/log/tanh/sigmoid over their whole range.
TEST(Elementwise, LargeAndVectorMathMatchNumpy) {
  NumpyOracle np;
  std::vector<Pending> pending;
  const int64_t n = 200001;  // several threads' worth
  Tensor e = linspace(-110, 95, n);
  Tensor l = logspace(-44, 38, n).slice(0, None, None, -1);  // subnormals too, negative stride
  Tensor t = linspace(-12, 12, n);
  Tensor s = linspace(-100, 100, n);
  // relative error is only meaningful above the subnormal range
  pending.push_back({"exp f32", exp(e), np.add("np.exp(a)", {e}), {2e-6, 1e-37}, true});
  pending.push_back({"log f32", log(l), np.add("np.log(a)", {l}), {2e-6, 1e-6}, true});
  pending.push_back({"tanh f32", tanh(t), np.add("np.tanh(a)", {t}), {3e-6, 1e-7}, true});
  pending.push_back({"sigmoid f32",
                     sigmoid(s),
                     np.add("(1 / (1 + np.exp(-a.astype(np.float64)))).astype(np.float32)", {s}),
                     {3e-6, 1e-37},
                     true});
  Tensor special = tensor({0.0, -0.0, INFINITY, -INFINITY, NAN, 88.7, 88.8, -87.5, -103.0, -104.0,
                           1e-40, -1.0, 1e-45, 3.4e38, 0.3, -0.3, 0.62, 0.63});
  for (const char* fn : {"exp", "log", "tanh"}) {
    Tensor ours = std::string(fn) == "exp"   ? exp(special)
                  : std::string(fn) == "log" ? log(special)
                                             : tanh(special);
    pending.push_back({std::string(fn) + " specials",
                       ours,
                       np.add(std::string("np.") + fn + "(a)", {special}),
                       {2e-6, 1e-44},
                       true});
  }
  Tensor x = linspace(-3, 3, n, true, DType::Float64);
  Tensor y = x.slice(0, None, None, -1);
  pending.push_back({"add large strided", add(x, y), np.add("a + a[::-1]", {x}), {0, 1e-15}, true});
  pending.push_back({"mul large bcast",
                     mul(x.reshape({-1, 3}), x.slice(0, 0, 3)),
                     np.add("a.reshape(-1, 3) * a[:3]", {x}),
                     {1e-15, 0},
                     true});
  pending.push_back(
      {"sin large f64", sin(y), np.add("np.sin(a[::-1])", {x}), {1e-14, 1e-15}, true});
  Tensor h = x.to(DType::Float16);
  pending.push_back({"exp large f16", exp(h), np.add("np.exp(a)", {h}), {2e-3, 1e-4}, true});
  check_all(np, pending);
}

TEST(Elementwise, Errors) {
  Tensor a = zeros({2, 3}), b = zeros({4});
  expect_error([&] { add(a, b); }, {"add", "[2, 3]", "[4]"});
  expect_error([&] { (void)(a < b); }, {"less", "[2, 3]", "[4]"});
  expect_error([&] { where(a > 0, a, b); }, {"where", "[2, 3]", "[4]"});
  expect_error([&] { bitwise_and(a, a); }, {"bitwise_and", "float32"});
  expect_error([&] { (void)~a; }, {"bitwise_not", "float32"});
  expect_error([&] { left_shift(a, a); }, {"left_shift", "float32"});
  Tensor t = tensor({true, false});
  expect_error([&] { sub(t, t); }, {"sub", "bool"});
  expect_error([&] { (void)-t; }, {"negative", "bool"});
  Tensor i = tensor({2, 3});
  expect_error([&] { pow(i, tensor({1, -1})); }, {"pow", "negative"});
  expect_error([&] { pow(i, -2); }, {"pow", "negative"});
  expect_error([&] { (void)(i.to(DType::UInt8) + 300); }, {"add", "300", "uint8"});
  expect_error([&] { i.clone().div_(i); }, {"div_", "float32", "int64"});
  expect_error([&] { i.clone().add_(1.5); }, {"add_", "float32", "int64"});
  expect_error([&] { zeros({3}).add_(zeros({2, 3})); }, {"add_", "[2, 3]", "[3]"});
  expect_error([&] { zeros({3}).mul_(zeros({2})); }, {"mul_", "[2]", "[3]"});
  expect_error(
      [&] {
        Tensor u;
        exp(u);
      },
      {"undefined"});
}
