// Gradients of the elementwise ops (src/ops/elementwise*.cpp): finite differences (gradcheck and
// gradgradcheck in float64, broadcast and non-contiguous inputs) and PyTorch on the same float32
// inputs (outputs and input gradients of sum(op(x...) * w)), plus the in-place ops under
// autograd.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

using testing::expect_error;
using testing::gradcheck;
using testing::gradgradcheck;
using testing::matches;
using testing::TorchOracle;

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// One input of a case: values uniform in [lo, hi] (or a random bool mask), shape by position.
struct In {
  double lo = -2, hi = 2;
  bool is_bool = false;
};

struct OpCase {
  std::string name;
  Fn fn;
  std::string torch;  // a PyTorch expression of x0, x1, ... (x0 = torch.tensor(a), ...)
  std::vector<In> inputs;
};

In U(double lo, double hi) { return In{lo, hi, false}; }
const In kMask{0, 1, true};

// Shapes by arity: broadcasting for two and three inputs ([3,1,4] with [5,4] with [4]).
Shape shape_for(size_t n_inputs, size_t i) {
  if (n_inputs == 1) return {3, 4};
  static const Shape kShapes[] = {{3, 1, 4}, {5, 4}, {4}};
  return kShapes[i];
}

Tensor fill(const In& in, const Shape& shape, Generator& gen, DType dt) {
  Tensor u = rand(shape, gen, DType::Float64);
  if (in.is_bool) return u > 0.5;
  return (u * (in.hi - in.lo) + in.lo).to(dt);
}

// The same values laid out non-contiguously: input 0 a transposed view, the others strided
// slices of a wider tensor.
Tensor fill_strided(const In& in, const Shape& shape, size_t i, Generator& gen, DType dt) {
  if (i == 0 && shape.size() >= 2) {
    Shape rev;
    for (size_t d = shape.size(); d-- > 0;) rev.push_back(shape[d]);
    return fill(in, rev, gen, dt).transpose();
  }
  Shape wide = shape;
  wide.back() *= 2;
  return fill(in, wide, gen, dt).slice(static_cast<int64_t>(shape.size()) - 1, 0, std::nullopt, 2);
}

std::vector<Tensor> make_inputs(const OpCase& c, Generator& gen, DType dt, bool strided) {
  std::vector<Tensor> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Shape s = shape_for(c.inputs.size(), i);
    xs.push_back(strided ? fill_strided(c.inputs[i], s, i, gen, dt)
                         : fill(c.inputs[i], s, gen, dt));
  }
  return xs;
}

// Inputs that take part in gradcheck (float); bool masks are bound into the function.
struct Bound {
  Fn fn;
  std::vector<Tensor> diff;
};
Bound bind_masks(const OpCase& c, const std::vector<Tensor>& xs) {
  std::vector<Tensor> fixed = xs;
  std::vector<int> slot;
  std::vector<Tensor> diff;
  for (size_t i = 0; i < xs.size(); ++i)
    if (!c.inputs[i].is_bool) {
      slot.push_back(static_cast<int>(i));
      diff.push_back(xs[i]);
    }
  Fn f = c.fn;
  return {[f, fixed, slot](const std::vector<Tensor>& d) {
            std::vector<Tensor> all = fixed;
            for (size_t k = 0; k < slot.size(); ++k) all[slot[k]] = d[k];
            return f(all);
          },
          diff};
}

#define UNARY(name, torch, lo, hi)                                                        \
  OpCase {                                                                                \
#name, [](const std::vector <Tensor>& x) { return name(x[0]); }, torch, { U(lo, hi) } \
  }
#define BINARY(name, torch, in0, in1)                                                          \
  OpCase {                                                                                     \
#name, [](const std::vector <Tensor>& x) { return name(x[0], x[1]); }, torch, { in0, in1 } \
  }
#define EXPR1(label, expr, torch, lo, hi)  \
  OpCase {                                 \
    label,                                 \
        [](const std::vector<Tensor>& v) { \
          const Tensor& x = v[0];          \
          return expr;                     \
        },                                 \
        torch, {                           \
      U(lo, hi)                            \
    }                                      \
  }

