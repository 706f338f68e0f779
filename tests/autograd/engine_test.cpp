// The autograd engine itself: accumulation, retain_graph, hooks, grad(), higher order,
// user-defined functions, anomaly mode, saved-tensor checks and freeing. Values come from
// PyTorch run on the same inputs.
#include <gtest/gtest.h>

#include <cmath>

#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

using testing::expect_error;
using testing::matches;
using testing::TorchOracle;

// y = x^3 with a hand-written backward.
struct Cube : autograd::Function {
  const char* name() const override { return "Cube"; }
  std::vector<Tensor> forward(const std::vector<Tensor>& x) override {
    save_for_backward({x[0]});
    return {x[0] * x[0] * x[0]};
  }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor x = saved()[0];
    return {g[0] * 3 * x * x};
  }
};

// Two outputs (x + y, x * y) and a non-tensor setting kept between forward and backward.
struct SumProd : autograd::Function {
  explicit SumProd(double scale) : scale_(scale) {}
  std::vector<Tensor> forward(const std::vector<Tensor>& in) override {
    save_for_backward({in[0], in[1]});
    return {(in[0] + in[1]) * scale_, in[0] * in[1]};
  }
  std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
    Tensor x = saved()[0], y = saved()[1];
    return {g[0] * scale_ + g[1] * y, g[0] * scale_ + g[1] * x};
  }
  double scale_;
};

TEST(AutogradEngine, CustomFunctionMatchesTorch) {
  Generator gen(1);
  Tensor x = randn({3, 4}, gen);
  Tensor y = randn({3, 4}, gen);
  Tensor g = randn({3, 4}, gen);
  TorchOracle torch;
  int h = torch.add_script(R"(
x = torch.tensor(a, requires_grad=True)
y = torch.tensor(b, requires_grad=True)
s = (x + y) * 0.5
p = x * y
c = x ** 3
(c * torch.tensor(d)).sum().backward(retain_graph=True)
gx_cube = x.grad.clone()
x.grad = None
torch.autograd.backward([s, p], [torch.tensor(d), torch.ones(3, 4)])
out = (c, gx_cube, s, p, x.grad, y.grad))",
                           {x, y, zeros({1}), g});
  torch.run();
  const auto& r = torch.results(h);

  Tensor xl = x.clone().requires_grad_();
  Tensor yl = y.clone().requires_grad_();
  Tensor c = autograd::apply<Cube>({xl})[0];
  EXPECT_STREQ(c.grad_fn_name(), "Cube");
  c.backward(g);
  EXPECT_TRUE(matches(c, r[0], 1e-6, 1e-6));
  EXPECT_TRUE(matches(xl.grad(), r[1], 1e-5, 1e-5));

  xl.set_grad(Tensor());
  auto sp = autograd::apply<SumProd>({xl, yl}, 0.5);
  autograd::backward({sp[0], sp[1]}, {g, ones({3, 4})});
  EXPECT_TRUE(matches(sp[0], r[2]));
  EXPECT_TRUE(matches(sp[1], r[3]));
  EXPECT_TRUE(matches(xl.grad(), r[4], 1e-5, 1e-5));
  EXPECT_TRUE(matches(yl.grad(), r[5], 1e-5, 1e-5));
}

TEST(AutogradEngine, CustomFunctionGradcheck) {
  Generator gen(2);
  Tensor x = randn({2, 3}, gen, DType::Float64);
  EXPECT_TRUE(testing::gradcheck(
      [](const std::vector<Tensor>& v) { return autograd::apply<Cube>({v[0]})[0]; }, {x}));
  EXPECT_TRUE(testing::gradgradcheck(
      [](const std::vector<Tensor>& v) { return autograd::apply<Cube>({v[0]})[0]; }, {x}));
}

TEST(AutogradEngine, AccumulatesAndRetainsGraph) {
  Tensor x = tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor y = autograd::apply<Cube>({x})[0].sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  Tensor first = x.grad().clone();
  y.backward();  // the graph was kept: gradients add up
  EXPECT_TRUE(matches(x.grad(), first * 2));
  expect_error([&] { y.backward(); }, {"second time", "retain_graph"});
}

TEST(AutogradEngine, DiamondGraphSumsBothPaths) {
  // y = cube(x) * x: dy/dx = 4 x^3 (two paths into x)
  Tensor x = tensor({0.5, -1.5, 2.0}).requires_grad_();
  Tensor y = (autograd::apply<Cube>({x})[0] * x).sum();
  y.backward();
  Tensor xd = x.detach();
  EXPECT_TRUE(matches(x.grad(), xd * xd * xd * 4, 1e-6, 1e-6));
}

TEST(AutogradEngine, NoGradAndDetach) {
  Tensor x = randn({3}).requires_grad_();
  {
    NoGradGuard ng;
    EXPECT_FALSE(is_grad_enabled());
    Tensor y = x * 2;
    EXPECT_FALSE(y.requires_grad());
    {
      EnableGradGuard eg;
      EXPECT_TRUE((x * 2).requires_grad());
    }
  }
  EXPECT_TRUE(is_grad_enabled());
  Tensor y = x * 2;
  EXPECT_TRUE(y.requires_grad());
  EXPECT_FALSE(y.is_leaf());
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage(y));
  expect_error([&] { d.sum().backward(); }, {"does not require grad"});
  expect_error([] { arange(3).requires_grad_(); }, {"floating point", "int64"});
}

