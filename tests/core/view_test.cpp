// The view methods of Tensor (src/core/tensor.cpp) against NumPy: reshape, view, flatten,
// transpose, permute, expand, squeeze, unsqueeze, slice, select, diagonal, as_strided, and the
// copies contiguous, clone, to, copy_, fill_, with version counter bumps.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "ravel/tensor.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"
#include "support/shape_testing.h"

namespace ravel {
namespace {

using ravel::testing::expect_error;

using shape_testing::expect_matches;
using shape_testing::sample;
using shape_testing::test_dtypes;
using shape_testing::with_layout;

struct ViewCase {
  std::string expr;  // NumPy, the input is a
  Shape shape;
  std::function<Tensor(const Tensor&)> f;
  bool is_view;  // shares the input's storage whatever its layout
};

std::vector<ViewCase> view_cases() {
  using T = const Tensor&;
  return {
      {"a.reshape(6, 4)",
       {2, 3, 4},
       [](T a) {
         return a.reshape({6, 4});
       },
       false},
      {"a.reshape(2, -1)",
       {2, 3, 4},
       [](T a) {
         return a.reshape({2, -1});
       },
       false},
      {"a.reshape(-1)", {}, [](T a) { return a.reshape({-1}); }, true},
      {"a.reshape(0, 5)",
       {2, 0},
       [](T a) {
         return a.reshape({0, 5});
       },
       false},
      {"a.reshape(2, 1, 3, 1, 4)",
       {2, 3, 4},
       [](T a) {
         return a.reshape({2, 1, 3, 1, 4});
       },
       false},
      {"a.reshape(-1)", {2, 3, 4}, [](T a) { return a.flatten(); }, false},
      {"a.reshape(2, -1)", {2, 3, 4}, [](T a) { return a.flatten(1); }, false},
      {"a.reshape(-1, 4)", {2, 3, 4}, [](T a) { return a.flatten(0, -2); }, false},
      {"a.reshape(1)", {}, [](T a) { return a.flatten(); }, true},
      {"a.T", {2, 3, 4}, [](T a) { return a.transpose(); }, true},
      {"np.swapaxes(a, 0, 2)", {2, 3, 4}, [](T a) { return a.transpose(0, -1); }, true},
      {"np.transpose(a, (2, 0, 1))",
       {2, 3, 4},
       [](T a) {
         return a.permute({2, 0, 1});
       },
       true},
      {"np.broadcast_to(a, (5, 2, 3, 4))",
       {2, 1, 4},
       [](T a) {
         return a.expand({5, 2, 3, 4});
       },
       true},
      {"np.broadcast_to(a, (2, 0))",
       {2, 1},
       [](T a) {
         return a.expand({2, 0});
       },
       true},
      {"np.squeeze(a)", {1, 3, 1}, [](T a) { return a.squeeze(); }, true},
      {"np.squeeze(a, 2)", {1, 3, 1}, [](T a) { return a.squeeze(-1); }, true},
      {"np.expand_dims(a, 0)", {2, 3}, [](T a) { return a.unsqueeze(0); }, true},
      {"np.expand_dims(a, 2)", {2, 3}, [](T a) { return a.unsqueeze(2); }, true},
      {"np.expand_dims(a, -2)", {2, 3}, [](T a) { return a.unsqueeze(-2); }, true},
      {"a[:, 1::2]", {2, 5, 4}, [](T a) { return a.slice(1, 1, None, 2); }, true},
      {"a[..., ::-1]", {2, 5, 4}, [](T a) { return a.slice(-1, None, None, -1); }, true},
      {"a[-5:10]", {2, 5, 4}, [](T a) { return a.slice(0, -5, 10); }, true},
      {"a[:, 3:1]", {2, 5, 4}, [](T a) { return a.slice(1, 3, 1); }, true},
      {"a[:, 3:-9:-2]", {2, 5, 4}, [](T a) { return a.slice(1, 3, -9, -2); }, true},
      {"a[:, ::-3]", {2, 5, 4}, [](T a) { return a.slice(1, None, None, -3); }, true},
      {"a[:, -1]", {2, 5, 4}, [](T a) { return a.select(1, -1); }, true},
      {"a[..., 0]", {2, 5, 4}, [](T a) { return a.select(2, 0); }, true},
      {"np.diagonal(a)", {3, 4}, [](T a) { return a.diagonal(); }, true},
      {"np.diagonal(a, 1, 1, 2)", {2, 3, 4}, [](T a) { return a.diagonal(1, 1, 2); }, true},
      {"np.diagonal(a, -1, 2, 0)", {3, 2, 4}, [](T a) { return a.diagonal(-1, 2, 0); }, true},
      {"np.diagonal(a, 5)", {3, 4}, [](T a) { return a.diagonal(5); }, true},
      {"a", {2, 3, 4}, [](T a) { return a.contiguous(); }, false},
      {"a", {2, 3, 4}, [](T a) { return a.clone(); }, false},
      {"a", {0, 3}, [](T a) { return a.clone(); }, false},
  };
}

}  // namespace

TEST(Views, MatchNumpy) {
  ravel::testing::NumpyOracle np;
  struct Ran {
    std::string what;
    Tensor ours;
    int handle;
  };
  std::vector<Ran> ran;
  for (const ViewCase& c : view_cases()) {
    for (DType dt : test_dtypes()) {
      for (int layout = 0; layout < 3; ++layout) {
        Tensor a = with_layout(sample(c.shape, dt), layout);
        std::string what =
            c.expr + " dtype " + dtype_name(dt) + " layout " + std::to_string(layout);
        try {
          Tensor r = c.f(a);
          if (c.is_view) {
            EXPECT_TRUE(r.shares_storage(a)) << what;
          }
          ran.push_back({what, r, np.add(c.expr, {a})});
        } catch (const Error& e) {
          ADD_FAILURE() << what << ": " << e.what();
        }
      }
    }
  }
  np.run();
  for (const Ran& r : ran) {
    ASSERT_EQ(np.error(r.handle), "") << r.what;
    expect_matches({r.ours}, {np.result(r.handle)}, r.what);
  }
}

TEST(Views, ViewSharesOrThrowsReshapeCopies) {
  Tensor a = arange(24).reshape({2, 3, 4});
  EXPECT_TRUE(a.view({4, 6}).shares_storage(a));
  EXPECT_TRUE(a.reshape({4, 6}).shares_storage(a));
  EXPECT_TRUE(a.transpose().transpose().view({24}).shares_storage(a));
  EXPECT_TRUE(a.slice(2, 0, 2).view({6, 2}).shares_storage(a));  // splits only kept axes
  Tensor t = a.transpose();
  EXPECT_FALSE(t.reshape({24}).shares_storage(a));  // needs a copy
  try {
    t.view({24});
    ADD_FAILURE() << "view of a transposed tensor should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("view: shape [24] is not compatible with the strides"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(a.contiguous().is_same(a));
  EXPECT_FALSE(t.contiguous().shares_storage(a));
  EXPECT_TRUE(t.contiguous().is_contiguous());
  EXPECT_FALSE(a.clone().shares_storage(a));
  EXPECT_TRUE(a.to(DType::Int64).is_same(a));
  EXPECT_FALSE(a.to(DType::Int64, true).shares_storage(a));
}

TEST(Views, AsStridedMatchesNumpy) {
  ravel::testing::NumpyOracle np;
  std::vector<std::pair<Tensor, int>> ran;
  for (DType dt : test_dtypes()) {
    Tensor a = sample({10}, dt);
    ran.push_back({a.as_strided({4, 3}, {2, 1}, 1),
                   np.add("np.lib.stride_tricks.as_strided(a[1:], (4, 3), (2 * a.itemsize, "
                          "a.itemsize))",
                          {a})});
    ran.push_back(
        {a.as_strided({3, 2}, {0, -3}, 9), np.add("np.broadcast_to(a[9::-3][:2], (3, 2))", {a})});
  }
  np.run();
  for (auto& [ours, h] : ran)
    EXPECT_TRUE(ravel::testing::matches(ours, np.result(h), 0, 0, ours.dtype() != DType::BFloat16));
}

// Every dtype to every dtype, as NumPy's astype (values in range of every type).
TEST(Views, ToMatchesNumpyAstype) {
  ravel::testing::NumpyOracle np;
  std::vector<std::tuple<std::string, Tensor, int>> ran;
  for (DType from : ravel::testing::all_dtypes()) {
    Tensor a = with_layout(sample({3, 5}, from), 1);
    for (DType to : ravel::testing::all_dtypes()) {
      if (to == DType::BFloat16) continue;  // NumPy has no bfloat16
      std::string expr = std::string("a.astype('") + dtype_name(to) + "')";
      ran.emplace_back(expr + " from " + dtype_name(from), a.to(to), np.add(expr, {a}));
    }
  }
  // Special values: NaN and infinities to bool and floats, in-range to int64.
  Tensor s = from_vector(
      std::vector<double>{NAN, INFINITY, -INFINITY, -0.0, 1e300, 65519.0, 65520.0, 3.4e38, 1e-8});
  for (DType to : {DType::Bool, DType::Float16, DType::Float32, DType::Float64}) {
    std::string expr = std::string("a.astype('") + dtype_name(to) + "')";
    ran.emplace_back(expr + " specials", s.to(to), np.add(expr, {s}));
  }
  np.run();
  for (auto& [what, ours, h] : ran) {
    ASSERT_EQ(np.error(h), "") << what;
    EXPECT_TRUE(ravel::testing::matches(ours, np.result(h), 0, 0)) << what;
  }
  // bfloat16 keeps 8 significant bits: the sample's values are exact.
  Tensor b = sample({3, 5}, DType::Float32).to(DType::BFloat16);
  EXPECT_EQ(b.to(DType::Float32).to_vector<float>(),
            sample({3, 5}, DType::Float32).to_vector<float>());
}

TEST(Views, CopyAndFillMatchNumpy) {
  ravel::testing::NumpyOracle np;
  std::vector<std::tuple<std::string, Tensor, int>> ran;
  for (DType dt : test_dtypes()) {
    for (int layout = 0; layout < 3; ++layout) {
      std::string sfx =
          std::string(" dtype ") + dtype_name(dt) + " layout " + std::to_string(layout);
      Tensor a = with_layout(sample({4, 6}, dt), layout);
      Tensor src = with_layout(sample({4, 1}, DType::Float64, 1), layout);
      {
        Tensor x = a.clone();
        x.transpose().slice(0, None, None, -2).copy_(src.reshape({1, 4}).expand({3, 4}));
        ran.emplace_back("copy_ broadcast" + sfx, x,
                         np.add("(lambda x: (x.T.__setitem__(np.s_[::-2], b.reshape(1, 4)), "
                                "x)[1])(a.copy())",
                                {a, src}));
      }
      {
        Tensor x = a.clone();
        x.slice(1, 1, None).copy_(x.slice(1, None, -1));  // overlapping
        ran.emplace_back("copy_ overlap" + sfx, x,
                         np.add("(lambda x: (x.__setitem__(np.s_[:, 1:], x[:, :-1]), x)[1])"
                                "(a.copy())",
                                {a}));
      }
      {
        Tensor x = a.clone();
        x.slice(0, None, None, 2).fill_(2.5);
        x.select(1, -1).fill_(true);
        ran.emplace_back("fill_" + sfx, x,
                         np.add("(lambda x: (x.__setitem__(np.s_[::2], 2.5), x.__setitem__("
                                "np.s_[:, -1], True), x)[2])(a.copy())",
                                {a}));
      }
      {
        Tensor x = with_layout(sample({4, 6}, dt, 3), layout);
        Tensor y = x.clone();
        x.copy_(a);
        ran.emplace_back("copy_ same shape" + sfx, x, np.add("a.copy()", {a}));
        y.zero_();
        ran.emplace_back("zero_" + sfx, y, np.add("np.zeros_like(a)", {a}));
      }
    }
  }
  np.run();
  for (auto& [what, ours, h] : ran) {
    ASSERT_EQ(np.error(h), "") << what;
    expect_matches({ours}, {np.result(h)}, what);
  }
}

// Writes bump the storage's version, seen by every view of it; reads and views do not.
TEST(Views, VersionCounter) {
  Tensor a = zeros({3, 4});
  Tensor v = a.slice(0, 1, None).transpose();
  uint64_t n = a.storage()->version();
  EXPECT_EQ(v.storage()->version(), n);
  a.diagonal();
  EXPECT_EQ(a.storage()->version(), n);
  v.fill_(1);
  EXPECT_EQ(a.storage()->version(), ++n);
  v.copy_(ones({4, 2}));
  EXPECT_EQ(a.storage()->version(), ++n);
  a.zero_();
  EXPECT_EQ(a.storage()->version(), ++n);
  v.index_put_({0}, Scalar(3));
  EXPECT_EQ(a.storage()->version(), ++n);
  a.bump_version();
  EXPECT_EQ(v.storage()->version(), ++n);
}

TEST(Views, Errors) {
  Tensor a = zeros({2, 3, 4});
  expect_error(
      [&] {
        a.reshape({5, 5});
      },
      "reshape: cannot reshape tensor of shape [2, 3, 4] (24 elements) into shape [5, 5]");
  expect_error([&] { a.reshape({-1, 5}); }, "reshape: cannot reshape tensor of shape [2, 3, 4]");
  expect_error([&] { a.reshape({-1, -1}); }, "reshape: only one dimension can be -1");
  expect_error([&] { a.reshape({-2, 12}); }, "reshape: invalid size -2");
  expect_error([&] { a.view({5}); }, "view: cannot reshape");
  expect_error([&] { a.flatten(2, 1); }, "flatten: start axis 2 is after end axis 1");
  expect_error(
      [&] {
        a.permute({0, 1});
      },
      "permute: got 2 axes [0, 1] for a tensor of dimension 3");
  expect_error([&] { a.permute({0, 1, 1}); }, "permute: axis 1 repeated in [0, 1, 1]");
  expect_error([&] { a.permute({0, 1, 3}); }, "permute: axis 3 is out of bounds");
  expect_error([&] { a.transpose(0, 3); }, "transpose: axis 3 is out of bounds");
  expect_error(
      [&] {
        a.expand({3, 4});
      },
      "broadcast_to: cannot broadcast shape [2, 3, 4] to [3, 4]");
  expect_error(
      [&] {
        a.expand({2, 2, 4});
      },
      "broadcast_to: cannot broadcast shape [2, 3, 4] to [2, 2, 4]");
  expect_error([&] { a.squeeze(0); }, "squeeze: cannot select an axis to squeeze out");
  expect_error([&] { a.unsqueeze(4); }, "unsqueeze: axis 4 is out of bounds");
  expect_error([&] { a.slice(3, 0, 1); }, "slice: axis 3 is out of bounds");
  expect_error([&] { a.slice(0, 0, 1, 0); }, "slice: slice step cannot be zero");
  expect_error([&] { a.select(1, 3); }, "index 3 is out of bounds for axis 1 with size 3");
  expect_error([&] { a.select(1, -4); }, "index -4 is out of bounds for axis 1 with size 3");
  expect_error([&] { a.diagonal(0, 1, 1); }, "diagonal: axis1 and axis2 cannot be the same");
  expect_error([&] { a.as_strided({2}, {1, 1}, 0); }, "as_strided: shape [2] and strides [1, 1]");
  expect_error([&] { a.copy_(zeros({2, 4})); }, "broadcast_to: cannot broadcast shape [2, 4]");
  expect_error([&] { Tensor().shape(); }, "tensor is undefined");
}

}  // namespace ravel
