// Gradients of views, copies and shape ops: finite differences in float64 (contiguous,
// transposed and negative-stride inputs), second derivatives, and PyTorch in float32.
#include <gtest/gtest.h>

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
using testing::expect_error;

// Several outputs as one (gradcheck takes one): flattened and concatenated.
Tensor joined(const std::vector<Tensor>& ts) {
  std::vector<Tensor> flat;
  for (const Tensor& t : ts) flat.push_back(t.reshape({-1}));
  return concatenate(flat);
}

TEST(ShapeGradCheck, Views) {
  check_grads({
      {"reshape (view)",
       [](V x) {
         return x[0].reshape({4, 6});
       },
       {r64({2, 3, 4}, 1)}},
      {"reshape (copy)", [](V x) { return x[0].reshape({-1}); }, {transposed64({3, 4}, 2)}},
      {"view",
       [](V x) {
         return x[0].view({3, 2, 2});
       },
       {r64({3, 4}, 3)}},
      {"flatten", [](V x) { return x[0].flatten(1); }, {strided64({2, 3, 2}, 4)}},
      {"permute",
       [](V x) {
         return x[0].permute({2, 0, 1});
       },
       {strided64({2, 3, 4}, 5)}},
      {"transpose()", [](V x) { return x[0].transpose(); }, {r64({2, 3, 4}, 6)}},
      {"transpose(a, b)", [](V x) { return x[0].transpose(0, -1); }, {transposed64({2, 3, 4}, 7)}},
      {"expand",
       [](V x) {
         return x[0].expand({2, 3, 4});
       },
       {r64({3, 1}, 8)}},
      {"expand strided",
       [](V x) {
         return x[0].expand({3, 2, 3});
       },
       {strided64({2, 1}, 9)}},
      {"squeeze()", [](V x) { return x[0].squeeze(); }, {r64({1, 3, 1, 2}, 10)}},
      {"squeeze(axis)", [](V x) { return x[0].squeeze(-2); }, {r64({3, 1, 2}, 11)}},
      {"unsqueeze", [](V x) { return x[0].unsqueeze(1); }, {transposed64({3, 2}, 12)}},
      {"slice", [](V x) { return x[0].slice(1, 1, std::nullopt, 2); }, {r64({3, 5}, 13)}},
      {"slice negative step", [](V x) { return x[0].slice(0, -1, 0, -2); }, {r64({5, 2}, 14)}},
      {"slice of strided",
       [](V x) { return x[0].slice(0, std::nullopt, std::nullopt, -1); },
       {strided64({4, 3}, 15)}},
      {"select", [](V x) { return x[0].select(1, -1); }, {transposed64({2, 3, 2}, 16)}},
      {"diagonal", [](V x) { return x[0].diagonal(); }, {r64({3, 4}, 17)}},
      {"diagonal offset", [](V x) { return x[0].diagonal(1); }, {strided64({3, 4}, 18)}},
      {"diagonal 3-D", [](V x) { return x[0].diagonal(-1, 0, 2); }, {r64({4, 2, 3}, 19)}},
      {"as_strided windows",
       [](V x) {
         return x[0].as_strided({4, 3}, {1, 1}, 0);
       },
       {r64({6}, 20)}},
      {"as_strided of transposed",
       [](V x) {
         return x[0].as_strided({2, 2}, {3, 1}, 1);
       },
       {transposed64({3, 4}, 21)}},
      {"view of a view",
       [](V x) { return x[0].slice(0, 1, 3).transpose().reshape({-1}); },
       {r64({4, 3}, 22)}},
  });
}

TEST(ShapeGradCheck, Copies) {
  check_grads({
      {"clone", [](V x) { return x[0].clone(); }, {strided64({2, 3}, 1)}},
      {"contiguous", [](V x) { return x[0].contiguous(); }, {transposed64({2, 3}, 2)}},
      {"to (copy)", [](V x) { return x[0].to(DType::Float64, true); }, {r64({3}, 3)}},
      {"copy_ broadcast",
       [](V x) {
         Tensor t = x[0].clone();
         t.copy_(x[1]);
         return joined({t, x[0]});
       },
       {r64({3, 4}, 4), r64({4}, 5)}},
      {"fill_",
       [](V x) {
         Tensor t = x[0].clone();
         t.fill_(2.5);
         return joined({t, x[0]});
       },
       {r64({2, 3}, 6)}},
  });
}