TEST(AutogradEngine, HooksAndRetainGrad) {
  Tensor x = tensor({1.0, 2.0}).requires_grad_();
  Tensor mid = autograd::apply<Cube>({x})[0];
  mid.retain_grad();
  std::vector<double> seen;
  int id = mid.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    return g * 10;  // replaces the gradient flowing on
  });
  x.register_hook([](const Tensor& g) { return g + 1; });
  mid.sum().backward(Tensor(), true);
  EXPECT_EQ(seen, (std::vector<double>{1, 1}));
  // d mid/dx = 3x^2 = [3, 12]; times 10 from the hook, plus 1 from the leaf hook
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{31, 121}));
  EXPECT_EQ(mid.grad().to_vector<double>(), (std::vector<double>{10, 10}));
  mid.remove_hook(id);
  x.set_grad(Tensor());
  mid.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 13}));
}

TEST(AutogradEngine, GradFunctionAndHigherOrder) {
  Tensor x = tensor({1.0, -2.0, 0.5}).requires_grad_();
  Tensor y = autograd::apply<Cube>({x})[0].sum();
  Tensor g1 = grad({y}, {x}, {}, /*create_graph=*/true)[0];  // 3x^2
  EXPECT_FALSE(x.grad().defined());                          // grad() leaves .grad alone
  EXPECT_TRUE(g1.requires_grad());
  Tensor g2 = grad({g1.sum()}, {x}, {}, true)[0];  // 6x
  Tensor g3 = grad({g2.sum()}, {x})[0];            // 6
  Tensor xd = x.detach();
  EXPECT_TRUE(matches(g1, xd * xd * 3));
  EXPECT_TRUE(matches(g2, xd * 6));
  EXPECT_TRUE(matches(g3, full({3}, 6.0f)));
  Tensor unused = randn({2}).requires_grad_();
  Tensor y2 = autograd::apply<Cube>({x})[0].sum();
  expect_error([&] { grad({y2}, {unused}, {}, false, true); }, {"not used", "allow_unused"});
  EXPECT_FALSE(grad({y2}, {unused}, {}, false, std::nullopt, true)[0].defined());
}

TEST(AutogradEngine, InPlaceOnSavedTensorIsDetected) {
  Tensor x = randn({4}).requires_grad_();
  Tensor a = x * 1;                          // a non-leaf
  Tensor y = autograd::apply<Cube>({a})[0];  // saves a
  {
    NoGradGuard ng;
    a.add_(1);  // bumps the version of a's storage
  }
  expect_error([&] { y.sum().backward(); }, {"Cube", "modified by an inplace operation"});
  expect_error([&] { x.add_(1); }, {"leaf", "in-place"});
}

TEST(AutogradEngine, InPlaceThroughAViewIsRefused) {
  // The gradient would not reach the viewed tensor (no CopySlices yet): an error, not a wrong
  // gradient.
  Tensor x = randn({4}).requires_grad_();
  Tensor base = x * 1;
  expect_error([&] { base.slice(0, 0, 2).mul_(2); }, {"mul_", "view", "not supported yet"});
  Tensor out = zeros({4});
  expect_error([&] { out.slice(0, 0, 2).copy_(x.slice(0, 0, 2)); }, {"copy_", "view"});
  // Out of place, or on the tensor itself, works.
  Tensor y = base.clone();
  y.index_put_({Slice(0, 2)}, x.slice(0, 0, 2) * 3);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{3, 3, 1, 1}));
  {
    NoGradGuard ng;  // not recorded: allowed
    base.slice(0, 0, 2).mul_(2);
  }
}

TEST(AutogradEngine, AnomalyModeNamesTheOp) {
  struct MakesNaN : autograd::Function {
    const char* name() const override { return "MakesNaN"; }
    std::vector<Tensor> forward(const std::vector<Tensor>& x) override {
      return {x[0] * std::nan("")};
    }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override { return {g[0]}; }
  };
  struct NaNGrad : autograd::Function {
    const char* name() const override { return "NaNGrad"; }
    std::vector<Tensor> forward(const std::vector<Tensor>& x) override { return {x[0] * 2}; }
    std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
      return {g[0] * std::nan("")};
    }
  };
  Tensor x = randn({3}).requires_grad_();
  {
    AnomalyModeGuard anomaly;
    expect_error([&] { autograd::apply<MakesNaN>({x}); }, {"anomaly", "MakesNaN", "forward"});
    Tensor y = autograd::apply<NaNGrad>({x})[0].sum();
    expect_error([&] { y.backward(); }, {"anomaly", "NaNGrad", "backward"});
  }
  Tensor z = autograd::apply<MakesNaN>({x})[0];  // off again: no error
  EXPECT_TRUE(std::isnan(z.sum().item<double>()));
}

TEST(AutogradEngine, SavedTensorsAreFreedAfterBackward) {
  Tensor x = randn({64}).requires_grad_();
  std::weak_ptr<Storage> saved;
  Tensor y;
  {
    Tensor a = x * 2;  // an intermediate: only the graph keeps it after this scope
    saved = a.storage();
    y = autograd::apply<Cube>({a})[0].sum();
  }
  EXPECT_FALSE(saved.expired());
  y.backward();
  EXPECT_TRUE(saved.expired());
}

TEST(AutogradEngine, BackwardArgumentErrors) {
  Tensor x = randn({2, 3}).requires_grad_();
  Tensor y = autograd::apply<Cube>({x})[0];
  expect_error([&] { y.backward(); }, {"one element", "[2, 3]"});
  expect_error([&] { y.backward(ones({3})); }, {"[3]", "[2, 3]"});
}

TEST(AutogradEngine, SetDataKeepsIdentity) {
  Tensor p = randn({2, 2}).requires_grad_();
  Tensor alias = p;  // another handle, as a module and its optimizer hold
  p.set_data(zeros({3}, DType::Float64));
  EXPECT_EQ(alias.shape(), (Shape{3}));
  EXPECT_EQ(alias.dtype(), DType::Float64);
  EXPECT_TRUE(alias.requires_grad());
}

}  // namespace
}  // namespace ravel
