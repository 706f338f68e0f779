// DataLoader: batches of a Dataset, shuffled from a seed, assembled by worker threads ahead of
// the training loop (torch.utils.data.DataLoader).
//
//   data::DataLoader loader(train_set, {.batch_size = 128, .shuffle = true, .drop_last = true,
//                                       .num_workers = 2, .seed = 42});
//   for (int epoch = 0; epoch < 15; ++epoch) {
//     for (data::Batch& b : loader) {          // each pass over the loader is one epoch
//       Tensor loss = F::cross_entropy((*model)(b.input), b.target);
//       ...
//     }
//   }
//
// Determinism: epoch e (counted by the loader, or set with set_epoch) shuffles with a Generator
// seeded from (seed, e), and the example at position i of that epoch gets its own Generator
// seeded from (seed, e, i), so batches -- augmentation included -- are identical whatever
// num_workers is. Batches come out in order: worker w builds batches w, w + num_workers, ...,
// each holding at most prefetch_batches built ahead. Workers run ravel ops on one OpenMP thread
// (the training thread keeps the cores) with autograd off; get() and collate must be safe to
// call from several threads. An exception thrown by a worker (a bad file, a transform's shape
// error) is rethrown by the iterator's operator* at that batch in the training thread, and the
// other workers stop; begin() starts afresh. Breaking out of the loop early or destroying the
// loader stops and joins the workers.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "ravel/data/dataset.h"

namespace ravel::data {

struct Batch {
  Tensor input;   // examples' inputs stacked on a new first axis
  Tensor target;  // likewise; undefined when the examples have none
};

// Stacks inputs and targets (all examples must agree in shape and dtype; the error names the
// first one that does not).
Batch default_collate(std::vector<Example>&& examples);

struct DataLoaderOptions {
  int64_t batch_size = 1;
  bool shuffle = false;
  bool drop_last = false;    // drop a last batch smaller than batch_size
  int num_workers = 0;       // 0: batches are built in the calling thread, on demand
  int prefetch_batches = 2;  // per worker
  uint64_t seed = 0;         // shuffling and per-example randomness
  std::function<Batch(std::vector<Example>&&)> collate = default_collate;
};

class DataLoader {
 public:
  DataLoader(DatasetPtr dataset, DataLoaderOptions options = {});
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  int64_t num_batches() const;  // per epoch
  int64_t num_examples() const { return dataset_->size(); }
  const DataLoaderOptions& options() const { return options_; }
  // The epoch the next begin() runs; begin() then advances it. Set it to resume a run.
  int64_t epoch() const { return epoch_; }
  void set_epoch(int64_t epoch) { epoch_ = epoch; }

  class Iterator {
   public:
    Batch& operator*();
    Batch* operator->() { return &**this; }
    Iterator& operator++();
    bool operator==(const Iterator& o) const { return index_ == o.index_; }
    bool operator!=(const Iterator& o) const { return index_ != o.index_; }

   private:
    friend class DataLoader;
    Iterator(DataLoader* loader, int64_t index) : loader_(loader), index_(index) {}
    DataLoader* loader_;
    int64_t index_;
  };
  // Starts an epoch (stopping a previous one that was not finished). One pass at a time.
  Iterator begin();
  Iterator end();

  struct Impl;  // worker threads and queues (src/data/loader.cpp)

 private:
  DatasetPtr dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = 0;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ravel::data
