// Linear algebra against NumPy: matmul family and einsum over dtypes, broadcast batches, 1-D
// operands, views (transposed, strided, flipped, broadcast) and empty shapes; decompositions by
// NumPy for the sign-free parts and by their defining properties for the rest.
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
using ravel::testing::matches;
using ravel::testing::NumpyOracle;

namespace {

// Random values of any dtype: normals for floats, small integers (so products stay exact).
Tensor sample(const Shape& shape, DType dt, Generator& gen) {
  if (is_floating(dt)) return randn(shape, gen, DType::Float32).to(dt);
  if (dt == DType::Bool) return randint(0, 2, shape, gen, DType::Bool);
  if (dt == DType::UInt8) return randint(0, 10, shape, gen, dt);
  return randint(-9, 10, shape, gen, dt);
}

struct Tol {
  double rtol, atol;
};
Tol tol_for(DType dt) {
  switch (dt) {
    case DType::Float64:
      return {1e-10, 1e-10};
    case DType::Float32:
      return {1e-4, 1e-4};
    case DType::Float16:
      return {1e-2, 5e-2};
    case DType::BFloat16:
      return {2e-2, 2e-1};
    default:
      return {0, 0};
  }
}

// The identity of the batch shape of a [..., k, k] tensor.
Tensor batch_eye(const Tensor& like) {
  return eye(like.size(-1), std::nullopt, 0, like.dtype()).expand(like.shape()).clone();
}

}  // namespace

TEST(LinalgMatmul, MatchesNumpyOverShapesAndDtypes) {
  Generator gen(1);
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {4, 5}},     {{4}, {4}},          {{4}, {4, 3}},
      {{2, 3, 4}, {4}},     {{3}, {2, 3, 4}},    {{2, 1, 3, 4}, {5, 4, 2}},
      {{2, 3, 4}, {4, 5}},  {{1, 4}, {4, 1}},    {{0, 4}, {4, 3}},
      {{3, 0}, {0, 2}},     {{2, 0, 3}, {3, 4}}, {{0}, {0}},
      {{37, 70}, {70, 33}}, {{4, 300}, {300, 5}}};
  const std::vector<DType> dtypes = {
      DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Int64,
      DType::Int32,   DType::Int16,   DType::Int8,    DType::UInt8,    DType::Bool};
  NumpyOracle np;
  struct Case {
    Tensor ours;
    int h;
    DType dt;
  };
  std::vector<Case> cases;
  for (DType dt : dtypes)
    for (const auto& [sa, sb] : shapes) {
      Tensor a = sample(sa, dt, gen), b = sample(sb, dt, gen);
      cases.push_back({matmul(a, b), np.add("np.matmul(a, b)", {a, b}), dt});
    }
  np.run();
  for (const auto& c : cases) {
    Tol t = tol_for(c.dt);
    // NumPy computes float16 in float16 and has no bfloat16 (sent as float32): values only.
    bool check_dtype = c.dt != DType::BFloat16;
    EXPECT_TRUE(matches(c.ours, np.result(c.h), t.rtol, t.atol, check_dtype))
        << dtype_name(c.dt) << " " << c.ours.shape();
  }
}

TEST(LinalgMatmul, MixedDtypesPromote) {
  Generator gen(2);
  Tensor a = sample({3, 4}, DType::Int32, gen), b = sample({4, 2}, DType::Float32, gen);
  Tensor c = sample({4, 2}, DType::Int8, gen);
  NumpyOracle np;
  int h1 = np.add("a @ b", {a, b}), h2 = np.add("a @ b", {a, c});
  np.run();
  EXPECT_TRUE(matches(matmul(a, b), np.result(h1), 1e-5, 1e-5));
  EXPECT_TRUE(matches(matmul(a, c), np.result(h2)));
}

