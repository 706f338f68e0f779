// Shape ops against NumPy: every op over several dtypes, three memory layouts (contiguous,
// transposed, negative strides) and zero-size shapes, plus error messages.
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

using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
struct OpCase {
  std::string expr;  // NumPy, inputs bound to a, b, c, ...
  std::vector<Shape> shapes;
  Fn f;
};

template <typename F>
Fn one(F f) {
  return [f](const std::vector<Tensor>& t) { return std::vector<Tensor>{f(t)}; };
}

std::vector<OpCase> shape_cases() {
  using V = const std::vector<Tensor>&;
  return {
      {"a.reshape(4, 6)", {{2, 3, 4}}, one([](V t) {
         return reshape(t[0], {4, 6});
       })},
      {"a.reshape(-1, 4)", {{2, 3, 4}}, one([](V t) {
         return reshape(t[0], {-1, 4});
       })},
      {"a.reshape(3, 0)", {{0, 3}}, one([](V t) {
         return reshape(t[0], {3, 0});
       })},
      {"a.reshape(1)", {{}}, one([](V t) { return reshape(t[0], {1}); })},
      {"a.T", {{2, 3, 4}}, one([](V t) { return transpose(t[0]); })},
      {"np.transpose(a, (1, 2, 0))", {{2, 3, 4}}, one([](V t) {
         return permute(t[0], {1, 2, 0});
       })},
      {"np.transpose(a, (1, 0))", {{0, 3}}, one([](V t) {
         return permute(t[0], {-1, 0});
       })},
      {"np.swapaxes(a, 0, 2)", {{2, 3, 4}}, one([](V t) { return swapaxes(t[0], 0, -1); })},
      {"np.moveaxis(a, 0, -1)", {{2, 3, 4}}, one([](V t) { return moveaxis(t[0], 0, -1); })},
      {"np.moveaxis(a, 2, 0)", {{2, 3, 4}}, one([](V t) { return moveaxis(t[0], 2, 0); })},
      {"np.squeeze(a)", {{1, 3, 1, 2}}, one([](V t) { return squeeze(t[0]); })},
      {"np.squeeze(a, 2)", {{1, 3, 1, 2}}, one([](V t) { return squeeze(t[0], 2); })},
      {"np.squeeze(a, 0)", {{1, 0}}, one([](V t) { return squeeze(t[0], 0); })},
      {"np.expand_dims(a, 1)", {{2, 3}}, one([](V t) { return unsqueeze(t[0], 1); })},
      {"np.expand_dims(a, -1)", {{2, 3}}, one([](V t) { return unsqueeze(t[0], -1); })},
      {"np.broadcast_to(a, (2, 3, 4))", {{3, 1}}, one([](V t) {
         return broadcast_to(t[0], {2, 3, 4});
       })},
      {"np.broadcast_to(a, (0, 3))", {{3}}, one([](V t) {
         return broadcast_to(t[0], {0, 3});
       })},
      {"np.broadcast_arrays(a, b)",
       {{3, 1}, {2, 1, 4}},
       [](V t) {
         return broadcast_tensors({t[0], t[1]});
       }},
      {"np.concatenate([a, b, c], 1)", {{2, 3}, {2, 0}, {2, 4}}, one([](V t) {
         return concatenate({t[0], t[1], t[2]}, 1);
       })},
      {"np.concatenate([a, b], 0)", {{2, 3, 2}, {1, 3, 2}}, one([](V t) {
         return concatenate({t[0], t[1]});
       })},
      {"np.concatenate([a, b], -1)", {{0, 3}, {0, 2}}, one([](V t) {
         return concatenate({t[0], t[1]}, -1);
       })},
      {"np.concatenate([a], 0)", {{3}}, one([](V t) { return concatenate({t[0]}); })},
      {"np.stack([a, b], 1)", {{2, 3}, {2, 3}}, one([](V t) {
         return stack({t[0], t[1]}, 1);
       })},
      {"np.stack([a, b, c], -1)", {{2, 3}, {2, 3}, {2, 3}}, one([](V t) {
         return stack({t[0], t[1], t[2]}, -1);
       })},
      {"np.stack([a, b])", {{}, {}}, one([](V t) {
         return stack({t[0], t[1]});
       })},
      {"np.split(a, 3, 1)", {{2, 6}}, [](V t) { return split(t[0], 3, 1); }},
      {"np.split(a, 2, 1)", {{0, 4}}, [](V t) { return split(t[0], 2, 1); }},
      {"np.split(a, [1, 3, 10], 0)",
       {{5, 2}},
       [](V t) {
         return split_at(t[0], {1, 3, 10});
       }},
      {"np.split(a, [-2, 1, 4], 0)",
       {{5, 2}},
       [](V t) {
         return split_at(t[0], {-2, 1, 4});
       }},
      {"np.array_split(a, 3, 1)", {{2, 7}}, [](V t) { return chunk(t[0], 3, 1); }},
      {"np.array_split(a, 4, 0)", {{2, 3}}, [](V t) { return chunk(t[0], 4, 0); }},
      {"np.array_split(a, 2, -1)", {{3, 0}}, [](V t) { return chunk(t[0], 2, -1); }},
      {"np.flip(a)", {{2, 3, 4}}, one([](V t) { return flip(t[0]); })},
      {"np.flip(a, (0, 2))", {{2, 3, 4}}, one([](V t) {
         return flip(t[0], {0, -1});
       })},
      {"np.flip(a, 1)", {{2, 0}}, one([](V t) { return flip(t[0], 1); })},
      {"np.roll(a, 2)", {{2, 3, 4}}, one([](V t) { return roll(t[0], 2); })},
      {"np.roll(a, -1, 1)", {{2, 3, 4}}, one([](V t) { return roll(t[0], -1, 1); })},
      {"np.roll(a, 7, 0)", {{3, 2}}, one([](V t) { return roll(t[0], 7, 0); })},
      {"np.roll(a, (1, 2), (0, 2))", {{2, 3, 4}}, one([](V t) {
         return roll(t[0], Shape{1, 2}, Shape{0, 2});
       })},
      {"np.roll(a, (1, 1), (1, 1))", {{2, 3, 4}}, one([](V t) {
         return roll(t[0], Shape{1, 1}, Shape{1, 1});
       })},
      {"np.roll(a, 1, 0)", {{0, 3}}, one([](V t) { return roll(t[0], 1, 0); })},
      {"np.roll(a, 3, 0)", {{3, 2}}, one([](V t) { return roll(t[0], 3, 0); })},
      {"np.pad(a, ((1, 2), (0, 3)), constant_values=5)", {{2, 3}}, one([](V t) {
         return pad(t[0], {{1, 2}, {0, 3}}, "constant", 5);
       })},
      {"np.pad(a, ((1, 1), (2, 0), (0, 1)))", {{2, 3, 2}}, one([](V t) {
         return pad(t[0], {{1, 1}, {2, 0}, {0, 1}});
       })},
      {"np.pad(a, 2)", {{0, 2}}, one([](V t) {
         return pad(t[0], {{2, 2}});
       })},
      {"np.pad(a, ((2, 3), (4, 1)), 'reflect')", {{3, 2}}, one([](V t) {
         return pad(t[0], {{2, 3}, {4, 1}}, "reflect");
       })},
      {"np.pad(a, ((1, 1), (2, 2)), 'reflect')", {{1, 3}}, one([](V t) {
         return pad(t[0], {{1, 1}, {2, 2}}, "reflect");
       })},
      {"np.pad(a, ((2, 0), (1, 3), (1, 1)), 'edge')", {{2, 3, 2}}, one([](V t) {
         return pad(t[0], {{2, 0}, {1, 3}, {1, 1}}, "edge");
       })},
      {"np.pad(a, 7, 'reflect')", {{4}}, one([](V t) {
         return pad(t[0], {{7, 7}}, "reflect");
       })},
      {"np.repeat(a, 2)", {{2, 3}}, one([](V t) { return repeat(t[0], 2); })},
      {"np.repeat(a, 3, 1)", {{2, 3}}, one([](V t) { return repeat(t[0], 3, 1); })},
      {"np.repeat(a, 0, 0)", {{2, 3}}, one([](V t) { return repeat(t[0], 0, 0); })},
      {"np.repeat(a, 2, 0)", {{0, 3}}, one([](V t) { return repeat(t[0], 2, 0); })},
      {"np.repeat(a, np.array([1, 0, 3]), -1)", {{2, 3}}, one([](V t) {
         return repeat(t[0], tensor({1, 0, 3}), -1);
       })},
      {"np.repeat(a, np.array([2, 1, 0, 1, 1, 3]))", {{2, 3}}, one([](V t) {
         return repeat(t[0], tensor({2, 1, 0, 1, 1, 3}));
       })},
      {"np.repeat(a, np.array(2), 0)", {{2, 3}}, one([](V t) {
         return repeat(t[0], scalar_tensor(2), 0);
       })},
      {"np.tile(a, (2, 1, 3))", {{2, 3}}, one([](V t) {
         return tile(t[0], {2, 1, 3});
       })},
      {"np.tile(a, 2)", {{2, 3}}, one([](V t) { return tile(t[0], {2}); })},
      {"np.tile(a, (2, 2))", {{2, 2, 3}}, one([](V t) {
         return tile(t[0], {2, 2});
       })},
      {"np.tile(a, (2, 0))", {{2, 3}}, one([](V t) {
         return tile(t[0], {2, 0});
       })},
      {"np.tile(a, 3)", {{0, 2}}, one([](V t) { return tile(t[0], {3}); })},
      {"np.tril(a)", {{2, 3, 4}}, one([](V t) { return tril(t[0]); })},
      {"np.tril(a, -1)", {{4, 3}}, one([](V t) { return tril(t[0], -1); })},
      {"np.tril(a, 5)", {{4, 3}}, one([](V t) { return tril(t[0], 5); })},
      {"np.triu(a)", {{4, 3}}, one([](V t) { return triu(t[0]); })},
      {"np.triu(a, 2)", {{2, 3, 4}}, one([](V t) { return triu(t[0], 2); })},
      {"np.triu(a, -2)", {{5, 3}}, one([](V t) { return triu(t[0], -2); })},
      {"np.triu(a)", {{0, 3}}, one([](V t) { return triu(t[0]); })},
      {"np.tril(a)", {{3, 0}}, one([](V t) { return tril(t[0]); })},
      {"np.diag(a)", {{4}}, one([](V t) { return diag(t[0]); })},
      {"np.diag(a, -2)", {{3}}, one([](V t) { return diag(t[0], -2); })},
      {"np.diag(a, 1)", {{3, 4}}, one([](V t) { return diag(t[0], 1); })},
      {"np.diag(a, -1)", {{3, 4}}, one([](V t) { return diag(t[0], -1); })},
      {"np.diag(a, -5)", {{3, 4}}, one([](V t) { return diag(t[0], -5); })},
      {"np.diag(a)", {{0}}, one([](V t) { return diag(t[0]); })},
      {"np.meshgrid(a, b, c)",
       {{2}, {3}, {4}},
       [](V t) {
         return meshgrid({t[0], t[1], t[2]});
       }},
      {"np.meshgrid(a, b, indexing='ij')",
       {{2}, {3}},
       [](V t) {
         return meshgrid({t[0], t[1]}, "ij");
       }},
      {"np.meshgrid(a, b)",
       {{0}, {3}},
       [](V t) {
         return meshgrid({t[0], t[1]});
       }},
      {"np.meshgrid(a)", {{3}}, [](V t) { return meshgrid({t[0]}); }},
      {"np.ravel(a)", {{2, 3, 4}}, one([](V t) { return ravel(t[0]); })},
      {"np.ravel(a)", {{}}, one([](V t) { return ravel(t[0]); })},
      {"np.ravel(a)", {{3, 0}}, one([](V t) { return ravel(t[0]); })},
  };
}

