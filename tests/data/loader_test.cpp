// DataLoader: batches identical bit for bit whatever num_workers is, shuffling per epoch,
// drop_last, set_epoch resume, default_collate and its errors, worker exceptions rethrown at
// their batch, early break joining promptly, and workers running single-threaded without grad.
#include "ravel/data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/ops.h"
#include "ravel/parallel.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::expect_error;
using ravel::testing::matches;

namespace {

// Example i: input index + noise drawn from the example's generator (3 floats, then 1200 so a
// batch crosses the allocator's small/large boundary), target i.
class NoisyDataset : public data::Dataset {
 public:
  explicit NoisyDataset(int64_t n, int64_t width = 3) : n_(n), width_(width) {}
  int64_t size() const override { return n_; }
  data::Example get(int64_t index, Generator& gen) const override {
    RAVEL_CHECK(index >= 0 && index < n_, "NoisyDataset: index ", index, " size ", n_);
    return {randn({width_}, gen) + static_cast<double>(index), scalar_tensor(index)};
  }

 private:
  int64_t n_, width_;
};

// Throws at one index (a ravel::Error, or a std::runtime_error when `plain`).
class FailingDataset : public data::Dataset {
 public:
  FailingDataset(int64_t n, int64_t bad, bool plain = false) : n_(n), bad_(bad), plain_(plain) {}
  int64_t size() const override { return n_; }
  data::Example get(int64_t index, Generator&) const override {
    if (index == bad_) {
      if (plain_) throw std::runtime_error("plain failure");
      RAVEL_CHECK(false, "FailingDataset: bad example ", index);
    }
    return {full({2}, index, DType::Float32), scalar_tensor(index)};
  }

 private:
  int64_t n_, bad_;
  bool plain_;
};

// One epoch's batches, copied out.
std::vector<data::Batch> epoch(data::DataLoader& loader) {
  std::vector<data::Batch> out;
  for (data::Batch& b : loader) out.push_back(b);
  return out;
}

std::vector<int64_t> targets(const std::vector<data::Batch>& batches) {
  std::vector<int64_t> t;
  for (const auto& b : batches)
    for (int64_t v : b.target.to_vector<int64_t>()) t.push_back(v);
  return t;
}

void expect_same(const std::vector<data::Batch>& a, const std::vector<data::Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_TRUE(matches(a[k].input, b[k].input, 0, 0)) << "batch " << k;
    EXPECT_TRUE(matches(a[k].target, b[k].target, 0, 0)) << "batch " << k;
  }
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

}  // namespace

TEST(DataLoaderTest, BatchesAndDropLast) {
  auto ds = std::make_shared<NoisyDataset>(10);
  data::DataLoader loader(ds, {.batch_size = 3});
  EXPECT_EQ(loader.num_batches(), 4);
  EXPECT_EQ(loader.num_examples(), 10);
  auto batches = epoch(loader);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0].input.shape(), Shape({3, 3}));
  EXPECT_EQ(batches[0].input.dtype(), DType::Float32);
  EXPECT_EQ(batches[0].target.shape(), Shape({3}));
  EXPECT_EQ(batches[0].target.dtype(), DType::Int64);
  EXPECT_EQ(batches[3].input.shape(), Shape({1, 3}));
  EXPECT_EQ(targets(batches), iota(10));

  data::DataLoader dropping(ds, {.batch_size = 3, .drop_last = true, .num_workers = 2});
  EXPECT_EQ(dropping.num_batches(), 3);
  auto kept = epoch(dropping);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(targets(kept), iota(9));
  data::DataLoader exact(ds, {.batch_size = 5, .drop_last = true});
  EXPECT_EQ(exact.num_batches(), 2);
  data::DataLoader too_big(ds, {.batch_size = 11, .drop_last = true, .num_workers = 1});
  EXPECT_EQ(too_big.num_batches(), 0);
  EXPECT_TRUE(epoch(too_big).empty());
}

// The same batches, bit for bit, with 0, 1 and 3 workers, over two shuffled epochs.
TEST(DataLoaderTest, DeterministicAcrossWorkers) {
  for (int64_t width : {3, 1200}) {
    auto ds = std::make_shared<NoisyDataset>(23, width);
    std::vector<std::vector<data::Batch>> runs;
    for (int workers : {0, 1, 3}) {
      data::DataLoader loader(ds, {.batch_size = 4,
                                   .shuffle = true,
                                   .num_workers = workers,
                                   .prefetch_batches = 1,
                                   .seed = 11});
      auto e0 = epoch(loader), e1 = epoch(loader);
      e0.insert(e0.end(), e1.begin(), e1.end());
      runs.push_back(std::move(e0));
    }
    expect_same(runs[0], runs[1]);
    expect_same(runs[0], runs[2]);
  }
}

