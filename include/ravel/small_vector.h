// SmallVector: a vector with inline room for N elements (shapes and strides rarely need more),
// so creating a tensor does not allocate for its shape.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <vector>

namespace ravel {

template <typename T, size_t N>
class SmallVector {
 public:
  SmallVector() = default;
  SmallVector(std::initializer_list<T> init) { assign(init.begin(), init.end()); }
  SmallVector(const std::vector<T>& v) {
    assign(v.begin(), v.end());
  }  // NOLINT: implicit on purpose
  explicit SmallVector(size_t n, T value = T()) { resize(n, value); }
  template <typename It>
  SmallVector(It first, It last) {
    assign(first, last);
  }
  SmallVector(const SmallVector& o) { assign(o.begin(), o.end()); }
  SmallVector& operator=(const SmallVector& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  SmallVector(SmallVector&& o) noexcept { *this = std::move(o); }
  SmallVector& operator=(SmallVector&& o) noexcept {
    if (this == &o) return *this;
    if (!o.heap_.empty()) {
      heap_ = std::move(o.heap_);
      size_ = o.size_;
      o.heap_.clear();
    } else {
      heap_.clear();
      size_ = o.size_;
      std::copy(o.inline_, o.inline_ + o.size_, inline_);
    }
    o.size_ = 0;
    return *this;
  }

  template <typename It>
  void assign(It first, It last) {
    size_t n = static_cast<size_t>(std::distance(first, last));
    reserve_fresh(n);
    std::copy(first, last, data());
    size_ = n;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return heap_.empty() ? inline_ : heap_.data(); }
  const T* data() const { return heap_.empty() ? inline_ : heap_.data(); }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  T& back() { return data()[size_ - 1]; }
  const T& back() const { return data()[size_ - 1]; }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }

  void push_back(T v) {
    if (heap_.empty() && size_ < N) {
      inline_[size_++] = v;
      return;
    }
    if (heap_.empty()) heap_.assign(inline_, inline_ + size_);
    heap_.resize(size_);
    heap_.push_back(v);
    ++size_;
  }
  void resize(size_t n, T value = T()) {
    if (heap_.empty() && n <= N) {
      for (size_t i = size_; i < n; ++i) inline_[i] = value;
    } else {
      if (heap_.empty()) heap_.assign(inline_, inline_ + size_);
      heap_.resize(n, value);
    }
    size_ = n;
  }
  void insert(size_t pos, T v) {
    push_back(v);
    std::rotate(begin() + pos, end() - 1, end());
  }
  void erase(size_t pos) {
    std::rotate(begin() + pos, begin() + pos + 1, end());
    --size_;
    if (!heap_.empty()) heap_.resize(size_);
  }
  void clear() { resize(0); }
  std::vector<T> vec() const { return std::vector<T>(begin(), end()); }

  friend bool operator==(const SmallVector& a, const SmallVector& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const SmallVector& a, const SmallVector& b) { return !(a == b); }

 private:
  void reserve_fresh(size_t n) {
    if (n <= N) {
      heap_.clear();
    } else {
      heap_.resize(n);
    }
  }
  T inline_[N];          // only the first size_ are meaningful; left uninitialised on purpose
  std::vector<T> heap_;  // used only when more than N elements
  size_t size_ = 0;
};

// Printed like a Python list: [2, 3, 4]
template <typename T, size_t N>
std::ostream& operator<<(std::ostream& os, const SmallVector<T, N>& v) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  return os << ']';
}

using Shape = SmallVector<int64_t, 6>;  // sizes, or strides in elements

}  // namespace ravel
