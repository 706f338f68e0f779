// nn::init: gains and fans against PyTorch; every distribution checked statistically against its
// formula on a large tensor (bounds, mean, standard deviation); orthogonal_ by W W^T = I; the
// layers' default initialisation; reproducibility and errors.
#include "ravel/nn/init.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/embedding.h"
#include "ravel/nn/linear.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using ravel::testing::matches;
using ravel::testing::TorchOracle;
namespace init = ravel::nn::init;

namespace {

struct Stats {
  double mean, std, lo, hi;
  int64_t n;
};
Stats stats(const Tensor& t) {
  Tensor d = t.detach().to(DType::Float64);
  return {d.mean().item<double>(), ravel::std(d).item<double>(), d.min().item<double>(),
          d.max().item<double>(), d.numel()};
}

// Sample mean within 5 standard errors, sample std within 2%.
void expect_moments(const Tensor& t, double mean, double std, const std::string& what) {
  Stats s = stats(t);
  EXPECT_NEAR(s.mean, mean, 5 * std / std::sqrt(static_cast<double>(s.n))) << what;
  EXPECT_NEAR(s.std, std, 0.02 * std) << what;
}

// uniform(-bound, bound): inside the bounds, reaching close to both, std bound / sqrt(3).
void expect_uniform(const Tensor& t, double lo, double hi, const std::string& what) {
  Stats s = stats(t);
  const double width = hi - lo;
  EXPECT_GE(s.lo, lo) << what;
  EXPECT_LE(s.hi, hi) << what;
  EXPECT_LT(s.lo, lo + 0.01 * width) << what;
  EXPECT_GT(s.hi, hi - 0.01 * width) << what;
  expect_moments(t, (lo + hi) / 2, width / std::sqrt(12.0), what);
}

double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double normal_cdf(double x) { return 0.5 * (1 + std::erf(x / std::sqrt(2.0))); }

}  // namespace

TEST(InitGain, GainsAndFansMatchTorch) {
  const std::vector<std::string> names = {"linear", "conv2d", "conv_transpose3d", "sigmoid",
                                          "tanh",   "relu",   "leaky_relu",       "selu"};
  std::vector<double> ours;
  for (const auto& n : names) ours.push_back(init::calculate_gain(n));
  ours.push_back(init::calculate_gain("leaky_relu", std::sqrt(5.0)));
  const std::vector<Shape> shapes = {{5, 3}, {8, 4, 3, 3}, {2, 6, 5}, {3, 7, 2, 1, 2}};
  std::vector<int64_t> fans;
  for (const auto& s : shapes) {
    auto [fi, fo] = init::calculate_fan_in_and_fan_out(empty(s));
    fans.push_back(fi);
    fans.push_back(fo);
  }
  TorchOracle torch;
  int h = torch.add_script(R"(
names = ['linear', 'conv2d', 'conv_transpose3d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu']
g = [nn.init.calculate_gain(n) for n in names] + [nn.init.calculate_gain('leaky_relu', 5 ** 0.5)]
shapes = [(5, 3), (8, 4, 3, 3), (2, 6, 5), (3, 7, 2, 1, 2)]
f = [v for s in shapes for v in nn.init._calculate_fan_in_and_fan_out(torch.empty(s))]
out = [np.array(g), np.array(f, dtype=np.int64)])",
                           {});
  torch.run();
  ASSERT_EQ(torch.error(h), "");
  EXPECT_TRUE(matches(from_vector(ours), torch.results(h)[0], 1e-12, 1e-12));
  EXPECT_TRUE(matches(from_vector(fans), torch.results(h)[1]));
}

