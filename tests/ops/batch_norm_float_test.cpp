// The float32 batch-norm kernels of the fast path (backend/cpu/onednn/norm.cpp: one-pass shifted
// statistics, float partial sums over blocks) against PyTorch and against the portable kernels
// (double sums), on shapes the small parity cases miss: rows longer than a summation block, odd
// channel counts, batch 1, a large mean next to a small spread, non-contiguous input, a bias
// without a weight, eval-mode gradients.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backend/cpu/reference/select.h"
#include "ravel/autograd.h"
#include "ravel/nn/functional/norm.h"
#include "ravel/random.h"
#include "support/numpy_oracle.h"

using namespace ravel;
namespace F = ravel::nn::functional;
using ravel::testing::matches;
using ravel::testing::TorchOracle;

namespace {

struct Case {
  Shape shape;
  double scale, offset;  // x = randn * scale + offset
  bool training, weight, bias;
  bool transposed = false;  // x given as a non-contiguous view
};

// y and the gradients of x (and of w, b when given) for upstream gradient gy; rm, rv updated.
std::vector<Tensor> run(const Case& c, const std::vector<Tensor>& in) {
  Tensor x = in[0].clone();
  if (c.transposed) x = x.transpose(0, 1).contiguous().transpose(0, 1);
  x.requires_grad_();
  Tensor w = c.weight ? in[1].clone().requires_grad_() : Tensor();
  Tensor b = c.bias ? in[2].clone().requires_grad_() : Tensor();
  Tensor rm = in[3].clone(), rv = in[4].clone();
  Tensor y = F::batch_norm(x, rm, rv, w, b, c.training);
  std::vector<Tensor> wrt = {x};
  if (c.weight) wrt.push_back(w);
  if (c.bias) wrt.push_back(b);
  std::vector<Tensor> out = {y.detach()};
  for (const Tensor& g : grad({y}, wrt, {in[5]})) out.push_back(g);
  out.push_back(rm);
  out.push_back(rv);
  return out;
}

}  // namespace

TEST(BatchNormFloat, MatchesTorchAndThePortableKernels) {
  const std::vector<Case> cases = {
      {{2, 17, 3001}, 2, 0.5, true, true, true},        // rows of 3001 > one block
      {{1, 3, 40, 41}, 1, 0, true, true, true},         // batch 1
      {{8, 5, 300}, 0.5, 1000, true, true, true},       // mean 1000, spread 0.5
      {{6, 4, 7, 5}, 1.5, -2, true, true, true, true},  // non-contiguous input
      {{3, 6, 33}, 1, 0.3, true, false, true},          // bias without weight
      {{4, 7, 9}, 1, 0.1, true, false, false},          // no affine
      {{5, 19, 2, 3}, 2, 1, false, true, true},         // eval: running statistics
      {{9, 1, 50}, 1, 3, true, true, false},            // one channel, weight only
  };
  Generator gen(23);
  TorchOracle torch;
  std::vector<int> handles;
  std::vector<std::vector<Tensor>> inputs;
  for (const Case& c : cases) {
    const Shape ch = {c.shape[1]};
    Tensor x = randn(c.shape, gen) * c.scale + c.offset;
    std::vector<Tensor> in = {x,
                              randn(ch, gen),
                              randn(ch, gen),
                              randn(ch, gen),
                              rand(ch, gen) + 0.5,
                              randn(c.shape, gen)};
    inputs.push_back(in);
    std::string script =
        "x = torch.tensor(a, requires_grad=True)\n"
        "w = torch.tensor(b, requires_grad=True)\nbb = torch.tensor(c, requires_grad=True)\n"
        "rm = torch.tensor(d)\nrv = torch.tensor(e)\n";
    script += std::string("y = F.batch_norm(x, rm, rv, ") + (c.weight ? "w" : "None") + ", " +
              (c.bias ? "bb" : "None") + ", " + (c.training ? "True" : "False") + ")\n";
    script += "y.backward(torch.tensor(f))\nout = (y.detach(), x.grad";
    if (c.weight) script += ", w.grad";
    if (c.bias) script += ", bb.grad";
    script += ", rm, rv)\n";
    handles.push_back(torch.add_script(script, in));
  }
  torch.run();
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    std::vector<Tensor> fast;
    {
      ravel::detail::OnednnGuard on(true);
      fast = run(cases[i], inputs[i]);
    }
    std::vector<Tensor> portable;
    {
      ravel::detail::OnednnGuard off(false);
      portable = run(cases[i], inputs[i]);
    }
    const auto& ref = torch.results(handles[i]);
    ASSERT_EQ(ref.size(), fast.size()) << torch.error(handles[i]);
    // Inputs near `offset` carry float rounding of |offset| * 6e-8, which normalising by a
    // spread of `scale` multiplies by 1 / scale: every implementation (torch's, the portable
    // kernels, this one) lands that far from the exact result, each in its own place.
    const double input_rounding = std::abs(cases[i].offset) * 6e-8 / cases[i].scale * 8;
    for (size_t k = 0; k < fast.size(); ++k) {
      // Weight and bias gradients sum thousands of terms: compared relative to their size.
      EXPECT_TRUE(matches(fast[k], ref[k], 1e-4, std::max(1e-4, input_rounding)))
          << "result " << k << " against torch";
      EXPECT_TRUE(matches(fast[k], portable[k], 1e-4, std::max(1e-5, input_rounding)))
          << "result " << k << " against the portable kernels";
    }
  }
}
