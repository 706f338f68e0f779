// Gradients of indexing: basic (views) and advanced (integer and boolean, with repeated indices
// that add up), index_put_ on tensors with history, take, gather and scatter_add. Finite
// differences in float64, second derivatives, and PyTorch in float32.
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

TEST(IndexGradCheck, Index) {
  Tensor rep = tensor({0, 2, 0, 0});
  Tensor i2 = tensor({{1, 0}, {1, 1}});
  Tensor mask = tensor({{true, false, true}, {false, false, true}});
  check_grads({
      {"basic",
       [](V x) {
         return x[0].index({Slice(std::nullopt, std::nullopt, -1), 1});
       },
       {r64({3, 4}, 1)}},
      {"basic ellipsis newaxis",
       [](V x) {
         return x[0].index({ellipsis, newaxis, Slice(1)});
       },
       {strided64({2, 3}, 2)}},
      {"empty index", [](V x) { return x[0].index({}); }, {r64({2}, 3)}},
      {"repeated", [rep](V x) { return x[0].index({rep}); }, {r64({3, 2}, 4)}},
      {"repeated strided",
       [rep](V x) {
         return x[0].index({Slice(), rep});
       },
       {strided64({2, 3}, 5)}},
      {"2-D index",
       [i2](V x) {
         return x[0].index({i2, Slice(1)});
       },
       {transposed64({2, 3}, 6)}},
      {"separated",
       [rep, i2](V x) {
         return x[0].index({i2, Slice(), i2});
       },
       {r64({2, 3, 2}, 7)}},
      {"integer and array",
       [rep](V x) {
         return x[0].index({1, rep});
       },
       {r64({2, 3}, 8)}},
      {"mask", [mask](V x) { return x[0].index({mask}); }, {r64({2, 3}, 9)}},
      {"mask strided",
       [mask](V x) {
         return x[0].index({Slice(), mask});
       },
       {strided64({2, 2, 3}, 10)}},
      {"take flat", [rep](V x) { return take(x[0], rep); }, {transposed64({2, 2}, 11)}},
      {"take axis", [i2](V x) { return take(x[0], i2, 1); }, {r64({3, 2}, 12)}},
      {"masked_select broadcast",
       [](V x) {
         return masked_select(x[0], tensor({true, false, true}));
       },
       {r64({2, 3}, 13)}},
  });
}

TEST(IndexGradCheck, IndexPut) {
  Tensor rows = tensor({2, 0});
  Tensor mask = tensor({{true, false, true}, {false, true, false}});
  // grads to the target (zero where written) and to the value (summed where broadcast)
  auto put = [](std::vector<Index> idx) {
    return [idx](V x) {
      Tensor t = x[0].clone();
      t.index_put_(idx, x[1]);
      return t;
    };
  };
  check_grads({
      {"rows", put({rows}), {r64({3, 2}, 1), r64({2, 2}, 2)}},
      {"rows broadcast value", put({rows}), {r64({3, 2}, 3), r64({2}, 4)}},
      {"basic", put({Slice(1, 3), 0}), {r64({3, 2}, 5), r64({1}, 6)}},
      {"negative step",
       put({Slice(std::nullopt, std::nullopt, -2)}),
       {strided64({3, 2}, 7), transposed64({2, 2}, 8)}},
      {"mask", put({mask}), {r64({2, 3}, 9), r64({3}, 10)}},
      {"scalar value",
       [rows](V x) {
         Tensor t = x[0].clone();
         t.index_put_({Slice(), rows}, 1.5);
         return t;
       },
       {r64({2, 3}, 11)}},
      {"into a plain tensor",
       [rows](V x) {
         Tensor t = zeros({3, 2}, DType::Float64);
         t.index_put_({rows}, x[0]);
         return t;
       },
       {r64({2, 2}, 12)}},
  });
}

TEST(IndexGradCheck, GatherScatter) {
  Tensor gi = tensor({{0, 2, 0}, {1, 1, 1}});
  Tensor si = tensor({{0, 1, 0}, {2, 0, 0}});
  check_grads({
      {"gather", [gi](V x) { return gather(x[0], 1, gi); }, {r64({2, 3}, 1)}},
      {"gather axis 0 strided", [si](V x) { return gather(x[0], 0, si); }, {strided64({3, 3}, 2)}},
      {"take_along_axis",
       [gi](V x) { return take_along_axis(x[0], gi, 1); },
       {transposed64({2, 4}, 3)}},
      {"take_along_axis broadcast",
       [](V x) {
         return take_along_axis(x[0], tensor({{2}, {0}, {0}}), 0);
       },
       {r64({3, 2}, 4)}},
      {"scatter_add",
       [si](V x) { return scatter_add(x[0], 0, si, x[1]); },
       {r64({3, 3}, 5), r64({2, 3}, 6)}},
      {"scatter_add larger src",
       [si](V x) { return scatter_add(x[0], 1, si, x[1]); },
       {transposed64({2, 3}, 7), r64({3, 4}, 8)}},
  });
}

