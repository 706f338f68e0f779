#include <gtest/gtest.h>

#include "ravel/tensor.h"

using namespace ravel;

TEST(Tensor, ZerosHasShapeAndDtype) {
  Tensor t = zeros({2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.numel(), 6);
}