// Every shape op x dtypes x layouts, checked exactly against NumPy in one python run.
TEST(ShapeOps, MatchNumpy) {
  testing::NumpyOracle np;
  struct Ran {
    std::string what;
    std::vector<Tensor> ours;
    int handle;
  };
  std::vector<Ran> ran;
  for (const OpCase& c : shape_cases()) {
    for (DType dt : test_dtypes()) {
      for (int layout = 0; layout < 3; ++layout) {
        std::vector<Tensor> in;
        for (size_t i = 0; i < c.shapes.size(); ++i)
          in.push_back(with_layout(sample(c.shapes[i], dt, static_cast<int>(i)), layout));
        std::string what =
            c.expr + " dtype " + dtype_name(dt) + " layout " + std::to_string(layout);
        try {
          ran.push_back({what, c.f(in), np.add(c.expr, in)});
        } catch (const Error& e) {
          ADD_FAILURE() << what << ": " << e.what();
        }
      }
    }
  }
  np.run();
  for (const Ran& r : ran) {
    ASSERT_EQ(np.error(r.handle), "") << r.what;
    expect_matches(r.ours, np.results(r.handle), r.what);
  }
}

TEST(ShapeOps, ConcatenatePromotesDtypes) {
  testing::NumpyOracle np;
  std::vector<std::pair<DType, DType>> pairs = {
      {DType::Bool, DType::Int32},      {DType::Int32, DType::Int64},
      {DType::UInt8, DType::Int8},      {DType::Int64, DType::Float16},
      {DType::Float16, DType::Float32}, {DType::Int32, DType::Float32},
      {DType::Float32, DType::Float64}};
  std::vector<std::pair<Tensor, int>> ran;
  for (auto [x, y] : pairs) {
    Tensor a = sample({2, 3}, x), b = with_layout(sample({2, 2}, y, 1), 1);
    ran.push_back({concatenate({a, b}, 1), np.add("np.concatenate([a, b], 1)", {a, b})});
    ran.push_back({stack({a, a.to(y)}), np.add("np.stack([a, b])", {a, a.to(y)})});
  }
  np.run();
  for (auto& [ours, h] : ran) EXPECT_TRUE(testing::matches(ours, np.result(h), 0, 0));
}

