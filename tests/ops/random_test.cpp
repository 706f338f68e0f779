// Random numbers: reproducibility (seeds, state save/restore), statistical sanity with generous
// bounds, ranges, dtypes and errors. ravel's stream is not NumPy's, so there is no oracle for
// values; frequency tests use chi-square against fixed, generous thresholds.
#include "ravel/random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "ravel/ops.h"
#include "ravel/parallel.h"
#include "support/expect_error.h"

using namespace ravel;
using ravel::testing::expect_error;

namespace {

struct Moments {
  double mean, std;
};
Moments moments(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  double m = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return {m, std::sqrt(ss / static_cast<double>(v.size()))};
}

// Pearson chi-square of observed counts against expected probabilities.
double chi_square(const std::vector<int64_t>& values, const std::vector<double>& probs) {
  std::vector<double> counts(probs.size(), 0);
  for (int64_t v : values) counts.at(static_cast<size_t>(v)) += 1;
  double n = static_cast<double>(values.size()), chi = 0;
  for (size_t i = 0; i < probs.size(); ++i)
    if (probs[i] > 0) {
      double expected = n * probs[i];
      chi += (counts[i] - expected) * (counts[i] - expected) / expected;
    }
  return chi;
}

bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         a.to_vector<double>() == b.to_vector<double>();
}

}  // namespace

TEST(Random, SameSeedSameTensorsDifferentSeedsDiffer) {
  Generator g1(123), g2(123), g3(124);
  Tensor a = randn({100}, g1), b = randn({100}, g2), c = randn({100}, g3);
  EXPECT_TRUE(same(a, b));
  EXPECT_FALSE(same(a, c));
  EXPECT_TRUE(same(rand({7, 3}, g1, DType::Float64), rand({7, 3}, g2, DType::Float64)));
  EXPECT_TRUE(same(randint(0, 1000, {50}, g1), randint(0, 1000, {50}, g2)));
  EXPECT_TRUE(same(permutation(30, g1), permutation(30, g2)));
  EXPECT_TRUE(same(choice(10, 20, true, std::nullopt, g1), choice(10, 20, true, std::nullopt, g2)));
  g1.manual_seed(5);
  g3.manual_seed(5);
  EXPECT_EQ(g1.next_u64(), g3.next_u64());
}

TEST(Random, DefaultGeneratorAndManualSeed) {
  manual_seed(7);
  Tensor a = rand({10});
  manual_seed(7);
  Tensor b = rand({10});
  EXPECT_TRUE(same(a, b));
  EXPECT_FALSE(same(a, rand({10})));
}

TEST(Random, StateSaveRestoreRepeatsTheSequenceIncludingTheSpareNormal) {
  Generator g(99);
  g.next_normal();  // leaves the second normal of the pair cached
  GeneratorState s = g.state();
  EXPECT_TRUE(s.has_spare_normal);
  double spare = g.next_normal();
  Tensor a = randn({5}, g);
  Tensor b = randint(0, 100, {5}, g);
  double after = g.next_normal();
  g.set_state(s);
  EXPECT_EQ(g.state(), s);
  EXPECT_EQ(g.next_normal(), spare);
  EXPECT_TRUE(same(a, randn({5}, g)));
  EXPECT_TRUE(same(b, randint(0, 100, {5}, g)));
  EXPECT_EQ(g.next_normal(), after);
  Generator other(1);
  other.set_state(s);  // a state moves between generators
  other.next_normal();
  EXPECT_TRUE(same(a, randn({5}, other)));
}

TEST(Random, LargeTensorsDoNotDependOnTheThreadCount) {
  const int saved = get_num_threads();
  std::vector<Tensor> runs[2];
  for (int k = 0; k < 2; ++k) {
    set_num_threads(k == 0 ? 1 : 2);
    Generator g(2024);
    runs[k] = {rand({100001}, g), randn({100001}, g, DType::Float64), uniform(1, 2, {70000}, g),
               bernoulli(0.5, {70000}, g), rand({3}, g)};
  }
  set_num_threads(saved);
  for (size_t i = 0; i < runs[0].size(); ++i) EXPECT_TRUE(same(runs[0][i], runs[1][i])) << i;
}