TEST(LinalgMatmul, NonContiguousViews) {
  Generator gen(3);
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32}) {
    Tensor a = sample({6, 5}, dt, gen), b = sample({6, 4}, dt, gen);
    Tensor big = sample({4, 10, 6}, dt, gen), w = sample({6, 7}, dt, gen);
    std::vector<std::pair<Tensor, Tensor>> pairs = {
        {a.transpose(), b},                                                  // trans flag on a
        {a.transpose(), b.transpose().transpose()},                          // plain
        {b.transpose(), a},                                                  // [4,6] @ [6,5]
        {a.transpose(), w.transpose().transpose()},                          // [5,6] @ [6,7]
        {w.transpose(), b},                                                  // [7,6] @ [6,4]
        {a.slice(0, None, None, 2).transpose(), b.slice(0, None, None, 2)},  // strided: copies
        {a.slice(1, None, None, -1).transpose(),
         b.slice(0, None, None, -1).slice(1, None, None, -1)},
        {big.slice(1, None, None, 2), w},   // batch, row stride 12
        {big.permute({1, 0, 2}), w},        // batch not foldable
        {big, w.slice(1, None, None, 3)},   // b columns strided
        {a.slice(1, 0, 1).transpose(), b},  // a row vector with big stride
        {big.transpose(-1, -2).transpose(-1, -2), w.unsqueeze(0).expand({4, 6, 7})},  // b bcast
        {a.transpose().unsqueeze(0).expand({3, 5, 6}), b.slice(1, 1, 2)},  // a bcast, b column
        {b.select(1, 0), big.transpose(-1, -2)},                           // 1-D @ batch
    };
    NumpyOracle np;
    std::vector<int> hs;
    for (auto& [x, y] : pairs) hs.push_back(np.add("np.matmul(a, b)", {x, y}));
    np.run();
    Tol t = tol_for(dt);
    for (size_t i = 0; i < pairs.size(); ++i)
      EXPECT_TRUE(
          matches(matmul(pairs[i].first, pairs[i].second), np.result(hs[i]), t.rtol, t.atol))
          << "case " << i << " " << dtype_name(dt);
  }
}

TEST(LinalgMatmul, LargeFloat32UsesBlasAndMatchesNumpy) {
  Generator gen(4);
  Tensor a = randn({256, 256}, gen), b = randn({256, 256}, gen);
  NumpyOracle np;
  int h1 = np.add("a @ b", {a, b}), h2 = np.add("a.T @ b.T", {a, b});
  np.run();
  EXPECT_TRUE(matches(matmul(a, b), np.result(h1), 1e-4, 1e-3));
  EXPECT_TRUE(matches(matmul(a.transpose(), b.transpose()), np.result(h2), 1e-4, 1e-3));
}

TEST(LinalgMatmul, IntegerOverflowWrapsLikeNumpy) {
  Tensor a = full({2, 3}, 100, DType::Int8), b = full({3, 2}, 100, DType::Int8);
  Tensor c = full({2, 2}, int64_t{1} << 62, DType::Int64), d = full({2, 2}, 4, DType::Int64);
  NumpyOracle np;
  int h1 = np.add("a @ b", {a, b}), h2 = np.add("a @ b", {c, d});
  np.run();
  EXPECT_TRUE(matches(matmul(a, b), np.result(h1)));
  EXPECT_TRUE(matches(matmul(c, d), np.result(h2)));
}

TEST(LinalgMatmul, Errors) {
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 2})); }, "matmul: shapes [2, 3] and [4, 2]");
  expect_error([] { matmul(zeros({}), zeros({3})); }, "matmul: input operand 0");
  expect_error([] { matmul(zeros({3}), zeros({})); }, "matmul: input operand 1");
  expect_error([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 2})); }, "matmul: shapes [2] and [3]");
  expect_error([] { matmul(zeros({3}), zeros({4})); }, "matmul");
}

