// Normalisation against PyTorch (outputs, input/weight/bias gradients and running statistics,
// float32) on both CPU paths, oneDNN and the portable kernels; gradcheck in float64; errors.
#include "ravel/nn/functional/norm.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "backend/cpu/reference/select.h"
#include "ravel/autograd.h"
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

// One call: input x [shape], per-channel (or normalized_shape) weight w and bias b of wshape,
// running statistics rm, rv of rshape (when used). `torch` sees x, w, b, rm, rv as torch
// tensors (rm, rv updated in place) and must set y.
struct NormCase {
  std::string torch;
  Shape shape, wshape, rshape;
  std::function<Tensor(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm,
                       const Tensor& rv)>
      ours;
  bool affine = true;  // w and b take part
};

std::vector<NormCase> parity_cases() {
  using T = const Tensor&;
  return {
      {"y = F.batch_norm(x, rm, rv, w, b, True, 0.1, 1e-5)",
       {4, 3, 5, 6},
       {3},
       {3},
       [](T x, T w, T b, T rm, T rv) { return F::batch_norm(x, rm, rv, w, b, true); }},
      {"y = F.batch_norm(x, rm, rv, w, b, True, 0.3, 1e-3)",
       {6, 5},
       {5},
       {5},
       [](T x, T w, T b, T rm, T rv) { return F::batch_norm(x, rm, rv, w, b, true, 0.3, 1e-3); }},
      {"y = F.batch_norm(x, rm, rv, w, b, True)",
       {3, 4, 7},
       {4},
       {4},
       [](T x, T w, T b, T rm, T rv) { return F::batch_norm(x, rm, rv, w, b, true); }},
      {"y = F.batch_norm(x, rm, rv, None, None, True)",
       {2, 3, 4, 4},
       {3},
       {3},
       [](T x, T, T, T rm, T rv) { return F::batch_norm(x, rm, rv, {}, {}, true); },
       false},
      {"y = F.batch_norm(x, None, None, w, b, True)",
       {2, 3, 2, 3, 2},
       {3},
       {3},
       [](T x, T w, T b, T, T) { return F::batch_norm(x, {}, {}, w, b, true); }},
      {"y = F.batch_norm(x, rm, rv, w, b, False)",
       {4, 3, 5, 6},
       {3},
       {3},
       [](T x, T w, T b, T rm, T rv) { return F::batch_norm(x, rm, rv, w, b, false); }},
      {"y = F.batch_norm(x, rm, rv, w, b, False, eps=1e-2)",
       {5, 4},
       {4},
       {4},
       [](T x, T w, T b, T rm, T rv) { return F::batch_norm(x, rm, rv, w, b, false, 0.1, 1e-2); }},
      {"y = F.layer_norm(x, (6,), w, b)",
       {3, 4, 6},
       {6},
       {1},
       [](T x, T w, T b, T, T) { return F::layer_norm(x, {6}, w, b); }},
      {"y = F.layer_norm(x, (4, 5), w, b, 1e-3)",
       {2, 4, 5},
       {4, 5},
       {1},
       [](T x, T w, T b, T, T) {
         return F::layer_norm(x, {4, 5}, w, b, 1e-3);
       }},
      {"y = F.layer_norm(x, (7,))",
       {5, 7},
       {7},
       {1},
       [](T x, T, T, T, T) { return F::layer_norm(x, {7}); },
       false},
      {"y = F.group_norm(x, 2, w, b)",
       {3, 6, 4, 5},
       {6},
       {1},
       [](T x, T w, T b, T, T) { return F::group_norm(x, 2, w, b); }},
      {"y = F.group_norm(x, 3, w, b, 1e-3)",
       {2, 3, 7},
       {3},
       {1},
       [](T x, T w, T b, T, T) { return F::group_norm(x, 3, w, b, 1e-3); }},
      {"y = F.group_norm(x, 1)",
       {2, 4, 3, 3},
       {4},
       {1},
       [](T x, T, T, T, T) { return F::group_norm(x, 1); },
       false},
      {"y = F.instance_norm(x, rm, rv, w, b, True, 0.2)",
       {3, 4, 5, 6},
       {4},
       {4},
       [](T x, T w, T b, T rm, T rv) { return F::instance_norm(x, rm, rv, w, b, true, 0.2); }},
      {"y = F.instance_norm(x)",
       {2, 3, 8},
       {3},
       {3},
       [](T x, T, T, T, T) { return F::instance_norm(x); },
       false},
      {"y = F.instance_norm(x, rm, rv, w, b, False)",
       {2, 3, 4, 4},
       {3},
       {3},
       [](T x, T w, T b, T rm, T rv) { return F::instance_norm(x, rm, rv, w, b, false); }},
  };
}

}  // namespace

