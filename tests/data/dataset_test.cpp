// Datasets: TensorDataset views, Subset, ConcatDataset, TransformDataset, random_split (its
// fraction lengths against torch.utils.data.random_split), and their index errors.
#include "ravel/data/dataset.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using ravel::testing::matches;

namespace {

// n examples: input i is [i, i + 0.5], target i.
std::shared_ptr<data::TensorDataset> counting(int64_t n) {
  Tensor x = arange(0, n, 1, DType::Float32).reshape({n, 1});
  return std::make_shared<data::TensorDataset>(concatenate({x, x + 0.5f}, 1), arange(n));
}

int64_t target_of(const data::Dataset& ds, int64_t i) { return ds.get(i).target.item<int64_t>(); }

}  // namespace

TEST(DatasetTest, TensorDatasetRowsAreViews) {
  auto ds = counting(5);
  EXPECT_EQ(ds->size(), 5);
  data::Example e = ds->get(3);  // get(index) is visible on the derived class
  EXPECT_EQ(e.input.shape(), Shape({2}));
  EXPECT_TRUE(e.input.shares_storage(ds->inputs()));
  EXPECT_TRUE(matches(e.input, tensor({3.0f, 3.5f})));
  EXPECT_EQ(e.target.ndim(), 0);
  EXPECT_EQ(e.target.item<int64_t>(), 3);

  data::TensorDataset unlabelled(zeros({4, 2, 2}));
  EXPECT_FALSE(unlabelled.get(0).target.defined());
  EXPECT_EQ(unlabelled.get(1).input.shape(), Shape({2, 2}));
}

TEST(DatasetTest, TensorDatasetErrors) {
  auto ds = counting(5);
  expect_error([&] { ds->get(5); }, {"TensorDataset", "index 5", "size 5"});
  expect_error([&] { ds->get(-1); }, {"TensorDataset", "index -1", "size 5"});
  expect_error(
      [] {
        data::TensorDataset(zeros({4, 3}), zeros({5}));
      },
      {"TensorDataset", "[5]", "[4, 3]", "first dimension"});
  expect_error([] { data::TensorDataset(scalar_tensor(1.0)); }, {"TensorDataset", "0-d"});
  expect_error([] { data::TensorDataset{Tensor()}; }, {"TensorDataset", "undefined"});
}

TEST(DatasetTest, SubsetAndConcat) {
  auto ds = counting(6);
  auto sub = std::make_shared<data::Subset>(ds, std::vector<int64_t>{4, 0, 4, 2});
  ASSERT_EQ(sub->size(), 4);
  std::vector<int64_t> got;
  for (int64_t i = 0; i < sub->size(); ++i) got.push_back(target_of(*sub, i));
  EXPECT_EQ(got, (std::vector<int64_t>{4, 0, 4, 2}));
  expect_error([&] { sub->get(4); }, {"Subset", "index 4", "size 4"});
  expect_error([&] { data::Subset(ds, {1, 6}); }, {"Subset", "index 6", "size 6"});

  auto empty_part = std::make_shared<data::Subset>(ds, std::vector<int64_t>{});
  data::ConcatDataset cat({sub, empty_part, ds});
  ASSERT_EQ(cat.size(), 10);
  got.clear();
  for (int64_t i = 0; i < cat.size(); ++i) got.push_back(target_of(cat, i));
  EXPECT_EQ(got, (std::vector<int64_t>{4, 0, 4, 2, 0, 1, 2, 3, 4, 5}));
  expect_error([&] { cat.get(10); }, {"ConcatDataset", "index 10", "size 10"});
  expect_error([&] { data::ConcatDataset({ds, nullptr}); }, {"ConcatDataset", "part 1", "null"});
}

