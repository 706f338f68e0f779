// Gradients of reductions (sum, mean, prod, amax/amin, var/std, norm, logsumexp, cumsum, cumprod)
// and of sorted values (sort, topk): finite differences in float64 over several axes, keepdims
// and non-contiguous inputs, second derivatives, and PyTorch in float32.
#include <gtest/gtest.h>

#include <limits>

#include "autograd/shape_grad_testing.h"
#include "ravel/ravel.h"
#include "support/expect_error.h"

namespace ravel {
namespace {

using grad_testing::check_gradgrads;
using grad_testing::check_grads;
using grad_testing::check_torch;
using grad_testing::GradCase;
using grad_testing::r64;
using grad_testing::strided64;
using grad_testing::transposed64;
using grad_testing::V;

// x with exact zeros written at the given flat positions (prod and cumprod take other paths).
Tensor with_zeros(Tensor x, const std::vector<int64_t>& at) {
  Tensor flat = x.reshape({-1});
  for (int64_t i : at) flat.index_put_({i}, Scalar(0.0));
  return x;
}

// Values kept away from 0 (for |x|^p with p < 1).
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Tensor x = r64(s, seed);
  return x + sign(x) * 0.5;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ReduceGradCheck, SumMean) {
  check_grads({
      {"sum all", [](V x) { return sum(x[0]); }, {r64({3, 4}, 1)}},
      {"sum axis 1", [](V x) { return sum(x[0], 1); }, {r64({3, 4}, 2)}},
      {"sum axes {0, 2} keepdims",
       [](V x) {
         return sum(x[0], {0, 2}, true);
       },
       {r64({2, 3, 4}, 3)}},
      {"sum axis -1 transposed", [](V x) { return sum(x[0], -1); }, {transposed64({3, 4}, 4)}},
      {"sum strided keepdims", [](V x) { return sum(x[0], 0, true); }, {strided64({3, 2}, 5)}},
      {"sum method", [](V x) { return x[0].sum(1, true); }, {r64({2, 3}, 6)}},
      {"mean all", [](V x) { return mean(x[0]); }, {r64({3, 4}, 7)}},
      {"mean axes {-1, 0}",
       [](V x) {
         return mean(x[0], {-1, 0});
       },
       {strided64({2, 3, 2}, 8)}},
      {"mean keepdims", [](V x) { return mean(x[0], 1, true); }, {transposed64({2, 3}, 9)}},
      {"mean method", [](V x) { return x[0].mean(); }, {r64({4}, 10)}},
      {"sum of 0-d", [](V x) { return sum(x[0]); }, {r64({}, 11)}},
  });
}

TEST(ReduceGradCheck, Prod) {
  check_grads({
      {"prod all", [](V x) { return prod(x[0]); }, {r64({2, 3}, 1)}},
      {"prod axis 0", [](V x) { return prod(x[0], 0); }, {transposed64({3, 4}, 2)}},
      {"prod axes {0, 2} keepdims",
       [](V x) {
         return prod(x[0], {0, 2}, true);
       },
       {strided64({2, 3, 2}, 3)}},
      {"prod one zero", [](V x) { return prod(x[0], 1); }, {with_zeros(r64({3, 4}, 4), {5})}},
      {"prod two zeros in a line",
       [](V x) { return prod(x[0], 1); },
       {with_zeros(r64({3, 4}, 5), {1, 2, 8})}},
      {"prod all with zero", [](V x) { return prod(x[0]); }, {with_zeros(r64({2, 3}, 6), {4})}},
      {"prod axes with zero",
       [](V x) {
         return prod(x[0], {0, 2});
       },
       {with_zeros(r64({2, 3, 2}, 7), {0, 9})}},
  });
}

TEST(ReduceGradCheck, MaxMin) {
  // Two-way ties only: central differences give each 1/2, as the even split.
  Tensor tie = r64({3, 4}, 3);
  tie.index_put_({1, 3}, tie.index({1, 0}));
  check_grads({
      {"amax all", [](V x) { return amax(x[0]); }, {r64({3, 4}, 1)}},
      {"amax axis 1", [](V x) { return amax(x[0], 1); }, {transposed64({3, 4}, 2)}},
      {"amax tie", [](V x) { return amax(x[0], 1, true); }, {tie}},
      {"amin tie",
       [](V x) {
         return amin(x[0], {0, 1});
       },
       {tie}},
      {"amin axes {0, 2}",
       [](V x) {
         return amin(x[0], {0, 2}, true);
       },
       {strided64({2, 3, 2}, 4)}},
      {"max method", [](V x) { return x[0].max(); }, {r64({5}, 5)}},
      {"min method", [](V x) { return x[0].min(); }, {r64({2, 2}, 6)}},
  });
}

TEST(ReduceGradCheck, VarStd) {
  check_grads({
      {"var all", [](V x) { return var(x[0]); }, {r64({3, 4}, 1)}},
      {"var axis 0 ddof 1", [](V x) { return var(x[0], 0, 1); }, {transposed64({3, 4}, 2)}},
      {"var axes keepdims",
       [](V x) {
         return var(x[0], {0, 2}, 0, true);
       },
       {strided64({2, 3, 2}, 3)}},
      {"std all ddof 1", [](V x) { return ravel::std(x[0], {}, 1); }, {r64({3, 4}, 4)}},
      {"std axis -1 keepdims",
       [](V x) { return ravel::std(x[0], -1, 0, true); },
       {strided64({3, 3}, 5)}},
  });
}

TEST(ReduceGradCheck, Norm) {
  check_grads({
      {"fro all", [](V x) { return norm(x[0]); }, {r64({3, 4}, 1)}},
      {"fro axis 1 keepdims",
       [](V x) { return norm(x[0], "fro", 1, true); },
       {transposed64({3, 4}, 2)}},
      {"ord 2", [](V x) { return norm(x[0], 2.0, 0); }, {r64({3, 4}, 3)}},
      {"ord 1", [](V x) { return norm(x[0], 1.0, -1); }, {strided64({3, 3}, 4)}},
      {"ord 3", [](V x) { return norm(x[0], 3.0, 1, true); }, {r64({2, 4}, 5)}},
      {"ord 0.5", [](V x) { return norm(x[0], 0.5, 1); }, {away_from_zero({2, 4}, 6)}},
      {"ord 1.5 vector", [](V x) { return norm(x[0], 1.5); }, {r64({5}, 7)}},
      {"ord inf", [](V x) { return norm(x[0], kInf, 1); }, {r64({3, 4}, 8)}},
      {"ord -inf", [](V x) { return norm(x[0], -kInf, 0); }, {transposed64({3, 4}, 9)}},
      {"matrix ord 1", [](V x) { return norm(x[0], 1.0); }, {r64({3, 4}, 10)}},
      {"matrix ord inf batched",
       [](V x) {
         return norm(x[0], kInf, {1, 2});
       },
       {r64({2, 3, 4}, 11)}},
      {"matrix ord -1 keepdims",
       [](V x) {
         return norm(x[0], -1.0, {0, 1}, true);
       },
       {strided64({3, 3}, 12)}},
  });
  // ord 0 counts nonzeros: no gradient.
  Tensor x = r64({3}, 13).requires_grad_();
  Tensor y = norm(x, 0.0);
  EXPECT_TRUE(y.requires_grad());
  Tensor g = grad({y}, {x}, {}, false, std::nullopt, true)[0];
  EXPECT_FALSE(g.defined() && any(g != 0).item<bool>());
}

TEST(ReduceGradCheck, LogSumExpAndCumulative) {
  check_grads({
      {"logsumexp all", [](V x) { return logsumexp(x[0]); }, {r64({3, 4}, 1)}},
      {"logsumexp axis 1 keepdims",
       [](V x) { return logsumexp(x[0], 1, true); },
       {transposed64({3, 4}, 2)}},
      {"logsumexp axes",
       [](V x) {
         return logsumexp(x[0], {0, 2});
       },
       {strided64({2, 3, 2}, 3)}},
      {"cumsum axis 0", [](V x) { return cumsum(x[0], 0); }, {r64({3, 4}, 4)}},
      {"cumsum axis -1 strided", [](V x) { return cumsum(x[0], -1); }, {strided64({3, 4}, 5)}},
      {"cumsum flat", [](V x) { return cumsum(x[0]); }, {transposed64({2, 3}, 6)}},
      {"cumprod axis 1", [](V x) { return cumprod(x[0], 1); }, {r64({3, 4}, 7)}},
      {"cumprod flat", [](V x) { return cumprod(x[0]); }, {transposed64({2, 3}, 8)}},
      {"cumprod zeros",
       [](V x) { return cumprod(x[0], 1); },
       {with_zeros(r64({3, 5}, 9), {0, 6, 8, 12})}},
      {"cumprod zeros axis 0",
       [](V x) { return cumprod(x[0], 0); },
       {with_zeros(r64({4, 2}, 10), {2, 5, 7})}},
  });
}

TEST(ReduceGradCheck, SortTopk) {
  check_grads({
      {"sort last", [](V x) { return sort(x[0]); }, {r64({3, 5}, 1)}},
      {"sort axis 0 descending",
       [](V x) { return sort(x[0], 0, true); },
       {transposed64({4, 3}, 2)}},
      {"sort strided", [](V x) { return sort(x[0], 1); }, {strided64({2, 4}, 3)}},
      {"sort 0-d", [](V x) { return sort(x[0]); }, {r64({}, 4)}},
      {"topk largest", [](V x) { return topk(x[0], 2).first; }, {r64({3, 5}, 5)}},
      {"topk smallest axis 0",
       [](V x) { return topk(x[0], 3, 0, false).first; },
       {transposed64({4, 3}, 6)}},
  });
}

TEST(ReduceGradGradCheck, SecondDerivatives) {
  check_gradgrads({
      {"sum", [](V x) { return sum(x[0], 1, true); }, {r64({3, 4}, 1)}},
      {"mean",
       [](V x) {
         return mean(x[0], {0, 2});
       },
       {strided64({2, 3, 2}, 2)}},
      {"prod", [](V x) { return prod(x[0], 1); }, {r64({3, 3}, 3)}},
      {"prod with zeros",
       [](V x) { return prod(x[0], 1); },
       {with_zeros(r64({3, 3}, 4), {1, 3, 4})}},
      {"var", [](V x) { return var(x[0], 0, 1); }, {transposed64({3, 4}, 5)}},
      {"std", [](V x) { return ravel::std(x[0], 1); }, {r64({2, 4}, 6)}},
      {"logsumexp", [](V x) { return logsumexp(x[0], -1, true); }, {r64({3, 4}, 7)}},
      {"norm 2", [](V x) { return norm(x[0], 2.0, 1); }, {r64({3, 4}, 8)}},
      {"amax", [](V x) { return amax(x[0], 0); }, {r64({3, 4}, 9)}},
      {"cumsum", [](V x) { return cumsum(x[0], 1); }, {r64({2, 4}, 10)}},
      {"cumprod", [](V x) { return cumprod(x[0], 0); }, {r64({4, 2}, 11)}},
      {"sort", [](V x) { return sort(x[0], 1); }, {r64({2, 4}, 12)}},
  });
}

TEST(ReduceGradTorch, MatchesPyTorch) {
  Generator gen(5);
  Tensor x = randn({3, 4}, gen), x3 = randn({2, 3, 4}, gen);
  // Three-way ties in a row and a two-way tie in a column: torch.amax splits evenly.
  Tensor ties =
      tensor({{1.0, 3.0, 3.0, 3.0}, {2.0, 2.0, -1.0, 0.5}, {0.0, -4.0, 7.0, 7.0}}, DType::Float32);
  Tensor zeros2 =
      tensor({{1.5, 0.0, 2.0, 0.0}, {0.5, -2.0, 0.0, 3.0}, {1.0, 2.0, -1.0, 0.5}}, DType::Float32);
  check_torch({
      {"sum axes keepdims",
       [](V a) {
         return sum(a[0], {0, 2}, true);
       },
       {x3},
       "y = X[0].sum(dim=(0, 2), keepdim=True)"},
      {"mean method", [](V a) { return a[0].mean(1); }, {x}, "y = X[0].mean(1)"},
      {"prod with zeros", [](V a) { return prod(a[0], 1); }, {zeros2}, "y = X[0].prod(1)"},
      {"prod all one zero",
       [](V a) { return prod(a[0].slice(0, 1, 3)); },
       {zeros2},
       "y = X[0][1:3].prod()"},
      {"amax ties", [](V a) { return amax(a[0], 1); }, {ties}, "y = torch.amax(X[0], 1)"},
      {"amax ties all", [](V a) { return amax(a[0]); }, {ties}, "y = torch.amax(X[0])"},
      {"amin ties axis 0",
       [](V a) { return amin(a[0], 0, true); },
       {ties},
       "y = torch.amin(X[0], 0, keepdim=True)"},
      {"var ddof 1", [](V a) { return var(a[0], 1, 1); }, {x}, "y = torch.var(X[0], 1)"},
      {"std ddof 0",
       [](V a) {
         return ravel::std(a[0], {0, 1});
       },
       {x3},
       "y = torch.std(X[0], (0, 1), correction=0)"},
      {"norm fro", [](V a) { return norm(a[0]); }, {x}, "y = torch.linalg.norm(X[0])"},
      {"norm 3",
       [](V a) { return norm(a[0], 3.0, 1); },
       {x},
       "y = torch.linalg.vector_norm(X[0], 3, dim=1)"},
      {"norm inf ties",
       [](V a) { return norm(a[0], kInf, 1); },
       {ties},
       "y = torch.linalg.vector_norm(X[0], float('inf'), dim=1)"},
      {"matrix norm 1",
       [](V a) {
         return norm(a[0], 1.0, {1, 2});
       },
       {x3},
       "y = torch.linalg.matrix_norm(X[0], 1)"},
      {"logsumexp", [](V a) { return logsumexp(a[0], 1); }, {x}, "y = torch.logsumexp(X[0], 1)"},
      {"cumsum", [](V a) { return cumsum(a[0], 0); }, {x}, "y = torch.cumsum(X[0], 0)"},
      {"cumsum flat", [](V a) { return cumsum(a[0]); }, {x}, "y = torch.cumsum(X[0].flatten(), 0)"},
      {"cumprod zeros",
       [](V a) { return cumprod(a[0], 1); },
       {zeros2},
       "y = torch.cumprod(X[0], 1)"},
      {"sort descending",
       [](V a) { return sort(a[0], 1, true); },
       {x},
       "y = torch.sort(X[0], 1, descending=True).values"},
      {"topk",
       [](V a) { return topk(a[0], 2, -1).first; },
       {x3},
       "y = torch.topk(X[0], 2, -1).values"},
      {"topk smallest",
       [](V a) { return topk(a[0], 3, 0, false).first; },
       {x},
       "y = torch.topk(X[0], 3, 0, largest=False).values"},
  });
}

TEST(ReduceGradTorch, NotDifferentiable) {
  Tensor x = randn({3, 4}).requires_grad_();
  EXPECT_FALSE(argmax(x, 1).requires_grad());
  EXPECT_FALSE(argsort(x).requires_grad());
  EXPECT_FALSE(topk(x, 2).second.requires_grad());
  EXPECT_FALSE(count_nonzero(x).requires_grad());
  EXPECT_TRUE(topk(x, 2).first.requires_grad());
  {
    NoGradGuard ng;
    EXPECT_FALSE(sum(x).requires_grad());
    EXPECT_FALSE(sort(x).requires_grad());
  }
  // One node per reduction, even where the forward converts or copies internally.
  EXPECT_STREQ(sum(x, {}, false, DType::Float64).grad_fn_name(), "sum");
  EXPECT_STREQ(var(x.transpose()).grad_fn_name(), "var");
  EXPECT_STREQ(x.max().grad_fn_name(), "amax");
}

}  // namespace
}  // namespace ravel
