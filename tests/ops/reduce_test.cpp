// Reductions against NumPy: every op over every dtype, axes combination, keepdims, memory layout
// (contiguous, transposed, strided, flipped, broadcast), zero-size inputs, NaN, large inputs
// (threaded paths, pairwise accuracy), and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using namespace ravel::testing;

namespace {

enum class Values { Normal, NearOne, Ties };

// Random values that fit the dtype; NearOne keeps long products finite, Ties has few values.
Tensor sample(const Shape& shape, DType dt, Generator& g, Values kind = Values::Normal) {
  if (dt == DType::Bool) return randint(0, 2, shape, g).to(DType::Bool);
  const int64_t lo = dt == DType::UInt8 ? 0 : -1;
  if (kind == Values::Ties) return randint(lo * 2, 3, shape, g).to(dt);
  if (is_integral(dt)) {
    if (kind == Values::NearOne) return randint(lo * 3, 4, shape, g).to(dt);
    return randint(lo * 20, 20, shape, g).to(dt);
  }
  if (kind == Values::NearOne) return uniform(0.5, 1.5, shape, g).to(dt);
  return randn(shape, g).to(dt);
}

// The same values laid out five ways, all of shape [3, 4, 10].
std::vector<std::pair<std::string, Tensor>> layouts(DType dt, Generator& g,
                                                    Values near_one = Values::Normal) {
  return {
      {"contiguous", sample({3, 4, 10}, dt, g, near_one)},
      {"transposed", sample({10, 4, 3}, dt, g, near_one).permute({2, 1, 0})},
      {"strided", sample({6, 4, 21}, dt, g, near_one).slice(0, 0, None, 2).slice(2, 1, None, 2)},
      {"flipped", sample({3, 4, 10}, dt, g, near_one).slice(2, None, None, -1)},
      {"broadcast", sample({3, 1, 10}, dt, g, near_one).expand({3, 4, 10})},
  };
}

std::vector<Axes> axes_combos() {
  return {Axes(),       Axes(0),      Axes(1),      Axes(2),         Axes(-1),      Axes({0, 2}),
          Axes({1, 2}), Axes({0, 1}), Axes({2, 0}), Axes({0, 1, 2}), Axes({-3, -1})};
}

std::string py_axes(const Axes& ax) {
  if (ax.all) return "None";
  std::string s = "(";
  for (int64_t d : ax.dims) s += std::to_string(d) + ",";
  return s + ")";
}

std::string fill(std::string expr, const Axes& ax, bool keepdims) {
  for (size_t p; (p = expr.find("AX")) != std::string::npos;) expr.replace(p, 2, py_axes(ax));
  for (size_t p; (p = expr.find("KD")) != std::string::npos;)
    expr.replace(p, 2, keepdims ? "True" : "False");
  return expr;
}

double rtol_for(DType dt) {
  switch (dt) {
    case DType::Float16:
      return 5e-3;
    case DType::BFloat16:
      return 2e-2;
    case DType::Float32:
      return 2e-5;
    default:
      return 1e-10;
  }
}

DType sum_rule(DType t) { return is_floating(t) ? t : DType::Int64; }
DType float_rule(DType t) { return is_floating(t) ? t : DType::Float32; }

struct ReduceCase {
  std::string name;
  std::function<Tensor(const Tensor&, const Axes&, bool)> ours;
  std::string expr;                  // NumPy expression; AX and KD are filled in
  std::function<DType(DType)> rule;  // our result dtype
  bool numpy_dtype = true;           // the rule is NumPy's for every dtype NumPy has
  Values values = Values::Normal;
};

std::vector<ReduceCase> reduce_cases() {
  auto same = [](DType t) { return t; };
  return {
      {"sum", [](auto& a, auto& x, bool k) { return sum(a, x, k); },
       "np.sum(a, axis=AX, keepdims=KD)", sum_rule},
      {"prod", [](auto& a, auto& x, bool k) { return prod(a, x, k); },
       "np.prod(a, axis=AX, keepdims=KD)", sum_rule, true, Values::NearOne},
      {"mean", [](auto& a, auto& x, bool k) { return mean(a, x, k); },
       "np.mean(a, axis=AX, keepdims=KD)", float_rule, false},
      {"amax", [](auto& a, auto& x, bool k) { return amax(a, x, k); },
       "np.max(a, axis=AX, keepdims=KD)", same},
      {"amin", [](auto& a, auto& x, bool k) { return amin(a, x, k); },
       "np.min(a, axis=AX, keepdims=KD)", same},
      {"var", [](auto& a, auto& x, bool k) { return var(a, x, 0, k); },
       "np.var(a, axis=AX, keepdims=KD)", float_rule, false},
      {"std_ddof1", [](auto& a, auto& x, bool k) { return ravel::std(a, x, 1, k); },
       "np.std(a, axis=AX, ddof=1, keepdims=KD)", float_rule, false},
      {"all", [](auto& a, auto& x, bool k) { return all(a, x, k); },
       "np.all(a, axis=AX, keepdims=KD)", [](DType) { return DType::Bool; }},
      {"any", [](auto& a, auto& x, bool k) { return any(a, x, k); },
       "np.any(a, axis=AX, keepdims=KD)", [](DType) { return DType::Bool; }},
      {"count_nonzero", [](auto& a, auto& x, bool k) { return count_nonzero(a, x, k); },
       "np.count_nonzero(a, axis=AX, keepdims=KD)", [](DType) { return DType::Int64; }},
      {"logsumexp", [](auto& a, auto& x, bool k) { return logsumexp(a, x, k); },
       "(lambda x: (lambda m: np.log(np.sum(np.exp(x - m), axis=AX, keepdims=KD)) + "
       "np.max(x, axis=AX, keepdims=KD))(np.max(x, axis=AX, keepdims=True)))(a.astype(np.float64))",
       float_rule, false},
      {"norm_fro", [](auto& a, auto& x, bool k) { return norm(a, "fro", x, k); },
       "np.sqrt(np.sum(np.square(a.astype(np.float64)), axis=AX, keepdims=KD))", float_rule, false},
  };
}

// Runs every case over every dtype, layout and axes combination in one NumPy batch.
void check_cases(const std::vector<ReduceCase>& cases) {
  Generator g(7);
  struct Pending {
    std::string what;
    Tensor ours;
    int handle;
    DType in_dt, expected;
    bool numpy_dtype;
  };
  NumpyOracle np;
  std::vector<Pending> pend;
  auto combos = axes_combos();
  for (const auto& c : cases) {
    for (DType dt : all_dtypes()) {
      for (auto& [lname, t] : layouts(dt, g, c.values)) {
        for (size_t i = 0; i < combos.size(); ++i) {
          bool kd = (i + lname.size()) % 2 == 1;
          std::string expr = fill(c.expr, combos[i], kd);
          std::string what = c.name + " " + dtype_name(dt) + " " + lname +
                             " axis=" + py_axes(combos[i]) + " keepdims=" + (kd ? "1" : "0");
          pend.push_back(
              {what, c.ours(t, combos[i], kd), np.add(expr, {t}), dt, c.rule(dt), c.numpy_dtype});
        }
      }
    }
  }
  np.run();
  for (auto& p : pend) {
    const Tensor& ref = np.result(p.handle);
    EXPECT_EQ(p.ours.dtype(), p.expected) << p.what;
    if (p.numpy_dtype && p.in_dt != DType::BFloat16) {
      EXPECT_EQ(p.ours.dtype(), ref.dtype()) << p.what;
    }
    double tol = rtol_for(p.ours.dtype());
    EXPECT_TRUE(matches(p.ours, ref, tol, tol, false)) << p.what;
  }
}

}  // namespace

