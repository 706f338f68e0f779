// Activation functions against PyTorch (values and input gradients, float32, including the
// kinks), finite differences (float64 gradcheck), second derivatives (gradgradcheck), and errors.
#include "ravel/nn/functional/activation.h"

#include <gtest/gtest.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

namespace F = nn::functional;
using testing::expect_error;
using testing::gradcheck;
using testing::gradgradcheck;
using testing::matches;
using testing::TorchOracle;

using Fn = std::function<Tensor(const Tensor&)>;

struct Case {
  std::string name;
  Fn fn;
  std::string torch;  // expression of x
};

// Every elementwise activation, with non-default settings where it has them.
std::vector<Case> elementwise_cases() {
  return {
      {"relu", [](const Tensor& x) { return F::relu(x); }, "F.relu(x)"},
      {"relu6", [](const Tensor& x) { return F::relu6(x); }, "F.relu6(x)"},
      {"leaky_relu", [](const Tensor& x) { return F::leaky_relu(x); }, "F.leaky_relu(x)"},
      {"leaky_relu(0.2)", [](const Tensor& x) { return F::leaky_relu(x, 0.2); },
       "F.leaky_relu(x, 0.2)"},
      {"elu", [](const Tensor& x) { return F::elu(x); }, "F.elu(x)"},
      {"elu(0.7)", [](const Tensor& x) { return F::elu(x, 0.7); }, "F.elu(x, 0.7)"},
      {"selu", [](const Tensor& x) { return F::selu(x); }, "F.selu(x)"},
      {"celu(1.3)", [](const Tensor& x) { return F::celu(x, 1.3); }, "F.celu(x, 1.3)"},
      {"gelu", [](const Tensor& x) { return F::gelu(x); }, "F.gelu(x)"},
      {"gelu(tanh)", [](const Tensor& x) { return F::gelu(x, "tanh"); },
       "F.gelu(x, approximate='tanh')"},
      {"silu", [](const Tensor& x) { return F::silu(x); }, "F.silu(x)"},
      {"mish", [](const Tensor& x) { return F::mish(x); }, "F.mish(x)"},
      {"hardswish", [](const Tensor& x) { return F::hardswish(x); }, "F.hardswish(x)"},
      {"hardsigmoid", [](const Tensor& x) { return F::hardsigmoid(x); }, "F.hardsigmoid(x)"},
      {"hardtanh", [](const Tensor& x) { return F::hardtanh(x, -0.5, 2.0); },
       "F.hardtanh(x, -0.5, 2.0)"},
      {"sigmoid", [](const Tensor& x) { return F::sigmoid(x); }, "torch.sigmoid(x)"},
      {"tanh", [](const Tensor& x) { return F::tanh(x); }, "torch.tanh(x)"},
      {"logsigmoid", [](const Tensor& x) { return F::logsigmoid(x); }, "F.logsigmoid(x)"},
      {"softplus", [](const Tensor& x) { return F::softplus(x); }, "F.softplus(x)"},
      {"softplus(2,3)", [](const Tensor& x) { return F::softplus(x, 2.0, 3.0); },
       "F.softplus(x, 2.0, 3.0)"},
      {"softplus(0.5,1)", [](const Tensor& x) { return F::softplus(x, 0.5, 1.0); },
       "F.softplus(x, 0.5, 1.0)"},
  };
}

std::vector<Case> softmax_cases() {
  std::vector<Case> cs;
  for (int64_t d : {0, 1, 2, -1}) {
    std::string ds = std::to_string(d);
    cs.push_back({"softmax dim " + ds, [d](const Tensor& x) { return F::softmax(x, d); },
                  "F.softmax(x, " + ds + ")"});
    cs.push_back({"log_softmax dim " + ds, [d](const Tensor& x) { return F::log_softmax(x, d); },
                  "F.log_softmax(x, " + ds + ")"});
  }
  return cs;
}