std::vector<OpCase> all_cases() {
  return {
      UNARY(neg, "torch.neg(x0)", -2, 2),
      UNARY(positive, "torch.positive(x0)", -2, 2),
      UNARY(abs, "torch.abs(x0)", -2, 2),
      UNARY(sign, "torch.sign(x0)", -2, 2),
      UNARY(reciprocal, "torch.reciprocal(x0)", 0.5, 2),
      UNARY(square, "torch.square(x0)", -2, 2),
      UNARY(sqrt, "torch.sqrt(x0)", 0.5, 2),
      UNARY(rsqrt, "torch.rsqrt(x0)", 0.5, 2),
      UNARY(cbrt, "x0.pow(1.0 / 3)", 0.3, 2),
      UNARY(exp, "torch.exp(x0)", -2, 2),
      UNARY(exp2, "torch.exp2(x0)", -2, 2),
      UNARY(expm1, "torch.expm1(x0)", -2, 2),
      UNARY(log, "torch.log(x0)", 0.5, 3),
      UNARY(log2, "torch.log2(x0)", 0.5, 3),
      UNARY(log10, "torch.log10(x0)", 0.5, 3),
      UNARY(log1p, "torch.log1p(x0)", -0.5, 2),
      UNARY(sin, "torch.sin(x0)", -2, 2),
      UNARY(cos, "torch.cos(x0)", -2, 2),
      UNARY(tan, "torch.tan(x0)", -1.2, 1.2),
      UNARY(asin, "torch.asin(x0)", -0.9, 0.9),
      UNARY(acos, "torch.acos(x0)", -0.9, 0.9),
      UNARY(atan, "torch.atan(x0)", -2, 2),
      UNARY(sinh, "torch.sinh(x0)", -2, 2),
      UNARY(cosh, "torch.cosh(x0)", -2, 2),
      UNARY(tanh, "torch.tanh(x0)", -2, 2),
      UNARY(asinh, "torch.asinh(x0)", -2, 2),
      UNARY(acosh, "torch.acosh(x0)", 1.2, 3),
      UNARY(atanh, "torch.atanh(x0)", -0.9, 0.9),
      UNARY(erf, "torch.erf(x0)", -2, 2),
      UNARY(erfc, "torch.erfc(x0)", -2, 2),
      UNARY(sigmoid, "torch.sigmoid(x0)", -3, 3),
      UNARY(deg2rad, "torch.deg2rad(x0)", -2, 2),
      UNARY(rad2deg, "torch.rad2deg(x0)", -2, 2),
      UNARY(floor, "torch.floor(x0)", -3, 3),
      UNARY(ceil, "torch.ceil(x0)", -3, 3),
      UNARY(trunc, "torch.trunc(x0)", -3, 3),
      EXPR1("round", round(x), "torch.round(x0)", -3, 3),
      EXPR1("round_decimals", round(x, 1), "torch.round(x0, decimals=1)", -3, 3),
      EXPR1("nan_to_num", nan_to_num(x), "torch.nan_to_num(x0)", -2, 2),
      EXPR1("clip_scalar", clip(x, -0.5, 0.8), "torch.clamp(x0, -0.5, 0.8)", -1, 1),
      EXPR1("clip_lo", clip(x, -0.5, std::nullopt), "torch.clamp(x0, min=-0.5)", -1, 1),
      EXPR1("clip_hi", clip(x, std::nullopt, 0.5), "torch.clamp(x0, max=0.5)", -1, 1),
      EXPR1("add_scalar", x + 2.5, "x0 + 2.5", -2, 2),
      EXPR1("sub_scalar", x - 1.5, "x0 - 1.5", -2, 2),
      EXPR1("mul_scalar", x * -1.5, "x0 * -1.5", -2, 2),
      EXPR1("div_scalar", x / 4, "x0 / 4", -2, 2),
      EXPR1("scalar_add", 2.5 + x, "2.5 + x0", -2, 2),
      EXPR1("scalar_sub", 1.5 - x, "1.5 - x0", -2, 2),
      EXPR1("scalar_mul", 3 * x, "3 * x0", -2, 2),
      EXPR1("scalar_div", 2 / x, "2 / x0", 0.5, 2),
      EXPR1("mod_scalar", x % 1.5, "torch.remainder(x0, 1.5)", -3, 3),
      EXPR1("maximum_scalar", maximum(x, 0.3), "torch.maximum(x0, torch.tensor(0.3))", -2, 2),
      EXPR1("minimum_scalar", minimum(x, 0.3), "torch.minimum(x0, torch.tensor(0.3))", -2, 2),
      EXPR1("pow_scalar", pow(x, 2.5), "torch.pow(x0, 2.5)", 0.5, 2),
      EXPR1("pow_int", pow(x, 3), "torch.pow(x0, 3)", -2, 2),
      EXPR1("pow_negative", pow(x, -1.5), "torch.pow(x0, -1.5)", 0.5, 2),
      EXPR1("pow_zero", pow(x, 0), "torch.pow(x0, 0)", -2, 2),
      EXPR1("lerp_scalar_weight", lerp(x, x * x, 0.3), "torch.lerp(x0, x0 * x0, 0.3)", -2, 2),
      BINARY(add, "x0 + x1", U(-2, 2), U(-2, 2)),
      BINARY(sub, "x0 - x1", U(-2, 2), U(-2, 2)),
      BINARY(mul, "x0 * x1", U(-2, 2), U(-2, 2)),
      BINARY(div, "x0 / x1", U(-2, 2), U(0.5, 2)),
      BINARY(pow, "torch.pow(x0, x1)", U(0.5, 2), U(-2, 2)),
      BINARY(maximum, "torch.maximum(x0, x1)", U(-2, 2), U(-2, 2)),
      BINARY(minimum, "torch.minimum(x0, x1)", U(-2, 2), U(-2, 2)),
      BINARY(fmax, "torch.fmax(x0, x1)", U(-2, 2), U(-2, 2)),
      BINARY(fmin, "torch.fmin(x0, x1)", U(-2, 2), U(-2, 2)),
      BINARY(atan2, "torch.atan2(x0, x1)", U(-2, 2), U(0.3, 2)),
      BINARY(hypot, "torch.hypot(x0, x1)", U(0.3, 2), U(-2, -0.3)),
      BINARY(copysign, "torch.copysign(x0, x1)", U(-2, 2), U(-2, 2)),
      BINARY(logaddexp, "torch.logaddexp(x0, x1)", U(-2, 2), U(-2, 2)),
      BINARY(mod, "torch.remainder(x0, x1)", U(-3, 3), U(0.5, 2)),
      BINARY(fmod, "torch.fmod(x0, x1)", U(-3, 3), U(0.5, 2)),
      OpCase{"where",
             [](const std::vector<Tensor>& x) { return where(x[0], x[1], x[2]); },
             "torch.where(x0, x1, x2)",
             {kMask, U(-2, 2), U(-2, 2)}},
      OpCase{"clip_tensor",
             [](const std::vector<Tensor>& x) { return clip(x[0], x[1], x[2]); },
             "torch.clamp(x0.expand(3, 5, 4), x1, x2)",
             {U(-2, 2), U(-1, -0.2), U(0.2, 1)}},
      OpCase{"lerp",
             [](const std::vector<Tensor>& x) { return lerp(x[0], x[1], x[2]); },
             "torch.lerp(x0, x1, x2)",
             {U(-2, 2), U(-2, 2), U(0, 1)}},
  };
}

