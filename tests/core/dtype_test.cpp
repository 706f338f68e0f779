// DType promotion and conversions, checked against NumPy.
#include <gtest/gtest.h>

#include <cmath>

#include "ravel/tensor.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::all_dtypes;

TEST(DType, NamesRoundTrip) {
  for (DType t : all_dtypes()) EXPECT_EQ(dtype_from_name(dtype_name(t)), t);
  EXPECT_THROW(dtype_from_name("complex64"), Error);
}

// The full promotion table for every pair NumPy knows, computed by NumPy in this run.
TEST(DType, PromotionMatchesNumpy) {
  std::vector<DType> np_types;
  for (DType t : all_dtypes())
    if (t != DType::BFloat16) np_types.push_back(t);
  ravel::testing::NumpyOracle np;
  std::vector<std::pair<DType, DType>> pairs;
  std::vector<int> handles;
  for (DType a : np_types)
    for (DType b : np_types) {
      // the result dtype comes back as the dtype of an empty array
      handles.push_back(np.add(std::string("np.empty(0, np.promote_types(np.") + dtype_name(a) +
                                   (a == DType::Bool ? "_" : "") + ", np." + dtype_name(b) +
                                   (b == DType::Bool ? "_" : "") + "))",
                               {}));
      pairs.push_back({a, b});
    }
  np.run();
  for (size_t i = 0; i < pairs.size(); ++i)
    EXPECT_EQ(promote_types(pairs[i].first, pairs[i].second), np.result(handles[i]).dtype())
        << dtype_name(pairs[i].first) << " + " << dtype_name(pairs[i].second);
}

TEST(DType, BFloat16Promotion) {
  EXPECT_EQ(promote_types(DType::BFloat16, DType::Float16), DType::Float32);
  EXPECT_EQ(promote_types(DType::BFloat16, DType::Int8), DType::BFloat16);
  EXPECT_EQ(promote_types(DType::BFloat16, DType::Int16), DType::Float32);
  EXPECT_EQ(promote_types(DType::BFloat16, DType::Float64), DType::Float64);
}

TEST(DType, WeakScalars) {
  EXPECT_EQ(result_type(DType::Int8, Scalar(1000)), DType::Int8);
  EXPECT_EQ(result_type(DType::Int32, Scalar(0.5)), DType::Float32);
  EXPECT_EQ(result_type(DType::Float16, Scalar(0.5)), DType::Float16);
  EXPECT_EQ(result_type(DType::Bool, Scalar(2)), DType::Int64);
}

TEST(DType, CanCastMatchesNumpy) {
  ravel::testing::NumpyOracle np;
  std::vector<std::tuple<DType, DType, std::string, int>> cases;
  for (DType a : all_dtypes())
    for (DType b : all_dtypes()) {
      if (a == DType::BFloat16 || b == DType::BFloat16) continue;
      for (std::string rule : {"safe", "same_kind"}) {
        auto name = [](DType t) {
          return std::string("np.") + dtype_name(t) + (t == DType::Bool ? "_" : "");
        };
        int h = np.add("np.can_cast(" + name(a) + ", " + name(b) + ", '" + rule + "')", {});
        cases.push_back({a, b, rule, h});
      }
    }
  np.run();
  for (auto& [a, b, rule, h] : cases)
    EXPECT_EQ(can_cast(a, b, rule), np.result(h).item<bool>())
        << dtype_name(a) << " -> " << dtype_name(b) << " " << rule;
}

// Every cast between every pair of dtypes, including NaN/inf/out-of-range floats to ints.
TEST(DType, CastsMatchNumpy) {
  Tensor src = tensor({0.0, 1.0, -1.0, 2.5, -2.5, 127.0, 128.0, 255.0, 256.0, -129.0, 65504.0, 1e10,
                       -1e10, 3.3e38, 1e-8, 0.1});
  ravel::testing::NumpyOracle np;
  std::vector<std::tuple<DType, DType, int>> cases;
  for (DType from : all_dtypes())
    for (DType to : all_dtypes()) {
      if (from == DType::BFloat16 || to == DType::BFloat16) continue;
      // Values that are out of range for the target integer type are platform-defined in
      // NumPy (and warned about); compare only values that every integer type holds.
      Tensor x = (is_floating(from) && !is_floating(to)) ? src.slice(0, 0, 5) : src;
      Tensor xs = x.to(from);
      int h = np.add(
          std::string("a.astype(np.") + dtype_name(to) + (to == DType::Bool ? "_" : "") + ")",
          {xs});
      cases.push_back({from, to, h});
    }
  np.run();
  for (auto& [from, to, h] : cases) {
    Tensor x = (is_floating(from) && !is_floating(to)) ? src.slice(0, 0, 5) : src;
    EXPECT_TRUE(ravel::testing::matches(x.to(from).to(to), np.result(h), 0, 0))
        << dtype_name(from) << " -> " << dtype_name(to);
  }
}

TEST(DType, HalfAndBFloat16RoundToNearestEven) {
  // Every float16 bit pattern converts to float and back unchanged (NaNs stay NaN).
  for (uint32_t b = 0; b < 65536; ++b) {
    Half h = Half::from_bits(static_cast<uint16_t>(b));
    float f = h;
    if (std::isnan(f))
      EXPECT_TRUE(std::isnan(static_cast<float>(Half(f))));
    else
      EXPECT_EQ(Half(f).bits, h.bits) << b;
  }
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 1.0f / 256)), 1.0f);  // tie -> even
  EXPECT_EQ(static_cast<float>(BFloat16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
  EXPECT_EQ(static_cast<float>(Half(65520.0f)), INFINITY);
}
