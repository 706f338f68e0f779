// Creation, storage and metadata, checked against NumPy where NumPy has an answer.
#include "ravel/tensor.h"

#include <gtest/gtest.h>

#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::matches;

TEST(Tensor, ZerosOnesFullEmpty) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::Float32);
  EXPECT_EQ(z.numel(), 6);
  EXPECT_TRUE(z.is_contiguous());
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.0f);
  for (int64_t v : ones({4}, DType::Int64).to_vector<int64_t>()) EXPECT_EQ(v, 1);
  Tensor f = full({2}, 2.5);
  EXPECT_EQ(f.dtype(), DType::Float32);
  EXPECT_EQ(f.to_vector<float>(), (std::vector<float>{2.5f, 2.5f}));
  EXPECT_EQ(full({1}, 3).dtype(), DType::Int64);
  EXPECT_EQ(full({1}, true).dtype(), DType::Bool);
  Tensor e = empty({0, 5}, DType::Int8);
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(zeros_like(f, DType::Int32).dtype(), DType::Int32);
  EXPECT_EQ(full_like(f, 7).to_vector<float>(), (std::vector<float>{7.0f, 7.0f}));
  Tensor s = scalar_tensor(4.0);
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.item<double>(), 4.0);
}

TEST(Tensor, StorageIsAlignedAndShared) {
  for (int n : {1, 3, 17, 1000}) {
    Tensor t = empty({n}, DType::Int8);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  }
  Tensor a = arange(6);
  Tensor b = a.reshape({2, 3});
  EXPECT_TRUE(a.shares_storage(b));
  EXPECT_FALSE(a.shares_storage(a.clone()));
}

TEST(Tensor, VersionCounterBumpsOnInPlaceWrites) {
  Tensor a = zeros({3});
  uint64_t v0 = a.storage()->version();
  a.fill_(1);
  EXPECT_GT(a.storage()->version(), v0);
  uint64_t v1 = a.storage()->version();
  a.slice(0, 1, 2).copy_(scalar_tensor(5.0f));
  EXPECT_GT(a.storage()->version(), v1);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 5, 1}));
}

TEST(Tensor, RangesMatchNumpy) {
  ravel::testing::NumpyOracle np;
  struct C {
    Tensor ours;
    std::string expr;
  };
  std::vector<C> cases = {
      {arange(10), "np.arange(10)"},
      {arange(3, 20, 4), "np.arange(3, 20, 4)"},
      {arange(10, -3, -3), "np.arange(10, -3, -3)"},
      {arange(5, 5), "np.arange(5, 5)"},
      {arange(0.0, 1.0, 0.1), "np.arange(0.0, 1.0, 0.1, dtype=np.float32)"},
      {arange(-1.5, 2.25, 0.25, DType::Float64), "np.arange(-1.5, 2.25, 0.25)"},
      {arange(0, 10, 3, DType::Float32), "np.arange(0, 10, 3, dtype=np.float32)"},
      {linspace(0, 1, 11), "np.linspace(0, 1, 11, dtype=np.float32)"},
      {linspace(-3, 7, 7, false, DType::Float64), "np.linspace(-3, 7, 7, endpoint=False)"},
      {linspace(2, 2, 1), "np.linspace(2, 2, 1, dtype=np.float32)"},
      {linspace(0, 1, 0), "np.linspace(0, 1, 0, dtype=np.float32)"},
      {linspace(0, 10, 5, true, DType::Int32), "np.linspace(0, 10, 5, dtype=np.int32)"},
      {logspace(0, 3, 4), "np.logspace(0, 3, 4, dtype=np.float32)"},
      {logspace(1, 2, 5, true, 2.0, DType::Float64), "np.logspace(1, 2, 5, base=2.0)"},
      {eye(3), "np.eye(3, dtype=np.float32)"},
      {eye(3, 5, 1, DType::Int64), "np.eye(3, 5, 1, dtype=np.int64)"},
      {eye(4, 2, -1, DType::Float64), "np.eye(4, 2, -1)"},
      {eye(2, 2, 5), "np.eye(2, 2, 5, dtype=np.float32)"},
  };
  std::vector<int> h;
  for (auto& c : cases) h.push_back(np.add(c.expr, {}));
  np.run();
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_TRUE(matches(cases[i].ours, np.result(h[i]), 1e-6, 1e-7)) << cases[i].expr;
}

TEST(Tensor, NestedInitializerLists) {
  Tensor a = tensor({{1, 2, 3}, {4, 5, 6}});
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.dtype(), DType::Int64);
  EXPECT_EQ(a.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  Tensor b = tensor({{1.5, 2}, {3, 4}});
  EXPECT_EQ(b.dtype(), DType::Float32);
  EXPECT_EQ(tensor({true, false}).dtype(), DType::Bool);
  EXPECT_EQ(tensor({1, 2}, DType::Float64).dtype(), DType::Float64);
  Tensor c = tensor({{{1}, {2}}, {{3}, {4}}});
  EXPECT_EQ(c.shape(), (Shape{2, 2, 1}));
  EXPECT_THROW(tensor({{1, 2}, {3}}), Error);
  EXPECT_THROW(tensor({{1, 2}, 3}), Error);
}

TEST(Tensor, FromVectorBufferAndBlob) {
  Tensor v = from_vector(std::vector<int32_t>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  EXPECT_EQ(v.dtype(), DType::Int32);
  EXPECT_EQ(v.shape(), (Shape{2, 3}));
  EXPECT_EQ(from_vector(std::vector<bool>{true, false}).dtype(), DType::Bool);

  // zero-copy: writes through the tensor reach the caller's buffer; the deleter runs once
  int deleted = 0;
  {
    std::vector<float> buf = {1, 2, 3, 4};
    Tensor w = from_blob(buf.data(), {2, 2}, DType::Float32, [&](void*) { ++deleted; });
    w.fill_(9);
    EXPECT_EQ(buf[3], 9.0f);
    Tensor view = w.transpose();
    w = Tensor();
    EXPECT_EQ(deleted, 0);  // the view still holds the storage
    view = Tensor();
    EXPECT_EQ(deleted, 1);
  }
  float raw[6] = {0, 1, 2, 3, 4, 5};
  Tensor strided = from_blob(raw, {3}, DType::Float32, {}, Shape{2});
  EXPECT_EQ(strided.to_vector<float>(), (std::vector<float>{0, 2, 4}));
}

TEST(Tensor, ItemAndErrors) {
  EXPECT_EQ(full({1, 1}, 3).item<int>(), 3);
  try {
    zeros({2, 2}).item<float>();
    FAIL() << "item on 4 elements must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 2]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(empty({-1}), Error);
  // Sizes that overflow int64 are errors, also when a zero dim makes the tensor empty.
  EXPECT_THROW(empty({int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(empty({0, int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(zeros({2}).data_ptr<double>(), Error);
  EXPECT_THROW(Tensor().shape(), Error);
  EXPECT_THROW(arange(0, 5, 0), Error);
}