TEST(IndexGradGradCheck, SecondDerivatives) {
  Tensor rep = tensor({0, 2, 0});
  Tensor si = tensor({{0, 1, 0}, {2, 0, 0}});
  check_gradgrads({
      {"index repeated",
       [rep](V x) {
         return x[0].index({Slice(), rep});
       },
       {r64({2, 3}, 1)}},
      {"index basic",
       [](V x) {
         return x[0].index({1, Slice(std::nullopt, std::nullopt, -1)});
       },
       {r64({2, 3}, 2)}},
      {"index_put_",
       [rep](V x) {
         Tensor t = x[0].clone();
         t.index_put_({Slice(1)}, x[1]);
         return t;
       },
       {r64({3, 2}, 3), r64({2}, 4)}},
      {"gather", [si](V x) { return gather(x[0], 0, si); }, {r64({3, 3}, 5)}},
      {"scatter_add",
       [si](V x) { return scatter_add(x[0], 0, si, x[1]); },
       {r64({3, 3}, 6), r64({2, 3}, 7)}},
  });
}

TEST(IndexGradTorch, MatchesPyTorch) {
  Generator gen(5);
  Tensor a = randn({4, 3}, gen), v = randn({2, 3}, gen), s = randn({2, 3}, gen);
  Tensor rep = tensor({0, 3, 0, 0, 2});
  Tensor rows = tensor({3, 1});
  Tensor gi = tensor({{0, 2, 2}, {1, 1, 0}});
  Tensor si = tensor({{0, 1, 0}, {3, 0, 0}});
  Tensor mask = tensor(
      {{true, false, true}, {false, false, true}, {true, true, true}, {false, false, false}});
  check_torch({
      {"index repeated", [](V x) { return x[0].index({x[1]}); }, {a, rep}, "y = X[0][X[1]]"},
      {"index repeated 2-D",
       [](V x) {
         return x[0].index({x[1].reshape({1, 5}), tensor({2})});
       },
       {a, rep},
       "y = X[0][X[1].reshape(1, 5), torch.tensor([2])]"},
      {"index mask", [](V x) { return x[0].index({x[1]}); }, {a, mask}, "y = X[0][X[1]]"},
      {"index_put_ on a non-leaf",
       [](V x) {
         Tensor t = x[0] * 3.0f;
         t.index_put_({x[2]}, x[1]);
         return t;
       },
       {a, v, rows},
       "y = X[0] * 3\ny[X[2]] = X[1]"},
      {"index_put_ mask",
       [](V x) {
         Tensor t = x[0] * 1.0f;
         t.index_put_({x[1]}, 0.0f);
         return t;
       },
       {a, mask},
       "y = X[0] * 1\ny[X[1]] = 0.0"},
      {"gather",
       [](V x) { return gather(x[0], 0, x[1]); },
       {a, gi},
       "y = torch.gather(X[0], 0, X[1])"},
      {"scatter_add",
       [](V x) { return scatter_add(x[0], 0, x[2], x[1]); },
       {a, s, si},
       "y = torch.scatter_add(X[0], 0, X[2], X[1])"},
      {"masked_select",
       [](V x) { return masked_select(x[0], x[1]); },
       {a, mask},
       "y = torch.masked_select(X[0], X[1])"},
      {"take", [](V x) { return take(x[0], x[1]); }, {a, rep}, "y = torch.take(X[0], X[1])"},
  });
}

TEST(IndexGradErrors, InplaceAndSaved) {
  Tensor x = randn({3, 4}).requires_grad_();
  expect_error([&] { x.index_put_({0}, zeros({4})); }, {"index_put_", "leaf"});
  // gather keeps its index for backward: modifying it in place is caught there.
  Tensor idx = tensor({{0, 1, 2, 0}});
  Tensor y = gather(x, 0, idx);
  idx.fill_(1);
  expect_error([&] { y.sum().backward(); }, {"gather", "modified by an inplace operation"});
  // index_put_ on a tensor with history records one node and keeps requires_grad
  Tensor t = x.clone();
  t.index_put_({Slice(), 0}, 0.0f);
  EXPECT_STREQ(t.grad_fn_name(), "index_put_");
  EXPECT_STREQ(x.index({tensor({0, 0})}).grad_fn_name(), "index");
}

}  // namespace
}  // namespace ravel