TEST(DataLoaderTest, ShuffleChangesOrderPerEpoch) {
  auto ds = std::make_shared<NoisyDataset>(20);
  data::DataLoader shuffled(ds, {.batch_size = 6, .shuffle = true, .num_workers = 2, .seed = 5});
  EXPECT_EQ(shuffled.epoch(), 0);
  auto t0 = targets(epoch(shuffled));
  EXPECT_EQ(shuffled.epoch(), 1);
  auto t1 = targets(epoch(shuffled));
  EXPECT_NE(t0, iota(20));
  EXPECT_NE(t0, t1);
  std::sort(t0.begin(), t0.end());
  EXPECT_EQ(t0, iota(20));  // a permutation

  data::DataLoader other_seed(ds, {.batch_size = 6, .shuffle = true, .seed = 6});
  EXPECT_NE(targets(epoch(other_seed)), targets([&] {
              data::DataLoader same_seed(ds, {.batch_size = 6, .shuffle = true, .seed = 5});
              return epoch(same_seed);
            }()));

  data::DataLoader ordered(ds, {.batch_size = 6, .num_workers = 2, .seed = 5});
  auto o0 = epoch(ordered), o1 = epoch(ordered);
  EXPECT_EQ(targets(o0), iota(20));
  EXPECT_EQ(targets(o1), iota(20));
  // The order stays, but each epoch draws fresh randomness for its examples.
  EXPECT_FALSE(matches(o0[0].input, o1[0].input, 0, 0));
}

// set_epoch(2) on a new loader gives what an uninterrupted run's third epoch gave.
TEST(DataLoaderTest, SetEpochResumes) {
  auto ds = std::make_shared<NoisyDataset>(17);
  data::DataLoaderOptions opt{.batch_size = 5, .shuffle = true, .num_workers = 2, .seed = 9};
  data::DataLoader full_run(ds, opt);
  std::vector<data::Batch> third;
  for (int e = 0; e < 3; ++e) third = epoch(full_run);
  data::DataLoader resumed(ds, opt);
  resumed.set_epoch(2);
  expect_same(epoch(resumed), third);
  EXPECT_EQ(resumed.epoch(), 3);
}

TEST(DataLoaderTest, DefaultCollate) {
  Tensor a = arange(6, DType::Float32).reshape({2, 3});
  Tensor b = arange(6, 12, 1, DType::Float32).reshape({3, 2}).transpose();  // not contiguous
  data::Batch batch = data::default_collate({{a, scalar_tensor(1)}, {b, scalar_tensor(2)}});
  EXPECT_TRUE(matches(batch.input, stack({a, b}), 0, 0));
  EXPECT_TRUE(matches(batch.target, tensor({1, 2}), 0, 0));
  EXPECT_FALSE(data::default_collate({{a, Tensor()}}).target.defined());

  expect_error(
      [&] {
        data::default_collate({{a, Tensor()}, {a.reshape({3, 2}), Tensor()}});
      },
      {"default_collate", "example 1's input", "[3, 2]", "float32", "example 0's", "[2, 3]"});
  expect_error(
      [&] {
        data::default_collate({{a, Tensor()}, {a.to(DType::Float64), Tensor()}});
      },
      {"default_collate", "example 1's input", "float64", "float32"});
  expect_error(
      [&] {
        data::default_collate({{a, scalar_tensor(1)}, {a, scalar_tensor(1)}, {a, Tensor()}});
      },
      {"default_collate", "example 2's target", "undefined"});
  expect_error([] { data::default_collate({}); }, {"default_collate", "no examples"});
}

// An exception in a worker (the dataset's, or collate's) reaches the training thread at its
// batch, with its type.
TEST(DataLoaderTest, WorkerExceptionsRethrownAtTheirBatch) {
  for (int workers : {0, 2}) {
    for (bool plain : {false, true}) {
      auto ds = std::make_shared<FailingDataset>(20, 7, plain);
      data::DataLoader loader(ds, {.batch_size = 2, .num_workers = workers});
      for (int attempt = 0; attempt < 2; ++attempt) {  // a new begin() works after the error
        int64_t seen = 0;
        try {
          for (data::Batch& b : loader) {
            EXPECT_EQ(b.target.to_vector<int64_t>()[0], 2 * seen);
            ++seen;
          }
          ADD_FAILURE() << "no exception";
        } catch (const Error& e) {
          EXPECT_FALSE(plain);
          EXPECT_NE(std::string(e.what()).find("bad example 7"), std::string::npos) << e.what();
        } catch (const std::runtime_error& e) {
          EXPECT_TRUE(plain);
          EXPECT_EQ(std::string(e.what()), "plain failure");
        }
        EXPECT_EQ(seen, 3) << "workers " << workers;  // batches 0..2, then batch 3 throws
      }
    }
  }
  // default_collate's error, raised in a worker: batch 1 mixes rows of [2] and of [3].
  auto mixed = std::make_shared<data::ConcatDataset>(
      std::vector<data::DatasetPtr>{std::make_shared<data::TensorDataset>(zeros({6, 2})),
                                    std::make_shared<data::TensorDataset>(zeros({4, 3}))});
  data::DataLoader loader(mixed, {.batch_size = 4, .num_workers = 2});
  auto it = loader.begin();
  EXPECT_EQ((*it).input.shape(), Shape({4, 2}));
  ++it;
  expect_error([&] { *it; }, {"default_collate", "example 2's input has shape [3]", "[2]"});
}

