// ravel::compile against the unfused reference: the same module run eagerly in float64 (ravel's
// eager ops are themselves checked against PyTorch). Gradients, outputs and running statistics
// of the compiled float32 step must agree to 1e-3 of each tensor's largest magnitude (oneDNN sums
// in other orders and in float32; the eager float32 step lands about as far from float64 in deep
// nets). Shapes include odd channel counts that fill no SIMD block, batch 1, strides, padding,
// residual adds read twice, every fused ReLU, and non-contiguous inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "ravel/compile.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "ravel/random.h"
#include "support/expect_error.h"

namespace ravel {
namespace {

namespace F = nn::functional;
using Factory = std::function<std::shared_ptr<nn::Module>()>;

// Largest difference over the reference's largest magnitude (at least 1e-4: the gradient of a
// bias followed by batch norm is zero up to rounding).
double rel_diff(const Tensor& got, const Tensor& want) {
  Tensor w = want.to(DType::Float64);
  double scale = std::max(w.abs().max().item<double>(), 1e-4);
  return (got.to(DType::Float64) - w).abs().max().item<double>() / scale;
}

// One training step (forward, cross-entropy, backward) of the compiled module and of the eager
// float64 reference on the same weights and data; compares loss, gradients and buffers.
void expect_step_matches(const Factory& make, const Tensor& x, int64_t classes, double tol = 1e-3) {
  manual_seed(1);
  auto net = make();
  manual_seed(1);
  auto ref = make();
  ref->to(DType::Float64);
  auto fast = compile(net, x.contiguous());
  ASSERT_TRUE(fast->is_compiled()) << fast->describe();
  Tensor y = randint(0, classes, {x.shape()[0]});
  Tensor loss = F::cross_entropy((*fast)(x), y);
  loss.backward();
  Tensor ref_loss = F::cross_entropy((*ref)(x.to(DType::Float64)), y);
  ref_loss.backward();
  EXPECT_LT(rel_diff(loss, ref_loss), 1e-5);
  auto got = net->named_parameters(), want = ref->named_parameters();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(got[i].second.grad().defined()) << got[i].first;
    EXPECT_LT(rel_diff(got[i].second.grad(), want[i].second.grad()), tol) << got[i].first;
  }
  auto gb = net->named_buffers(), wb = ref->named_buffers();
  for (size_t i = 0; i < gb.size(); ++i)
    EXPECT_LT(rel_diff(gb[i].second, wb[i].second), 1e-5) << gb[i].first;
}

std::shared_ptr<nn::Sequential> seq(std::vector<std::shared_ptr<nn::Module>> layers) {
  auto s = std::make_shared<nn::Sequential>();
  for (auto& l : layers) s->push_back(l);
  return s;
}

// conv (odd channels) -> BN + ReLU -> max pool -> conv stride 2 -> BN -> ReLU -> average pool
// -> 1x1 conv with bias + ReLU -> flatten -> linear + ReLU -> linear.
std::shared_ptr<nn::Module> odd_cnn() {
  using nn::ConvOptions;
  return seq({std::make_shared<nn::Conv2d>(3, 5, 3, ConvOptions{.padding = 1, .bias = false}),
              std::make_shared<nn::BatchNorm2d>(5), std::make_shared<nn::ReLU>(),
              std::make_shared<nn::MaxPool2d>(nn::functional::Ints{2}),
              std::make_shared<nn::Conv2d>(5, 17, 3, ConvOptions{.stride = 2, .bias = false}),
              std::make_shared<nn::BatchNorm2d>(17), std::make_shared<nn::ReLU>(),
              std::make_shared<nn::AvgPool2d>(nn::functional::Ints{2}),
              std::make_shared<nn::Conv2d>(17, 6, 1), std::make_shared<nn::ReLU>(),
              std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(6, 9),
              std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(9, 4)});
}

// A residual block whose input is read by two convolutions (a gradient summed from both
// branches) and an add + ReLU, then global pooling.
struct TwoBranch : nn::Module {
  std::shared_ptr<nn::Conv2d> stem, a, b;
  std::shared_ptr<nn::BatchNorm2d> bs, ba, bb;
  std::shared_ptr<nn::Linear> fc;
  explicit TwoBranch(int64_t stride) {
    using nn::ConvOptions;
    stem = register_module(
        "stem", std::make_shared<nn::Conv2d>(2, 7, 3, ConvOptions{.padding = 1, .bias = false}));
    bs = register_module("bs", std::make_shared<nn::BatchNorm2d>(7));
    a = register_module("a",
                        std::make_shared<nn::Conv2d>(
                            7, 12, 3, ConvOptions{.stride = stride, .padding = 1, .bias = false}));
    ba = register_module("ba", std::make_shared<nn::BatchNorm2d>(12));
    b = register_module(
        "b", std::make_shared<nn::Conv2d>(7, 12, 1, ConvOptions{.stride = stride, .bias = false}));
    bb = register_module("bb", std::make_shared<nn::BatchNorm2d>(12));
    fc = register_module("fc", std::make_shared<nn::Linear>(12, 3));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = F::relu((*bs)((*stem)(x)));
    Tensor o = F::relu((*ba)((*a)(h)) + (*bb)((*b)(h)));
    return (*fc)(F::adaptive_avg_pool2d(o, {1, 1}).flatten(1));
  }
};

TEST(CompiledModule, FusedPathsMatchEagerFloat64) {
  manual_seed(0);
  expect_step_matches(odd_cnn, randn({6, 3, 13, 13}), 4);
  expect_step_matches([] { return std::make_shared<TwoBranch>(2); }, randn({5, 2, 9, 9}), 3);
  expect_step_matches([] { return std::make_shared<TwoBranch>(1); }, randn({3, 2, 6, 6}), 3);
}

TEST(CompiledModule, BatchOneAndNonContiguousInput) {
  manual_seed(0);
  expect_step_matches([] { return std::make_shared<TwoBranch>(1); }, randn({1, 2, 7, 7}), 3);
  Tensor wide = randn({4, 13, 13, 3}).permute({0, 3, 1, 2});  // NHWC memory, NCHW shape
  ASSERT_FALSE(wide.is_contiguous());
  expect_step_matches(odd_cnn, wide, 4);
  // An MLP: a plain 2-D input, linear + ReLU steps only.
  expect_step_matches(
      [] {
        return seq({std::make_shared<nn::Linear>(11, 13), std::make_shared<nn::ReLU>(),
                    std::make_shared<nn::Linear>(13, 5)});
      },
      randn({7, 11}), 5);
}

TEST(CompiledModule, ResNet20TrainsLikeEager) {
  // Two SGD steps of the CIFAR-style ResNet-20 (zero-pad shortcuts: the strided slice + pad
  // becomes a constant 1x1 convolution) on Fashion-MNIST-sized input, compiled and eager.
  auto make = [] {
    manual_seed(3);
    return models::resnet20({.num_classes = 10, .in_channels = 1});
  };
  auto eager = make(), net = make();
  manual_seed(4);
  Tensor x = randn({8, 1, 28, 28}), y = randint(0, 10, {8});
  auto fast = compile(net, x);
  ASSERT_TRUE(fast->is_compiled()) << fast->describe();
  EXPECT_NE(fast->describe().find("batchnorm 16 +relu"), std::string::npos) << fast->describe();
  EXPECT_NE(fast->describe().find("=slice +pad"), std::string::npos);
  optim::SGD oe(eager->parameters(), {.lr = 0.05, .momentum = 0.9});
  optim::SGD of(fast->parameters(), {.lr = 0.05, .momentum = 0.9});
  for (int step = 0; step < 2; ++step) {
    oe.zero_grad();
    of.zero_grad();
    Tensor le = F::cross_entropy((*eager)(x), y), lf = F::cross_entropy((*fast)(x), y);
    le.backward();
    lf.backward();
    EXPECT_LT(rel_diff(lf, le), 1e-3) << "step " << step;
    oe.step();
    of.step();
  }
  auto be = eager->named_buffers(), bf = net->named_buffers();
  for (size_t i = 0; i < be.size(); ++i)
    EXPECT_LT(rel_diff(bf[i].second, be[i].second), 1e-2) << be[i].first;
  EXPECT_EQ(net->named_buffers().back().second.item<int64_t>(), 2);  // num_batches_tracked
  // Eval mode runs the module itself.
  fast->eval();
  eager->eval();
  NoGradGuard no_grad;
  Tensor xe = randn({2, 1, 28, 28});
  EXPECT_LT(rel_diff((*fast)(xe), (*net)(xe)), 1e-12);
}

TEST(CompiledModule, Bfloat16MixedPrecision) {
  auto make = [] {
    manual_seed(5);
    return models::resnet20({.num_classes = 10, .in_channels = 1});
  };
  auto ref = make(), net = make();
  manual_seed(6);
  Tensor x = randn({8, 1, 28, 28}), y = randint(0, 10, {8});
  auto fast = compile(net, x, {.dtype = DType::BFloat16});
  ASSERT_TRUE(fast->is_compiled()) << fast->describe();
  EXPECT_NE(fast->describe().find("[bf16"), std::string::npos);
  Tensor lf = F::cross_entropy((*fast)(x), y);
  lf.backward();
  Tensor lr = F::cross_entropy((*ref)(x), y);
  lr.backward();
  EXPECT_LT(rel_diff(lf, lr), 3e-2);
  // Master weights and gradients stay float32; the classifier's gradient is close to fp32's.
  EXPECT_EQ(net->parameters()[0].grad().dtype(), DType::Float32);
  EXPECT_LT(rel_diff(net->named_parameters().back().second.grad(),
                     ref->named_parameters().back().second.grad()),
            5e-2);
  // It trains: ten SGD steps on one batch bring the loss down.
  optim::SGD opt(fast->parameters(), {.lr = 0.05, .momentum = 0.9});
  float first = 0, last = 0;
  for (int i = 0; i < 10; ++i) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy((*fast)(x), y);
    loss.backward();
    opt.step();
    (i == 0 ? first : last) = loss.item<float>();
  }
  EXPECT_LT(last, 0.5f * first);
}

