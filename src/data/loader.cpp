// DataLoader: batch k of an epoch is built by worker k % num_workers, which builds its batches in
// order into its own queue of at most prefetch_batches; the consumer pops batch k from queue
// k % num_workers, so batches come out in order without a reordering buffer.
#include "ravel/data/loader.h"

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "ravel/autograd.h"
#include "ravel/error.h"
#include "ravel/parallel.h"

namespace ravel::data {

// ---------------------------------------------------------------- collate
namespace {

// Stacks one field of the examples into a new [n, ...] tensor with one allocation and a memcpy
// per contiguous example.
Tensor stack_field(const std::vector<Example>& examples, Tensor Example::*field, const char* name) {
  const Tensor& first = examples[0].*field;
  const bool defined = first.defined();
  for (size_t i = 1; i < examples.size(); ++i) {
    const Tensor& t = examples[i].*field;
    RAVEL_CHECK(t.defined() == defined, "default_collate: example ", i, "'s ", name, " is ",
                t.defined() ? "defined" : "undefined", " but example 0's is ",
                defined ? "defined" : "undefined", ", expected all examples to agree");
    if (!defined) continue;
    RAVEL_CHECK(t.shape() == first.shape() && t.dtype() == first.dtype(),
                "default_collate: example ", i, "'s ", name, " has shape ", t.shape(),
                " and dtype ", t.dtype(), " but example 0's has shape ", first.shape(),
                " and dtype ", first.dtype(), ", expected all examples to agree");
  }
  if (!defined) return Tensor();
  Shape shape = first.shape();
  shape.insert(0, static_cast<int64_t>(examples.size()));
  Tensor out = empty(shape, first.dtype());
  const size_t nbytes = first.nbytes();
  char* dst = static_cast<char*>(out.raw_data());
  for (size_t i = 0; i < examples.size(); ++i) {
    const Tensor& t = examples[i].*field;
    if (t.is_contiguous())
      std::memcpy(dst + i * nbytes, t.raw_data(), nbytes);
    else
      out.select(0, static_cast<int64_t>(i)).copy_(t);
  }
  return out;
}

}  // namespace

Batch default_collate(std::vector<Example>&& examples) {
  RAVEL_CHECK(!examples.empty(), "default_collate: no examples, expected at least one");
  NoGradGuard no_grad;  // a batch is data, not part of a graph
  return {stack_field(examples, &Example::input, "input"),
          stack_field(examples, &Example::target, "target")};
}

// ---------------------------------------------------------------- seeds
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Streams of an epoch: the shuffle, then one per example position.
constexpr uint64_t kShuffleStream = 0;
uint64_t stream_seed(uint64_t seed, int64_t epoch, uint64_t stream) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ stream);
}

}  // namespace

// ---------------------------------------------------------------- the running epoch
// One epoch's state, shared by the consumer and the workers.
struct DataLoader::Impl {
  struct Item {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  const DataLoader& loader;
  const int64_t epoch;
  const int64_t num_batches;
  std::vector<int64_t> order;  // dataset index of each position of the epoch

  std::mutex mu;
  std::condition_variable produced, consumed;  // a queue grew / shrank (or stop)
  std::vector<std::deque<Item>> queues;        // one per worker
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;

  int64_t next = 0;  // the batch the consumer pops next
  int64_t current_index = -1;
  Batch current;
  bool failed = false;

  Impl(const DataLoader& l, int64_t e) : loader(l), epoch(e), num_batches(l.num_batches()) {
    const DataLoaderOptions& o = loader.options_;
    const int64_t n = loader.dataset_->size();
    if (o.shuffle) {
      Generator gen(stream_seed(o.seed, epoch, kShuffleStream));
      order = permutation(n, gen).to_vector<int64_t>();
    } else {
      order.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
    }
    queues.resize(static_cast<size_t>(o.num_workers));
    try {
      for (int w = 0; w < o.num_workers; ++w) workers.emplace_back([this, w] { work(w); });
    } catch (...) {  // no thread could be started: join those that were
      shutdown();
      throw;
    }
  }

  ~Impl() { shutdown(); }

  void shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    consumed.notify_all();
    for (std::thread& t : workers)
      if (t.joinable()) t.join();
    workers.clear();
  }

  // Batch k: its examples fetched in order, each with its own Generator, then collated. Returns
  // nullopt when stopped part-way.
  std::optional<Batch> build(int64_t k) {
    const DataLoaderOptions& o = loader.options_;
    const int64_t begin = k * o.batch_size;
    const int64_t end = std::min<int64_t>(begin + o.batch_size, static_cast<int64_t>(order.size()));
    NoGradGuard no_grad;
    std::vector<Example> examples;
    examples.reserve(static_cast<size_t>(end - begin));
    for (int64_t pos = begin; pos < end; ++pos) {
      if (stop.load(std::memory_order_relaxed)) return std::nullopt;
      // Positions count from 1 in the stream numbering: stream 0 is the shuffle.
      Generator gen(stream_seed(o.seed, epoch, static_cast<uint64_t>(pos) + 1));
      examples.push_back(loader.dataset_->get(order[static_cast<size_t>(pos)], gen));
    }
    return o.collate(std::move(examples));
  }

