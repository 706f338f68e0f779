// Tensor::to_string / operator<< against np.array2string run on the same data in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "support/numpy_oracle.h"

namespace ravel {
namespace {

using testing::NumpyOracle;

// NumPy's string comes back as a uint8 array of its UTF-8 bytes.
const char* kArray2String = "np.frombuffer(np.array2string(a).encode(), dtype=np.uint8)";

std::string as_string(const Tensor& bytes) {
  auto v = bytes.to_vector<uint8_t>();
  return std::string(v.begin(), v.end());
}

Tensor values(const std::vector<double>& v, const Shape& shape, DType dt) {
  return from_vector(v, shape).to(dt);
}

// Random data of several characters: mixed magnitudes, integers, tiny, huge, specials.
std::vector<double> random_values(int64_t n, int kind, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> small(-20, 20);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) {
    switch (kind) {
      case 0:
        x = normal(gen);
        break;  // plain
      case 1:
        x = small(gen) * 0.5;
        break;  // short decimals
      case 2:
        x = small(gen);
        break;  // integers
      case 3:
        x = normal(gen) * std::pow(10.0, small(gen) % 12);
        break;  // wide range -> 1e..
      case 4:
        x = normal(gen) * 1e-6;
        break;  // tiny
      case 5:
        x = normal(gen) * 1e9;
        break;  // huge
      case 6:
        x = normal(gen) * 1000;
        break;  // up to ratio 1000
      default:
        x = small(gen) * 1e5;
        break;  // big integers
    }
  }
  return v;
}

struct Case {
  std::string label;
  Tensor t;
  int handle;
};

void check_all(NumpyOracle& np, std::vector<Case>& cases) {
  np.run();
  for (const auto& c : cases) {
    ASSERT_EQ(np.error(c.handle), "") << c.label;
    std::string expected = as_string(np.result(c.handle));
    EXPECT_EQ(c.t.to_string(), expected)
        << c.label << " dtype " << dtype_name(c.t.dtype()) << " shape " << c.t.shape();
  }
}

TEST(PrintTest, MatchesNumpyFloats) {
  NumpyOracle np;
  std::vector<Case> cases;
  auto add = [&](const std::string& label, const Tensor& t) {
    cases.push_back({label, t, np.add(kArray2String, {t})});
  };
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16}) {
    add("basic", values({1, 2.5, 3}, {3}, dt));
    add("integers", values({1, 2, -3}, {3}, dt));
    add("specials", values({1, nan, inf, -inf, -0.0}, {5}, dt));
    add("only nan", values({nan, inf}, {2}, dt));
    add("nan with exp", values({1e-7, nan, -inf, 3}, {4}, dt));
    add("zeros", values({0, -0.0, 0}, {3}, dt));
    add("0-d", values({0.1}, {}, dt));
    add("0-d nan", values({nan}, {}, dt));
    add("thirds", values({1.0 / 3, 2.0 / 3, 100.0 / 3}, {3}, dt));
    add("ratio edge", values({1, 1000, 1001}, {3}, dt));
    add("1e8", values({1e8, 1}, {2}, dt));
    add("1e-4 edge", values({1.5e-4, 2}, {2}, dt));
    // fuzzer find: a value cut at 8 digits in a column of 7 (3 digit exponents for float64)
    add("cut digits", values({0, 1, 1.757388200993436e+159, 3.000000002952609}, {4}, dt));
    add("exact digits", values({0.3, 1.2345678e-5}, {2}, dt));
    for (int kind = 0; kind < 8; ++kind) {
      for (const Shape& shape : std::vector<Shape>{{7}, {3, 4}, {2, 3, 4}, {40}, {1, 1, 5}}) {
        Tensor t = values(random_values(shape_numel(shape), kind, 7 * kind + 1), shape, dt);
        add("kind " + std::to_string(kind), t);
      }
    }
    // summarised (numel > 1000), including wrapped long rows
    add("summary 1-d", values(random_values(2000, 0, 3), {2000}, dt));
    add("summary 2-d", values(random_values(2000, 1, 4), {40, 50}, dt));
    add("summary 3-d", values(random_values(1210, 3, 5), {10, 11, 11}, dt));
    add("summary short axis", values(random_values(1004, 2, 6), {2, 502}, dt));
  }
  // non-contiguous views
  Tensor base = values(random_values(60, 0, 11), {6, 10}, DType::Float64);
  add("transposed", base.transpose());
  add("flipped", base.slice(1, None, None, -1));
  add("strided", base.slice(0, 1, None, 2).slice(1, None, None, 3));
  check_all(np, cases);
}

TEST(PrintTest, MatchesNumpyIntsAndBools) {
  NumpyOracle np;
  std::vector<Case> cases;
  auto add = [&](const std::string& label, const Tensor& t) {
    cases.push_back({label, t, np.add(kArray2String, {t})});
  };
  for (DType dt : {DType::UInt8, DType::Int8, DType::Int16, DType::Int32, DType::Int64}) {
    add("small", values({1, 2, 3}, {3}, dt));
    add("mixed", values(random_values(24, 3, 2), {2, 3, 4}, dt));
    add("0-d", values({-5}, {}, dt));
    add("row wrap", values(random_values(100, 6, 3), {100}, dt));
    add("summary", arange(3000).reshape({30, 100}).to(dt));
    add("summary 3-d", arange(2 * 600).reshape({2, 20, 30}).to(dt));
  }
  add("int64 extremes", from_vector<int64_t>({std::numeric_limits<int64_t>::min(), 0,
                                              std::numeric_limits<int64_t>::max()}));
  add("bool", from_vector<bool>({true, false, true}));
  add("bool 2-d", from_vector<bool>({true, false, false, true, true, false}, Shape{2, 3}));
  add("bool 0-d", from_vector<bool>({true}, Shape{}));
  add("bool 0-d false", from_vector<bool>({false}, Shape{}));
  add("bool long", arange(2000).to(DType::Bool));
  add("empty", zeros({0}));
  add("empty 2-d", zeros({3, 0}, DType::Int32));
  add("4-d", arange(48).reshape({2, 2, 3, 4}));
  add("transposed ints", arange(12).reshape({3, 4}).transpose());
  check_all(np, cases);
}

TEST(PrintTest, StreamAndBFloat16) {
  Tensor t = tensor({1.0, 2.5, 3.0});
  std::ostringstream os;
  os << t;
  EXPECT_EQ(os.str(), t.to_string());
  // bfloat16: shortest digits that read back as the same bfloat16, laid out like NumPy floats.
  EXPECT_EQ(tensor({1.0, 2.5, 3.0}, DType::BFloat16).to_string(), "[1.  2.5 3. ]");
  EXPECT_EQ(tensor({0.1, 100}, DType::BFloat16).to_string(), "[  0.1 100. ]");
  EXPECT_EQ(scalar_tensor(0.1, DType::BFloat16).to_string(), "0.1");
}

}  // namespace
}  // namespace ravel