TEST(CompiledModule, NewShapesRetainGraphAndOverlappingSteps) {
  manual_seed(0);
  auto make = [] {
    manual_seed(9);
    return std::make_shared<TwoBranch>(2);
  };
  auto eager = make(), net = make();
  auto fast = compile(net, randn({4, 2, 8, 8}));
  // Two forwards in flight (their activations kept apart), a smaller batch compiled on the fly,
  // and backward run twice (retain_graph) — all as the eager module does.
  Tensor x1 = randn({4, 2, 8, 8}), x2 = randn({3, 2, 8, 8});
  auto loss_of = [&](nn::Module& m) { return (m(x1) * m(x1)).mean() + m(x2).abs().sum(); };
  Tensor lf = loss_of(*fast), le = loss_of(*eager);
  autograd::backward({lf}, {}, /*retain_graph=*/true);
  autograd::backward({lf});
  autograd::backward({le}, {}, true);
  autograd::backward({le});
  EXPECT_LT(rel_diff(lf, le), 1e-5);
  auto gf = net->named_parameters(), ge = eager->named_parameters();
  for (size_t i = 0; i < gf.size(); ++i)
    EXPECT_LT(rel_diff(gf[i].second.grad(), ge[i].second.grad()), 1e-3) << gf[i].first;
}