  void work(int w) {
    set_num_threads(1);  // this thread's OpenMP regions only: the training thread has the cores
    const int nw = loader.options_.num_workers;
    const size_t cap = static_cast<size_t>(loader.options_.prefetch_batches);
    std::deque<Item>& queue = queues[static_cast<size_t>(w)];
    for (int64_t k = w; k < num_batches; k += nw) {
      {
        std::unique_lock<std::mutex> lock(mu);
        consumed.wait(lock, [&] { return stop || queue.size() < cap; });
        if (stop) return;
      }
      Item item;
      try {
        item.batch = build(k);
        if (!item.batch) return;  // stopped
      } catch (...) {
        item.error = std::current_exception();
      }
      const bool failed_here = item.error != nullptr;
      {
        std::lock_guard<std::mutex> lock(mu);
        queue.push_back(std::move(item));
      }
      produced.notify_all();
      if (failed_here) return;  // the consumer stops the others when it reaches this batch
    }
  }

  // Pops batch `next` (from the calling thread when there are no workers); rethrows its error.
  Batch pop() {
    RAVEL_CHECK(!failed,
                "DataLoader: this epoch stopped at an error, expected begin() to start a "
                "new one");
    const int64_t k = next++;
    const int nw = loader.options_.num_workers;
    if (nw == 0) {
      try {
        return *build(k);
      } catch (...) {
        failed = true;
        throw;
      }
    }
    Item item;
    {
      std::deque<Item>& queue = queues[static_cast<size_t>(k % nw)];
      std::unique_lock<std::mutex> lock(mu);
      produced.wait(lock, [&] { return !queue.empty(); });
      item = std::move(queue.front());
      queue.pop_front();
    }
    consumed.notify_all();
    if (item.error) {
      failed = true;
      shutdown();
      std::rethrow_exception(item.error);
    }
    return std::move(*item.batch);
  }

  Batch& at(int64_t k) {
    RAVEL_CHECK(k >= 0 && k < num_batches, "DataLoader: batch ", k,
                " is out of range for an epoch of ", num_batches, " batches");
    if (current_index == k) return current;
    RAVEL_CHECK(k >= next, "DataLoader: batch ", k, " was already passed (the next is ", next,
                "), expected the iterator of the current begin()");
    current = Batch();       // release the previous batch before waiting for the next
    while (next < k) pop();  // batches skipped by ++ without *
    current = pop();
    current_index = k;
    return current;
  }
};

// ---------------------------------------------------------------- DataLoader
DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  RAVEL_CHECK(dataset_ != nullptr, "DataLoader: the dataset is null");
  RAVEL_CHECK(options_.batch_size >= 1, "DataLoader: batch_size is ", options_.batch_size,
              ", expected >= 1");
  RAVEL_CHECK(options_.num_workers >= 0, "DataLoader: num_workers is ", options_.num_workers,
              ", expected >= 0");
  RAVEL_CHECK(options_.prefetch_batches >= 1, "DataLoader: prefetch_batches is ",
              options_.prefetch_batches, ", expected >= 1");
  RAVEL_CHECK(static_cast<bool>(options_.collate), "DataLoader: collate is empty");
}

DataLoader::~DataLoader() = default;

int64_t DataLoader::num_batches() const {
  const int64_t n = dataset_->size(), bs = options_.batch_size;
  return options_.drop_last ? n / bs : (n + bs - 1) / bs;
}

DataLoader::Iterator DataLoader::begin() {
  impl_.reset();  // stops and joins the workers of an unfinished epoch
  impl_ = std::make_unique<Impl>(*this, epoch_);
  ++epoch_;
  return Iterator(this, 0);
}

DataLoader::Iterator DataLoader::end() { return Iterator(this, num_batches()); }

Batch& DataLoader::Iterator::operator*() {
  RAVEL_CHECK(loader_->impl_ != nullptr, "DataLoader: no epoch running, expected begin() first");
  return loader_->impl_->at(index_);
}

DataLoader::Iterator& DataLoader::Iterator::operator++() {
  Impl* impl = loader_->impl_.get();
  // Drop the batch just used, so its memory returns before the next one is waited for.
  if (impl && impl->current_index == index_) {
    impl->current = Batch();
    impl->current_index = -1;
  }
  ++index_;
  return *this;
}

}  // namespace ravel::data
