// Datasets: indexable collections of (input, target) examples (torch.utils.data.Dataset).
//
//   using namespace ravel;
//   auto train = data::load_fashion_mnist(data::Split::Train);       // images [N,1,28,28] uint8
//   auto ds = std::make_shared<data::TensorDataset>(train.images, train.labels);
//   auto parts = data::random_split(ds, {55000, 5000}, gen);         // train / validation
//   auto augmented = std::make_shared<data::TransformDataset>(parts[0], transform);
//   data::Example e = augmented->get(0, gen);                        // e.input, e.target
//
// get() must be safe to call from several threads at once (the DataLoader's workers do); the
// Generator passed in is that one example's own randomness (see DataLoader), so a dataset that
// draws random numbers (augmentation) repeats exactly for a given loader seed.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ravel/random.h"
#include "ravel/tensor.h"

namespace ravel::data {

// One example. target may be undefined for unlabelled data.
struct Example {
  Tensor input;
  Tensor target;
};

class Dataset {
 public:
  virtual ~Dataset();
  virtual int64_t size() const = 0;
  // index in [0, size()); out of range throws ravel::Error naming the index and the size.
  virtual Example get(int64_t index, Generator& gen) const = 0;
  // Without randomness of its own: a Generator seeded with the index.
  Example get(int64_t index) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// Rows of tensors that share their first dimension: example i is (inputs[i], targets[i]).
// The rows are views (no copy). targets may be undefined.
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets = {});
  int64_t size() const override;
  Example get(int64_t index, Generator& gen) const override;
  using Dataset::get;  // get(index) too
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_, targets_;
};

// The examples of `base` at `indices`, in that order.
class Subset : public Dataset {
 public:
  Subset(DatasetPtr base, std::vector<int64_t> indices);  // each index checked against base
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index, Generator& gen) const override;
  using Dataset::get;  // get(index) too
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  DatasetPtr base_;
  std::vector<int64_t> indices_;
};

// Several datasets one after another.
class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<DatasetPtr> parts);
  int64_t size() const override;
  Example get(int64_t index, Generator& gen) const override;
  using Dataset::get;  // get(index) too

 private:
  std::vector<DatasetPtr> parts_;
  std::vector<int64_t> ends_;  // cumulative sizes
};

// A function applied to each example of `base`, e.g. augmentation of the input
// (TransformDataset(base, transforms::Compose{...}) in data/transforms.h).
class TransformDataset : public Dataset {
 public:
  using Fn = std::function<Example(Example, Generator&)>;
  TransformDataset(DatasetPtr base, Fn fn);
  int64_t size() const override { return base_->size(); }
  Example get(int64_t index, Generator& gen) const override;
  using Dataset::get;  // get(index) too

 private:
  DatasetPtr base_;
  Fn fn_;
};

// Splits a permutation of base's indices into consecutive Subsets of the given lengths, which
// must sum to base->size() (torch.utils.data.random_split). Fractions summing to 1 are also
// accepted (the remainder goes to the first parts, one each, as PyTorch does).
std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr base,
                                                  const std::vector<int64_t>& lengths,
                                                  Generator& gen);
std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr base,
                                                  const std::vector<double>& fractions,
                                                  Generator& gen);
// A braced list, random_split(ds, {55000, 5000}, gen) or {0.9, 0.1}, would be ambiguous between
// the two vectors: integers mean lengths, floating point numbers fractions.
template <typename T>
requires std::is_arithmetic_v<T> std::vector<std::shared_ptr<Subset>> random_split(
    DatasetPtr base, std::initializer_list<T> parts, Generator& gen) {
  if constexpr (std::is_integral_v<T>)
    return random_split(std::move(base), std::vector<int64_t>(parts.begin(), parts.end()), gen);
  else
    return random_split(std::move(base), std::vector<double>(parts.begin(), parts.end()), gen);
}

}  // namespace ravel::data