// PyTorch: x0, x1, ... from the inputs (float ones require grad), w the last input; returns the
// output and the gradients of sum(y * w) (zeros where none reached an input).
std::string torch_script(const OpCase& c) {
  std::string s, names;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    std::string xi = "x" + std::to_string(i);
    s += xi + " = torch.tensor(" + std::string(1, static_cast<char>('a' + i)) + ")\n";
    if (!c.inputs[i].is_bool) {
      s += xi + ".requires_grad_()\n";
      names += xi + ", ";
    }
  }
  s += "w = torch.tensor(" + std::string(1, static_cast<char>('a' + c.inputs.size())) + ")\n";
  s += "y = " + c.torch + "\n(y * w).sum().backward()\n";
  s += "out = [y] + [t.grad if t.grad is not None else torch.zeros_like(t) for t in [" + names +
       "]]";
  return s;
}

TEST(ElementwiseGrad, GradcheckBroadcast) {
  Generator gen(11);
  for (const OpCase& c : all_cases()) {
    Bound b = bind_masks(c, make_inputs(c, gen, DType::Float64, false));
    EXPECT_TRUE(gradcheck(b.fn, b.diff)) << c.name;
  }
}

TEST(ElementwiseGrad, GradcheckNonContiguous) {
  Generator gen(12);
  for (const OpCase& c : all_cases()) {
    std::vector<Tensor> xs = make_inputs(c, gen, DType::Float64, true);
    for (size_t i = 0; i < xs.size(); ++i) {
      if (xs[i].ndim() >= 2) {
        EXPECT_FALSE(xs[i].is_contiguous()) << c.name << " input " << i;
      }
    }
    Bound b = bind_masks(c, xs);
    EXPECT_TRUE(gradcheck(b.fn, b.diff)) << c.name;
  }
}