TEST(Random, AdvanceSkipsDraws) {
  Generator a(11), b(11);
  for (int i = 0; i < 1000; ++i) a.next_u32();
  b.advance(1000);
  EXPECT_EQ(a.state(), b.state());
  EXPECT_EQ(a.next_u64(), b.next_u64());
}

TEST(Random, UniformFloatsStayInRangeWithRightMoments) {
  Generator g(1);
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    Tensor u = rand({100000}, g, dt);
    EXPECT_EQ(u.dtype(), dt);
    std::vector<double> v = u.to_vector<double>();
    EXPECT_GE(*std::min_element(v.begin(), v.end()), 0.0) << dtype_name(dt);
    EXPECT_LT(*std::max_element(v.begin(), v.end()), 1.0) << dtype_name(dt);
    Moments m = moments(u);
    EXPECT_NEAR(m.mean, 0.5, 0.01) << dtype_name(dt);
    EXPECT_NEAR(m.std, std::sqrt(1.0 / 12), 0.01) << dtype_name(dt);
    Tensor w = uniform(-3, 5, {100000}, g, dt);
    std::vector<double> wv = w.to_vector<double>();
    EXPECT_GE(*std::min_element(wv.begin(), wv.end()), -3.0);
    EXPECT_LT(*std::max_element(wv.begin(), wv.end()), 5.0);
    EXPECT_NEAR(moments(w).mean, 1.0, 0.05) << dtype_name(dt);
  }
  EXPECT_EQ(rand({2, 0, 3}, g).numel(), 0);
  EXPECT_EQ(rand({}, g).ndim(), 0);
}

TEST(Random, NormalMoments) {
  Generator g(2);
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    Moments m = moments(randn({100000}, g, dt));
    EXPECT_NEAR(m.mean, 0.0, 0.02) << dtype_name(dt);
    EXPECT_NEAR(m.std, 1.0, 0.02) << dtype_name(dt);
    Moments n = moments(normal(3.0, 2.0, {100000}, g, dt));
    EXPECT_NEAR(n.mean, 3.0, 0.05) << dtype_name(dt);
    EXPECT_NEAR(n.std, 2.0, 0.05) << dtype_name(dt);
  }
  // Tail sanity: about 4.55% of standard normals lie beyond 2 sigma.
  std::vector<double> v = randn({100000}, g, DType::Float64).to_vector<double>();
  double frac = std::count_if(v.begin(), v.end(), [](double x) { return std::abs(x) > 2; }) / 1e5;
  EXPECT_NEAR(frac, 0.0455, 0.005);
}

TEST(Random, RandintRangeDtypesAndUniformity) {
  Generator g(3);
  for (DType dt : {DType::Int64, DType::Int32, DType::Int16, DType::Int8, DType::UInt8}) {
    Tensor t = randint(-3 * (dt != DType::UInt8), 7, {60000}, g, dt);
    EXPECT_EQ(t.dtype(), dt);
    std::vector<int64_t> v = t.to_vector<int64_t>();
    int64_t lo = dt == DType::UInt8 ? 0 : -3;
    for (auto& x : v) x -= lo;
    std::vector<double> probs(static_cast<size_t>(7 - lo), 1.0 / static_cast<double>(7 - lo));
    // 9 degrees of freedom: P(chi2 > 40) ~ 7e-6
    EXPECT_LT(chi_square(v, probs), 40.0) << dtype_name(dt);
    EXPECT_EQ(*std::min_element(v.begin(), v.end()), 0);
    EXPECT_EQ(*std::max_element(v.begin(), v.end()), 6 - lo);
  }
  Tensor b = randint(0, 2, {1000}, g, DType::Bool);
  EXPECT_EQ(b.dtype(), DType::Bool);
  // Full int64 range: high - low overflows int64 and must still work.
  Tensor wide = randint(INT64_MIN, INT64_MAX, {1000}, g);
  std::vector<int64_t> wv = wide.to_vector<int64_t>();
  EXPECT_TRUE(std::any_of(wv.begin(), wv.end(), [](int64_t x) { return x < 0; }));
  EXPECT_TRUE(std::any_of(wv.begin(), wv.end(), [](int64_t x) { return x > 0; }));
  Tensor one = randint(5, 6, {10}, g);
  for (int64_t x : one.to_vector<int64_t>()) EXPECT_EQ(x, 5);
  // next_below is unbiased over a range that is not a power of two
  std::vector<int64_t> nb(30000);
  for (auto& x : nb) x = static_cast<int64_t>(g.next_below(3));
  EXPECT_LT(chi_square(nb, {1.0 / 3, 1.0 / 3, 1.0 / 3}), 25.0);
}

