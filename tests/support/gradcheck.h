// gradcheck: compares the gradients autograd computes with central finite differences, in
// float64 (torch.autograd.gradcheck's method).
//
//   Tensor a = randn({3, 4}, DType::Float64), b = randn({4}, DType::Float64);
//   EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& x) { return x[0] * exp(x[1]); }, {a, b}));
//   // non-contiguous inputs keep their layout: pass a.transpose() and it stays a view
//   EXPECT_TRUE(gradgradcheck(fn, {a, b}));  // second derivatives, through create_graph
//
// The inputs must be float64; gradcheck makes them leaves that require grad (the caller's tensors
// are not modified). A non-scalar output is reduced with fixed random weights, so every output
// element takes part.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "ravel/ravel.h"

namespace ravel::testing {

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

::testing::AssertionResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs,
                                     double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3);
// Checks the gradient of the gradient: d/dx of (dy/dx . u) for a fixed random u.
::testing::AssertionResult gradgradcheck(const GradFn& f, const std::vector<Tensor>& inputs,
                                         double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3);

}  // namespace ravel::testing
