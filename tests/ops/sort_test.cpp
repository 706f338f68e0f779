// Sorting and search against NumPy: every dtype, memory layouts, axes, ties (stability), NaN
// (sorted last), zero-size inputs, and error messages.
#include <gtest/gtest.h>

#include <cmath>
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

// Few distinct values (many ties); floats also get NaNs.
Tensor tie_sample(const Shape& shape, DType dt, Generator& g) {
  if (dt == DType::Bool) return randint(0, 2, shape, g).to(DType::Bool);
  Tensor t = randint(dt == DType::UInt8 ? 0 : -4, 5, shape, g).to(DType::Float32);
  if (!is_floating(dt)) return t.to(dt);
  std::vector<float> v = t.to_vector<float>();
  for (size_t i = 3; i < v.size(); i += 11) v[i] = NAN;
  for (size_t i = 5; i < v.size(); i += 7) v[i] += 0.5f;
  return from_vector(v, t.shape()).to(dt);
}

std::vector<std::pair<std::string, Tensor>> layouts(DType dt, Generator& g) {
  return {
      {"contiguous", tie_sample({3, 4, 9}, dt, g)},
      {"transposed", tie_sample({9, 4, 3}, dt, g).permute({2, 1, 0})},
      {"strided", tie_sample({6, 4, 19}, dt, g).slice(0, 0, None, 2).slice(2, 1, None, 2)},
      {"flipped", tie_sample({3, 4, 9}, dt, g).slice(2, None, None, -1)},
      {"empty", tie_sample({3, 0, 9}, dt, g)},
  };
}

// Stable descending argsort along axis X in NumPy: sort the flipped array, flip back.
std::string desc_argsort(const std::string& x) {
  return "(a.shape[" + x + "] - 1 - np.flip(np.argsort(np.flip(a, axis=" + x + "), axis=" + x +
         ", kind='stable'), axis=" + x + "))";
}

double tol_for(DType dt) {
  return dt == DType::BFloat16 ? 1e-2 : dt == DType::Float16 ? 1e-3 : 1e-6;
}

struct Pending {
  std::string what;
  std::vector<Tensor> ours;
  int h;
};

void check_all(NumpyOracle& np, const std::vector<Pending>& pend) {
  np.run();
  for (const auto& p : pend) {
    const auto& ref = np.results(p.h);
    ASSERT_EQ(ref.size(), p.ours.size()) << p.what;
    for (size_t i = 0; i < ref.size(); ++i) {
      double tol = tol_for(p.ours[i].dtype());
      bool check_dtype = p.ours[i].dtype() != DType::BFloat16;
      EXPECT_TRUE(matches(p.ours[i], ref[i], tol, tol, check_dtype)) << p.what << " result " << i;
    }
  }
}

}  // namespace

TEST(Sort, SortArgsortStableWithNaN) {
  Generator g(21);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : all_dtypes()) {
    for (auto& [lname, t] : layouts(dt, g)) {
      for (int64_t ax : {0, 1, 2, -1}) {
        std::string x = std::to_string(ax);
        std::string w = std::string(dtype_name(dt)) + " " + lname + " axis " + x;
        pend.push_back(
            {"sort " + w, {sort(t, ax)}, np.add("np.sort(a, axis=" + x + ", kind='stable')", {t})});
        pend.push_back({"sort desc " + w,
                        {sort(t, ax, true)},
                        np.add("np.flip(np.sort(a, axis=" + x + "), axis=" + x + ")", {t})});
        pend.push_back({"argsort " + w,
                        {argsort(t, ax)},
                        np.add("np.argsort(a, axis=" + x + ", kind='stable')", {t})});
        pend.push_back({"argsort desc " + w, {argsort(t, ax, true)}, np.add(desc_argsort(x), {t})});
      }
    }
  }
  // Large rows take the threaded path.
  Tensor big = randn({300, 700}, g);
  pend.push_back({"sort big", {sort(big, 0)}, np.add("np.sort(a, axis=0)", {big})});
  pend.push_back({"argsort big", {argsort(big)}, np.add("np.argsort(a, kind='stable')", {big})});
  Tensor s0 = scalar_tensor(3.5);
  pend.push_back({"sort 0-d", {sort(s0)}, np.add("np.sort(a.reshape(1)).reshape(())", {s0})});
  check_all(np, pend);
  // The input is not modified.
  Tensor c = tensor({3, 1, 2});
  sort(c);
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{3, 1, 2}));
}