TEST(ElementwiseGrad, GradgradcheckAll) {
  Generator gen(13);
  for (const OpCase& c : all_cases()) {
    Bound b = bind_masks(c, make_inputs(c, gen, DType::Float64, false));
    EXPECT_TRUE(gradgradcheck(b.fn, b.diff)) << c.name;
  }
}

// Kinks and ties, where the conventions matter: abs'(0) = 0, half the gradient to each side of
// a maximum/minimum tie, clip's bounds included, pow at 0, copysign at 0, NaN in maximum/fmax.
struct Kink {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  std::string torch;
};
std::vector<Kink> kink_cases() {
  return {
      {"abs", [](const Tensor& x, const Tensor&) { return abs(x); }, "torch.abs(x0)"},
      {"maximum", [](const Tensor& x, const Tensor& y) { return maximum(x, y); },
       "torch.maximum(x0, x1)"},
      {"minimum", [](const Tensor& x, const Tensor& y) { return minimum(x, y); },
       "torch.minimum(x0, x1)"},
      {"fmax", [](const Tensor& x, const Tensor& y) { return fmax(x, y); }, "torch.fmax(x0, x1)"},
      {"fmin", [](const Tensor& x, const Tensor& y) { return fmin(x, y); }, "torch.fmin(x0, x1)"},
      {"maximum_scalar", [](const Tensor& x, const Tensor&) { return maximum(x, 1); },
       "torch.maximum(x0, torch.tensor(1.0))"},
      {"clip", [](const Tensor& x, const Tensor&) { return clip(x, 0, 2); },
       "torch.clamp(x0, 0, 2)"},
      {"clip_tensor", [](const Tensor& x, const Tensor& y) { return clip(x, y, y + 1); },
       "torch.clamp(x0, x1, x1 + 1)"},
      {"clip_crossed", [](const Tensor& x, const Tensor& y) { return clip(x, y + 1, y); },
       "torch.clamp(x0, x1 + 1, x1)"},
      {"pow", [](const Tensor& x, const Tensor& y) { return pow(x, y); }, "torch.pow(x0, x1)"},
      {"pow_scalar", [](const Tensor& x, const Tensor&) { return pow(x, 2); }, "torch.pow(x0, 2)"},
      {"copysign", [](const Tensor& x, const Tensor& y) { return copysign(x, y); },
       "torch.copysign(x0, x1)"},
      {"sqrt_at_zero", [](const Tensor& x, const Tensor&) { return sqrt(x); }, "torch.sqrt(x0)"},
      {"nan_to_num", [](const Tensor& x, const Tensor& y) { return nan_to_num(x / y); },
       "torch.nan_to_num(x0 / x1)"},
  };
}

// Everything compared with PyTorch, in one oracle run (one python process).
class ElementwiseGradTorch : public ::testing::Test {
 protected:
  struct OpRun {
    std::vector<Tensor> xs;
    Tensor w;
    int handle;
  };
  static inline TorchOracle* torch_ = nullptr;
  static inline std::vector<OpRun> op_runs_;
  static inline std::vector<int> kink_handles_;
  static inline int chain_handle_ = -1;
  static inline Tensor kink_a_, kink_b_, chain_a_, chain_b_, chain_w_;

  static void SetUpTestSuite() {
    torch_ = new TorchOracle;
    Generator gen(14);
    for (const OpCase& c : all_cases()) {
      OpRun r;
      r.xs = make_inputs(c, gen, DType::Float32, false);
      Tensor y0;
      {
        NoGradGuard ng;
        y0 = c.fn(r.xs);
      }
      r.w = rand(y0.shape(), gen) + 0.5;
      std::vector<Tensor> in = r.xs;
      in.push_back(r.w);
      r.handle = torch_->add_script(torch_script(c), in);
      op_runs_.push_back(r);
    }

    const double nan = std::numeric_limits<double>::quiet_NaN();
    kink_a_ = tensor({0.0, 1.0, 2.0, -1.0, 3.0, nan, 0.5, 1.0, -2.0}, DType::Float32);
    kink_b_ = tensor({0.0, 1.0, 1.0, 2.0, 3.0, 1.0, nan, 0.0, 0.0}, DType::Float32);
    for (const Kink& k : kink_cases())
      kink_handles_.push_back(torch_->add_script(R"(
x0 = torch.tensor(a, requires_grad=True)
x1 = torch.tensor(b, requires_grad=True)
y = )" + k.torch + R"(
y.sum().backward()
z = lambda t: t.grad if t.grad is not None else torch.zeros_like(t)
out = (y, z(x0), z(x1)))",
                                                 {kink_a_, kink_b_}));