TEST(LinalgProducts, DotVdotInnerOuterTensordotMatchNumpy) {
  Generator gen(5);
  NumpyOracle np;
  struct Case {
    Tensor ours;
    int h;
    DType dt;
  };
  std::vector<Case> cases;
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64, DType::Int32}) {
    Tensor v = sample({5}, dt, gen), w = sample({5}, dt, gen), m = sample({3, 5}, dt, gen);
    Tensor m2 = sample({5, 4}, dt, gen), t3 = sample({2, 3, 5}, dt, gen);
    Tensor t4 = sample({4, 5, 2}, dt, gen), s = sample({}, dt, gen), e = sample({0}, dt, gen);
    Tensor t5 = sample({3, 5, 4}, dt, gen), t6 = sample({5, 4, 2}, dt, gen);
    auto add = [&](Tensor ours, const std::string& expr, std::vector<Tensor> in) {
      cases.push_back({ours, np.add(expr, in), dt});
    };
    add(dot(v, w), "np.dot(a, b)", {v, w});
    add(dot(m, v), "np.dot(a, b)", {m, v});
    add(dot(m, m2), "np.dot(a, b)", {m, m2});
    add(dot(t3, v), "np.dot(a, b)", {t3, v});
    add(dot(t3, t4), "np.dot(a, b)", {t3, t4});
    add(dot(s, m), "np.dot(a, b)", {s, m});
    add(dot(m.transpose(), m), "np.dot(a.T, b)", {m, m});
    add(dot(e, e), "np.dot(a, b)", {e, e});
    add(vdot(m, m), "np.vdot(a, b)", {m, m});
    add(vdot(m.transpose(), m), "np.vdot(a.T, b)", {m, m});
    add(inner(v, w), "np.inner(a, b)", {v, w});
    add(inner(m, t3), "np.inner(a, b)", {m, t3});
    add(inner(s, t3), "np.inner(a, b)", {s, t3});
    add(outer(v, w.slice(0, None, None, -1)), "np.outer(a, b[::-1])", {v, w});
    add(outer(m, v), "np.outer(a, b)", {m, v});
    add(outer(e, v), "np.outer(a, b)", {e, v});
    add(tensordot(t3, t6, 1), "np.tensordot(a, b, 1)", {t3, t6});
    add(tensordot(t5, t6, 2), "np.tensordot(a, b, 2)", {t5, t6});
    add(tensordot(m, m2, 0), "np.tensordot(a, b, 0)", {m, m2});
    add(tensordot(m, m, 2), "np.tensordot(a, b, 2)", {m, m});
  }
  np.run();
  for (const auto& c : cases) {
    Tol t = tol_for(c.dt);
    EXPECT_TRUE(matches(c.ours, np.result(c.h), t.rtol, t.atol)) << dtype_name(c.dt);
  }
}

TEST(LinalgProducts, Errors) {
  expect_error([] { dot(zeros({3}), zeros({4})); }, "dot: shapes [3] and [4] not aligned");
  expect_error([] { dot(zeros({2, 3}), zeros({2, 3})); }, "dot: shapes [2, 3] and [2, 3]");
  expect_error([] { vdot(zeros({3}), zeros({2, 2})); }, "vdot: vectors have different sizes");
  expect_error([] { inner(zeros({3}), zeros({2, 2})); }, "inner: shapes [3] and [2, 2]");
  expect_error([] { tensordot(zeros({3, 4}), zeros({3, 4}), 1); }, "tensordot: shape mismatch");
  expect_error([] { tensordot(zeros({3}), zeros({3}), 2); }, "tensordot: axes=2");
}

