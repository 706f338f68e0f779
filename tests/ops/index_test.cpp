// Indexing against NumPy: a table of index expressions, each read (Tensor::index) and written
// (index_put_ with a tensor and with a scalar) over dtypes and memory layouts; then take,
// take_along_axis, masked_select, gather, scatter_add, and the error messages.
#include <gtest/gtest.h>

#include <functional>

#include "ravel/ops.h"
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

struct IndexCase {
  std::string idx;  // NumPy index text: a[idx]; tensors in it are b, c, d
  std::vector<Tensor> tensors;
  std::function<std::vector<Index>(const std::vector<Tensor>&)> make;
};

Tensor i64(std::vector<int64_t> v, Shape s) { return from_vector(v, s); }
Tensor mask(std::vector<bool> v, Shape s) { return from_vector(v, s); }

// Index expressions for a tensor of shape [4, 5, 6].
std::vector<IndexCase> index_cases() {
  using T = const std::vector<Tensor>&;
  Slice all;
  auto sl = [](std::optional<int64_t> a, std::optional<int64_t> b = None, int64_t c = 1) {
    return Slice(a, b, c);
  };
  Tensor b1 = i64({2, 1, 0, -1}, {4});
  Tensor b2 = i64({0, 3, 1, -1}, {2, 2});
  Tensor bc = i64({3, 1, 0}, {3, 1});
  Tensor cr = i64({4, 0}, {2});
  Tensor dup = i64({0, 0, 1, 0}, {4});
  Tensor m4 = mask({true, false, true, true}, {4});
  Tensor m45 = sample({4, 5}, DType::Bool);
  Tensor m456 = sample({4, 5, 6}, DType::Bool, 3);
  Tensor m5 = mask({false, true, true, false, true}, {5});
  Tensor m6 = mask({true, false, false, true, true, false}, {6});
  Tensor m4b = mask({false, true, false, true}, {4});
  return {
      {"()", {}, [](T) { return std::vector<Index>{}; }},
      {"1", {}, [](T) { return std::vector<Index>{1}; }},
      {"-1", {}, [](T) { return std::vector<Index>{-1}; }},
      {"1, 2, 3",
       {},
       [](T) {
         return std::vector<Index>{1, 2, 3};
       }},
      {"-4, -5, -6",
       {},
       [](T) {
         return std::vector<Index>{-4, -5, -6};
       }},
      {"1:", {}, [=](T) { return std::vector<Index>{sl(1)}; }},
      {":, 1:4:2",
       {},
       [=](T) {
         return std::vector<Index>{all, sl(1, 4, 2)};
       }},
      {"::-1", {}, [=](T) { return std::vector<Index>{sl(None, None, -1)}; }},
      {"1:, ::-2, None, ...",
       {},
       [=](T) {
         return std::vector<Index>{sl(1), sl(None, None, -2), newaxis, ellipsis};
       }},
      {"..., 2",
       {},
       [](T) {
         return std::vector<Index>{ellipsis, 2};
       }},
      {"..., None",
       {},
       [](T) {
         return std::vector<Index>{ellipsis, newaxis};
       }},
      {"None, 1, ..., ::3",
       {},
       [=](T) {
         return std::vector<Index>{newaxis, 1, ellipsis, sl(None, None, 3)};
       }},
      {"-10:10, -2:",
       {},
       [=](T) {
         return std::vector<Index>{sl(-10, 10), sl(-2)};
       }},
      {"3:1", {}, [=](T) { return std::vector<Index>{sl(3, 1)}; }},
      {"3:0:-1, 4:-6:-2",
       {},
       [=](T) {
         return std::vector<Index>{sl(3, 0, -1), sl(4, -6, -2)};
       }},
      {":, 5:",
       {},
       [=](T) {
         return std::vector<Index>{all, sl(5)};
       }},
      {"...", {}, [](T) { return std::vector<Index>{ellipsis}; }},
      {"..., 1, :",
       {},
       [=](T) {
         return std::vector<Index>{ellipsis, 1, all};
       }},
      {"b", {b1}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {b1.to(DType::Int32)}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {b2}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {scalar_tensor(2)}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {i64({}, {0})}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {dup}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b, c",
       {bc, cr},
       [](T t) {
         return std::vector<Index>{t[0], t[1]};
       }},
      {":, b",
       {b2},
       [=](T t) {
         return std::vector<Index>{all, t[0]};
       }},
      {":, b, c",
       {b2, cr.reshape({2, 1})},
       [=](T t) {
         return std::vector<Index>{all, t[0], t[1]};
       }},
      {"1, :, b",
       {b2},
       [=](T t) {
         return std::vector<Index>{1, all, t[0]};
       }},
      {":, 1, b",
       {b2},
       [=](T t) {
         return std::vector<Index>{all, 1, t[0]};
       }},
      {"b, :, c",
       {bc, cr},
       [=](T t) {
         return std::vector<Index>{t[0], all, t[1]};
       }},
      {"..., b",
       {cr},
       [](T t) {
         return std::vector<Index>{ellipsis, t[0]};
       }},
      {"b, None, c",
       {b1, b1},
       [](T t) {
         return std::vector<Index>{t[0], newaxis, t[1]};
       }},
      {"None, b",
       {b2},
       [](T t) {
         return std::vector<Index>{newaxis, t[0]};
       }},
      {":, b, ::-1",
       {b2},
       [=](T t) {
         return std::vector<Index>{all, t[0], sl(None, None, -1)};
       }},
      {"b, ..., c",
       {b1, b1},
       [](T t) {
         return std::vector<Index>{t[0], ellipsis, t[1]};
       }},
      {"b, c, d",
       {bc, i64({1, 2}, {2}), i64({5}, {1})},
       [](T t) {
         return std::vector<Index>{t[0], t[1], t[2]};
       }},
      {"b", {m4}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {m45}, [](T t) { return std::vector<Index>{t[0]}; }},
      {"b", {m456}, [](T t) { return std::vector<Index>{t[0]}; }},
      {":, b",
       {m5},
       [=](T t) {
         return std::vector<Index>{all, t[0]};
       }},
      {"b, 1",
       {m4},
       [](T t) {
         return std::vector<Index>{t[0], 1};
       }},
      {"..., b",
       {m6},
       [](T t) {
         return std::vector<Index>{ellipsis, t[0]};
       }},
      {"b, c",
       {m4b, i64({3, -2}, {2})},
       [](T t) {
         return std::vector<Index>{t[0], t[1]};
       }},
      {"b, ::2, c",
       {m4b, mask({false, true, false, false, true, false}, {6})},
       [=](T t) {
         return std::vector<Index>{t[0], sl(None, None, 2), t[1]};
       }},
      {"b",
       {mask({false, false, false, false}, {4})},
       [](T t) { return std::vector<Index>{t[0]}; }},
      {"True", {}, [](T) { return std::vector<Index>{scalar_tensor(true)}; }},
      {"False", {}, [](T) { return std::vector<Index>{scalar_tensor(false)}; }},
      {"1, True",
       {},
       [](T) {
         return std::vector<Index>{1, scalar_tensor(true)};
       }},
  };
}

