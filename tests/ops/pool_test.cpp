// Pooling against PyTorch (outputs and input gradients, float32) on both CPU paths, oneDNN and
// the portable kernels; gradcheck in float64; errors.
#include "ravel/nn/functional/pool.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "backend/cpu/reference/select.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

using namespace ravel;
namespace F = ravel::nn::functional;
using ravel::testing::expect_error;
using ravel::testing::gradcheck;
using ravel::testing::matches;
using ravel::testing::TorchOracle;

namespace {

struct PoolCase {
  std::string torch;  // the call, with x as the input
  Shape shape;
  std::function<Tensor(const Tensor&)> ours;
};

std::vector<PoolCase> parity_cases() {
  using T = const Tensor&;
  return {
      {"F.max_pool2d(x, 2)", {2, 3, 8, 7}, [](T x) { return F::max_pool2d(x, 2); }},
      {"F.max_pool2d(x, 3, 2, 1)", {2, 3, 9, 8}, [](T x) { return F::max_pool2d(x, 3, 2, 1); }},
      {"F.max_pool2d(x, (3, 2), (2, 1), (1, 0), 2)",
       {1, 2, 11, 9},
       [](T x) {
         return F::max_pool2d(x, {3, 2}, {2, 1}, {1, 0}, 2);
       }},
      {"F.max_pool2d(x, 3, 2, ceil_mode=True)",
       {2, 2, 8, 10},
       [](T x) { return F::max_pool2d(x, 3, 2, 0, 1, true); }},
      {"F.max_pool2d(x, 2, 2, 1, ceil_mode=True)",
       {1, 3, 7, 6},
       [](T x) { return F::max_pool2d(x, 2, 2, 1, 1, true); }},
      {"F.max_pool2d(x, 2, 3)", {2, 2, 8, 8}, [](T x) { return F::max_pool2d(x, 2, 3); }},
      {"F.max_pool2d(x, 3, 1, 1)", {3, 7, 7}, [](T x) { return F::max_pool2d(x, 3, 1, 1); }},
      {"F.max_pool1d(x, 3, 2, 1)", {2, 3, 11}, [](T x) { return F::max_pool1d(x, 3, 2, 1); }},
      {"F.max_pool1d(x, 2, ceil_mode=True, dilation=2)",
       {2, 3, 10},
       [](T x) { return F::max_pool1d(x, 2, {}, 0, 2, true); }},
      {"F.max_pool3d(x, 2, (1, 2, 2), 1)",
       {1, 2, 5, 6, 5},
       [](T x) {
         return F::max_pool3d(x, 2, {1, 2, 2}, 1);
       }},
      {"F.avg_pool2d(x, 2)", {2, 3, 8, 7}, [](T x) { return F::avg_pool2d(x, 2); }},
      {"F.avg_pool2d(x, 3, 2, 1)", {2, 3, 9, 8}, [](T x) { return F::avg_pool2d(x, 3, 2, 1); }},
      {"F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)",
       {2, 3, 9, 8},
       [](T x) { return F::avg_pool2d(x, 3, 2, 1, false, false); }},
      {"F.avg_pool2d(x, 3, 2, 1, ceil_mode=True)",
       {1, 2, 8, 10},
       [](T x) { return F::avg_pool2d(x, 3, 2, 1, true); }},
      {"F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)",
       {1, 2, 8, 10},
       [](T x) { return F::avg_pool2d(x, 3, 2, 1, true, false); }},
      {"F.avg_pool2d(x, (2, 3), (1, 2), (1, 1), ceil_mode=True)",
       {2, 2, 7, 8},
       [](T x) {
         return F::avg_pool2d(x, {2, 3}, {1, 2}, {1, 1}, true);
       }},
      {"F.avg_pool2d(x, 3, 2, 1, divisor_override=5)",
       {1, 2, 7, 7},
       [](T x) { return F::avg_pool2d(x, 3, 2, 1, false, true, 5); }},
      {"F.avg_pool1d(x, 3, 2, 1, count_include_pad=False)",
       {2, 3, 10},
       [](T x) { return F::avg_pool1d(x, 3, 2, 1, false, false); }},
      {"F.avg_pool3d(x, 2, 2, 1, True)",
       {1, 2, 5, 4, 5},
       [](T x) { return F::avg_pool3d(x, 2, 2, 1, true); }},
      {"F.adaptive_avg_pool2d(x, 1)",
       {2, 8, 5, 6},
       [](T x) { return F::adaptive_avg_pool2d(x, 1); }},
      {"F.adaptive_avg_pool2d(x, (2, 3))",
       {2, 3, 8, 9},
       [](T x) {
         return F::adaptive_avg_pool2d(x, {2, 3});
       }},
      {"F.adaptive_avg_pool2d(x, (3, 4))",
       {2, 3, 7, 10},
       [](T x) {
         return F::adaptive_avg_pool2d(x, {3, 4});
       }},
      {"F.adaptive_avg_pool2d(x, (4, 4))",
       {1, 2, 3, 3},
       [](T x) { return F::adaptive_avg_pool2d(x, 4); }},
      {"F.adaptive_max_pool2d(x, (2, 2))",
       {2, 3, 8, 6},
       [](T x) { return F::adaptive_max_pool2d(x, 2); }},
      {"F.adaptive_max_pool2d(x, (3, 5))",
       {2, 3, 7, 11},
       [](T x) {
         return F::adaptive_max_pool2d(x, {3, 5});
       }},
      {"F.adaptive_avg_pool1d(x, 4)", {2, 3, 10}, [](T x) { return F::adaptive_avg_pool1d(x, 4); }},
      {"F.adaptive_max_pool1d(x, 3)", {2, 3, 10}, [](T x) { return F::adaptive_max_pool1d(x, 3); }},
  };
}

}  // namespace