// (f(x) * w).sum() backward, in ravel and in torch (one oracle run): values and d/dx.
void check_against_torch(const std::vector<std::pair<Case, Tensor>>& runs, Generator& gen,
                         double rtol, double atol) {
  TorchOracle torch;
  struct Ran {
    std::string what;
    Tensor y, gx;
    int h;
  };
  std::vector<Ran> ran;
  for (const auto& [c, x0] : runs) {
    Tensor x = x0.detach().requires_grad_();
    Tensor y = c.fn(x);
    Tensor w = randn(y.shape(), gen);
    (y * w).sum().backward();
    int h = torch.add_script(
        "x = torch.tensor(a, requires_grad=True)\n"
        "y = " +
            c.torch +
            "\n"
            "(y * torch.tensor(b)).sum().backward()\n"
            "out = (y, x.grad)",
        {x0.contiguous(), w});
    std::ostringstream what;
    what << c.name << " on " << x0.shape() << (x0.is_contiguous() ? "" : " (non-contiguous)");
    ran.push_back({what.str(), y.detach(), x.grad(), h});
  }
  torch.run();
  for (const Ran& r : ran) {
    EXPECT_TRUE(matches(r.y, torch.results(r.h)[0], rtol, atol)) << r.what << " value";
    EXPECT_TRUE(matches(r.gx, torch.results(r.h)[1], rtol, atol)) << r.what << " grad";
  }
}

// Random values plus the kinks and the regions where the formulas switch.
Tensor activation_inputs(Generator& gen) {
  Tensor r = randn({40}, gen) * 3.0;
  Tensor special =
      tensor({0.0,   -3.0, 3.0,  6.0,   -1.0, 1.0,   -0.5, 2.0,   20.0, -20.0, 25.0, 1.5,
              -1e-3, 1e-3, 10.0, -10.0, 40.0, -40.0, 90.0, -90.0, 0.25, 4.0,   -6.0, 7.0},
             DType::Float32);
  return concatenate({r, special}).reshape({4, 16});
}

TEST(Activation, MatchesTorch) {
  Generator gen(11);
  std::vector<std::pair<Case, Tensor>> runs;
  // Elementwise: the kinks, and a transposed (non-contiguous) view.
  Tensor x = activation_inputs(gen);
  Tensor xt = randn({6, 5}, gen).transpose() * 2.0;
  for (const Case& c : elementwise_cases())
    for (const Tensor& in : {x, xt}) runs.push_back({c, in});
  // softmax / log_softmax over every dim; a non-contiguous input; columns long enough for the
  // blocked column kernel to use several blocks (inner 300 > 256).
  Tensor s = randn({3, 4, 5}, gen) * 3.0;
  Tensor st = randn({5, 4, 3}, gen).permute({2, 1, 0});
  Tensor wide = randn({2, 3, 300}, gen);
  for (const Case& c : softmax_cases())
    for (const Tensor& in : {s, st, wide}) runs.push_back({c, in});
  // Long rows (several lane blocks and a tail) with large magnitudes.
  Tensor rows = randn({3, 1000}, gen) * 30.0;
  for (const Case& c : softmax_cases())
    if (c.name.find("dim -1") != std::string::npos) runs.push_back({c, rows});
  check_against_torch(runs, gen, 1e-5, 1e-5);
}

TEST(Activation, PreluMatchesTorch) {
  Generator gen(13);
  Tensor x = randn({2, 3, 4}, gen);
  TorchOracle torch;
  std::vector<std::pair<Tensor, int>> cases;
  for (Tensor w0 : {tensor({0.3}, DType::Float32), tensor({0.1, -0.2, 0.5}, DType::Float32)}) {
    Tensor xi = x.detach().requires_grad_();
    Tensor w = w0.detach().requires_grad_();
    Tensor y = F::prelu(xi, w);
    Tensor g = randn(y.shape(), gen);
    (y * g).sum().backward();
    int h = torch.add_script(R"(
x = torch.tensor(a, requires_grad=True)
w = torch.tensor(b, requires_grad=True)
y = F.prelu(x, w)
(y * torch.tensor(c)).sum().backward()
out = (y, x.grad, w.grad))",
                             {x, w0, g});
    cases.push_back({y.detach(), h});
    cases.push_back({xi.grad(), h});
    cases.push_back({w.grad(), h});
  }
  torch.run();
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_TRUE(matches(cases[i].first, torch.results(cases[i].second)[i % 3], 1e-5, 1e-6))
        << "prelu case " << i / 3 << " result " << i % 3;
}