TEST(Random, Bernoulli) {
  Generator g(4);
  Tensor b = bernoulli(0.3, {100000}, g);
  EXPECT_EQ(b.dtype(), DType::Float32);
  std::vector<double> v = b.to_vector<double>();
  for (double x : v) ASSERT_TRUE(x == 0.0 || x == 1.0);
  EXPECT_NEAR(moments(b).mean, 0.3, 0.01);
  EXPECT_EQ(bernoulli(0.5, {4}, g, DType::Bool).dtype(), DType::Bool);
  for (double x : bernoulli(0.0, {100}, g).to_vector<double>()) EXPECT_EQ(x, 0.0);
  for (double x : bernoulli(1.0, {100}, g).to_vector<double>()) EXPECT_EQ(x, 1.0);
  // Tensor p: elementwise probabilities, output in p's dtype and shape.
  Tensor p = full({2, 50000}, 0.2, DType::Float64);
  p.select(0, 1).fill_(0.9);
  Tensor bt = bernoulli(p, g);
  EXPECT_EQ(bt.shape(), p.shape());
  EXPECT_EQ(bt.dtype(), DType::Float64);
  EXPECT_NEAR(moments(bt.select(0, 0)).mean, 0.2, 0.01);
  EXPECT_NEAR(moments(bt.select(0, 1)).mean, 0.9, 0.01);
  Tensor pt = full({3, 2}, 0.5).transpose();  // non-contiguous p
  EXPECT_EQ(bernoulli(pt, g).shape(), (Shape{2, 3}));
}

TEST(Random, PermutationIsAPermutation) {
  Generator g(5);
  for (int64_t n : {0, 1, 2, 17, 1000}) {
    Tensor p = permutation(n, g);
    EXPECT_EQ(p.dtype(), DType::Int64);
    std::vector<int64_t> v = p.to_vector<int64_t>();
    std::sort(v.begin(), v.end());
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(v[static_cast<size_t>(i)], i);
  }
  // Every position is uniform: the first element over many shuffles of 5.
  std::vector<int64_t> first(20000);
  for (auto& x : first) x = permutation(5, g).to_vector<int64_t>()[0];
  EXPECT_LT(chi_square(first, std::vector<double>(5, 0.2)), 30.0);
  // Tensor: shuffles rows (axis 0), keeps rows intact, works on views.
  Tensor a = arange(24).reshape({6, 4});
  Tensor s = permutation(a.slice(0, None, None, -1), g);
  EXPECT_EQ(s.shape(), (Shape{6, 4}));
  std::vector<int64_t> sv = s.to_vector<int64_t>();
  std::vector<int64_t> firsts;
  for (size_t r = 0; r < 6; ++r) {
    for (size_t c = 1; c < 4; ++c) EXPECT_EQ(sv[r * 4 + c], sv[r * 4] + static_cast<int64_t>(c));
    firsts.push_back(sv[r * 4]);
  }
  std::sort(firsts.begin(), firsts.end());
  EXPECT_EQ(firsts, (std::vector<int64_t>{0, 4, 8, 12, 16, 20}));
  EXPECT_EQ(permutation(zeros({0, 3}), g).shape(), (Shape{0, 3}));
}