TEST(LinalgTrace, MatchesNumpy) {
  Generator gen(6);
  NumpyOracle np;
  struct Case {
    Tensor ours;
    int h;
    DType dt;
  };
  std::vector<Case> cases;
  for (DType dt :
       {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool, DType::Int8}) {
    Tensor a = sample({4, 5}, dt, gen), b = sample({3, 3, 2}, dt, gen);
    for (int64_t off : {0, 1, -2, 7})
      cases.push_back({trace(a, off), np.add("np.trace(a, " + std::to_string(off) + ")", {a}), dt});
    cases.push_back({trace(b), np.add("np.trace(a)", {b}), dt});
    cases.push_back({trace(a.transpose()), np.add("np.trace(a.T)", {a}), dt});
    cases.push_back({trace(b.slice(0, 0, 0)), np.add("np.trace(a[:0])", {b}), dt});
  }
  np.run();
  for (const auto& c : cases) {
    Tol t = tol_for(c.dt);
    EXPECT_TRUE(matches(c.ours, np.result(c.h), t.rtol, t.atol)) << dtype_name(c.dt);
  }
  expect_error([] { trace(zeros({3})); }, "trace: expected a tensor of at least 2 dimensions");
}

TEST(LinalgEinsum, MatchesNumpy) {
  Generator gen(7);
  struct Pattern {
    std::string subs;
    std::vector<Shape> shapes;
  };
  const std::vector<Pattern> patterns = {
      {"ij->ji", {{3, 4}}},
      {"ii->", {{4, 4}}},
      {"ii->i", {{4, 4}}},
      {"ij->", {{3, 4}}},
      {"ij->i", {{3, 4}}},
      {"ij->j", {{3, 4}}},
      {"ijk->kji", {{2, 3, 4}}},
      {"iij->ij", {{3, 3, 2}}},
      {"ij,jk->ik", {{3, 4}, {4, 5}}},
      {"ij,kj->ik", {{3, 4}, {5, 4}}},
      {"bij,bjk->bik", {{2, 3, 4}, {2, 4, 5}}},
      {"...ij,...jk->...ik", {{2, 1, 3, 4}, {3, 4, 2}}},
      {"...ij->...ji", {{2, 3, 4}}},
      {"i...->...", {{3, 2, 4}}},
      {"i,j->ij", {{3}, {4}}},
      {"i,i->", {{5}, {5}}},
      {"i,i->i", {{5}, {5}}},
      {"ij,ij->ij", {{3, 4}, {3, 4}}},
      {"ij,ij->", {{3, 4}, {3, 4}}},
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}},
      {"bn,anm,bm->ba", {{2, 3}, {4, 3, 5}, {2, 5}}},
      {"ii,i->i", {{3, 3}, {3}}},
      {"ij,k->ik", {{2, 3}, {4}}},
      {"ij,jk", {{3, 4}, {4, 5}}},  // implicit output
      {"ba", {{3, 4}}},
      {"i,i", {{4}, {4}}},
      {"ij,jk->", {{2, 3}, {3, 4}}},
      {"ij,j->i", {{3, 1}, {4}}},  // size-1 broadcast of a label
      {"ij,jk->ik", {{0, 4}, {4, 5}}},
      {"ij->i", {{3, 0}}},
      {" ij , jk -> ki ", {{3, 4}, {4, 2}}},
  };
  NumpyOracle np;
  struct Case {
    Tensor ours;
    int h;
    DType dt;
    std::string subs;
  };
  std::vector<Case> cases;
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64}) {
    for (const auto& p : patterns) {
      std::vector<Tensor> in;
      for (const Shape& s : p.shapes) in.push_back(sample(s, dt, gen));
      std::string args = "'" + p.subs + "'";
      const char* names = "abcd";
      for (size_t i = 0; i < in.size(); ++i) args += std::string(", ") + names[i];
      cases.push_back({einsum(p.subs, in), np.add("np.einsum(" + args + ")", in), dt, p.subs});
    }
    // Views as operands.
    Tensor a = sample({4, 3}, dt, gen), b = sample({5, 4}, dt, gen);
    cases.push_back({einsum("ij,jk->ik", {a.transpose(), b.transpose()}),
                     np.add("np.einsum('ij,jk->ik', a.T, b.T)", {a, b}), dt, "views"});
    cases.push_back({einsum("ij->j", {b.slice(0, None, None, -2)}),
                     np.add("np.einsum('ij->j', a[::-2])", {b}), dt, "views"});
  }
  np.run();
  for (const auto& c : cases) {
    Tol t = tol_for(c.dt);
    EXPECT_TRUE(matches(c.ours, np.result(c.h), t.rtol, t.atol))
        << c.subs << " " << dtype_name(c.dt);
  }
}