TEST(ShapeGradCheck, ShapeOps) {
  check_grads({
      {"concatenate 3",
       [](V x) {
         return concatenate({x[0], x[1], x[2]});
       },
       {r64({2, 3}, 1), transposed64({4, 3}, 2), strided64({1, 3}, 3)}},
      {"concatenate axis 1",
       [](V x) {
         return concatenate({x[0], x[1]}, -1);
       },
       {r64({2, 1}, 4), transposed64({2, 3}, 5)}},
      {"stack",
       [](V x) {
         return stack({x[0], x[1]}, 1);
       },
       {r64({2, 3}, 6), strided64({2, 3}, 7)}},
      {"split",
       [](V x) {
         auto p = split(x[0], 3, 1);
         return joined({p[2], p[0]});
       },
       {r64({2, 6}, 8)}},
      {"split_at",
       [](V x) {
         auto p = split_at(x[0], {1, 3});
         return joined({p[2], p[1], p[1]});
       },
       {r64({5, 2}, 9)}},
      {"chunk",
       [](V x) {
         auto p = chunk(x[0], 3);
         return joined({p[1], p[2]});
       },
       {transposed64({5, 2}, 10)}},
      {"flip all", [](V x) { return flip(x[0]); }, {r64({2, 3}, 11)}},
      {"flip axes",
       [](V x) {
         return flip(x[0], {0, 2});
       },
       {strided64({2, 3, 2}, 12)}},
      {"roll axis", [](V x) { return roll(x[0], 2, 1); }, {r64({2, 5}, 13)}},
      {"roll axes",
       [](V x) {
         return roll(x[0], Shape{1, -2}, Shape{0, 1});
       },
       {transposed64({3, 4}, 14)}},
      {"roll flat", [](V x) { return roll(x[0], 5); }, {r64({2, 3}, 15)}},
      {"pad constant",
       [](V x) {
         return pad(x[0], {{1, 2}, {0, 1}}, "constant", 3.0);
       },
       {r64({2, 3}, 16)}},
      {"pad reflect",
       [](V x) {
         return pad(x[0], {{2, 3}, {1, 1}}, "reflect");
       },
       {strided64({3, 4}, 17)}},
      {"pad reflect wide",
       [](V x) {
         return pad(x[0], {{5, 4}}, "reflect");
       },
       {r64({3}, 18)}},
      {"pad edge",
       [](V x) {
         return pad(x[0], {{2, 1}}, "edge");
       },
       {transposed64({2, 3}, 19)}},
      {"repeat axis", [](V x) { return repeat(x[0], 3, 1); }, {r64({2, 3}, 20)}},
      {"repeat flat", [](V x) { return repeat(x[0], 2); }, {strided64({2, 2}, 21)}},
      {"repeat counts",
       [](V x) {
         return repeat(x[0], tensor({1, 0, 2}), 0);
       },
       {r64({3, 2}, 22)}},
      {"tile",
       [](V x) {
         return tile(x[0], {2, 1, 3});
       },
       {r64({2, 3}, 23)}},
      {"tril", [](V x) { return tril(x[0]); }, {r64({3, 4}, 24)}},
      {"triu batched", [](V x) { return triu(x[0], 1); }, {transposed64({2, 3, 3}, 25)}},
      {"tril k", [](V x) { return tril(x[0], -1); }, {strided64({3, 3}, 26)}},
      {"diag 1-D", [](V x) { return diag(x[0], 1); }, {r64({3}, 27)}},
      {"diag 2-D", [](V x) { return diag(x[0], -1); }, {transposed64({3, 4}, 28)}},
      {"meshgrid xy",
       [](V x) {
         return joined(meshgrid({x[0], x[1], x[2]}));
       },
       {r64({2}, 29), r64({3}, 30), r64({2}, 31)}},
      {"meshgrid ij",
       [](V x) {
         return joined(meshgrid({x[0], x[1]}, "ij"));
       },
       {r64({3}, 32), strided64({2}, 33)}},
      {"broadcast_to",
       [](V x) {
         return broadcast_to(x[0], {2, 3, 2});
       },
       {r64({3, 1}, 34)}},
      {"broadcast_tensors",
       [](V x) {
         return joined(broadcast_tensors({x[0], x[1]}));
       },
       {r64({3, 1}, 35), r64({2}, 36)}},
      {"moveaxis", [](V x) { return moveaxis(x[0], 0, -1); }, {r64({2, 3, 4}, 37)}},
      {"swapaxes", [](V x) { return swapaxes(x[0], 0, 1); }, {strided64({2, 3}, 38)}},
      {"ravel", [](V x) { return ravel(x[0]); }, {transposed64({2, 3}, 39)}},
      {"squeeze/unsqueeze free",
       [](V x) { return unsqueeze(squeeze(x[0], 0), 0); },
       {r64({1, 3}, 40)}},
  });
}