TEST(NormParity, MatchesTorchOnBothPaths) {
  Generator gen(17);
  const std::vector<NormCase> cases = parity_cases();
  TorchOracle torch;
  std::vector<int> handles;
  std::vector<std::vector<Tensor>> inputs;  // x, w, b, rm, rv, gy
  for (const NormCase& c : cases) {
    Tensor x = randn(c.shape, gen) * 2 + 0.5, w = randn(c.wshape, gen), b = randn(c.wshape, gen);
    Tensor rm = randn(c.rshape, gen), rv = rand(c.rshape, gen) + 0.5, gy = randn(c.shape, gen);
    inputs.push_back({x, w, b, rm, rv, gy});
    std::string script =
        "x = torch.tensor(a, requires_grad=True)\nw = torch.tensor(b, requires_grad=True)\n"
        "b = torch.tensor(c, requires_grad=True)\nrm = torch.tensor(d)\nrv = torch.tensor(e)\n" +
        c.torch + "\ny.backward(torch.tensor(f))\n" +
        (c.affine ? "out = (y, x.grad, w.grad, b.grad, rm, rv)" : "out = (y, x.grad, rm, rv)");
    handles.push_back(torch.add_script(script, {x, w, b, rm, rv, gy}));
  }
  torch.run();
  auto check = [&](const char* path) {
    for (size_t i = 0; i < cases.size(); ++i) {
      const NormCase& c = cases[i];
      SCOPED_TRACE(std::string(path) + ": " + c.torch);
      const auto& in = inputs[i];
      Tensor x = in[0].clone().requires_grad_();
      Tensor w = in[1].clone().requires_grad_(), b = in[2].clone().requires_grad_();
      Tensor rm = in[3].clone(), rv = in[4].clone();
      Tensor y = c.ours(x, w, b, rm, rv);
      std::vector<Tensor> wrt = {x};
      if (c.affine) wrt.insert(wrt.end(), {w, b});
      std::vector<Tensor> grads = grad({y}, wrt, {in[5]});
      const auto& ref = torch.results(handles[i]);
      ASSERT_EQ(ref.size(), wrt.size() + 3) << torch.error(handles[i]);
      EXPECT_TRUE(matches(y, ref[0], 1e-4, 1e-4));
      for (size_t j = 0; j < grads.size(); ++j)
        EXPECT_TRUE(matches(grads[j], ref[j + 1], 1e-4, 1e-4)) << "gradient " << j;
      EXPECT_TRUE(matches(rm, ref[wrt.size() + 1], 1e-5, 1e-5)) << "running_mean";
      EXPECT_TRUE(matches(rv, ref[wrt.size() + 2], 1e-5, 1e-5)) << "running_var";
    }
  };
  if (detail::onednn_available()) {
    detail::OnednnGuard on(true);
    check("oneDNN");
  }
  detail::OnednnGuard off(false);
  check("reference");
}

TEST(NormGradcheck, Float64OnSmallShapes) {
  Generator gen(19);
  auto r = [&](const Shape& s) { return randn(s, gen, DType::Float64); };
  using V = const std::vector<Tensor>&;
  Tensor rm = r({3}), rv = rand({3}, gen, DType::Float64) + 0.5;
  EXPECT_TRUE(gradcheck([](V t) { return F::batch_norm(t[0], {}, {}, t[1], t[2], true); },
                        {r({3, 3, 2, 2}), r({3}), r({3})}));
  EXPECT_TRUE(gradcheck([](V t) { return F::batch_norm(t[0], {}, {}, {}, t[1], true); },
                        {r({4, 3}), r({3})}));
  EXPECT_TRUE(gradcheck([&](V t) { return F::batch_norm(t[0], rm, rv, t[1], t[2], false); },
                        {r({2, 3, 4}), r({3}), r({3})}));
  EXPECT_TRUE(gradcheck(
      [](V t) {
        return F::layer_norm(t[0], {2, 3}, t[1], t[2]);
      },
      {r({3, 2, 3}), r({2, 3}), r({2, 3})}));
  EXPECT_TRUE(gradcheck([](V t) { return F::group_norm(t[0], 2, t[1], t[2]); },
                        {r({2, 4, 3}), r({4}), r({4})}));
  EXPECT_TRUE(gradcheck([](V t) { return F::instance_norm(t[0], {}, {}, t[1], t[2]); },
                        {r({2, 3, 5}), r({3}), r({3})}));
}

TEST(NormErrors, ClearMessages) {
  Tensor x = zeros({4, 3, 5}), c3 = ones({3});
  expect_error([&] { F::batch_norm(zeros({4}), c3, c3, {}, {}, true); },
               {"batch_norm", "2-D to 5-D", "[4]"});
  expect_error([&] { F::batch_norm(x, zeros({4}), c3); }, {"batch_norm", "running_mean", "[3]"});
  expect_error([&] { F::batch_norm(x, {}, {}); }, {"batch_norm", "required when not training"});
  expect_error(
      [&] {
        F::batch_norm(zeros({1, 3}), c3, c3, {}, {}, true);
      },
      {"batch_norm", "more than 1 value per channel"});
  expect_error([&] { F::layer_norm(x, {4}); }, {"layer_norm", "[4, 3, 5]", "normalized_shape"});
  expect_error([&] { F::layer_norm(x, {5}, ones({4})); }, {"layer_norm", "weight", "[5]"});
  expect_error([&] { F::group_norm(x, 2); }, {"group_norm", "channels (3)", "num_groups (2)"});
  expect_error(
      [&] {
        F::instance_norm(zeros({4, 3, 1}));
      },
      {"instance_norm", "more than 1 spatial element"});
  expect_error([&] { F::instance_norm(x, {}, {}, {}, {}, false); },
               {"instance_norm", "use_input_stats"});
}
