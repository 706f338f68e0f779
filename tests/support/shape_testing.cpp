// Shared inputs and checks of the shape, index and view tests (see shape_testing.h).
#include "support/shape_testing.h"

#include "support/numpy_oracle.h"

namespace ravel::shape_testing {

// Deterministic values of any dtype: mixed signs, exact in every float type; `seed` varies them.
Tensor sample(const Shape& shape, DType dt, int seed) {
  int64_t n = shape_numel(shape);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    int64_t k = (i * 7 + seed * 5 + 3) % 23;
    v[i] = dt == DType::Bool ? static_cast<double>(k % 3 == 0)
                             : static_cast<double>(k - (dt == DType::UInt8 ? 0 : 11)) +
                                   (is_floating(dt) ? 0.5 : 0.0);
  }
  return from_vector(v, shape).to(dt);
}

// The same values in another memory layout: 0 contiguous, 1 transposed strides, 2 negative and
// non-unit strides (every other element of a reversed buffer).
Tensor with_layout(const Tensor& t, int layout) {
  if (layout == 0 || t.ndim() == 0) return t;
  if (layout == 1) return t.transpose().clone().transpose();
  Shape big = t.shape();
  big[big.size() - 1] *= 2;
  Tensor v = empty(big, t.dtype()).slice(-1, std::nullopt, std::nullopt, -2);
  v.copy_(t);
  return v;
}

std::vector<DType> test_dtypes() {
  return {DType::Bool,    DType::UInt8,   DType::Int32,   DType::Int64,
          DType::Float16, DType::Float32, DType::Float64, DType::BFloat16};
}

// Compares `ours` with NumPy's results; bfloat16 comes back from NumPy as float32.
void expect_matches(const std::vector<Tensor>& ours, const std::vector<Tensor>& ref,
                    const std::string& what) {
  ASSERT_EQ(ours.size(), ref.size()) << what;
  for (size_t i = 0; i < ours.size(); ++i) {
    bool bf16 = ours[i].dtype() == DType::BFloat16;
    EXPECT_TRUE(testing::matches(ours[i], ref[i], 0, 0, !bf16)) << what << " result " << i;
  }
}

}  // namespace ravel::shape_testing