TEST(ShapeGradGradCheck, SecondDerivatives) {
  check_gradgrads({
      {"reshape", [](V x) { return x[0].reshape({-1}); }, {transposed64({2, 3}, 1)}},
      {"permute",
       [](V x) {
         return x[0].permute({1, 2, 0});
       },
       {r64({2, 2, 3}, 2)}},
      {"slice", [](V x) { return x[0].slice(1, -1, std::nullopt, -2); }, {r64({2, 5}, 3)}},
      {"select", [](V x) { return x[0].select(0, 1); }, {r64({3, 2}, 4)}},
      {"expand",
       [](V x) {
         return x[0].expand({2, 3, 2});
       },
       {r64({3, 1}, 5)}},
      {"diagonal", [](V x) { return x[0].diagonal(1); }, {r64({3, 3}, 6)}},
      {"as_strided",
       [](V x) {
         return x[0].as_strided({3, 2}, {1, 1}, 0);
       },
       {r64({4}, 7)}},
      {"concatenate",
       [](V x) {
         return concatenate({x[0], x[1]}, 1);
       },
       {r64({2, 2}, 8), r64({2, 3}, 9)}},
      {"pad reflect",
       [](V x) {
         return pad(x[0], {{2, 1}}, "reflect");
       },
       {r64({4}, 10)}},
      {"roll", [](V x) { return roll(x[0], 1, 0); }, {r64({3, 2}, 11)}},
      {"tile",
       [](V x) {
         return tile(x[0], {2, 2});
       },
       {r64({2}, 12)}},
  });
}

TEST(ShapeGradTorch, MatchesPyTorch) {
  Generator gen(3);
  Tensor a = randn({2, 3}, gen), b = randn({4, 3}, gen), c = randn({1, 3}, gen);
  Tensor m = randn({3, 4}, gen), v = randn({6}, gen), col = randn({3, 1}, gen);
  check_torch({
      {"concatenate 3",
       [](V x) {
         return concatenate({x[0], x[1], x[2]});
       },
       {a, b, c},
       "y = torch.cat(X, 0)"},
      {"pad reflect",
       [](V x) {
         return pad(x[0], {{2, 1}, {1, 3}}, "reflect");
       },
       {m},
       "y = torch.nn.functional.pad(X[0][None, None], (1, 3, 2, 1), mode='reflect')[0, 0]"},
      {"pad edge",
       [](V x) {
         return pad(x[0], {{1, 2}, {3, 1}}, "edge");
       },
       {m},
       "y = torch.nn.functional.pad(X[0][None, None], (3, 1, 1, 2), mode='replicate')[0, 0]"},
      {"roll",
       [](V x) {
         return roll(x[0], Shape{1, -3}, Shape{0, 1});
       },
       {m},
       "y = torch.roll(X[0], (1, -3), (0, 1))"},
      {"expand",
       [](V x) {
         return x[0].expand({2, 3, 5});
       },
       {col},
       "y = X[0].expand(2, 3, 5)"},
      {"as_strided",
       [](V x) {
         return x[0].as_strided({2, 3}, {2, 1}, 1);
       },
       {v},
       "y = X[0].as_strided((2, 3), (2, 1), 1)"},
      {"diagonal", [](V x) { return x[0].diagonal(-1); }, {m}, "y = X[0].diagonal(-1)"},
      {"flip", [](V x) { return flip(x[0], {1}); }, {m}, "y = X[0].flip(1)"},
      {"tile",
       [](V x) {
         return tile(x[0], {2, 2});
       },
       {a},
       "y = X[0].repeat(2, 2)"},
      {"repeat", [](V x) { return repeat(x[0], 2, 0); }, {a}, "y = X[0].repeat_interleave(2, 0)"},
      {"triu", [](V x) { return triu(x[0], -1); }, {m}, "y = torch.triu(X[0], -1)"},
      {"to float64", [](V x) { return x[0].to(DType::Float64); }, {a}, "y = X[0].double()"},
      {"clone transposed",
       [](V x) { return x[0].transpose().clone(); },
       {m},
       "y = X[0].t().clone()"},
      {"copy_ into non-leaf",
       [](V x) {
         Tensor t = x[0] * 2.0f;
         t.copy_(x[1]);
         return t;
       },
       {m, randn({4}, gen)},
       "y = X[0] * 2\ny.copy_(X[1])"},
  });
}