    chain_a_ = randn({3, 4}, gen);
    chain_b_ = rand({4}, gen) + 0.5;
    chain_w_ = randn({3, 4}, gen);
    chain_handle_ = torch_->add_script(R"(
x0 = torch.tensor(a, requires_grad=True)
x1 = torch.tensor(b, requires_grad=True)
x = x0 * 1
x.mul_(x1)
x.add_(x1)
x.sub_(0.5)
x.div_(x1)
x.mul_(2.0)
x.add_(3)
x.div_(4)
x.sub_(x0)
(x * torch.tensor(c)).sum().backward()
out = (x, x0.grad, x1.grad))",
                                       {chain_a_, chain_b_, chain_w_});
    torch_->run();
  }
  static void TearDownTestSuite() {
    delete torch_;
    torch_ = nullptr;
    op_runs_.clear();
    kink_handles_.clear();
  }
};

// Every op in float32: outputs and the gradients of sum(op(x...) * w) for fixed w.
TEST_F(ElementwiseGradTorch, EveryOpFloat32) {
  std::vector<OpCase> cases = all_cases();
  ASSERT_EQ(cases.size(), op_runs_.size());
  for (size_t k = 0; k < cases.size(); ++k) {
    const OpCase& c = cases[k];
    const OpRun& r = op_runs_[k];
    ASSERT_EQ(torch_->error(r.handle), "") << c.name;
    const auto& ref = torch_->results(r.handle);
    std::vector<Tensor> xs, leaves;
    for (size_t i = 0; i < r.xs.size(); ++i) {
      Tensor x = r.xs[i].clone();
      if (!c.inputs[i].is_bool) {
        x.requires_grad_();
        leaves.push_back(x);
      }
      xs.push_back(x);
    }
    Tensor y = c.fn(xs);
    EXPECT_TRUE(matches(y, ref[0], 1e-5, 1e-6)) << c.name;
    ASSERT_TRUE(y.requires_grad()) << c.name;
    (y * r.w).sum().backward();
    for (size_t i = 0; i < leaves.size(); ++i) {
      Tensor g = leaves[i].grad().defined() ? leaves[i].grad() : zeros_like(leaves[i]);
      EXPECT_TRUE(matches(g, ref[1 + i], 1e-4, 1e-5)) << c.name << " grad " << i;
    }
  }
}

TEST_F(ElementwiseGradTorch, KinksAndTies) {
  std::vector<Kink> kinks = kink_cases();
  for (size_t i = 0; i < kinks.size(); ++i) {
    ASSERT_EQ(torch_->error(kink_handles_[i]), "") << kinks[i].name;
    const auto& ref = torch_->results(kink_handles_[i]);
    Tensor x = kink_a_.clone().requires_grad_(), y = kink_b_.clone().requires_grad_();
    Tensor out = kinks[i].fn(x, y);
    out.sum().backward();
    EXPECT_TRUE(matches(out, ref[0])) << kinks[i].name;
    Tensor gx = x.grad().defined() ? x.grad() : zeros_like(x);
    Tensor gy = y.grad().defined() ? y.grad() : zeros_like(y);
    EXPECT_TRUE(matches(gx, ref[1])) << kinks[i].name << " grad 0";
    EXPECT_TRUE(matches(gy, ref[2])) << kinks[i].name << " grad 1";
  }
}

// x = a * 1; x.op_(...) chains give PyTorch's gradients (Tensor and Scalar operands, broadcast).
TEST_F(ElementwiseGradTorch, InplaceChain) {
  ASSERT_EQ(torch_->error(chain_handle_), "");
  const auto& ref = torch_->results(chain_handle_);
  Tensor x0 = chain_a_.clone().requires_grad_(), x1 = chain_b_.clone().requires_grad_();
  Tensor x = x0 * 1;
  x.mul_(x1).add_(x1).sub_(0.5).div_(x1).mul_(2.0).add_(3).div_(4).sub_(x0);
  EXPECT_TRUE(x.requires_grad());
  (x * chain_w_).sum().backward();
  EXPECT_TRUE(matches(x, ref[0], 1e-5, 1e-6));
  EXPECT_TRUE(matches(x0.grad(), ref[1], 1e-5, 1e-6));
  EXPECT_TRUE(matches(x1.grad(), ref[2], 1e-5, 1e-6));
}