TEST(Reduce, AllOpsDtypesLayoutsAxes) { check_cases(reduce_cases()); }

TEST(Reduce, DtypeOverride) {
  Generator g(1);
  Tensor i8 = sample({4, 6}, DType::Int8, g), f32 = sample({4, 6}, DType::Float32, g);
  NumpyOracle np;
  int h1 = np.add("np.sum(a, axis=1, dtype=np.float64)", {i8});
  int h2 = np.add("np.prod(a, axis=0, dtype=np.int8)", {i8});
  int h3 = np.add("np.sum(a, dtype=np.float64)", {f32});
  int h4 = np.add("np.mean(a, axis=0, dtype=np.float64)", {f32});
  int h5 = np.add("np.cumsum(a, axis=1, dtype=np.int16)", {i8});
  np.run();
  EXPECT_TRUE(matches(sum(i8, 1, false, DType::Float64), np.result(h1)));
  EXPECT_TRUE(matches(prod(i8, 0, false, DType::Int8), np.result(h2)));
  EXPECT_TRUE(matches(sum(f32, {}, false, DType::Float64), np.result(h3), 1e-12, 1e-12));
  EXPECT_TRUE(matches(mean(f32, 0, false, DType::Float64), np.result(h4), 1e-12, 1e-12));
  EXPECT_TRUE(matches(cumsum(i8, 1, DType::Int16), np.result(h5)));
}