TEST(ShapeGradTorch, NodesAndNoGrad) {
  Tensor x = randn({2, 3}).requires_grad_();
  EXPECT_STREQ(x.reshape({3, 2}).grad_fn_name(), "reshape");
  EXPECT_STREQ(x.transpose().grad_fn_name(), "permute");
  EXPECT_STREQ(x.slice(0, 1, std::nullopt).grad_fn_name(), "slice");
  EXPECT_STREQ(x.clone().grad_fn_name(), "clone");
  EXPECT_STREQ(concatenate({x, x}).grad_fn_name(), "concatenate");
  // reshape that copies records one node, whose input is x itself
  Tensor y = x.transpose().reshape({-1});
  EXPECT_STREQ(y.grad_fn_name(), "reshape");
  {
    NoGradGuard ng;
    EXPECT_FALSE(x.slice(0, 1, std::nullopt).requires_grad());
    EXPECT_FALSE(pad(x, {{1, 1}}, "reflect").requires_grad());
  }
  // an integer result of a cast is not tracked
  EXPECT_FALSE(x.to(DType::Int64).requires_grad());
  // contiguous() of a contiguous tensor is the tensor itself
  EXPECT_TRUE(x.contiguous().is_same(x));
}

TEST(ShapeGradInplace, CopyAndFill) {
  Tensor x = randn({2, 3}).requires_grad_();
  // In-place writes on a leaf that requires grad are refused, as PyTorch.
  expect_error([&] { x.copy_(zeros({2, 3})); }, {"copy_", "leaf"});
  expect_error([&] { x.fill_(1); }, {"fill_", "leaf"});
  expect_error([&] { x.zero_(); }, {"fill_", "leaf"});
  {
    NoGradGuard ng;  // allowed without recording (an optimizer step, an init)
    x.fill_(0.5);
  }
  EXPECT_TRUE(x.is_leaf());

  // fill_ on a non-leaf keeps requires_grad, and the gradient through it is zero.
  Tensor t = x.clone();
  t.fill_(2.0);
  EXPECT_TRUE(t.requires_grad());
  EXPECT_STREQ(t.grad_fn_name(), "fill_");
  t.sum().backward();
  EXPECT_TRUE(testing::matches(x.grad(), zeros({2, 3})));

  // copy_ from a tensor that requires grad into a plain one gives it history.
  Tensor dst = zeros({2, 3});
  Tensor src = randn({3}).requires_grad_();
  dst.copy_(src);
  EXPECT_STREQ(dst.grad_fn_name(), "copy_");
  dst.sum().backward();
  EXPECT_TRUE(testing::matches(src.grad(), full({3}, 2.0f)));
}

TEST(ShapeGradErrors, AsStridedOutOfBounds) {
  Tensor x = randn({6});
  expect_error(
      [&] {
        x.as_strided({3, 3}, {2, 1}, 1);
      },
      {"as_strided", "[3, 3]", "[1, 7]", "outside the storage of 6 elements"});
  expect_error([&] { x.as_strided({2}, {-1}, 0); }, {"as_strided", "[-1, 0]"});
  EXPECT_EQ(x.as_strided({0, 9}, {9, 9}, 100).numel(), 0);  // reaches nothing
  EXPECT_TRUE(testing::matches(x.as_strided({2}, {-1}, 5), flip(x.slice(0, 4, 6), {0})));
}

}  // namespace
}  // namespace ravel