TEST(LinalgEinsum, ResultIsNotAViewOfTheInput) {
  Tensor a = arange(6).reshape({2, 3});
  Tensor r = einsum("ij->ij", {a});
  EXPECT_FALSE(r.shares_storage(a));
}

TEST(LinalgEinsum, Errors) {
  Tensor a = zeros({2, 3}), b = zeros({4, 5});
  expect_error([&] { einsum("ij,jk->ik", {a, b}); }, "einsum: size of label 'j'");
  expect_error([&] { einsum("ijk->i", {a}); }, "einsum: operand has 2 dimensions");
  expect_error([&] { einsum("ij->k", {a}); }, "einsum: output label 'k'");
  expect_error([&] { einsum("ij->ii", {a}); }, "appears more than once");
  expect_error([&] { einsum("ij,jk->ik", {a}); }, "einsum: \"ij,jk->ik\" names 2 operands");
  expect_error([&] { einsum("i1->i", {zeros({2, 2})}); }, "einsum: invalid subscript '1'");
  expect_error([&] { einsum("ii->i", {a}); }, "einsum: size of label 'i'");
}

// ---------------------------------------------------------------- decompositions
namespace {
// Well-conditioned random matrices: randn + n * I.
Tensor well_conditioned(const Shape& shape, DType dt, Generator& gen) {
  std::vector<double> av = randn(shape, gen, DType::Float64).to_vector<double>();
  std::vector<double> ev = batch_eye(zeros(shape, DType::Float64)).to_vector<double>();
  for (size_t i = 0; i < av.size(); ++i) av[i] += ev[i] * static_cast<double>(shape.back());
  return from_vector(av, shape).to(dt);
}

Shape with_last(Shape s, int64_t last) {
  s.back() = last;
  return s;
}

// Spectrum-free sign normalisation of a QR pair: make diag(R) >= 0.
std::pair<Tensor, Tensor> normalise_qr(const Tensor& q_in, const Tensor& r_in) {
  Tensor q = q_in.to(DType::Float64, true), r = r_in.to(DType::Float64, true);
  const int64_t m = q.size(-2), k = q.size(-1), n = r.size(-1);
  const int64_t nb = k ? r.numel() / (k * n) : 0;
  double* qp = q.data_ptr<double>();
  double* rp = r.data_ptr<double>();
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t i = 0; i < k; ++i)
      if (rp[b * k * n + i * n + i] < 0) {
        for (int64_t j = 0; j < n; ++j) rp[b * k * n + i * n + j] *= -1;
        for (int64_t j = 0; j < m; ++j) qp[b * m * k + j * k + i] *= -1;
      }
  return {q.to(q_in.dtype()), r.to(r_in.dtype())};
}

const char* kNormaliseQr =
    "(lambda q, r: (q * np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0, -1, 1)[..., None, :],"
    " r * np.where(np.diagonal(r, axis1=-2, axis2=-1) < 0, -1, 1)[..., :, None]))"
    "(*np.linalg.qr(a))";
}  // namespace

// Each test queues its NumPy cases and the checks that read them, then runs NumPy once.
using Checks = std::vector<std::function<void()>>;