TEST(Reduce, ArgmaxArgminWithTies) {
  Generator g(3);
  NumpyOracle np;
  struct P {
    std::string what;
    Tensor ours;
    int h;
  };
  std::vector<P> pend;
  for (DType dt : all_dtypes()) {
    // Few distinct values: many ties, the first index must win.
    for (auto& [lname, t] : layouts(dt, g, Values::Ties)) {
      for (auto ax : {std::optional<int64_t>(), std::optional<int64_t>(0),
                      std::optional<int64_t>(1), std::optional<int64_t>(-1)}) {
        for (bool kd : {false, true}) {
          std::string pa = ax ? std::to_string(*ax) : "None";
          std::string k = kd ? "True" : "False";
          std::string w = std::string(dtype_name(dt)) + " " + lname + " axis=" + pa + " kd=" + k;
          pend.push_back({"argmax " + w, argmax(t, ax, kd),
                          np.add("np.argmax(a, axis=" + pa + ", keepdims=" + k + ")", {t})});
          pend.push_back({"argmin " + w, argmin(t, ax, kd),
                          np.add("np.argmin(a, axis=" + pa + ", keepdims=" + k + ")", {t})});
        }
      }
    }
  }
  np.run();
  for (auto& p : pend) EXPECT_TRUE(matches(p.ours, np.result(p.h))) << p.what;
}

TEST(Reduce, NaNPropagation) {
  Generator g(5);
  NumpyOracle np;
  struct P {
    std::string what;
    Tensor ours;
    int h;
  };
  std::vector<P> pend;
  for (DType dt : {DType::Float16, DType::BFloat16, DType::Float32, DType::Float64}) {
    std::vector<float> vals = sample({6, 20}, DType::Float32, g).to_vector<float>();
    for (int i : {23, 27, 80, 59}) vals[static_cast<size_t>(i)] = NAN;
    Tensor t = from_vector(vals, Shape{6, 20}).to(dt);
    for (Tensor v : {t, t.transpose()}) {
      for (int ax : {0, 1}) {
        std::string a = std::to_string(ax), dn = dtype_name(dt);
        pend.push_back({"amax " + dn, amax(v, ax), np.add("np.max(a, axis=" + a + ")", {v})});
        pend.push_back({"amin " + dn, amin(v, ax), np.add("np.min(a, axis=" + a + ")", {v})});
        pend.push_back(
            {"argmax " + dn, argmax(v, ax), np.add("np.argmax(a, axis=" + a + ")", {v})});
        pend.push_back(
            {"argmin " + dn, argmin(v, ax), np.add("np.argmin(a, axis=" + a + ")", {v})});
        pend.push_back({"sum " + dn, sum(v, ax), np.add("np.sum(a, axis=" + a + ")", {v})});
        pend.push_back(
            {"cumsum " + dn, cumsum(v, ax), np.add("np.cumsum(a, axis=" + a + ")", {v})});
      }
      pend.push_back(
          {"amax all " + std::string(dtype_name(dt)), amax(v), np.add("np.max(a)", {v})});
      pend.push_back({"argmin all", argmin(v), np.add("np.argmin(a)", {v})});
    }
  }
  np.run();
  for (auto& p : pend) {
    double tol = rtol_for(p.ours.dtype());
    EXPECT_TRUE(matches(p.ours, np.result(p.h), tol, tol, false)) << p.what;
  }
  // logsumexp: -inf rows give -inf, an inf gives inf, NaN gives NaN.
  Tensor s = tensor({-INFINITY, -INFINITY, 1.0, INFINITY, NAN, 2.0}).reshape({3, 2});
  std::vector<float> r = logsumexp(s, 1).to_vector<float>();
  EXPECT_TRUE(std::isinf(r[0]) && r[0] < 0);
  EXPECT_TRUE(std::isinf(r[1]) && r[1] > 0);
  EXPECT_TRUE(std::isnan(r[2]));
}