std::string letter(size_t i) { return std::string(1, static_cast<char>('a' + i)); }

}  // namespace

// Every index expression read and written, over dtypes and layouts, against NumPy.
TEST(Indexing, MatchesNumpyReadAndWrite) {
  ravel::testing::NumpyOracle np;
  struct Ran {
    std::string what;
    Tensor ours;
    int handle;
  };
  std::vector<Ran> ran;
  for (const IndexCase& c : index_cases()) {
    std::vector<Index> idx = c.make(c.tensors);
    for (DType dt : test_dtypes()) {
      for (int layout = 0; layout < 3; ++layout) {
        Tensor a = with_layout(sample({4, 5, 6}, dt), layout);
        std::vector<Tensor> in = {a};
        in.insert(in.end(), c.tensors.begin(), c.tensors.end());
        std::string what =
            "a[" + c.idx + "] dtype " + dtype_name(dt) + " layout " + std::to_string(layout);
        std::string set = "(lambda x: (x.__setitem__(np.s_[" + c.idx + "], ";
        try {
          Tensor r = a.index(idx);
          ran.push_back({what, r, np.add("a[" + c.idx + "]", in)});
          // a tensor value of the indexed shape, one broadcast along the leading axes, a scalar
          std::vector<Tensor> values = {sample(r.shape(), dt, 7)};
          if (r.ndim() > 0) values.push_back(sample({r.shape()[r.ndim() - 1]}, dt, 2));
          for (const Tensor& v : values) {
            Tensor w = with_layout(a.clone(), layout);  // writes into the same layout
            w.index_put_(idx, v);
            std::vector<Tensor> in_v = in;
            in_v.push_back(v);
            ran.push_back({what + " = value of shape " + ::testing::PrintToString(v.shape()), w,
                           np.add(set + letter(in.size()) + "), x)[1])(a.copy())", in_v)});
          }
          Tensor w = with_layout(a.clone(), layout);
          w.index_put_(idx, Scalar(3));
          ran.push_back({what + " = 3", w, np.add(set + "3), x)[1])(a.copy())", in)});
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

TEST(Indexing, BasicIsViewAdvancedIsCopy) {
  Tensor a = arange(120).reshape({4, 5, 6});
  Tensor v = a.index({1, Slice(None, None, -1), newaxis, ellipsis});
  EXPECT_TRUE(v.shares_storage(a));
  EXPECT_EQ(v.shape(), (Shape{5, 1, 6}));
  EXPECT_EQ(v.strides(), (Shape{-6, 6, 1}));
  EXPECT_FALSE(a.index({i64({0, 1}, {2})}).shares_storage(a));
  EXPECT_FALSE(a.index({sample({4}, DType::Bool)}).shares_storage(a));
}

// index_put_ through a view writes the viewed storage, and every write bumps the version.
TEST(Indexing, PutThroughViewsAndVersion) {
  ravel::testing::NumpyOracle np;
  Tensor a = sample({4, 5, 6}, DType::Int64);
  Tensor orig = a.clone();
  Tensor val = sample({3, 5, 2}, DType::Float64, 4);  // cast to int64 on assignment
  Tensor v = a.index({Slice(1), Slice(None, None, -1)});
  uint64_t before = a.storage()->version();
  v.index_put_({ellipsis, i64({4, -6}, {2})}, val);
  EXPECT_GT(a.storage()->version(), before);
  int h1 = np.add("(lambda x: (x[1:, ::-1].__setitem__(np.s_[..., [4, -6]], b), x)[1])(a.copy())",
                  {orig, val});
  before = a.storage()->version();
  a.index_put_({Slice(None, 2), 0}, Scalar(-7));
  EXPECT_GT(a.storage()->version(), before);
  before = a.storage()->version();
  a.index_put_({0}, Scalar(1));
  EXPECT_GT(a.storage()->version(), before);
  // the value overlaps the target: ravel reads it in full before writing, as if copied
  Tensor b = sample({6}, DType::Float32);
  Tensor b0 = b.clone();
  b.index_put_({i64({1, 2, 3, 4, 5, 0}, {6})}, b);
  // (NumPy 1.24 itself reads the overlapping value while writing: it gives all zeros here)
  int h2 = np.add(
      "(lambda x: (x.__setitem__(np.s_[[1, 2, 3, 4, 5, 0]], x.copy()), x)[1])"
      "(a.copy())",
      {b0});
  Tensor c = sample({6}, DType::Float32);
  Tensor c0 = c.clone();
  c.index_put_({Slice(1)}, c.index({Slice(None, -1)}));
  int h3 = np.add("(lambda x: (x.__setitem__(np.s_[1:], x[:-1]), x)[1])(a.copy())", {c0});
  np.run();
  Tensor expect = np.result(h1).clone();
  expect.index_put_({Slice(None, 2), 0}, Scalar(-7));
  expect.index_put_({0}, Scalar(1));
  EXPECT_TRUE(ravel::testing::matches(a, expect, 0, 0));
  EXPECT_TRUE(ravel::testing::matches(b, np.result(h2), 0, 0));
  EXPECT_TRUE(ravel::testing::matches(c, np.result(h3), 0, 0));
}

// Large index arrays take the threaded gather.
TEST(Indexing, LargeMatchesNumpy) {
  ravel::testing::NumpyOracle np;
  Tensor a = with_layout(sample({300, 200}, DType::Float32), 2);
  std::vector<int64_t> r(50000), c(1000);
  for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<int64_t>((i * 37) % 300) - 150;
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<int64_t>((i * 13) % 200);
  Tensor rows = from_vector(r), cols = from_vector(c);
  Tensor m = sample({300, 200}, DType::Bool, 1);
  std::vector<std::pair<Tensor, int>> ran = {
      {a.index({rows}), np.add("a[b]", {a, rows})},
      {a.index({Slice(), cols}), np.add("a[:, b]", {a, cols})},
      {a.index({rows.index({Slice(None, 1000)}), cols}), np.add("a[b[:1000], c]", {a, rows, cols})},
      {a.index({m}), np.add("a[b]", {a, m})},
  };
  np.run();
  for (auto& [ours, h] : ran) EXPECT_TRUE(ravel::testing::matches(ours, np.result(h), 0, 0));
}

TEST(Indexing, TakeGatherScatterMatchNumpy) {
  ravel::testing::NumpyOracle np;
  struct Ran {
    std::string what;
    Tensor ours;
    int handle;
  };
  std::vector<Ran> ran;
  Tensor ti = i64({0, 3, -1, 2}, {2, 2});
  Tensor tz = i64({}, {0});
  Tensor ta = i64({3, 0, 1, 1, 2, 0}, {3, 2});
  Tensor tb = i64({2, -1, 0, 1, 3}, {1, 5});
  Tensor tr = i64({2, -1, 0, 1, 1}, {1, 5});
  Tensor g0 = i64({1, 0, 2, 2, 2, -1, 0, 0, 1, 2, -3, 1}, {2, 2, 3});
  Tensor g = i64({1, 0, 3, 3, 2, -1, 0, 0, 1, 2, 2, 1}, {2, 2, 3});
  Tensor si = i64({0, 2, 1, 0, 1, 1, 0, 2}, {2, 4});
  Tensor si1 = i64({4, 0, 0, 1, 4, 4}, {3, 2});
  for (DType dt : test_dtypes()) {
    for (int layout = 0; layout < 3; ++layout) {
      std::string sfx =
          std::string(" dtype ") + dtype_name(dt) + " layout " + std::to_string(layout);
      Tensor a = with_layout(sample({3, 4}, dt), layout);
      Tensor a3 = with_layout(sample({3, 4, 5}, dt, 1), layout);
      Tensor src = with_layout(sample({2, 5}, dt, 2), layout);
      Tensor src1 = with_layout(sample({3, 3}, dt, 3), layout);
      Tensor a5 = with_layout(sample({3, 5}, dt, 4), layout);
      auto add = [&](const std::string& expr, const Tensor& ours, std::vector<Tensor> in) {
        ran.push_back({expr + sfx, ours, np.add(expr, in)});
      };
      add("np.take(a, b)", take(a, ti), {a, ti});
      add("np.take(a, b, 1)", take(a, ti, 1), {a, ti});
      add("np.take(a, b, -2)", take(a, tr, -2), {a, tr});
      add("np.take(a, b, 0)", take(a, tz, 0), {a, tz});
      add("np.take_along_axis(a, b, 1)", take_along_axis(a, ta, 1), {a, ta});
      add("np.take_along_axis(a, b, 1)", take_along_axis(a, tb, 1), {a, tb});
      add("np.take_along_axis(a, b, 0)", take_along_axis(a, tr.reshape({5, 1}), 0),
          {a, tr.reshape({5, 1})});
      add("a[b]", masked_select(a, a.to(DType::Bool)), {a, a.to(DType::Bool)});
      Tensor m4 = mask({true, false, true, true}, {4});
      add("a[np.broadcast_to(b, a.shape)]", masked_select(a, m4), {a, m4});
      add("np.take_along_axis(a[:2, :, :3], b, 1)", gather(a3, 1, g), {a3, g});
      add("np.take_along_axis(a[:, :2, :3], b.transpose(1, 0, 2), 0)",
          gather(a3, 0, g0.transpose(0, 1)), {a3, g0});
      add("(lambda x: (np.add.at(x, (b, np.arange(4)[None, :]), c[:2, :4]), x)[1])(a.copy())",
          scatter_add(a, 0, si, src), {a, si, src});
      add("(lambda x: (np.add.at(x, (np.arange(3)[:, None], b), c[:, :2]), x)[1])(a.copy())",
          scatter_add(a5, 1, si1, src1), {a5, si1, src1});
      add("a.copy()", scatter_add(a, 1, i64({}, {3, 0}), src1.index({Slice(), Slice(None, 0)})),
          {a});
    }
  }
  np.run();
  for (const Ran& r : ran) {
    ASSERT_EQ(np.error(r.handle), "") << r.what;
    expect_matches({r.ours}, {np.result(r.handle)}, r.what);
  }
}

TEST(Indexing, ZeroSizeAndZeroDim) {
  ravel::testing::NumpyOracle np;
  Tensor a = sample({0, 3}, DType::Float32);
  Tensor s = scalar_tensor(5.5);
  std::vector<std::pair<Tensor, int>> ran = {
      {a.index({Slice(), 1}), np.add("a[:, 1]", {a})},
      {a.index({i64({}, {0})}), np.add("a[np.zeros(0, dtype=np.int64)]", {a})},
      {a.index({mask({}, {0})}), np.add("a[np.zeros(0, dtype=bool)]", {a})},
      {a.index({ellipsis, i64({2, 0}, {2})}), np.add("a[..., [2, 0]]", {a})},
      {s.index({}), np.add("a[()]", {s})},
      {s.index({newaxis}), np.add("a[None]", {s})},
      {s.index({ellipsis, newaxis, newaxis}), np.add("a[..., None, None]", {s})},
      {s.index({scalar_tensor(true)}), np.add("a[True]", {s})},
  };
  Tensor w = s.clone();
  w.index_put_({}, Scalar(2));
  ran.push_back({w, np.add("np.array(2, np.float32)", {})});
  np.run();
  for (auto& [ours, h] : ran) EXPECT_TRUE(ravel::testing::matches(ours, np.result(h), 0, 0));
}

TEST(Indexing, Errors) {
  Tensor a = zeros({4, 5, 6});
  expect_error([&] { a.index({4}); }, "index: index 4 is out of bounds for axis 0 with size 4");
  expect_error(
      [&] {
        a.index({0, -6});
      },
      "index: index -6 is out of bounds for axis 1 with size 5");
  expect_error([&] { a.index({ellipsis, 6}); }, "index 6 is out of bounds for axis 2 with size 6");
  expect_error(
      [&] {
        a.index({newaxis, 0, 0, 0, 0});
      },
      "index: too many indices for tensor of shape [4, 5, 6]: tensor is 3-dimensional, "
      "but 4 were indexed");
  expect_error(
      [&] {
        a.index({ellipsis, 0, ellipsis});
      },
      "index: an index can only have a "
      "single ellipsis");
  expect_error([&] { a.index({Slice(None, None, 0)}); }, "index: slice step cannot be zero");
  expect_error(
      [&] {
        a.index({i64({0, 7}, {2})});
      },
      "index: index 7 is out of bounds for axis 0 with size 4");
  expect_error(
      [&] {
        a.index({Slice(), 1, i64({-7}, {1})});
      },
      "index: index -7 is out of bounds for axis 2 with size 6");
  expect_error(
      [&] {
        a.index({i64({0, 1}, {2}), i64({0, 1, 2}, {3})});
      },
      "index: shape mismatch: indexing tensors could not be broadcast together with "
      "shapes [2], [3]");
  expect_error(
      [&] {
        a.index({mask({true, false, true}, {3})});
      },
      "index: boolean index of shape [3] did not match the indexed tensor of shape "
      "[4, 5, 6] at axis 0: size 4 vs 3");
  expect_error([&] { a.index({Slice(), zeros({5, 5}, DType::Bool)}); }, "at axis 2: size 6 vs 5");
  expect_error([&] { a.index({zeros({2})}); },
               "index: arrays used as indices must be of "
               "integer (or boolean) type, got float32");
  expect_error([&] { a.index_put_({0}, zeros({3})); },
               "index_put_: could not broadcast value of shape [3] into indexed shape [5, 6]");
  expect_error(
      [&] {
        a.index_put_({i64({0, 1}, {2})}, zeros({3, 5, 6}));
      },
      "index_put_: could not broadcast value of shape [3, 5, 6] into indexed shape "
      "[2, 5, 6]");
  expect_error([&] { a.index_put_({7}, Scalar(1)); },
               "index_put_: index 7 is out of bounds for axis 0 with size 4");
  expect_error([&] { take(a, i64({120}, {1})); },
               "take: index 120 is out of bounds for axis 0 with size 120");
  expect_error([&] { take(a, i64({0}, {1}), 3); }, "take: axis 3 is out of bounds");
  expect_error([&] { take_along_axis(a, i64({0}, {1}), 0); },
               "take_along_axis: indices of shape [1] and input of shape [4, 5, 6] must have "
               "the same number of dimensions");
  expect_error(
      [&] {
        take_along_axis(a, zeros({1, 2, 1}, DType::Int64), 0);
      },
      "take_along_axis: shapes [1, 5, 6] and [1, 2, 1] cannot be broadcast");
  expect_error([&] { masked_select(a, zeros({6})); }, "masked_select: mask must be bool");
  expect_error([&] { masked_select(a, zeros({3}, DType::Bool)); },
               "masked_select: shapes [4, 5, 6] and [3] cannot be broadcast");
  expect_error(
      [&] {
        gather(a, 1, zeros({4, 5}, DType::Int64));
      },
      "gather: index of shape [4, 5] must have as many dimensions as the input of "
      "shape [4, 5, 6]");
  expect_error(
      [&] {
        gather(a, 1, zeros({5, 1, 1}, DType::Int64));
      },
      "gather: index of shape [5, 1, 1] is larger than the input of shape [4, 5, 6] at "
      "axis 0");
  expect_error(
      [&] {
        gather(a, 1, full({1, 1, 1}, 5));
      },
      "gather: index 5 is out of bounds for axis 1 with size 5");
  expect_error(
      [&] {
        gather(a, 0, zeros({1, 1, 1}));
      },
      "gather: arrays used as indices must be "
      "of integer");
  expect_error(
      [&] {
        scatter_add(a, 0, zeros({2, 2, 2}, DType::Int64), zeros({1, 2, 2}));
      },
      "scatter_add: index of shape [2, 2, 2] is larger than src of shape [1, 2, 2]");
  expect_error(
      [&] {
        scatter_add(a, 2, full({1, 1, 1}, -7), zeros({1, 1, 1}));
      },
      "scatter_add: index -7 is out of bounds for axis 2 with size 6");
  expect_error(
      [&] {
        scatter_add(a, 3, zeros({1, 1, 1}, DType::Int64), zeros({1, 1, 1}));
      },
      "scatter_add: axis 3 is out of bounds");
}

}  // namespace ravel
