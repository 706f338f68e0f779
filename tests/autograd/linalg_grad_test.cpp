// Gradients of linear algebra: the matmul family (1-D operands, batch broadcasting, views),
// einsum, trace and the LAPACK decompositions. Finite differences in float64, second derivatives,
// and PyTorch in float32.
#include <gtest/gtest.h>

#include "autograd/shape_grad_testing.h"
#include "ravel/ravel.h"
#include "support/expect_error.h"

namespace ravel {
namespace {

using grad_testing::check_gradgrads;
using grad_testing::check_grads;
using grad_testing::check_torch;
using grad_testing::r64;
using grad_testing::strided64;
using grad_testing::transposed64;
using grad_testing::V;
using testing::expect_error;

// Several outputs as one (gradcheck takes one): flattened and concatenated.
Tensor joined(const std::vector<Tensor>& ts) {
  std::vector<Tensor> flat;
  for (const Tensor& t : ts) flat.push_back(t.reshape({-1}));
  return concatenate(flat);
}

// Well-conditioned square matrices: random plus n on the diagonal.
Tensor wellcond64(const Shape& s, uint64_t seed) {
  return r64(s, seed) +
         eye(s.back(), std::nullopt, 0, DType::Float64) * static_cast<double>(s.back());
}

// Symmetric positive definite from any square x: x x^T + n I.
Tensor spd(const Tensor& x) {
  const int64_t n = x.size(-1);
  return matmul(x, x.transpose(-2, -1)) +
         eye(n, std::nullopt, 0, x.dtype()) * static_cast<double>(n);
}

// Symmetric from any square x.
Tensor sym(const Tensor& x) { return (x + x.transpose(-2, -1)) * 0.5; }

TEST(LinalgGradCheck, Matmul) {
  check_grads({
      {"2-D @ 2-D", [](V x) { return matmul(x[0], x[1]); }, {r64({3, 4}, 1), r64({4, 2}, 2)}},
      {"1-D @ 2-D", [](V x) { return matmul(x[0], x[1]); }, {r64({4}, 3), r64({4, 2}, 4)}},
      {"2-D @ 1-D", [](V x) { return matmul(x[0], x[1]); }, {r64({3, 4}, 5), r64({4}, 6)}},
      {"1-D @ 1-D", [](V x) { return matmul(x[0], x[1]); }, {r64({4}, 7), r64({4}, 8)}},
      {"3-D @ 2-D (one gemm)",
       [](V x) { return matmul(x[0], x[1]); },
       {r64({2, 3, 4}, 9), r64({4, 2}, 10)}},
      {"2-D @ 3-D", [](V x) { return matmul(x[0], x[1]); }, {r64({3, 4}, 11), r64({2, 4, 2}, 12)}},
      {"batch broadcast",
       [](V x) { return matmul(x[0], x[1]); },
       {r64({2, 1, 3, 4}, 13), r64({3, 4, 2}, 14)}},
      {"1-D @ 3-D", [](V x) { return matmul(x[0], x[1]); }, {r64({4}, 15), r64({2, 4, 3}, 16)}},
      {"3-D @ 1-D", [](V x) { return matmul(x[0], x[1]); }, {r64({2, 3, 4}, 17), r64({4}, 18)}},
      {"transposed views",
       [](V x) { return matmul(x[0], x[1]); },
       {transposed64({3, 4}, 19), transposed64({4, 2}, 20)}},
      {"strided views",
       [](V x) { return matmul(x[0], x[1]); },
       {strided64({3, 4}, 21), strided64({2, 4, 2}, 22)}},
      {"transposed batch @ 2-D",
       [](V x) { return matmul(x[0], x[1]); },
       {transposed64({4, 3, 2}, 23).transpose(0, 2), r64({4, 2}, 24)}},
      {"method", [](V x) { return x[0].matmul(x[1]); }, {r64({2, 3}, 25), r64({3, 2}, 26)}},
  });
}

TEST(LinalgGradCheck, Products) {
  check_grads({
      {"dot 1-D", [](V x) { return dot(x[0], x[1]); }, {r64({4}, 1), r64({4}, 2)}},
      {"dot 2-D", [](V x) { return dot(x[0], x[1]); }, {r64({2, 3}, 3), r64({3, 4}, 4)}},
      {"dot 3-D, 2-D", [](V x) { return dot(x[0], x[1]); }, {r64({2, 2, 3}, 5), r64({3, 2}, 6)}},
      {"dot 0-d", [](V x) { return dot(x[0], x[1]); }, {r64({}, 7), r64({2, 3}, 8)}},
      {"vdot", [](V x) { return vdot(x[0], x[1]); }, {r64({2, 3}, 9), transposed64({3, 2}, 10)}},
      {"outer", [](V x) { return outer(x[0], x[1]); }, {r64({3}, 11), strided64({2, 2}, 12)}},
      {"inner", [](V x) { return inner(x[0], x[1]); }, {r64({2, 3}, 13), r64({4, 3}, 14)}},
      {"tensordot 1",
       [](V x) { return tensordot(x[0], x[1], 1); },
       {r64({2, 3}, 15), r64({3, 2, 2}, 16)}},
      {"tensordot 2",
       [](V x) { return tensordot(x[0], x[1], 2); },
       {r64({2, 3, 4}, 17), transposed64({4, 3, 2}, 18).permute({1, 0, 2})}},
      {"trace", [](V x) { return trace(x[0]); }, {r64({3, 3}, 19)}},
      {"trace offset batched", [](V x) { return trace(x[0], 1); }, {r64({3, 4, 2}, 20)}},
  });
}

TEST(LinalgGradCheck, Einsum) {
  check_grads({
      {"ij,jk->ik",
       [](V x) {
         return einsum("ij,jk->ik", {x[0], x[1]});
       },
       {r64({2, 3}, 1), r64({3, 4}, 2)}},
      {"bij,bjk->bik",
       [](V x) {
         return einsum("bij,bjk->bik", {x[0], x[1]});
       },
       {r64({2, 2, 3}, 3), transposed64({2, 3, 2}, 4)}},
      {"ii->i", [](V x) { return einsum("ii->i", {x[0]}); }, {r64({3, 3}, 5)}},
      {"ii", [](V x) { return einsum("ii", {x[0]}); }, {r64({3, 3}, 6)}},
      {"ij->", [](V x) { return einsum("ij->", {x[0]}); }, {strided64({2, 3}, 7)}},
      {"ij->ji", [](V x) { return einsum("ij->ji", {x[0]}); }, {r64({2, 3}, 8)}},
      {"i,i->",
       [](V x) {
         return einsum("i,i->", {x[0], x[1]});
       },
       {r64({4}, 9), r64({4}, 10)}},
      {"i,j->ij",
       [](V x) {
         return einsum("i,j->ij", {x[0], x[1]});
       },
       {r64({2}, 11), r64({3}, 12)}},
      {"ij,ij->i",
       [](V x) {
         return einsum("ij,ij->i", {x[0], x[1]});
       },
       {r64({2, 3}, 13), r64({2, 3}, 14)}},
      {"...ij,...jk",
       [](V x) {
         return einsum("...ij,...jk", {x[0], x[1]});
       },
       {r64({2, 2, 3}, 15), r64({1, 3, 2}, 16)}},
      {"ij,jk,kl->il",
       [](V x) {
         return einsum("ij,jk,kl->il", {x[0], x[1], x[2]});
       },
       {r64({2, 3}, 17), r64({3, 2}, 18), r64({2, 2}, 19)}},
      {"bii,bi->b",
       [](V x) {
         return einsum("bii,bi->b", {x[0], x[1]});
       },
       {r64({2, 3, 3}, 20), r64({2, 3}, 21)}},
      {"ijk,j->ik summed",
       [](V x) {
         return einsum("ijk,j->i", {x[0], x[1]});
       },
       {r64({2, 3, 2}, 22), r64({3}, 23)}},
  });
}

TEST(LinalgGradCheck, Decompositions) {
  Tensor singular = tensor({{1.0, 2.0, 3.0}, {1.0, 2.0, 3.0}, {0.0, 1.0, 5.0}}, DType::Float64);
  check_grads({
      {"inv", [](V x) { return linalg::inv(x[0]); }, {wellcond64({3, 3}, 1)}},
      {"inv batched", [](V x) { return linalg::inv(x[0]); }, {wellcond64({2, 3, 3}, 2)}},
      {"solve matrix",
       [](V x) { return linalg::solve(x[0], x[1]); },
       {wellcond64({3, 3}, 3), r64({3, 2}, 4)}},
      {"solve vector",
       [](V x) { return linalg::solve(x[0], x[1]); },
       {wellcond64({2, 3, 3}, 5), r64({3}, 6)}},
      {"solve broadcast",
       [](V x) { return linalg::solve(x[0], x[1]); },
       {wellcond64({3, 3}, 7), r64({2, 3, 2}, 8)}},
      {"det", [](V x) { return linalg::det(x[0]); }, {r64({3, 3}, 9)}},
      {"det batched", [](V x) { return linalg::det(x[0]); }, {r64({2, 2, 2}, 10)}},
      {"det singular", [](V x) { return linalg::det(x[0]); }, {singular}},
      {"slogdet", [](V x) { return linalg::slogdet(x[0]).second; }, {r64({2, 3, 3}, 11)}},
      {"cholesky", [](V x) { return linalg::cholesky(spd(x[0])); }, {r64({3, 3}, 12)}},
      {"cholesky batched", [](V x) { return linalg::cholesky(spd(x[0])); }, {r64({2, 2, 2}, 13)}},
      {"qr tall",
       [](V x) {
         auto [q, r] = linalg::qr(x[0]);
         return joined({q, r});
       },
       {r64({4, 3}, 14)}},
      {"qr square batched",
       [](V x) {
         auto [q, r] = linalg::qr(x[0]);
         return joined({q, r});
       },
       {r64({2, 3, 3}, 15)}},
      {"qr wide",
       [](V x) {
         auto [q, r] = linalg::qr(x[0]);
         return joined({q, r});
       },
       {transposed64({2, 2, 4}, 18)}},
      {"eigh",
       [](V x) {
         auto [w, v] = linalg::eigh(sym(x[0]));
         return joined({w, v * v, v.sum(0)});  // sign-invariant uses of v, and one plain use
       },
       {r64({3, 3}, 16)}},
      {"eigh values batched",
       [](V x) { return linalg::eigh(sym(x[0])).first; },
       {r64({2, 3, 3}, 17)}},
  });
}

// Sign-invariant functions of the SVD (a vector may flip sign together with its partner).
Tensor svd_uses(const linalg::SVDResult& r, int64_t k) {
  Tensor u = r.U.slice(-1, 0, k), vh = r.Vh.slice(-2, 0, k);
  return joined({r.S, u * u, vh * vh, matmul(u, vh)});
}

TEST(LinalgGradCheck, Svd) {
  check_grads({
      {"tall reduced", [](V x) { return svd_uses(linalg::svd(x[0], false), 3); }, {r64({4, 3}, 1)}},
      {"wide reduced", [](V x) { return svd_uses(linalg::svd(x[0], false), 2); }, {r64({2, 4}, 2)}},
      {"square batched",
       [](V x) { return svd_uses(linalg::svd(x[0], false), 3); },
       {r64({2, 3, 3}, 3)}},
      {"tall full", [](V x) { return svd_uses(linalg::svd(x[0], true), 2); }, {r64({3, 2}, 4)}},
      {"values only", [](V x) { return linalg::svd(x[0]).S; }, {transposed64({3, 4}, 5)}},
      {"U only",
       [](V x) {
         Tensor u = linalg::svd(x[0], false).U;
         return u * u;
       },
       {r64({4, 2}, 6)}},
      {"Vh only",
       [](V x) {
         Tensor vh = linalg::svd(x[0], false).Vh;
         return vh * vh;
       },
       {r64({2, 3}, 7)}},
  });
}

TEST(LinalgGradGradCheck, SecondDerivatives) {
  check_gradgrads({
      {"matmul", [](V x) { return matmul(x[0], x[1]); }, {r64({2, 3}, 1), r64({3, 2}, 2)}},
      {"matmul batch broadcast 1-D",
       [](V x) { return matmul(x[0], x[1]); },
       {r64({2, 2, 3}, 3), r64({3}, 4)}},
      {"matmul 3-D @ 2-D",
       [](V x) { return matmul(x[0], x[1]); },
       {r64({2, 2, 3}, 5), transposed64({3, 2}, 6)}},
      {"einsum",
       [](V x) {
         return einsum("bij,jk->bik", {x[0], x[1]});
       },
       {r64({2, 2, 3}, 7), r64({3, 2}, 8)}},
      {"einsum diagonal",
       [](V x) {
         return einsum("ii,i->i", {x[0], x[1]});
       },
       {r64({3, 3}, 9), r64({3}, 10)}},
      {"inv", [](V x) { return linalg::inv(x[0]); }, {wellcond64({3, 3}, 11)}},
      {"det", [](V x) { return linalg::det(x[0]); }, {wellcond64({2, 3, 3}, 12)}},
      {"solve",
       [](V x) { return linalg::solve(x[0], x[1]); },
       {wellcond64({3, 3}, 13), r64({3}, 14)}},
      {"cholesky", [](V x) { return linalg::cholesky(spd(x[0])); }, {r64({3, 3}, 15)}},
      {"eigh values", [](V x) { return linalg::eigh(sym(x[0])).first; }, {r64({3, 3}, 16)}},
  });
}

TEST(LinalgGradTorch, MatchesPyTorch) {
  Generator gen(9);
  auto rn = [&](const Shape& s) { return randn(s, gen); };
  Tensor a = rn({2, 1, 3, 4}), b = rn({3, 4, 2}), v = rn({4}), m = rn({3, 4}), w = rn({2, 4, 3}),
         w2 = rn({2, 5, 4});
  Tensor sq = rn({2, 3, 3}) + eye(3) * 3.0, x3 = rn({3, 3});
  check_torch(
      {
          {"matmul batch broadcast",
           [](V x) { return matmul(x[0], x[1]); },
           {a, b},
           "y = X[0] @ X[1]"},
          {"matmul 1-D @ 3-D",
           [](V x) { return matmul(x[0], x[1]); },
           {v, w},
           "y = torch.matmul(X[0], X[1])"},
          {"matmul 2-D @ 1-D",
           [](V x) { return matmul(x[0], x[1]); },
           {m, v},
           "y = torch.matmul(X[0], X[1])"},
          {"matmul 1-D @ 1-D",
           [](V x) { return matmul(x[0], x[1]); },
           {v, v},
           "y = torch.matmul(X[0], X[1])"},
          {"matmul 3-D @ 2-D",
           [](V x) { return matmul(x[0], x[1].transpose()); },
           {w2, m},
           "y = X[0] @ X[1].T"},
          {"einsum",
           [](V x) {
             return einsum("bij,jk->bik", {x[0], x[1]});
           },
           {w, x3},
           "y = torch.einsum('bij,jk->bik', X[0], X[1])"},
          {"einsum trace",
           [](V x) { return einsum("bii->b", {x[0]}); },
           {sq},
           "y = torch.einsum('bii->b', X[0])"},
          {"tensordot",
           [](V x) { return tensordot(x[0], x[1], 1); },
           {m, w.transpose(0, 1)},
           "y = torch.tensordot(X[0], X[1], 1)"},
          {"inv", [](V x) { return linalg::inv(x[0]); }, {sq}, "y = torch.linalg.inv(X[0])"},
          {"det", [](V x) { return linalg::det(x[0]); }, {sq}, "y = torch.linalg.det(X[0])"},
          {"slogdet",
           [](V x) { return linalg::slogdet(x[0]).second; },
           {sq},
           "y = torch.linalg.slogdet(X[0])[1]"},
          {"solve",
           [](V x) { return linalg::solve(x[0], x[1]); },
           {sq, x3},
           "y = torch.linalg.solve(X[0], X[1])"},
          {"cholesky",
           [](V x) { return linalg::cholesky(spd(x[0])); },
           {x3},
           "y = torch.linalg.cholesky(X[0] @ X[0].T + 3 * torch.eye(3))"},
          {"cholesky raw",
           [](V x) { return linalg::cholesky(x[0]); },
           {spd(x3)},
           "y = torch.linalg.cholesky(X[0])"},
          {"eigh",
           [](V x) {
             auto [e, vec] = linalg::eigh(sym(x[0]));
             return joined({e, vec * vec});
           },
           {x3},
           "e, V = torch.linalg.eigh((X[0] + X[0].T) / 2)\ny = torch.cat([e.flatten(), (V * "
           "V).flatten()])"},
          {"svd",
           [](V x) { return svd_uses(linalg::svd(x[0], false), 3); },
           {m.transpose()},
           "U, S, Vh = torch.linalg.svd(X[0], full_matrices=False)\n"
           "y = torch.cat([S.flatten(), (U * U).flatten(), (Vh * Vh).flatten(), (U @ "
           "Vh).flatten()])"},
          {"qr",
           [](V x) {
             auto [q, r] = linalg::qr(x[0]);
             return joined({q * q, r * r});
           },
           {m.transpose()},
           "Q, R = torch.linalg.qr(X[0])\ny = torch.cat([(Q * Q).flatten(), (R * R).flatten()])"},
          {"qr wide",
           [](V x) {
             auto [q, r] = linalg::qr(x[0]);
             return joined({q * q, r * r});
           },
           {m},
           "Q, R = torch.linalg.qr(X[0])\ny = torch.cat([(Q * Q).flatten(), (R * R).flatten()])"},
      },
      2e-4);
}

TEST(LinalgGradTorch, OnlyNeededGradients) {
  Tensor a = randn({2, 3, 4}).requires_grad_(), b = randn({4, 5});
  Tensor y = matmul(a, b);
  EXPECT_STREQ(y.grad_fn_name(), "matmul");
  y.sum().backward();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  // grad a = ones @ b^T
  EXPECT_TRUE(testing::matches(a.grad(), matmul(ones({2, 3, 5}), b.transpose()), 1e-5, 1e-5));
  {
    NoGradGuard ng;
    EXPECT_FALSE(matmul(a, b).requires_grad());
    EXPECT_FALSE(linalg::inv(a.slice(2, 0, 3)).requires_grad());
  }
}

TEST(LinalgGradTorch, Errors) {
  expect_error([] { linalg::inv(randn({2, 3}).requires_grad_()); }, {"inv", "[2, 3]", "square"});
  Tensor sing = zeros({2, 2}).requires_grad_();
  expect_error([&] { linalg::slogdet(sing).second.sum().backward(); }, {"inv", "Singular"});
}

}  // namespace
}  // namespace ravel
