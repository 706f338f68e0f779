// Shared by the shape and index gradient tests (shape_grad_test.cpp, index_grad_test.cpp):
// float64 inputs in several memory layouts, and three checks run over a list of cases:
//
//   check_grads({{"slice", [](V x) { return x[0].slice(0, 1, 3); }, {r64({4, 3}, 1)}}});
//   check_gradgrads(cases);   // second derivatives of op(x)^2, through create_graph
//   check_torch({{"roll", f, {x}, "y = torch.roll(X[0], 1, 0)"}});   // PyTorch, float32
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ravel/ravel.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

namespace ravel::grad_testing {

using V = const std::vector<Tensor>&;

inline Tensor r64(const Shape& s, uint64_t seed) {
  Generator gen(seed);
  return randn(s, gen, DType::Float64);
}

// The same kind of values as a transposed view (all axes reversed): not contiguous.
inline Tensor transposed64(const Shape& s, uint64_t seed) {
  Shape rev;
  for (size_t d = s.size(); d-- > 0;) rev.push_back(s[d]);
  return r64(rev, seed).transpose();
}

// A view with a negative stride on axis 0 and a step of 2 on the last axis.
inline Tensor strided64(const Shape& s, uint64_t seed) {
  Shape big = s;
  big.back() = 2 * s.back();
  return r64(big, seed).slice(0, std::nullopt, std::nullopt, -1).slice(-1, 0, std::nullopt, 2);
}

struct GradCase {
  std::string name;
  testing::GradFn f;
  std::vector<Tensor> inputs;  // float64; integer tensors go in the lambda's captures
};

inline void check_grads(const std::vector<GradCase>& cases) {
  for (const GradCase& c : cases) EXPECT_TRUE(testing::gradcheck(c.f, c.inputs)) << c.name;
}

// gradgradcheck of op(x)^2: the gradient reaching op's backward depends on x, so the backward of
// op's backward is exercised (for a linear op alone the second derivative is zero).
inline void check_gradgrads(const std::vector<GradCase>& cases) {
  for (const GradCase& c : cases) {
    testing::GradFn f = c.f;
    auto squared = [f](V x) {
      Tensor y = f(x);
      return y * y;
    };
    EXPECT_TRUE(testing::gradgradcheck(squared, c.inputs)) << c.name;
  }
}

struct TorchCase {
  std::string name;
  testing::GradFn f;
  std::vector<Tensor> inputs;  // float32 inputs require grad; integer ones are indices
  // Python computing `y` from X, the inputs as torch tensors (float ones require grad).
  std::string script;
};

// Backpropagates fixed random weights through y = f(inputs) in ravel and in PyTorch (float32)
// and compares y and the gradient of every float input.
inline void check_torch(const std::vector<TorchCase>& cases, double tol = 1e-5) {
  testing::TorchOracle torch;
  std::vector<int> handles;
  std::vector<std::vector<Tensor>> ours;
  Generator gen(77);
  for (const TorchCase& c : cases) {
    std::vector<Tensor> leaves;
    for (const Tensor& t : c.inputs) {
      Tensor l = t.clone();
      if (is_floating(t.dtype())) l.requires_grad_();
      leaves.push_back(l);
    }
    Tensor y = c.f(leaves);
    Tensor w = randn(y.shape(), gen, y.dtype());
    y.backward(w);
    std::vector<Tensor> mine{y.detach()};
    for (const Tensor& l : leaves)
      if (l.requires_grad()) mine.push_back(l.grad());
    ours.push_back(mine);
    std::vector<Tensor> inputs{w};
    inputs.insert(inputs.end(), c.inputs.begin(), c.inputs.end());
    // Inputs are bound to a (the weights), b, c, ...
    std::string names;
    for (size_t k = 0; k < c.inputs.size(); ++k) names += std::string(k ? ", " : "") + "bcdefgh"[k];
    std::string code = "_ins = [" + names + "]\n" +
                       "X = [torch.tensor(v, requires_grad=v.dtype.kind == 'f') if v.dtype.kind "
                       "== 'f' else torch.tensor(v) for v in _ins]\n" +
                       c.script + "\ny.backward(torch.tensor(a))\n" +
                       "out = [y] + [v.grad for v in X if v.requires_grad]";
    handles.push_back(torch.add_script(code, inputs));
  }
  torch.run();
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(torch.error(handles[i]), "") << cases[i].name;
    const std::vector<Tensor>& ref = torch.results(handles[i]);
    ASSERT_EQ(ref.size(), ours[i].size()) << cases[i].name;
    for (size_t k = 0; k < ref.size(); ++k) {
      ASSERT_TRUE(ours[i][k].defined()) << cases[i].name << " result " << k;
      EXPECT_TRUE(testing::matches(ours[i][k], ref[k], tol, tol))
          << cases[i].name << " result " << k;
    }
  }
}

}  // namespace ravel::grad_testing