TEST(CompiledModule, UncoveredOpsRunEagerly) {
  manual_seed(0);
  auto net = seq({std::make_shared<nn::Linear>(6, 5), std::make_shared<nn::Tanh>(),
                  std::make_shared<nn::Linear>(5, 2)});
  Tensor x = randn({3, 6});
  auto fast = compile(net, x);
  EXPECT_FALSE(fast->is_compiled());
  EXPECT_NE(fast->describe().find("Tanh"), std::string::npos) << fast->describe();
  Tensor out = (*fast)(x);
  EXPECT_LT(rel_diff(out, (*net)(x)), 1e-12);
  out.sum().backward();
  EXPECT_TRUE(net->parameters()[0].grad().defined());
  // Batch norm without running statistics has no compiled form either.
  auto bn = seq({std::make_shared<nn::Linear>(6, 4),
                 std::make_shared<nn::BatchNorm1d>(4, nn::BatchNormOptions{.momentum = {}})});
  EXPECT_FALSE(compile(bn, x)->is_compiled());
  // Dropout acts in training only, which the traced (eval) forward cannot show: refused, unless
  // it drops nothing.
  auto with_dropout = [](double p) {
    return seq({std::make_shared<nn::Linear>(6, 4), std::make_shared<nn::ReLU>(),
                std::make_shared<nn::Dropout>(p), std::make_shared<nn::Linear>(4, 2)});
  };
  auto dropped = compile(with_dropout(0.3), x);
  EXPECT_FALSE(dropped->is_compiled());
  EXPECT_NE(dropped->describe().find("Dropout"), std::string::npos) << dropped->describe();
  EXPECT_TRUE(compile(with_dropout(0), x)->is_compiled());
}

TEST(CompiledModule, BadArguments) {
  auto net = odd_cnn();
  testing::expect_error([&] { compile(net, Tensor()); }, {"compile", "example input"});
  testing::expect_error(
      [&] {
        compile(net, randn({2, 3, 9, 9}), {.dtype = DType::Float16});
      },
      {"compile", "float16", "bfloat16"});
  testing::expect_error([&] { compile(nullptr, randn({2, 3, 9, 9})); }, {"compile", "null"});
}

}  // namespace
}  // namespace ravel