TEST(Random, ChoiceWithAndWithoutReplacementAndProbabilities) {
  Generator g(6);
  // uniform with replacement
  std::vector<int64_t> v = choice(4, 40000, true, std::nullopt, g).to_vector<int64_t>();
  EXPECT_LT(chi_square(v, std::vector<double>(4, 0.25)), 30.0);
  // weighted with replacement; a zero-probability entry never appears
  std::vector<double> probs = {0.1, 0.0, 0.6, 0.3};
  Tensor p = from_vector(probs);
  std::vector<int64_t> w = choice(4, 40000, true, p, g).to_vector<int64_t>();
  EXPECT_EQ(std::count(w.begin(), w.end(), 1), 0);
  EXPECT_LT(chi_square(w, probs), 30.0);
  // without replacement: distinct values
  for (int64_t size : {0, 1, 5, 10}) {
    std::vector<int64_t> s = choice(10, size, false, std::nullopt, g).to_vector<int64_t>();
    std::sort(s.begin(), s.end());
    EXPECT_EQ(std::adjacent_find(s.begin(), s.end()), s.end());
    EXPECT_EQ(static_cast<int64_t>(s.size()), size);
  }
  // weighted without replacement: distinct, never a zero-probability index, and the first draw
  // follows p
  std::vector<int64_t> firsts;
  for (int i = 0; i < 20000; ++i) {
    std::vector<int64_t> s = choice(4, 3, false, p, g).to_vector<int64_t>();
    std::sort(s.begin(), s.end());
    ASSERT_EQ(s, (std::vector<int64_t>{0, 2, 3}));
  }
  for (int i = 0; i < 20000; ++i)
    firsts.push_back(choice(4, 1, false, p, g).to_vector<int64_t>()[0]);
  EXPECT_LT(chi_square(firsts, probs), 30.0);
  // from a tensor's elements
  Tensor a = tensor({1.5, 2.5, 3.5});
  Tensor c = choice(a, 100, true, std::nullopt, g);
  EXPECT_EQ(c.dtype(), DType::Float32);
  for (float x : c.to_vector<float>()) EXPECT_TRUE(x == 1.5f || x == 2.5f || x == 3.5f);
  EXPECT_EQ(choice(0, 0, true, std::nullopt, g).numel(), 0);
}

TEST(Random, Errors) {
  Generator g(7);
  expect_error([&] { randint(5, 5, {3}, g); }, "randint: low (5) must be less than high (5)");
  expect_error([&] { randint(0, 300, {3}, g, DType::Int8); },
               "randint: range [0, 300) is out of bounds for dtype int8");
  expect_error([&] { randint(0, 3, {3}, g, DType::Float32); }, "randint: dtype must be an integer");
  expect_error([&] { rand({3}, g, DType::Int32); }, "rand: dtype must be a floating type");
  expect_error([&] { randn({3}, g, DType::Int64); }, "randn: dtype must be a floating type");
  expect_error([&] { uniform(2, 1, {3}, g); }, "uniform: low (2) must be <= high (1)");
  expect_error([&] { normal(0, -1, {3}, g); }, "normal: mean (0) must be finite and stddev (-1)");
  expect_error([&] { bernoulli(1.5, {3}, g); }, "bernoulli: probability p = 1.5 is outside [0, 1]");
  expect_error(
      [&] {
        bernoulli(tensor({0.5, -0.1}), g);
      },
      "bernoulli: probability -0.1 at flat index 1");
  expect_error([&] { permutation(-1, g); }, "permutation: n must be non-negative, got -1");
  expect_error([&] { permutation(scalar_tensor(3), g); }, "permutation: x must be at least 1-d");
  expect_error([&] { choice(3, 5, false, std::nullopt, g); },
               "choice: cannot take a larger sample (5) than population (3) when replace=false");
  expect_error(
      [&] {
        choice(3, 2, true, tensor({0.5, 0.2, 0.2}), g);
      },
      "choice: probabilities do not sum to 1");
  expect_error(
      [&] {
        choice(3, 2, true, tensor({0.5, 0.5}), g);
      },
      "choice: p must be 1-dimensional of length 3, got shape [2]");
  expect_error(
      [&] {
        choice(3, 2, true, tensor({1.5, -0.5, 0.0}), g);
      },
      "choice: probabilities must be non-negative");
  expect_error(
      [&] {
        choice(3, 3, false, tensor({0.5, 0.5, 0.0}), g);
      },
      "choice: fewer non-zero entries in p (2) than size (3)");
  expect_error([&] { choice(0, 1, true, std::nullopt, g); }, "choice: a cannot be empty");
  expect_error([&] { choice(3, -1, true, std::nullopt, g); }, "choice: size must be non-negative");
  expect_error(
      [&] {
        choice(zeros({2, 2}), 1, true, std::nullopt, g);
      },
      "choice: a must be 1-dimensional, got shape [2, 2]");
}