TEST(Linalg, InvSolveDetSlogdetMatchNumpy) {
  Generator gen(8);
  NumpyOracle np;
  Checks checks;
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tol t = tol_for(dt);
    for (Shape s : {Shape{3, 3}, Shape{2, 4, 4}, Shape{2, 3, 2, 2}, Shape{0, 3, 3}, Shape{0, 0},
                    Shape{1, 1}}) {
      Tensor a = well_conditioned(s, dt, gen);
      Tensor bm = randn(with_last(s, 2), gen, dt);
      Tensor bv = randn({s.back()}, gen, dt);
      int hi = np.add("np.linalg.inv(a)", {a});
      int hd = np.add("np.linalg.det(a)", {a});
      int hs = np.add("np.linalg.slogdet(a)", {a});
      int hm = np.add("np.linalg.solve(a, b)", {a, bm});
      int hv = np.add(
          "np.linalg.solve(a, np.broadcast_to(b[:, None], a.shape[:-1] + (1,)))"
          "[..., 0]",
          {a, bv});
      checks.push_back([=, &np] {
        double rt = t.rtol * 10, at = t.atol * 10;
        EXPECT_TRUE(matches(linalg::inv(a), np.result(hi), rt, at)) << s;
        EXPECT_TRUE(
            matches(linalg::inv(a.transpose(-1, -2)), np.result(hi).transpose(-1, -2), rt, at))
            << s;
        EXPECT_TRUE(matches(linalg::det(a), np.result(hd), rt, at)) << s;
        auto [sign, logabs] = linalg::slogdet(a);
        EXPECT_TRUE(matches(sign, np.results(hs)[0], 0, 0)) << s;
        EXPECT_TRUE(matches(logabs, np.results(hs)[1], rt, at)) << s;
        EXPECT_TRUE(matches(linalg::solve(a, bm), np.result(hm), rt, at)) << s;
        EXPECT_TRUE(matches(linalg::solve(a, bv), np.result(hv), rt, at)) << s;
      });
    }
  }
  np.run();
  for (auto& c : checks) c();
}

TEST(Linalg, CholeskyEighMatchNumpy) {
  Generator gen(9);
  NumpyOracle np;
  Checks checks;
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tol t = tol_for(dt);
    for (Shape s : {Shape{4, 4}, Shape{2, 3, 3}, Shape{0, 0}, Shape{0, 2, 2}}) {
      Tensor x = well_conditioned(s, DType::Float64, gen);
      Tensor spd = matmul(x, x.transpose(-1, -2)).to(dt);  // symmetric positive definite
      int hc = np.add("np.linalg.cholesky(a)", {spd});
      int he = np.add("np.linalg.eigvalsh(a)", {spd});
      checks.push_back([=, &np] {
        EXPECT_TRUE(matches(linalg::cholesky(spd), np.result(hc), t.rtol * 10, t.atol * 10)) << s;
        auto [w, v] = linalg::eigh(spd);
        EXPECT_TRUE(matches(w, np.result(he), t.rtol * 10, t.atol * 100)) << s;
        // A V = V diag(w) and V^T V = I (eigenvector signs are free).
        EXPECT_TRUE(
            matches(matmul(spd, v), einsum("...ij,...j->...ij", {v, w}), t.rtol * 10, t.atol * 100))
            << s;
        EXPECT_TRUE(matches(matmul(v.transpose(-1, -2), v), batch_eye(v), 0, t.atol * 10)) << s;
      });
    }
  }
  np.run();
  for (auto& c : checks) c();
}

TEST(Linalg, QrMatchesNumpyUpToSigns) {
  Generator gen(10);
  NumpyOracle np;
  Checks checks;
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tol t = tol_for(dt);
    for (Shape s :
         {Shape{5, 3}, Shape{3, 5}, Shape{4, 4}, Shape{2, 6, 4}, Shape{0, 3}, Shape{3, 0}}) {
      Tensor a = randn(s, gen, dt);
      int h = np.add(kNormaliseQr, {a});
      checks.push_back([=, &np] {
        auto [q, r] = linalg::qr(a);
        EXPECT_TRUE(matches(matmul(q, r), a, t.rtol * 10, t.atol * 10)) << s;
        Tensor qtq = matmul(q.transpose(-1, -2), q);
        EXPECT_TRUE(matches(qtq, batch_eye(qtq), 0, t.atol * 10)) << s;
        auto [qn, rn] = normalise_qr(q, r);
        EXPECT_TRUE(matches(qn, np.results(h)[0], t.rtol * 10, t.atol * 10, false)) << s;
        EXPECT_TRUE(matches(rn, np.results(h)[1], t.rtol * 10, t.atol * 10, false)) << s;
      });
    }
  }
  np.run();
  for (auto& c : checks) c();
}

