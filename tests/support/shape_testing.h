// Shared by the shape-op, indexing and view tests: deterministic inputs of any dtype, the same
// values in other memory layouts, and a comparison with NumPy's results.
#pragma once
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::shape_testing {

// Deterministic values of any dtype: mixed signs, exact in every float type; `seed` varies them.
Tensor sample(const Shape& shape, DType dt, int seed = 0);
// The same values in another memory layout: 0 contiguous, 1 transposed strides, 2 negative and
// non-unit strides.
Tensor with_layout(const Tensor& t, int layout);
// The dtypes these tests loop over.
std::vector<DType> test_dtypes();
// Compares `ours` with NumPy's results exactly; bfloat16 comes back from NumPy as float32.
void expect_matches(const std::vector<Tensor>& ours, const std::vector<Tensor>& ref,
                    const std::string& what);

}  // namespace ravel::shape_testing
