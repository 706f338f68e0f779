// Datasets and random_split (torch.utils.data's Dataset family).
#include "ravel/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "ravel/error.h"

namespace ravel::data {

namespace {
void check_index(const char* what, int64_t index, int64_t size) {
  RAVEL_CHECK(index >= 0 && index < size, what, ": index ", index, " is out of range for size ",
              size, " (expected 0 <= index < ", size, ")");
}
}  // namespace

Dataset::~Dataset() = default;

Example Dataset::get(int64_t index) const {
  Generator gen(static_cast<uint64_t>(index));
  return get(index, gen);
}

// ---------------------------------------------------------------- TensorDataset
TensorDataset::TensorDataset(Tensor inputs, Tensor targets)
    : inputs_(std::move(inputs)), targets_(std::move(targets)) {
  RAVEL_CHECK(inputs_.defined(), "TensorDataset: inputs are undefined, expected a tensor");
  RAVEL_CHECK(inputs_.ndim() >= 1,
              "TensorDataset: inputs are 0-d, expected a first dimension indexing the examples");
  if (targets_.defined()) {
    RAVEL_CHECK(targets_.ndim() >= 1 && targets_.size(0) == inputs_.size(0),
                "TensorDataset: targets of shape ", targets_.shape(),
                " do not match inputs of shape ", inputs_.shape(),
                ", expected the same first dimension (", inputs_.size(0), ")");
  }
}

int64_t TensorDataset::size() const { return inputs_.size(0); }

Example TensorDataset::get(int64_t index, Generator&) const {
  check_index("TensorDataset", index, size());
  return {inputs_.select(0, index), targets_.defined() ? targets_.select(0, index) : Tensor()};
}

// ---------------------------------------------------------------- Subset
Subset::Subset(DatasetPtr base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  RAVEL_CHECK(base_ != nullptr, "Subset: the base dataset is null");
  const int64_t n = base_->size();
  for (int64_t i : indices_) check_index("Subset", i, n);
}

Example Subset::get(int64_t index, Generator& gen) const {
  check_index("Subset", index, size());
  return base_->get(indices_[static_cast<size_t>(index)], gen);
}

// ---------------------------------------------------------------- ConcatDataset
ConcatDataset::ConcatDataset(std::vector<DatasetPtr> parts) : parts_(std::move(parts)) {
  int64_t end = 0;
  for (size_t i = 0; i < parts_.size(); ++i) {
    RAVEL_CHECK(parts_[i] != nullptr, "ConcatDataset: part ", i, " is null");
    end += parts_[i]->size();
    ends_.push_back(end);
  }
}

int64_t ConcatDataset::size() const { return ends_.empty() ? 0 : ends_.back(); }

Example ConcatDataset::get(int64_t index, Generator& gen) const {
  check_index("ConcatDataset", index, size());
  // The first part whose end lies beyond index holds it.
  size_t part =
      static_cast<size_t>(std::upper_bound(ends_.begin(), ends_.end(), index) - ends_.begin());
  int64_t start = part == 0 ? 0 : ends_[part - 1];
  return parts_[part]->get(index - start, gen);
}

// ---------------------------------------------------------------- TransformDataset
TransformDataset::TransformDataset(DatasetPtr base, Fn fn)
    : base_(std::move(base)), fn_(std::move(fn)) {
  RAVEL_CHECK(base_ != nullptr, "TransformDataset: the base dataset is null");
  RAVEL_CHECK(static_cast<bool>(fn_), "TransformDataset: the function is empty");
}

Example TransformDataset::get(int64_t index, Generator& gen) const {
  return fn_(base_->get(index, gen), gen);
}

// ---------------------------------------------------------------- random_split
std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr base,
                                                  const std::vector<int64_t>& lengths,
                                                  Generator& gen) {
  RAVEL_CHECK(base != nullptr, "random_split: the dataset is null");
  const int64_t n = base->size();
  int64_t total = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    RAVEL_CHECK(lengths[i] >= 0, "random_split: length ", i, " is ", lengths[i], ", expected >= 0");
    total += lengths[i];
  }
  RAVEL_CHECK(total == n, "random_split: the lengths sum to ", total, " but the dataset has size ",
              n, ", expected them to be equal");
  std::vector<int64_t> perm = permutation(n, gen).to_vector<int64_t>();
  std::vector<std::shared_ptr<Subset>> parts;
  auto it = perm.begin();
  for (int64_t len : lengths) {
    parts.push_back(std::make_shared<Subset>(base, std::vector<int64_t>(it, it + len)));
    it += len;
  }
  return parts;
}

std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr base,
                                                  const std::vector<double>& fractions,
                                                  Generator& gen) {
  RAVEL_CHECK(base != nullptr, "random_split: the dataset is null");
  RAVEL_CHECK(!fractions.empty(), "random_split: no fractions given");
  double sum = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    RAVEL_CHECK(fractions[i] >= 0 && fractions[i] <= 1, "random_split: fraction ", i, " is ",
                fractions[i], ", expected a value in [0, 1]");
    sum += fractions[i];
  }
  // PyTorch 1.13: math.isclose(sum, 1) and sum <= 1.
  RAVEL_CHECK(std::abs(sum - 1) <= 1e-9 && sum <= 1, "random_split: the fractions sum to ", sum,
              ", expected 1");
  const int64_t n = base->size();
  std::vector<int64_t> lengths;
  int64_t assigned = 0;
  for (double f : fractions) {
    lengths.push_back(static_cast<int64_t>(std::floor(static_cast<double>(n) * f)));
    assigned += lengths.back();
  }
  // The remainder, one each, round-robin from the first part.
  for (int64_t i = 0; i < n - assigned; ++i) ++lengths[static_cast<size_t>(i) % lengths.size()];
  return random_split(std::move(base), lengths, gen);
}

}  // namespace ravel::data