TEST(Linalg, SvdMatchesNumpyAndReconstructs) {
  Generator gen(11);
  NumpyOracle np;
  Checks checks;
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tol t = tol_for(dt);
    for (Shape s : {Shape{5, 3}, Shape{3, 5}, Shape{4, 4}, Shape{2, 6, 4}, Shape{0, 3}}) {
      Tensor a = randn(s, gen, dt);
      int hs = np.add("np.linalg.svd(a, compute_uv=False)", {a});
      int hf = np.add("np.linalg.svd(a)", {a});
      int hr = np.add("np.linalg.svd(a, full_matrices=False)", {a});
      checks.push_back([=, &np] {
        for (bool full : {true, false}) {
          auto r = linalg::svd(a, full);
          EXPECT_TRUE(matches(r.S, np.result(hs), t.rtol * 10, t.atol * 10)) << s;
          EXPECT_EQ(r.U.shape(), np.results(full ? hf : hr)[0].shape()) << s;
          EXPECT_EQ(r.Vh.shape(), np.results(full ? hf : hr)[2].shape()) << s;
          const int64_t k = r.S.size(-1);
          Tensor u = r.U.slice(-1, 0, k), vh = r.Vh.slice(-2, 0, k);
          EXPECT_TRUE(
              matches(einsum("...ij,...j,...jk->...ik", {u, r.S, vh}), a, t.rtol * 10, t.atol * 10))
              << s << " full=" << full;
          Tensor utu = matmul(r.U.transpose(-1, -2), r.U);
          EXPECT_TRUE(matches(utu, batch_eye(utu), 0, t.atol * 10)) << s;
          Tensor vvt = matmul(r.Vh, r.Vh.transpose(-1, -2));
          EXPECT_TRUE(matches(vvt, batch_eye(vvt), 0, t.atol * 10)) << s;
        }
      });
    }
  }
  np.run();
  for (auto& c : checks) c();
}

TEST(Linalg, LstsqRankPinvMatchNumpy) {
  Generator gen(12);
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tol t = tol_for(dt);
    Tensor tall = randn({6, 3}, gen, dt), wide = randn({3, 5}, gen, dt);
    Tensor b1 = randn({6}, gen, dt), b2 = randn({6, 2}, gen, dt), bw = randn({3, 2}, gen, dt);
    // rank 2: the third column is the sum of the first two
    Tensor low = tall.clone();
    low.select(1, 2).copy_(from_vector(std::vector<double>(6, 0.0)).to(dt));
    Tensor batch = randn({2, 4, 3}, gen, dt);
    NumpyOracle np;
    int h1 = np.add("np.linalg.lstsq(a, b, rcond=None)", {tall, b1});
    int h2 = np.add("np.linalg.lstsq(a, b, rcond=None)", {tall, b2});
    int h3 = np.add("np.linalg.lstsq(a, b, rcond=None)", {wide, bw});
    int h4 = np.add("np.linalg.lstsq(a, b, rcond=None)", {low, b2});
    int hr1 = np.add("np.linalg.matrix_rank(a)", {low});
    int hr2 = np.add("np.linalg.matrix_rank(a)", {batch});
    int hr3 = np.add("np.linalg.matrix_rank(a)", {b1});
    int hp1 = np.add("np.linalg.pinv(a)", {tall});
    int hp2 = np.add("np.linalg.pinv(a)", {low});
    int hp3 = np.add("np.linalg.pinv(a)", {batch});
    int hp4 = np.add("np.linalg.pinv(a.T)", {wide});
    np.run();
    auto check_lstsq = [&](const linalg::LstsqResult& r, int h, const char* what) {
      const auto& ref = np.results(h);
      EXPECT_TRUE(matches(r.solution, ref[0], t.rtol * 100, t.atol * 100)) << what;
      EXPECT_TRUE(matches(r.residuals, ref[1], t.rtol * 100, t.atol * 100)) << what;
      EXPECT_EQ(r.rank, ref[2].item<int64_t>()) << what;
      EXPECT_TRUE(matches(r.singular_values, ref[3], t.rtol * 10, t.atol * 10)) << what;
    };
    check_lstsq(linalg::lstsq(tall, b1), h1, "tall, 1-D b");
    check_lstsq(linalg::lstsq(tall, b2), h2, "tall, 2-D b");
    check_lstsq(linalg::lstsq(wide, bw), h3, "wide");
    check_lstsq(linalg::lstsq(low, b2), h4, "rank-deficient");
    EXPECT_TRUE(matches(linalg::matrix_rank(low), np.result(hr1)));
    EXPECT_TRUE(matches(linalg::matrix_rank(batch), np.result(hr2)));
    EXPECT_TRUE(matches(linalg::matrix_rank(b1), np.result(hr3)));
    EXPECT_TRUE(matches(linalg::pinv(tall), np.result(hp1), t.rtol * 10, t.atol * 10));
    EXPECT_TRUE(matches(linalg::pinv(low), np.result(hp2), t.rtol * 100, t.atol * 100));
    EXPECT_TRUE(matches(linalg::pinv(batch), np.result(hp3), t.rtol * 10, t.atol * 10));
    EXPECT_TRUE(matches(linalg::pinv(wide.transpose()), np.result(hp4), t.rtol * 10, t.atol * 10));
  }
}