// Leaving an epoch early (a slow dataset, full queues) and destroying the loader joins at once.
TEST(DataLoaderTest, EarlyBreakJoinsPromptly) {
  class Slow : public data::Dataset {
   public:
    int64_t size() const override { return 100000; }
    data::Example get(int64_t index, Generator&) const override {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      return {zeros({4}), scalar_tensor(index)};
    }
  };
  auto ds = std::make_shared<Slow>();
  auto start = std::chrono::steady_clock::now();
  {
    data::DataLoader loader(ds, {.batch_size = 64, .num_workers = 3, .prefetch_batches = 2});
    int n = 0;
    for (data::Batch& b : loader) {
      EXPECT_EQ(b.input.size(0), 64);
      if (++n == 2) break;
    }
    // A new epoch after the break starts from its first batch.
    auto it = loader.begin();
    EXPECT_EQ((*it).target.to_vector<int64_t>()[0], 0);
    EXPECT_EQ(loader.epoch(), 2);
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(s, 2.0);  // a whole epoch would take 20 s
}

// Skipping batches with ++ (no *) keeps the stream in order; * twice gives the same batch.
TEST(DataLoaderTest, IteratorSkipsAndRereads) {
  auto ds = std::make_shared<NoisyDataset>(12);
  data::DataLoader loader(ds, {.batch_size = 2, .num_workers = 2});
  auto it = loader.begin();
  ++it;
  ++it;
  EXPECT_EQ(it->target.to_vector<int64_t>(), (std::vector<int64_t>{4, 5}));
  Tensor first = (*it).input;
  EXPECT_TRUE((*it).input.is_same(first));
  ++it;
  ++it;
  EXPECT_EQ((*it).target.to_vector<int64_t>(), (std::vector<int64_t>{8, 9}));
  ++it;
  ++it;
  EXPECT_TRUE(it == loader.end());
  expect_error([&] { *it; }, {"DataLoader", "batch 6", "6 batches"});
}

// Workers run ravel ops on one OpenMP thread, with autograd off; the caller's settings stay.
TEST(DataLoaderTest, WorkersRunSingleThreadedWithoutGrad) {
  class Probe : public data::Dataset {
   public:
    int64_t size() const override { return 8; }
    data::Example get(int64_t, Generator&) const override {
      return {scalar_tensor(static_cast<int64_t>(get_num_threads())),
              scalar_tensor(is_grad_enabled())};
    }
  };
  const int threads = get_num_threads();
  data::DataLoader loader(std::make_shared<Probe>(), {.batch_size = 4, .num_workers = 2});
  for (data::Batch& b : loader) {
    EXPECT_EQ(b.input.to_vector<int64_t>(), std::vector<int64_t>(4, 1));
    EXPECT_EQ(b.target.to_vector<int64_t>(), std::vector<int64_t>(4, 0));
  }
  EXPECT_EQ(get_num_threads(), threads);
  EXPECT_TRUE(is_grad_enabled());
}

// Many short epochs: worker threads start and exit, blocks they allocate die in this thread
// (run under ASan this checks the allocator's per-thread lists across threads).
TEST(DataLoaderTest, ManyEpochsOfShortLivedWorkers) {
  auto ds = std::make_shared<NoisyDataset>(16, 40);
  data::DataLoader loader(ds, {.batch_size = 3, .shuffle = true, .num_workers = 3});
  int64_t count = 0;
  for (int e = 0; e < 30; ++e)
    for (data::Batch& b : loader) count += b.input.size(0);
  EXPECT_EQ(count, 30 * 16);
}

TEST(DataLoaderTest, OptionErrors) {
  auto ds = std::make_shared<NoisyDataset>(4);
  expect_error([&] { data::DataLoader(ds, {.batch_size = 0}); },
               {"DataLoader", "batch_size is 0", ">= 1"});
  expect_error([&] { data::DataLoader(ds, {.num_workers = -1}); },
               {"DataLoader", "num_workers is -1"});
  expect_error([&] { data::DataLoader(ds, {.prefetch_batches = 0}); },
               {"DataLoader", "prefetch_batches is 0"});
  expect_error([] { data::DataLoader(nullptr); }, {"DataLoader", "null"});
  data::DataLoader loader(ds);
  expect_error([&] { *loader.end(); }, {"DataLoader", "begin()"});
}
