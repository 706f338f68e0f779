#include <gtest/gtest.h>

#include "ravel/tensor.h"

using namespace ravel;

TEST(ShapeHelpers, BroadcastShapes) {
  EXPECT_EQ(broadcast_shapes({3, 1, 5}, {4, 1}), (Shape{3, 4, 5}));
  EXPECT_EQ(broadcast_shapes({}, {2, 3}), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes({0}, {1}), (Shape{0}));
  try {
    broadcast_shapes({3}, {4}, "add");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "add: shapes [3] and [4] cannot be broadcast together");
  }
}

TEST(ShapeHelpers, NormalizeAxis) {
  EXPECT_EQ(normalize_axis(-1, 3, "sum"), 2);
  EXPECT_THROW(normalize_axis(3, 3, "sum"), Error);
  EXPECT_THROW(normalize_axis(-4, 3, "sum"), Error);
}

TEST(SmallVector, GrowsPastInlineCapacity) {
  Shape s;
  for (int i = 0; i < 20; ++i) s.push_back(i);
  EXPECT_EQ(s.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(s[i], i);
  Shape t = s;
  t.erase(0);
  EXPECT_EQ(t[0], 1);
  t.insert(0, 42);
  EXPECT_EQ(t[0], 42);
  Shape m = std::move(t);
  EXPECT_EQ(m.size(), 20u);
}