TEST(Linalg, IntegerInputsComputeInFloat64) {
  Tensor a = tensor({{2, 1}, {1, 3}});
  NumpyOracle np;
  int hi = np.add("np.linalg.inv(a)", {a}), hd = np.add("np.linalg.det(a)", {a});
  np.run();
  EXPECT_TRUE(matches(linalg::inv(a), np.result(hi), 1e-12, 1e-12));
  EXPECT_TRUE(matches(linalg::det(a), np.result(hd), 1e-12, 1e-12));
}

TEST(Linalg, Errors) {
  Tensor sing = tensor({{1.0, 2.0}, {2.0, 4.0}});
  expect_error([&] { linalg::inv(sing); }, "inv: Singular matrix");
  expect_error([&] { linalg::solve(sing, ones({2})); }, "solve: Singular matrix");
  expect_error(
      [] {
        linalg::inv(zeros({2, 3}));
      },
      "inv: last 2 dimensions of the array must be "
      "square, got shape [2, 3]");
  expect_error([] { linalg::det(zeros({3})); }, "det: expected a matrix");
  expect_error(
      [] {
        linalg::cholesky(tensor({{1.0, 2.0}, {2.0, 1.0}}));
      },
      "cholesky: Matrix is not positive definite");
  expect_error([] { linalg::cholesky(zeros({2, 3})); }, "cholesky: last 2 dimensions");
  expect_error([] { linalg::eigh(zeros({2, 3})); }, "eigh: last 2 dimensions");
  expect_error([] { linalg::solve(eye(3), ones({4})); },
               "solve: a with shape [3, 3] and b with "
               "shape [4] do not match");
  expect_error(
      [] {
        linalg::solve(eye(3).expand({2, 3, 3}), ones({3, 3, 1}));
      },
      "solve: shapes [2] and [3] cannot be broadcast");
  expect_error([] { linalg::lstsq(eye(3), ones({4})); }, "lstsq: incompatible dimensions");
  expect_error([] { linalg::inv(eye(2, std::nullopt, 0, DType::Float16)); },
               "inv: array type float16 is unsupported");
  expect_error([] { linalg::svd(zeros({3})); }, "svd: expected a matrix");
  expect_error([] { linalg::qr(zeros({3})); }, "qr: expected a matrix");
  expect_error([] { linalg::pinv(zeros({3})); }, "pinv: expected a matrix");
}