TEST(ShapeOps, ViewsShareStorage) {
  Tensor a = arange(24).reshape({2, 3, 4});
  for (const Tensor& v : {transpose(a), permute(a, {2, 0, 1}), swapaxes(a, 0, 1), moveaxis(a, 0, 2),
                          unsqueeze(a, 0), squeeze(a), flip(a), flip(a, {1}),
                          broadcast_to(a, {5, 2, 3, 4}), ravel(a), reshape(a, {6, 4})})
    EXPECT_TRUE(v.shares_storage(a));
  for (const Tensor& v : split(a, 2, 0)) EXPECT_TRUE(v.shares_storage(a));
  for (const Tensor& v : chunk(a, 3, 2)) EXPECT_TRUE(v.shares_storage(a));
  Tensor f = flip(a, {-1});
  EXPECT_LT(f.strides()[2], 0);
  for (const Tensor& v : {roll(a, 1), pad(a, {{0, 0}}), tile(a, {1}), tril(a), triu(a),
                          repeat(a, 1), concatenate({a}), diag(a.select(0, 0))})
    EXPECT_FALSE(v.shares_storage(a));
  for (const Tensor& v : meshgrid({arange(3), arange(2)})) EXPECT_TRUE(v.is_contiguous());
}

// Large inputs take the threaded copy paths.
TEST(ShapeOps, LargeMatchesNumpy) {
  testing::NumpyOracle np;
  Tensor a = with_layout(sample({300, 400}, DType::Float32), 1);
  Tensor b = sample({300, 100}, DType::Float32, 1);
  std::vector<std::pair<Tensor, int>> ran = {
      {concatenate({a, b}, 1), np.add("np.concatenate([a, b], 1)", {a, b})},
      {roll(a, 37, 1), np.add("np.roll(a, 37, 1)", {a})},
      {tril(a, 3), np.add("np.tril(a, 3)", {a})},
      {pad(a, {{5, 6}, {7, 8}}, "reflect"), np.add("np.pad(a, ((5, 6), (7, 8)), 'reflect')", {a})},
      {tile(b, {2, 3}), np.add("np.tile(a, (2, 3))", {b})},
      {repeat(b, 3, 0), np.add("np.repeat(a, 3, 0)", {b})},
  };
  np.run();
  for (auto& [ours, h] : ran) EXPECT_TRUE(testing::matches(ours, np.result(h), 0, 0));
}