TEST(DatasetTest, TransformDatasetGetsTheExampleGenerator) {
  auto ds = counting(4);
  data::TransformDataset noisy(ds, [](data::Example e, Generator& gen) {
    e.input = e.input + randn({2}, gen);
    return e;
  });
  EXPECT_EQ(noisy.size(), 4);
  Generator g1(7), g2(7), g3(7);
  Tensor a = noisy.get(2, g1).input, b = noisy.get(2, g2).input;
  EXPECT_TRUE(matches(a, b, 0, 0));
  EXPECT_TRUE(matches(a, ds->get(2).input + randn({2}, g3), 0, 0));
  EXPECT_TRUE(matches(noisy.get(1).input, noisy.get(1).input, 0, 0));  // get(i) seeds with i
  expect_error([&] { data::TransformDataset(ds, nullptr); }, {"TransformDataset", "empty"});
}

TEST(DatasetTest, RandomSplitLengths) {
  auto ds = counting(10);
  Generator gen(3);
  auto parts = data::random_split(ds, {6, 0, 4}, gen);  // a braced list of integers: lengths
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0]->size(), 6);
  EXPECT_EQ(parts[1]->size(), 0);
  EXPECT_EQ(parts[2]->size(), 4);
  std::vector<int64_t> all;
  for (auto& p : parts)
    for (int64_t i = 0; i < p->size(); ++i) all.push_back(target_of(*p, i));
  std::vector<int64_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // disjoint, covering
  EXPECT_NE(all, sorted);                                                   // shuffled

  Generator same(3);
  auto again = data::random_split(ds, std::vector<int64_t>{6, 0, 4}, same);
  EXPECT_EQ(again[0]->indices(), parts[0]->indices());

  expect_error([&] { data::random_split(ds, {6, 3}, gen); }, {"random_split", "9", "size 10"});
  expect_error([&] { data::random_split(ds, {12, -2}, gen); }, {"random_split", "-2", ">= 0"});
  expect_error([&] { data::random_split(ds, {0.5, 0.4}, gen); }, {"random_split", "0.9", "1"});
  expect_error([&] { data::random_split(ds, {1.5, -0.5}, gen); }, {"random_split", "1.5"});
}

// Fractions give PyTorch 1.13's lengths (floor, then the remainder one each from the first part).
TEST(DatasetTest, RandomSplitFractionsMatchTorch) {
  const std::vector<std::pair<int64_t, std::vector<double>>> cases = {
      {10, {0.5, 0.5}},     {10, {0.3, 0.3, 0.4}},  {7, {0.25, 0.25, 0.25, 0.25}},
      {100, {0.9, 0.1}},    {11, {0.2, 0.8}},       {5, {1.0 / 3, 1.0 / 3, 1.0 / 3}},
      {3, {0.1, 0.1, 0.8}}, {60000, {0.917, 0.083}}};
  std::ostringstream py;
  py.precision(17);
  py << "cases = [";
  for (const auto& [n, fr] : cases) {
    py << "(" << n << ", [";
    for (double f : fr) py << f << ", ";
    py << "]), ";
  }
  py << "]\n"
        "import warnings\n"
        "warnings.simplefilter('ignore')\n"
        "g = torch.Generator().manual_seed(0)\n"
        "out = [np.array([len(s) for s in torch.utils.data.random_split(range(n), f, "
        "generator=g)], dtype=np.int64) for n, f in cases]";
  ravel::testing::TorchOracle torch;
  int h = torch.add_script(py.str(), {});
  torch.run();
  ASSERT_EQ(torch.error(h), "");
  const auto& ref = torch.results(h);
  ASSERT_EQ(ref.size(), cases.size());
  for (size_t c = 0; c < cases.size(); ++c) {
    Generator gen(1);
    auto parts = data::random_split(counting(cases[c].first), cases[c].second, gen);
    std::vector<int64_t> ours;
    for (auto& p : parts) ours.push_back(p->size());
    EXPECT_EQ(ours, ref[c].to_vector<int64_t>()) << "case " << c;
  }
}