TEST(Reduce, ZeroSize) {
  NumpyOracle np;
  struct P {
    std::string what;
    Tensor ours;
    int h;
  };
  std::vector<P> pend;
  for (DType dt : {DType::Float32, DType::Int32, DType::Bool, DType::Float16}) {
    for (Shape sh : {Shape{0, 3}, Shape{3, 0}, Shape{0}}) {
      Tensor t = zeros(sh, dt);
      std::vector<Axes> axs = {Axes(), Axes(0)};
      if (sh.size() == 2) axs.push_back(Axes(1));
      for (const Axes& ax : axs) {
        std::string w =
            std::string(dtype_name(dt)) + " shape " + py_axes(Axes(sh)) + " axis " + py_axes(ax);
        std::string a = py_axes(ax);
        pend.push_back({"sum " + w, sum(t, ax), np.add("np.sum(a, axis=" + a + ")", {t})});
        pend.push_back({"prod " + w, prod(t, ax), np.add("np.prod(a, axis=" + a + ")", {t})});
        pend.push_back({"mean " + w, mean(t, ax), np.add("np.mean(a, axis=" + a + ")", {t})});
        pend.push_back({"var " + w, var(t, ax), np.add("np.var(a, axis=" + a + ")", {t})});
        pend.push_back({"all " + w, all(t, ax), np.add("np.all(a, axis=" + a + ")", {t})});
        pend.push_back({"any " + w, any(t, ax), np.add("np.any(a, axis=" + a + ")", {t})});
        pend.push_back({"count " + w, count_nonzero(t, ax),
                        np.add("np.count_nonzero(a, axis=" + a + ")", {t})});
        pend.push_back(
            {"norm " + w, norm(t, "fro", ax),
             np.add("np.sqrt(np.sum(np.square(a.astype(float)), axis=" + a + "))", {t})});
        // max/argmax raise on an empty reduction, and work when only the outputs are empty.
        bool empty_reduction = ax.all || sh[static_cast<size_t>(ax.dims[0])] == 0;
        if (empty_reduction) {
          expect_error([&] { amax(t, ax); }, {"amax", "zero-size"});
          expect_error([&] { amin(t, ax); }, {"amin", "zero-size"});
        } else {
          pend.push_back({"amax " + w, amax(t, ax), np.add("np.max(a, axis=" + a + ")", {t})});
          pend.push_back({"argmax " + w, argmax(t, ax.dims[0]),
                          np.add("np.argmax(a, axis=" + std::to_string(ax.dims[0]) + ")", {t})});
        }
      }
      pend.push_back({"cumsum", cumsum(t), np.add("np.cumsum(a)", {t})});
      pend.push_back({"cumprod0", cumprod(t, 0), np.add("np.cumprod(a, axis=0)", {t})});
      if (t.ndim() == 2) expect_error([&] { argmax(t, sh[0] == 0 ? 0 : 1); }, {"argmax", "empty"});
    }
  }
  np.run();
  for (auto& p : pend) EXPECT_TRUE(matches(p.ours, np.result(p.h), 1e-6, 1e-6, false)) << p.what;
}

TEST(Reduce, Cumulative) {
  Generator g(11);
  NumpyOracle np;
  struct P {
    std::string what;
    Tensor ours;
    int h;
  };
  std::vector<P> pend;
  for (DType dt : all_dtypes()) {
    for (auto& [lname, t] : layouts(dt, g, Values::NearOne)) {
      for (auto ax : {std::optional<int64_t>(), std::optional<int64_t>(0),
                      std::optional<int64_t>(1), std::optional<int64_t>(-1)}) {
        std::string pa = ax ? std::to_string(*ax) : "None";
        std::string w = std::string(dtype_name(dt)) + " " + lname + " axis=" + pa;
        pend.push_back(
            {"cumsum " + w, cumsum(t, ax), np.add("np.cumsum(a, axis=" + pa + ")", {t})});
        pend.push_back(
            {"cumprod " + w, cumprod(t, ax), np.add("np.cumprod(a, axis=" + pa + ")", {t})});
      }
    }
  }
  np.run();
  for (auto& p : pend) {
    const Tensor& ref = np.result(p.h);
    if (p.ours.dtype() != DType::BFloat16) {
      EXPECT_EQ(p.ours.dtype(), ref.dtype()) << p.what;
    }
    // bfloat16 rounds every step (as NumPy's float16 does); NumPy sees float32, so be loose.
    double tol = p.ours.dtype() == DType::BFloat16 ? 6e-2 : rtol_for(p.ours.dtype());
    EXPECT_TRUE(matches(p.ours, ref, tol, tol, false)) << p.what;
  }
}