TEST(PoolParity, MatchesTorchOnBothPaths) {
  Generator gen(5);
  const std::vector<PoolCase> cases = parity_cases();
  TorchOracle torch;
  std::vector<int> handles;
  std::vector<std::pair<Tensor, Tensor>> inputs;  // x, gy
  for (const PoolCase& c : cases) {
    Tensor x = randn(c.shape, gen), gy;
    {
      NoGradGuard ng;
      gy = randn(c.ours(x).shape(), gen);
    }
    inputs.push_back({x, gy});
    handles.push_back(torch.add_script("x = torch.tensor(a, requires_grad=True)\ny = " + c.torch +
                                           "\ny.backward(torch.tensor(b))\nout = (y, x.grad)",
                                       {x, gy}));
  }
  torch.run();
  auto check = [&](const char* path) {
    for (size_t i = 0; i < cases.size(); ++i) {
      SCOPED_TRACE(std::string(path) + ": " + cases[i].torch);
      Tensor x = inputs[i].first.clone().requires_grad_();
      Tensor y = cases[i].ours(x);
      Tensor gx = grad({y}, {x}, {inputs[i].second})[0];
      const auto& ref = torch.results(handles[i]);
      ASSERT_EQ(ref.size(), 2u) << torch.error(handles[i]);
      EXPECT_TRUE(matches(y, ref[0], 1e-5, 1e-5));
      EXPECT_TRUE(matches(gx, ref[1], 1e-5, 1e-5));
    }
  };
  if (detail::onednn_available()) {
    detail::OnednnGuard on(true);
    check("oneDNN");
  }
  detail::OnednnGuard off(false);
  check("reference");
}

TEST(PoolGradcheck, Float64OnSmallShapes) {
  Generator gen(13);
  // Distinct values, far apart, so finite differences never swap a maximum.
  Tensor x2 = round(randn({1, 2, 5, 6}, gen, DType::Float64) * 10);
  x2 = x2 + arange(60, std::nullopt).to(DType::Float64).reshape({1, 2, 5, 6}) * 0.01;
  Tensor x1 = randn({2, 2, 7}, gen, DType::Float64);
  using V = const std::vector<Tensor>&;
  EXPECT_TRUE(gradcheck([](V t) { return F::max_pool2d(t[0], 3, 2, 1, 1, true); }, {x2}));
  EXPECT_TRUE(gradcheck([](V t) { return F::max_pool2d(t[0], 2, 1, 0, 2); }, {x2}));
  EXPECT_TRUE(gradcheck([](V t) { return F::adaptive_max_pool2d(t[0], {2, 4}); }, {x2}));
  EXPECT_TRUE(gradcheck([](V t) { return F::avg_pool2d(t[0], 3, 2, 1, true); }, {x2}));
  EXPECT_TRUE(gradcheck([](V t) { return F::avg_pool2d(t[0], 2, 1, 1, false, false); }, {x2}));
  EXPECT_TRUE(gradcheck([](V t) { return F::adaptive_avg_pool2d(t[0], {3, 4}); }, {x2}));
  EXPECT_TRUE(gradcheck([](V t) { return F::avg_pool1d(t[0], 3, 2, 1); }, {x1}));
  EXPECT_TRUE(gradcheck([](V t) { return F::adaptive_avg_pool1d(t[0], 3); }, {x1}));
}

TEST(PoolErrors, ClearMessages) {
  Tensor x = zeros({2, 3, 8, 8});
  expect_error([&] { F::max_pool2d(zeros({8, 8}), 2); }, {"max_pool2d", "3-D", "4-D", "[8, 8]"});
  expect_error([&] { F::max_pool2d(x, 3, 1, 2); }, {"max_pool2d", "padding 2", "half"});
  expect_error([&] { F::max_pool2d(x, {2, 2, 2}); }, {"max_pool2d", "kernel_size", "2 ints"});
  expect_error([&] { F::avg_pool2d(zeros({1, 1, 2, 2}), 3); }, {"avg_pool2d", "too small"});
  expect_error([&] { F::max_pool1d(x, 2); }, {"max_pool1d", "[2, 3, 8, 8]"});
  expect_error([&] { F::adaptive_avg_pool2d(x, 0); }, {"adaptive_avg_pool2d", "positive"});
  expect_error(
      [&] {
        F::max_pool2d(zeros({1, 1, 4, 4}, DType::Int64), 2);
      },
      {"max_pool2d", "floating", "int64"});
}