TEST(ShapeOps, Errors) {
  Tensor a = zeros({2, 3});
  expect_error([&] { reshape(a, {4}); }, "reshape: cannot reshape tensor of shape [2, 3]");
  expect_error([&] { moveaxis(a, 2, 0); }, "moveaxis: axis 2 is out of bounds");
  expect_error([&] { swapaxes(a, 0, -3); }, "swapaxes: axis -3");
  expect_error([&] { squeeze(a, 0); }, "squeeze");
  expect_error([&] { broadcast_to(a, {3, 3}); }, "broadcast_to: cannot broadcast shape [2, 3]");
  expect_error([&] { broadcast_tensors({a, zeros({4})}); }, "broadcast_tensors: shapes [2, 3]");
  expect_error([&] { concatenate({}); }, "concatenate: need at least one");
  expect_error(
      [&] {
        concatenate({a, zeros({3, 3})}, 1);
      },
      "concatenate: tensor 1 has shape [3, 3] but tensor 0 has shape [2, 3]");
  expect_error([&] { concatenate({a, zeros({2})}); }, "concatenate: tensor 1 has shape [2]");
  expect_error([&] { concatenate({zeros({})}); }, "concatenate: zero-dimensional");
  expect_error([&] { concatenate({a}, 2); }, "concatenate: axis 2 is out of bounds");
  expect_error([&] { stack({a, zeros({3, 2})}); }, "stack: all tensors must have the same shape");
  expect_error([&] { split(a, 2, 1); }, "split: tensor of shape [2, 3] cannot be split into 2");
  expect_error([&] { chunk(a, 0); }, "chunk: number of sections must be larger than 0");
  expect_error([&] { flip(a, {0, 0}); }, "flip: repeated axis 0");
  expect_error([&] { flip(a, {2}); }, "flip: axis 2 is out of bounds");
  expect_error([&] { roll(a, Shape{1, 2}, Shape{0}); }, "roll: shifts [1, 2] and axes [0]");
  expect_error([&] { pad(a, {{1, 1}}, "wrap"); }, "pad: unknown mode 'wrap'");
  expect_error([&] { pad(a, {{1, 1}, {1, 1}, {1, 1}}); }, "pad: got 3 (before, after) pairs");
  expect_error([&] { pad(a, {{-1, 1}}); }, "pad: pad widths must be non-negative");
  expect_error([&] { pad(zeros({0, 2}), {{1, 1}}, "edge"); }, "pad: cannot pad empty axis 0");
  expect_error([&] { repeat(a, -1); }, "repeat: repeats must be non-negative");
  expect_error(
      [&] {
        repeat(a, tensor({1, 2}), 1);
      },
      "repeat: 2 repeats given for axis 1 of size 3");
  expect_error([&] { repeat(a, tensor({1.5})); }, "repeat: repeats must be a 0-d or 1-D integer");
  expect_error([&] { tile(a, {-1}); }, "tile: repetitions must be non-negative");
  expect_error([&] { tril(zeros({3})); }, "tril: input must have at least 2 dimensions");
  expect_error([&] { triu(zeros({})); }, "triu: input must have at least 2 dimensions");
  expect_error(
      [&] {
        diag(zeros({2, 2, 2}));
      },
      "diag: input must be 1-D or 2-D, got shape [2, 2, 2]");
  expect_error([&] { meshgrid({a}, "xz"); }, "meshgrid: indexing must be 'xy' or 'ij'");
}

}  // namespace
}  // namespace ravel