TEST(Reduce, Norms) {
  const double kInf = INFINITY;
  Generator g(13);
  NumpyOracle np;
  struct P {
    std::string what;
    Tensor ours;
    int h;
    DType dt;
  };
  std::vector<P> pend;
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Float16}) {
    Tensor v = sample({7}, dt, g), m = sample({5, 6}, dt, g), t3 = sample({3, 4, 5}, dt, g);
    Tensor mt = m.transpose();
    std::string dn = dtype_name(dt);
    const std::string f64 = "a.astype(np.float64)";
    for (double ord : {1.0, 2.0, 3.0, 0.5, 0.0, -1.0, kInf, -kInf}) {
      std::string o = std::isinf(ord) ? (ord > 0 ? "np.inf" : "-np.inf") : std::to_string(ord);
      pend.push_back({"vector ord " + o + " " + dn, norm(v, ord),
                      np.add("np.linalg.norm(" + f64 + ", ord=" + o + ")", {v}), dt});
      pend.push_back(
          {"rows ord " + o + " " + dn, norm(t3, ord, Axes(-1), true),
           np.add("np.linalg.norm(" + f64 + ", ord=" + o + ", axis=-1, keepdims=True)", {t3}), dt});
      pend.push_back({"cols ord " + o + " " + dn, norm(mt, ord, Axes(0)),
                      np.add("np.linalg.norm(" + f64 + ", ord=" + o + ", axis=0)", {mt}), dt});
    }
    for (double ord : {1.0, -1.0, kInf, -kInf}) {
      std::string o = std::isinf(ord) ? (ord > 0 ? "np.inf" : "-np.inf") : std::to_string(ord);
      pend.push_back({"matrix ord " + o + " " + dn, norm(m, ord),
                      np.add("np.linalg.norm(" + f64 + ", ord=" + o + ")", {m}), dt});
      pend.push_back({"matrix axes (2,0) ord " + o + " " + dn, norm(t3, ord, Axes({2, 0})),
                      np.add("np.linalg.norm(" + f64 + ", ord=" + o + ", axis=(2,0))", {t3}), dt});
      pend.push_back(
          {"matrix axes (0,1) kd ord " + o + " " + dn, norm(t3, ord, Axes({0, 1}), true),
           np.add("np.linalg.norm(" + f64 + ", ord=" + o + ", axis=(0,1), keepdims=True)", {t3}),
           dt});
    }
    pend.push_back({"fro " + dn, norm(m), np.add("np.linalg.norm(" + f64 + ")", {m}), dt});
    pend.push_back({"fro 3d " + dn, norm(t3), np.add("np.linalg.norm(" + f64 + ")", {t3}), dt});
    pend.push_back({"fro axes " + dn, norm(t3, "fro", Axes({1, 2})),
                    np.add("np.linalg.norm(" + f64 + ", ord='fro', axis=(1,2))", {t3}), dt});
  }
  np.run();
  for (auto& p : pend) {
    EXPECT_EQ(p.ours.dtype(), float_rule(p.dt)) << p.what;
    double tol = rtol_for(p.ours.dtype());
    EXPECT_TRUE(matches(p.ours, np.result(p.h), tol, tol, false)) << p.what;
  }
}