TEST(Sort, Topk) {
  Generator g(22);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : all_dtypes()) {
    for (auto& [lname, t] : layouts(dt, g)) {
      if (t.numel() == 0) continue;
      for (int64_t ax : {0, 2, -2}) {
        std::string x = std::to_string(ax);
        int64_t n = t.size(ax);
        for (int64_t k : {int64_t{0}, int64_t{1}, n / 2, n}) {
          std::string w =
              std::string(dtype_name(dt)) + " " + lname + " axis " + x + " k " + std::to_string(k);
          std::string take = "np.take(IDX, np.arange(" + std::to_string(k) + "), axis=" + x + ")";
          auto pick = [&](const std::string& idx) {
            std::string sel = take;
            sel.replace(sel.find("IDX"), 3, idx);
            return "(lambda i: (np.take_along_axis(a, i, axis=" + x + "), i))(" + sel + ")";
          };
          auto [v1, i1] = topk(t, k, ax, true);
          pend.push_back({"topk largest " + w, {v1, i1}, np.add(pick(desc_argsort(x)), {t})});
          auto [v2, i2] = topk(t, k, ax, false);
          pend.push_back({"topk smallest " + w,
                          {v2, i2},
                          np.add(pick("np.argsort(a, axis=" + x + ", kind='stable')"), {t})});
        }
      }
    }
  }
  check_all(np, pend);
}

TEST(Sort, Unique) {
  Generator g(23);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : all_dtypes()) {
    for (auto& [lname, t] : layouts(dt, g)) {
      UniqueResult u = unique(t, true, true, true);
      pend.push_back({std::string("unique ") + dtype_name(dt) + " " + lname,
                      {u.values, u.indices, u.inverse, u.counts},
                      np.add("np.unique(a, return_index=True, return_inverse=True, "
                             "return_counts=True)",
                             {t})});
      pend.push_back({std::string("unique values ") + dtype_name(dt) + " " + lname,
                      {unique(t).values},
                      np.add("np.unique(a)", {t})});
    }
  }
  check_all(np, pend);
  UniqueResult u = unique(tensor({2, 1}));
  EXPECT_FALSE(u.indices.defined());
  EXPECT_FALSE(u.inverse.defined());
  EXPECT_FALSE(u.counts.defined());
}

TEST(Sort, Searchsorted) {
  Generator g(24);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : all_dtypes()) {
    for (DType vt : {dt, DType::Float32, DType::Int64}) {
      Tensor s = sort(tie_sample({20}, dt, g));
      Tensor s_view = sort(tie_sample({40}, dt, g)).slice(0, 0, None, 2);
      Tensor v = tie_sample({3, 5}, vt, g).transpose();
      Tensor v0 = tie_sample({}, vt, g);
      for (bool right : {false, true}) {
        std::string side = right ? "'right'" : "'left'";
        std::string w = std::string(dtype_name(dt)) + " in " + dtype_name(vt) + " side " + side;
        pend.push_back({"searchsorted " + w,
                        {searchsorted(s, v, right)},
                        np.add("np.searchsorted(a, b, side=" + side + ")", {s, v})});
        pend.push_back({"searchsorted view " + w,
                        {searchsorted(s_view, v, right)},
                        np.add("np.searchsorted(a, b, side=" + side + ")", {s_view, v})});
        pend.push_back({"searchsorted 0-d " + w,
                        {searchsorted(s, v0, right)},
                        np.add("np.searchsorted(a, b, side=" + side + ")", {s, v0})});
      }
    }
  }
  Tensor empty_sorted = zeros({0});
  Tensor vals = randn({4}, g);
  pend.push_back({"searchsorted empty",
                  {searchsorted(empty_sorted, vals)},
                  np.add("np.searchsorted(a, b)", {empty_sorted, vals})});
  check_all(np, pend);
}

TEST(Sort, Bincount) {
  Generator g(25);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : {DType::Int64, DType::Int32, DType::UInt8, DType::Int8, DType::Bool}) {
    Tensor x = randint(0, dt == DType::Bool ? 2 : 10, {60}, g).to(dt);
    Tensor xs = randint(0, 10, {120}, g).to(dt).slice(0, None, None, -2);
    Tensor w = randn({60}, g);
    std::string dn = dtype_name(dt);
    pend.push_back({"bincount " + dn, {bincount(x)}, np.add("np.bincount(a)", {x})});
    pend.push_back({"bincount strided " + dn, {bincount(xs)}, np.add("np.bincount(a)", {xs})});
    pend.push_back({"bincount minlength " + dn,
                    {bincount(x, std::nullopt, 15)},
                    np.add("np.bincount(a, minlength=15)", {x})});
    pend.push_back({"bincount weights " + dn,
                    {bincount(x, w, 3)},
                    np.add("np.bincount(a, weights=b, minlength=3)", {x, w})});
  }
  Tensor e = zeros({0}, DType::Int64);
  pend.push_back({"bincount empty",
                  {bincount(e, std::nullopt, 4)},
                  np.add("np.bincount(a, minlength=4)", {e})});
  check_all(np, pend);
}