TEST(InitDistribution, UniformNormalAndScaledSchemes) {
  Generator gen(21);
  const int64_t fan_out = 400, fan_in = 500;
  Tensor w = empty({fan_out, fan_in});
  expect_uniform(init::uniform_(w, -0.3, 0.7, gen), -0.3, 0.7, "uniform_");
  expect_moments(init::normal_(w, 1.5, 0.2, gen), 1.5, 0.2, "normal_");

  double b = init::calculate_gain("leaky_relu", std::sqrt(5.0)) * std::sqrt(3.0 / fan_in);
  expect_uniform(init::kaiming_uniform_(w, std::sqrt(5.0), "fan_in", "leaky_relu", gen), -b, b,
                 "kaiming_uniform_ a=sqrt(5)");
  b = std::sqrt(2.0) * std::sqrt(3.0 / fan_out);
  expect_uniform(init::kaiming_uniform_(w, 0, "fan_out", "relu", gen), -b, b,
                 "kaiming_uniform_ fan_out relu");
  expect_moments(init::kaiming_normal_(w, 0, "fan_in", "relu", gen), 0,
                 std::sqrt(2.0) / std::sqrt(static_cast<double>(fan_in)), "kaiming_normal_");
  expect_moments(init::kaiming_normal_(w, 0.2, "fan_out", "leaky_relu", gen), 0,
                 std::sqrt(2.0 / (1 + 0.04)) / std::sqrt(static_cast<double>(fan_out)),
                 "kaiming_normal_ leaky 0.2");
  const double gain = init::calculate_gain("tanh");
  b = gain * std::sqrt(6.0 / (fan_in + fan_out));
  expect_uniform(init::xavier_uniform_(w, gain, gen), -b, b, "xavier_uniform_");
  expect_moments(init::xavier_normal_(w, 1.0, gen), 0, std::sqrt(2.0 / (fan_in + fan_out)),
                 "xavier_normal_");
  // conv-shaped weight: fans include the kernel
  Tensor k = empty({64, 32, 5, 5}, DType::Float64);
  b = std::sqrt(6.0 / (32 * 25 + 64 * 25));
  expect_uniform(init::xavier_uniform_(k, 1.0, gen), -b, b, "xavier_uniform_ conv");
}

TEST(InitDistribution, TruncatedNormalMatchesTheTruncatedFormula) {
  Generator gen(5);
  struct Case {
    double mean, std, a, b;
  };
  for (Case c : {Case{0, 1, -2, 2}, Case{0.5, 2, -1, 3}, Case{0, 1, 2, 3}, Case{0, 0.02, -2, 2}}) {
    Tensor t = init::trunc_normal_(empty({100000}, DType::Float64), c.mean, c.std, c.a, c.b, gen);
    // moments of N(mean, std) truncated to [a, b]
    double al = (c.a - c.mean) / c.std, be = (c.b - c.mean) / c.std;
    double z = normal_cdf(be) - normal_cdf(al);
    double d = (normal_pdf(al) - normal_pdf(be)) / z;
    double mean = c.mean + c.std * d;
    double var = c.std * c.std * (1 + (al * normal_pdf(al) - be * normal_pdf(be)) / z - d * d);
    std::string what = "trunc_normal_(" + std::to_string(c.mean) + ", " + std::to_string(c.std) +
                       ", " + std::to_string(c.a) + ", " + std::to_string(c.b) + ")";
    Stats s = stats(t);
    EXPECT_GE(s.lo, c.a) << what;
    EXPECT_LE(s.hi, c.b) << what;
    expect_moments(t, mean, std::sqrt(var), what);
  }
}

TEST(InitOrthogonal, RowsOrColumnsAreOrthonormal) {
  Generator gen(9);
  for (Shape s : {Shape{6, 10}, Shape{10, 6}, Shape{5, 5}, Shape{4, 2, 3, 3}}) {
    Tensor w = init::orthogonal_(empty(s), 2.0, gen);
    Tensor flat = w.reshape({s[0], -1}).to(DType::Float64);
    int64_t rows = flat.size(0), cols = flat.size(1);
    Tensor gram = rows <= cols ? matmul(flat, flat.transpose()) : matmul(flat.transpose(), flat);
    EXPECT_TRUE(
        matches(gram, eye(std::min(rows, cols), std::nullopt, 0, DType::Float64) * 4.0, 1e-5, 1e-5))
        << s;
  }
}