// Large inputs take the threaded paths: split over outputs, over one long run, row tiles.
TEST(Reduce, LargeThreadedAndAccurate) {
  Generator g(17);
  NumpyOracle np;
  struct P {
    std::string what;
    Tensor ours;
    int h;
    double tol;
  };
  std::vector<P> pend;
  Tensor big = uniform(0, 1, {1 << 24}, g);  // 16M float32: pairwise accuracy matters
  pend.push_back({"sum 16M", sum(big), np.add("np.sum(a)", {big}), 1e-5});
  pend.push_back({"mean 16M", mean(big), np.add("np.mean(a)", {big}), 1e-5});
  Tensor m = randn({512, 640}, g);
  Tensor mi = randint(-1000, 1000, {640, 512}, g).to(DType::Int32).transpose();
  Tensor md = randn({640, 512}, g, DType::Float64).transpose();
  for (const auto& [name, t] : std::vector<std::pair<std::string, Tensor>>{
           {"f32", m}, {"i32 transposed", mi}, {"f64 transposed", md}}) {
    double tol = t.dtype() == DType::Float32 ? 2e-5 : 1e-9;
    for (std::string ax : {"0", "1", "None"}) {
      Axes x = ax == "None" ? Axes() : Axes(std::stoi(ax));
      std::optional<int64_t> o =
          ax == "None" ? std::nullopt : std::optional<int64_t>(std::stoi(ax));
      std::string w = name + " axis " + ax;
      pend.push_back({"sum " + w, sum(t, x), np.add("np.sum(a, axis=" + ax + ")", {t}), tol});
      pend.push_back({"max " + w, amax(t, x), np.add("np.max(a, axis=" + ax + ")", {t}), 0});
      pend.push_back({"min " + w, amin(t, x), np.add("np.min(a, axis=" + ax + ")", {t}), 0});
      pend.push_back(
          {"argmax " + w, argmax(t, o), np.add("np.argmax(a, axis=" + ax + ")", {t}), 0});
      pend.push_back({"cumsum " + w, cumsum(t, o), np.add("np.cumsum(a, axis=" + ax + ")", {t}),
                      t.dtype() == DType::Float32 ? 1e-3 : tol});
      pend.push_back({"var " + w, var(t, x), np.add("np.var(a, axis=" + ax + ")", {t}), 1e-4});
    }
  }
  // Several outer items (kept axes around the reduced one) split across threads.
  Tensor t3 = randn({4, 300, 200}, g);
  pend.push_back({"sum 3d axis 1", sum(t3, 1), np.add("np.sum(a, axis=1)", {t3}), 2e-5});
  pend.push_back({"max 3d axis 1", amax(t3, 1), np.add("np.max(a, axis=1)", {t3}), 0});
  pend.push_back({"sum 3d axes 0,1", sum(t3, {0, 1}), np.add("np.sum(a, axis=(0,1))", {t3}), 2e-5});
  np.run();
  for (auto& p : pend) EXPECT_TRUE(matches(p.ours, np.result(p.h), p.tol, p.tol, false)) << p.what;
}

TEST(Reduce, SmallResultsAndMethods) {
  Tensor a = arange(12).reshape({3, 4});
  EXPECT_EQ(a.sum().item<int64_t>(), 66);
  EXPECT_EQ(a.sum(1).to_vector<int64_t>(), (std::vector<int64_t>{6, 22, 38}));
  EXPECT_EQ(sum(a, {}, true).shape(), (Shape{1, 1}));
  EXPECT_EQ(a.max().item<int64_t>(), 11);
  EXPECT_EQ(mean(a).dtype(), DType::Float32);
  // An empty axes list reduces nothing.
  EXPECT_EQ(sum(a, Axes(Shape{})).shape(), (Shape{3, 4}));
}

TEST(Reduce, Errors) {
  Tensor a = zeros({2, 3});
  expect_error([&] { sum(a, Axes({1, -1})); }, {"sum", "duplicate axis", "[2, 3]"});
  expect_error([&] { mean(a, 2); }, {"mean", "out of bounds", "[2, 3]"});
  expect_error([&] { amax(a, -3); }, {"amax", "out of bounds", "[2, 3]"});
  expect_error([&] { argmax(a, 2); }, {"argmax"});
  expect_error([&] { cumsum(a, 5); }, {"cumsum"});
  expect_error([&] { argmin(zeros({0})); }, {"argmin", "empty", "[0]"});
  expect_error([&] { amax(zeros({2, 0}), 1); }, {"amax", "zero-size", "[2, 0]"});
  expect_error([&] { norm(a, "nuc"); }, {"norm", "nuc"});
  expect_error([&] { norm(zeros({2, 3, 4}), 1.0); }, {"norm", "[2, 3, 4]"});
  expect_error([&] { norm(a, 2.0, Axes({0, 1})); }, {"norm", "matrix ord 2"});
  expect_error([&] { norm(zeros({2, 3, 4}), 1.0, Axes({0, 1, 2})); }, {"norm", "1 or 2 axes"});
  expect_error([&] { var(a, Axes({0, 0})); }, {"var", "duplicate"});
  expect_error([&] { logsumexp(a, 3); }, {"logsumexp", "out of bounds"});
}