TEST(Sort, Histogram) {
  Generator g(26);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Int32,
                   DType::UInt8}) {
    Tensor x = (is_floating(dt) ? randn({500}, g) : randint(0, 50, {500}, g)).to(dt);
    Tensor xt =
        (is_floating(dt) ? randn({20, 30}, g) : randint(0, 50, {20, 30}, g)).to(dt).transpose();
    std::string dn = dtype_name(dt);
    for (int64_t bins : {1, 7, 10, 64}) {
      std::string b = std::to_string(bins);
      auto [h, e] = histogram(x, bins);
      pend.push_back({"histogram " + dn + " bins " + b,
                      {h, e},
                      np.add("np.histogram(a, bins=" + b + ")", {x})});
      auto [h2, e2] = histogram(xt, bins, std::make_pair(-1.0, 30.5));
      pend.push_back({"histogram range " + dn + " bins " + b,
                      {h2, e2},
                      np.add("np.histogram(a, bins=" + b + ", range=(-1.0, 30.5))", {xt})});
    }
  }
  Tensor c = full({5}, 2.0f);
  auto [hc, ec] = histogram(c, 4);
  pend.push_back({"histogram constant", {hc, ec}, np.add("np.histogram(a, bins=4)", {c})});
  Tensor withnan = tensor({0.5, NAN, 1.5, 3.0, -2.0});
  auto [hn, en] = histogram(withnan, 3, std::make_pair(0.0, 3.0));
  pend.push_back(
      {"histogram nan", {hn, en}, np.add("np.histogram(a, bins=3, range=(0, 3))", {withnan})});
  Tensor empty = zeros({0});
  auto [he, ee] = histogram(empty, 5);
  pend.push_back({"histogram empty", {he, ee}, np.add("np.histogram(a, bins=5)", {empty})});
  check_all(np, pend);
}

TEST(Sort, Nonzero) {
  Generator g(27);
  NumpyOracle np;
  std::vector<Pending> pend;
  for (DType dt : all_dtypes()) {
    for (auto& [lname, t] : layouts(dt, g)) {
      pend.push_back({std::string("nonzero ") + dtype_name(dt) + " " + lname,
                      {nonzero(t)},
                      np.add("np.argwhere(a)", {t})});
    }
  }
  Tensor z1 = scalar_tensor(3), z0 = scalar_tensor(0);
  pend.push_back({"nonzero 0-d", {nonzero(z1)}, np.add("np.argwhere(a)", {z1})});
  pend.push_back({"nonzero 0-d zero", {nonzero(z0)}, np.add("np.argwhere(a)", {z0})});
  check_all(np, pend);
}

TEST(Sort, Errors) {
  Tensor a = zeros({2, 3});
  expect_error([&] { sort(a, 2); }, {"sort", "axis"});
  expect_error([&] { argsort(a, -3); }, {"argsort", "axis"});
  expect_error([&] { topk(a, 4); }, {"topk", "k = 4", "[2, 3]"});
  expect_error([&] { topk(a, -1, 0); }, {"topk", "k = -1"});
  expect_error([&] { searchsorted(a, a); }, {"searchsorted", "1-D", "[2, 3]"});
  expect_error([&] { bincount(zeros({3})); }, {"bincount", "float32"});
  expect_error([&] { bincount(tensor({1, -2})); }, {"bincount", "non-negative", "-2"});
  expect_error([&] { bincount(zeros({2, 2}, DType::Int64)); }, {"bincount", "1-D", "[2, 2]"});
  expect_error([&] { bincount(tensor({1, 2}), zeros({3})); }, {"bincount", "weights", "[3]"});
  expect_error([&] { bincount(tensor({1, 2}), std::nullopt, -1); }, {"bincount", "minlength"});
  expect_error([&] { histogram(a, 0); }, {"histogram", "bins"});
  expect_error([&] { histogram(a, 3, std::make_pair(2.0, 1.0)); }, {"histogram", "range"});
  expect_error([&] { histogram(tensor({1.0, NAN}), 3); }, {"histogram", "not finite"});
}