TEST(ElementwiseGradInplace, GradcheckThroughInplace) {
  Generator gen(22);
  Tensor a = randn({3, 4}, gen, DType::Float64), b = rand({4}, gen, DType::Float64) + 0.5;
  auto f = [](const std::vector<Tensor>& v) {
    Tensor x = v[0] * 1;
    x.mul_(v[1]);
    x.div_(v[1] + 1);
    x.add_(v[0]);
    x.sub_(v[1]);
    return x * x;
  };
  EXPECT_TRUE(gradcheck(f, {a, b}));
  EXPECT_TRUE(gradgradcheck(f, {a, b}));
}

// A tensor that does not require grad takes the history of the operand that does.
TEST(ElementwiseGradInplace, UntrackedSelfTakesHistory) {
  Tensor b = tensor({1.0, 2.0, 3.0}).requires_grad_();
  Tensor x = zeros({2, 3});
  x.add_(b);
  x.mul_(b);
  EXPECT_TRUE(x.requires_grad());
  EXPECT_FALSE(x.is_leaf());
  x.sum().backward();
  // x = b * b per row, two rows: d/db = 4b
  EXPECT_TRUE(matches(b.grad(), b.detach() * 4));
}

TEST(ElementwiseGradInplace, LeafRequiringGradThrows) {
  Tensor a = ones({3}).requires_grad_();
  Tensor b = ones({3});
  expect_error([&] { a.add_(1); }, {"add_", "leaf"});
  expect_error([&] { a.mul_(b); }, {"mul_", "leaf"});
  expect_error([&] { a.div_(2.0); }, {"div_", "leaf"});
  {
    NoGradGuard ng;  // an optimizer step
    a.sub_(b);
  }
  EXPECT_TRUE(matches(a.detach(), zeros({3})));
  EXPECT_TRUE(a.is_leaf());
}

TEST(ElementwiseGradInplace, ModifyingSavedTensorThrows) {
  Tensor x = tensor({0.5, 1.0, 1.5}).requires_grad_();
  Tensor y = exp(x);  // saves its output
  y.add_(1);
  expect_error([&] { y.sum().backward(); }, "modified by an inplace operation");

  // mul saves its operands; add saves nothing, so changing its input afterwards is fine.
  Tensor p = x * 2;
  Tensor q = p * x;
  p.mul_(3);
  expect_error([&] { q.sum().backward(); }, "modified by an inplace operation");
  Tensor r = x * 2;
  Tensor s = r + x;
  r.add_(1);
  x.set_grad(Tensor());
  s.sum().backward();
  EXPECT_TRUE(matches(x.grad(), full({3}, 3.0)));
}

TEST(ElementwiseGradInplace, BadOperandsStillThrow) {
  Tensor x = ones({3}).requires_grad_() * 1;
  expect_error([&] { x.add_(ones({2, 3})); }, {"add_", "[2, 3]", "[3]"});
  Tensor i = zeros({3}, DType::Int64);
  Tensor f = ones({3}).requires_grad_();
  expect_error([&] { i.mul_(f); }, {"mul_", "int64", "same_kind"});
}

TEST(ElementwiseGrad, RecordsOnlyWhatNeedsIt) {
  Tensor x = tensor({1.0, -2.0, 3.0}).requires_grad_();
  Tensor c = tensor({1.0, 2.0, 3.0});
  EXPECT_STREQ((x * c).grad_fn_name(), "mul");
  EXPECT_STREQ(exp(x).grad_fn_name(), "exp");
  EXPECT_STREQ(where(x > 0, x, c).grad_fn_name(), "where");
  EXPECT_STREQ(clip(x, 0, 1).grad_fn_name(), "clip");
  EXPECT_FALSE((c * c).requires_grad());
  EXPECT_FALSE((x > c).requires_grad());  // comparisons are not differentiable
  EXPECT_FALSE(isnan(x).requires_grad());
  EXPECT_FALSE(floor_divide(x, c).requires_grad());  // as PyTorch (no derivative)
  {
    NoGradGuard ng;
    EXPECT_FALSE(tanh(x * c + 1).requires_grad());
  }
  Tensor i = tensor({1, 2, 3});
  EXPECT_FALSE((i * i).requires_grad());
  // an integer operand: only the float input gets a gradient
  Tensor y = x * i;
  y.sum().backward();
  EXPECT_TRUE(matches(x.grad(), tensor({1.0, 2.0, 3.0})));
}

}  // namespace
}  // namespace ravel