TEST(InitMisc, ConstantsReproducibilityAndNoHistory) {
  Tensor p = empty({3, 4}).requires_grad_();
  init::constant_(p, 0.5);
  EXPECT_TRUE(array_equal(p, full({3, 4}, 0.5f)));
  EXPECT_TRUE(p.is_leaf());
  EXPECT_TRUE(p.requires_grad());
  init::zeros_(p);
  EXPECT_TRUE(array_equal(p, zeros({3, 4})));
  init::ones_(p);
  EXPECT_TRUE(array_equal(p, ones({3, 4})));
  init::eye_(p);
  EXPECT_TRUE(array_equal(p, eye(3, 4)));
  init::kaiming_uniform_(p);
  EXPECT_TRUE(p.is_leaf());
  EXPECT_EQ(p.grad_fn_name(), nullptr);
  // the same seed gives the same values; the default generator is used when none is given
  Generator g1(3), g2(3);
  EXPECT_TRUE(array_equal(init::xavier_normal_(empty({5, 5}), 1.0, g1),
                          init::xavier_normal_(empty({5, 5}), 1.0, g2)));
  manual_seed(12);
  Tensor a = init::orthogonal_(empty({4, 4}));
  manual_seed(12);
  EXPECT_TRUE(array_equal(a, init::orthogonal_(empty({4, 4}))));
  manual_seed(12);
  nn::Linear l1(4, 3);
  manual_seed(12);
  nn::Linear l2(4, 3);
  EXPECT_TRUE(array_equal(l1.weight, l2.weight));
  EXPECT_TRUE(array_equal(l1.bias, l2.bias));
}

TEST(InitLayers, DefaultInitialisationFollowsTorch) {
  manual_seed(7);
  nn::Linear fc(300, 400);
  double b = 1.0 / std::sqrt(300.0);
  expect_uniform(fc.weight, -b, b, "Linear.weight");
  Stats s = stats(fc.bias);
  EXPECT_GE(s.lo, -b);
  EXPECT_LE(s.hi, b);
  nn::Conv2d conv(16, 128, 3);
  b = 1.0 / std::sqrt(16.0 * 9);
  expect_uniform(conv.weight, -b, b, "Conv2d.weight");
  EXPECT_LE(stats(conv.bias).hi, b);
  nn::ConvTranspose2d up(128, 64, 3, {.groups = 2});  // fan_in = (64 / 2) * 9 (weight dim 1)
  b = 1.0 / std::sqrt(32.0 * 9);
  expect_uniform(up.weight, -b, b, "ConvTranspose2d.weight");
  nn::Embedding emb(1000, 64, {.padding_idx = -1});
  expect_moments(emb.weight.slice(0, 0, 999), 0.0, 1.0, "Embedding.weight");
  EXPECT_TRUE(array_equal(emb.weight.select(0, 999), zeros({64})));
  EXPECT_EQ(*emb.padding_idx, 999);
  nn::Bilinear bl(50, 40, 30);
  b = 1.0 / std::sqrt(50.0);
  expect_uniform(bl.weight, -b, b, "Bilinear.weight");
}

TEST(InitErrors, ClearMessages) {
  expect_error([] { init::xavier_uniform_(empty({5})); },
               {"calculate_fan_in_and_fan_out", "[5]", "2 dimensions"});
  expect_error(
      [] {
        init::kaiming_normal_(empty({3, 3}), 0, "fan_middle");
      },
      {"kaiming_normal_", "fan_middle", "fan_in"});
  expect_error([] { init::calculate_gain("swish"); }, {"calculate_gain", "swish"});
  expect_error([] { init::normal_(zeros({3}, DType::Int64)); }, {"normal_", "int64"});
  expect_error([] { init::trunc_normal_(empty({3}), 0, 1, 2, -2); }, {"trunc_normal_", "a < b"});
  expect_error([] { init::orthogonal_(empty({3})); }, {"orthogonal_", "2 dimensions"});
}