// Values away from every kink (0, +-3, 6, +-1, -0.5, 2 and the softplus thresholds), so that
// finite differences are valid.
Tensor smooth_inputs() {
  return (linspace(-4.9, 6.9, 24, true, DType::Float64) + 0.0123).reshape({4, 6});
}

TEST(Activation, Gradcheck) {
  Tensor x = smooth_inputs();
  for (const Case& c : elementwise_cases()) {
    EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, {x}))
        << c.name;
  }
  EXPECT_TRUE(gradcheck([](const std::vector<Tensor>& in) { return F::prelu(in[0], in[1]); },
                        {x.reshape({2, 3, 4}), tensor({0.1, -0.2, 0.5}, DType::Float64)}));
}

TEST(Activation, SoftmaxGradcheck) {
  Generator gen(14);
  Tensor x = randn({3, 4, 5}, gen, DType::Float64);
  Tensor xt = randn({5, 4, 3}, gen, DType::Float64).permute({2, 1, 0});
  for (const Case& c : softmax_cases()) {
    for (const Tensor& in : {x, xt})
      EXPECT_TRUE(gradcheck([&](const std::vector<Tensor>& v) { return c.fn(v[0]); }, {in}))
          << c.name;
  }
}

TEST(Activation, Gradgradcheck) {
  Generator gen(15);
  Tensor x = smooth_inputs();
  std::vector<Case> cs = elementwise_cases();
  for (const Case& c : cs) {
    EXPECT_TRUE(gradgradcheck([&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, {x}))
        << c.name;
  }
  Tensor s = randn({3, 4, 5}, gen, DType::Float64);
  for (const Case& c : softmax_cases())
    EXPECT_TRUE(gradgradcheck([&](const std::vector<Tensor>& v) { return c.fn(v[0]); }, {s}))
        << c.name;
}

TEST(Activation, DtypesAndShapes) {
  // relu keeps integer dtypes; the smooth functions compute integers in float32.
  Tensor i = tensor({-2, 0, 3});
  EXPECT_EQ(F::relu(i).dtype(), DType::Int64);
  EXPECT_TRUE(matches(F::relu(i), tensor({0, 0, 3})));
  EXPECT_EQ(F::gelu(i).dtype(), DType::Float32);
  // float16 softmax computes in float32 and rounds once.
  Generator gen(16);
  Tensor x = randn({3, 7}, gen);
  Tensor h = F::softmax(x.to(DType::Float16), 1);
  EXPECT_EQ(h.dtype(), DType::Float16);
  EXPECT_TRUE(
      matches(h, F::softmax(x.to(DType::Float16).to(DType::Float32), 1), 1e-3, 1e-3, false));
  // 0-d and empty inputs.
  EXPECT_TRUE(matches(F::softmax(scalar_tensor(2.5), 0), scalar_tensor(1.0f)));
  EXPECT_EQ(F::log_softmax(zeros({0, 3}), 1).shape(), (Shape{0, 3}));
  EXPECT_EQ(F::softmax(zeros({2, 0}), 1).shape(), (Shape{2, 0}));
}

TEST(Activation, NoGraphWithoutGrad) {
  Tensor x = randn({3, 4});
  EXPECT_EQ(F::gelu(x).grad_fn_name(), nullptr);
  EXPECT_EQ(F::softmax(x, 1).grad_fn_name(), nullptr);
  Tensor xr = x.detach().requires_grad_();
  EXPECT_STREQ(F::softmax(xr, 1).grad_fn_name(), "softmax");
  EXPECT_STREQ(F::relu(xr).grad_fn_name(), "relu");
}

TEST(Activation, Errors) {
  Tensor x = randn({2, 3});
  expect_error([&] { F::softmax(x, 2); }, {"softmax", "2"});
  expect_error([&] { F::log_softmax(x, -3); }, {"log_softmax"});
  expect_error([&] { F::gelu(x, "fast"); }, {"gelu", "fast"});
  expect_error([&] { F::prelu(x, ones({2})); }, {"prelu", "[2, 3]", "3"});
  expect_error([&] { F::prelu(x, ones({3, 1})); }, {"prelu", "[3, 1]"});
  expect_error([&] { F::hardtanh(x, 1.0, -1.0); }, {"hardtanh", "min_val"});
  expect_error([&] { F::softmax(tensor({true, false}), 0); }, {"softmax", "bool"});
}

}  // namespace
}  // namespace ravel
