// ravel::Tensor — an n-d array: a view (shape, strides, offset) over shared, 64-byte aligned
// storage. Copying a Tensor copies the handle, not the data (like a PyTorch tensor or a NumPy
// view); clone() copies the data.
//
//   #include <ravel/ravel.h>
//   using namespace ravel;
//   Tensor a = arange(12).reshape({3, 4});          // int64 [[0..3],[4..7],[8..11]]
//   Tensor b = a.index({Slice(), Slice(None, None, -1)});  // a[:, ::-1], a view
//   Tensor c = (a.to(DType::Float32) * 0.5f + 1).sum(1);     // [ 2.5  6.5 10.5]
//   std::cout << c << "\n";
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ravel/dtype.h"
#include "ravel/error.h"
#include "ravel/scalar.h"
#include "ravel/small_vector.h"

namespace ravel {

enum class Device : uint8_t { CPU };

// A block of memory shared by tensors that view it. The version counter increases on every
// in-place write, so autograd can detect that a saved tensor was modified.
class alignas(64) Storage {
 public:
  // Allocates nbytes, 64-byte aligned, uninitialised.
  explicit Storage(size_t nbytes);
  // Wraps memory owned elsewhere; `deleter` (may be empty) runs when the last view goes.
  Storage(void* data, size_t nbytes, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return Device::CPU; }
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  // Where data_ points: into small_ (tensors of <= 64 bytes need no second allocation), a block
  // from ravel's allocator, or memory wrapped with from_blob.
  enum class Kind : uint8_t { Inline, Allocated, External };
  void* data_;
  size_t nbytes_;
  std::function<void(void*)> deleter_;  // External only; may be empty
  Kind kind_;
  std::atomic<uint64_t> version_{0};
  alignas(64) unsigned char small_[64];
};

namespace autograd {
struct AutogradMeta;  // autograd.h
}

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements; may be 0 (broadcast) or negative (flipped)
  int64_t offset = 0;  // in elements from storage->data()
  DType dtype = DType::Float32;
  bool contiguous = true;  // cached C-contiguity of (shape, strides); kept in step by make_impl
  bool is_view = false;    // shares the storage of the tensor it was made from (slice, ...)
  std::shared_ptr<autograd::AutogradMeta> autograd;
};

// ---- indexing vocabulary: t.index({0, Slice(1, None, 2), newaxis, ellipsis, mask}) ----
inline constexpr std::nullopt_t None = std::nullopt;
struct Slice {
  std::optional<int64_t> start, stop;
  int64_t step = 1;
  Slice() = default;
  Slice(std::optional<int64_t> start_, std::optional<int64_t> stop_ = std::nullopt,
        int64_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
};
struct NewAxis {};
struct EllipsisIndex {};
inline constexpr NewAxis newaxis{};
inline constexpr EllipsisIndex ellipsis{};

class Tensor;
class Index;

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  int64_t ndim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const;
  DType dtype() const { return impl().dtype; }
  size_t itemsize() const { return ravel::itemsize(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * itemsize(); }
  Device device() const { return Device::CPU; }
  bool is_contiguous() const { return impl().contiguous; }
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl& impl() const {
    if (!impl_) [[unlikely]]
      throw_undefined();
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  bool shares_storage(const Tensor& o) const;

  // Pointer to the first element (offset applied). T must match dtype().
  template <typename T>
  T* data_ptr() const {
    check_dtype(dtype_of<T>, "data_ptr");
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const {
    const TensorImpl& t = impl();
    return static_cast<char*>(t.storage->data()) +
           t.offset * static_cast<int64_t>(ravel::itemsize(t.dtype));
  }
  // The single element of a one-element tensor, converted to T.
  template <typename T>
  T item() const {
    return item_scalar().to<T>();
  }
  Scalar item_scalar() const;
  // All elements, in C order, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- copies and conversions ----
  Tensor contiguous() const;                    // this tensor if already C-contiguous, else a copy
  Tensor clone() const;                         // always a new contiguous copy
  Tensor to(DType t, bool copy = false) const;  // cast (NumPy astype with casting="unsafe")

  // ---- views (no copy) ----
  Tensor reshape(const Shape& shape) const;  // a view when strides allow, else a copy; -1 infers
  Tensor view(const Shape& shape) const;     // like reshape but throws if a copy would be needed
  Tensor flatten(int64_t start_axis = 0, int64_t end_axis = -1) const;
  Tensor transpose() const;                      // reverse all axes (NumPy .T)
  Tensor transpose(int64_t a, int64_t b) const;  // swap two axes
  Tensor permute(const Shape& axes) const;
  Tensor expand(const Shape& shape) const;  // broadcast_to
  Tensor squeeze() const;
  Tensor squeeze(int64_t axis) const;
  Tensor unsqueeze(int64_t axis) const;
  Tensor slice(int64_t axis, std::optional<int64_t> start, std::optional<int64_t> stop,
               int64_t step = 1) const;
  Tensor select(int64_t axis, int64_t i) const;  // drops the axis
  Tensor diagonal(int64_t offset = 0, int64_t axis1 = 0, int64_t axis2 = 1) const;
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // ---- indexing (NumPy semantics; see index.cpp) ----
  Tensor index(const std::vector<Index>& idx) const;                       // t[...]
  Tensor& index_put_(const std::vector<Index>& idx, const Tensor& value);  // t[...] = value
  Tensor& index_put_(const std::vector<Index>& idx, const Scalar& value);

  // ---- in-place ----
  Tensor& fill_(const Scalar& v);
  Tensor& copy_(const Tensor& src);  // broadcasts src, casts to this dtype
  Tensor& zero_() { return fill_(0); }
  Tensor& add_(const Tensor& o);
  Tensor& sub_(const Tensor& o);
  Tensor& mul_(const Tensor& o);
  Tensor& div_(const Tensor& o);
  Tensor& add_(const Scalar& o);
  Tensor& sub_(const Scalar& o);
  Tensor& mul_(const Scalar& o);
  Tensor& div_(const Scalar& o);
  Tensor& operator+=(const Tensor& o) { return add_(o); }
  Tensor& operator-=(const Tensor& o) { return sub_(o); }
  Tensor& operator*=(const Tensor& o) { return mul_(o); }
  Tensor& operator/=(const Tensor& o) { return div_(o); }
  Tensor& operator+=(const Scalar& o) { return add_(o); }
  Tensor& operator-=(const Scalar& o) { return sub_(o); }
  Tensor& operator*=(const Scalar& o) { return mul_(o); }
  Tensor& operator/=(const Scalar& o) { return div_(o); }
  void bump_version() const { impl().storage->bump_version(); }

  // ---- common math as methods (free functions in ops.h do the work) ----
  Tensor sum() const;
  Tensor sum(int64_t axis, bool keepdims = false) const;
  Tensor mean() const;
  Tensor mean(int64_t axis, bool keepdims = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor abs() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor matmul(const Tensor& o) const;
  bool all_close(const Tensor& o, double rtol = 1e-5, double atol = 1e-8) const;

  std::string to_string() const;  // NumPy-style text, summarised when large

  // ---- autograd (see autograd.h) ----
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // float tensors only; makes this a leaf to train
  bool is_leaf() const;                    // no grad_fn: created by the user, not by an op
  Tensor grad() const;                     // undefined until backward reaches this tensor
  void set_grad(const Tensor& g) const;    // an undefined g clears it
  const char* grad_fn_name() const;        // the op that produced this tensor, or nullptr
  // d(this)/d(leaves), accumulated into their grad(); `gradient` may be omitted for one element.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;
  Tensor detach() const;     // same data, no history, requires_grad false
  Tensor& detach_();         // drops this tensor's own history
  void retain_grad() const;  // keep grad() for a non-leaf too
  // hook(grad) runs when the gradient of this tensor is computed; returning a defined tensor
  // replaces the gradient. Returns an id for remove_hook.
  int register_hook(std::function<Tensor(const Tensor&)> hook) const;
  void remove_hook(int id) const;
  // Replaces this tensor's data, shape and dtype by src's (sharing src's storage) while keeping
  // its autograd identity: every handle to this tensor sees the change (PyTorch's p.data = src).
  // The grad is cleared when the shape or dtype changes.
  void set_data(const Tensor& src) const;

  void check_dtype(DType expected, const char* op) const;

 private:
  [[noreturn, gnu::cold]] static void throw_undefined();
  std::shared_ptr<TensorImpl> impl_;
};

// One entry of an index expression.
class Index {
 public:
  enum class Kind : uint8_t { Integer, Slice, NewAxis, Ellipsis, Tensor };
  Index(int64_t i) : kind_(Kind::Integer), int_(i) {}              // NOLINT: implicit by design
  Index(int i) : kind_(Kind::Integer), int_(i) {}                  // NOLINT
  Index(Slice s) : kind_(Kind::Slice), slice_(s) {}                // NOLINT
  Index(NewAxis) : kind_(Kind::NewAxis) {}                         // NOLINT
  Index(EllipsisIndex) : kind_(Kind::Ellipsis) {}                  // NOLINT
  Index(Tensor t) : kind_(Kind::Tensor), tensor_(std::move(t)) {}  // NOLINT: bool mask or ints
  Kind kind() const { return kind_; }
  int64_t integer() const { return int_; }
  const Slice& slice() const { return slice_; }
  const Tensor& tensor() const { return tensor_; }

 private:
  Kind kind_;
  int64_t int_ = 0;
  Slice slice_;
  Tensor tensor_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation ----
Tensor empty(const Shape& shape, DType dtype = kDefaultFloat);
Tensor zeros(const Shape& shape, DType dtype = kDefaultFloat);
Tensor ones(const Shape& shape, DType dtype = kDefaultFloat);
Tensor full(const Shape& shape, const Scalar& value, std::optional<DType> dtype = std::nullopt);
Tensor empty_like(const Tensor& t, std::optional<DType> dtype = std::nullopt);
Tensor zeros_like(const Tensor& t, std::optional<DType> dtype = std::nullopt);
Tensor ones_like(const Tensor& t, std::optional<DType> dtype = std::nullopt);
Tensor full_like(const Tensor& t, const Scalar& value, std::optional<DType> dtype = std::nullopt);
Tensor scalar_tensor(const Scalar& value, std::optional<DType> dtype = std::nullopt);  // 0-d
// arange(stop), arange(start, stop, step): int64 when all are integers, else float32.
Tensor arange(const Scalar& stop, std::optional<DType> dtype = std::nullopt);
Tensor arange(const Scalar& start, const Scalar& stop, const Scalar& step = 1,
              std::optional<DType> dtype = std::nullopt);
Tensor linspace(double start, double stop, int64_t num, bool endpoint = true,
                DType dtype = kDefaultFloat);
Tensor logspace(double start, double stop, int64_t num, bool endpoint = true, double base = 10.0,
                DType dtype = kDefaultFloat);
Tensor eye(int64_t n, std::optional<int64_t> m = std::nullopt, int64_t k = 0,
           DType dtype = kDefaultFloat);

// Copies `data` (C order) into a new tensor of dtype T.
Tensor from_buffer(const void* data, const Shape& shape, DType dtype);
template <typename T>
Tensor from_vector(const std::vector<T>& v, std::optional<Shape> shape = std::nullopt) {
  Shape s = shape ? *shape : Shape{static_cast<int64_t>(v.size())};
  if constexpr (std::is_same_v<T, bool>) {
    std::vector<uint8_t> bytes(v.begin(), v.end());
    return from_buffer(bytes.data(), s, DType::Bool);
  } else {
    return from_buffer(v.data(), s, dtype_of<T>);
  }
}
// Zero-copy wrap of memory owned by the caller; `deleter` runs when the last view is gone.
// Strides default to C order.
Tensor from_blob(void* data, const Shape& shape, DType dtype,
                 std::function<void(void*)> deleter = {},
                 std::optional<Shape> strides = std::nullopt);

// A nested initializer list: tensor({{1, 2}, {3, 4}}) is int64 [2, 2];
// tensor({1.5, 2}) is float32; tensor({true, false}) is bool.
class NestedList {
 public:
  NestedList(const Scalar& v) : value_(v), is_leaf_(true) {}  // NOLINT
  NestedList(bool v) : value_(v), is_leaf_(true) {}           // NOLINT
  NestedList(int v) : value_(v), is_leaf_(true) {}            // NOLINT
  NestedList(int64_t v) : value_(v), is_leaf_(true) {}        // NOLINT
  NestedList(float v) : value_(v), is_leaf_(true) {}          // NOLINT
  NestedList(double v) : value_(v), is_leaf_(true) {}         // NOLINT
  NestedList(std::initializer_list<NestedList> items) : items_(items), is_leaf_(false) {}
  bool is_leaf() const { return is_leaf_; }
  const Scalar& value() const { return value_; }
  const std::vector<NestedList>& items() const { return items_; }

 private:
  Scalar value_;
  std::vector<NestedList> items_;
  bool is_leaf_;
};
Tensor tensor(const NestedList& values, std::optional<DType> dtype = std::nullopt);

// ---- operators (broadcasting, NumPy promotion) ----
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator%(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Scalar& b);
Tensor operator-(const Tensor& a, const Scalar& b);
Tensor operator*(const Tensor& a, const Scalar& b);
Tensor operator/(const Tensor& a, const Scalar& b);
Tensor operator%(const Tensor& a, const Scalar& b);
Tensor operator+(const Scalar& a, const Tensor& b);
Tensor operator-(const Scalar& a, const Tensor& b);
Tensor operator*(const Scalar& a, const Tensor& b);
Tensor operator/(const Scalar& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Scalar& b);
Tensor operator!=(const Tensor& a, const Scalar& b);
Tensor operator<(const Tensor& a, const Scalar& b);
Tensor operator<=(const Tensor& a, const Scalar& b);
Tensor operator>(const Tensor& a, const Scalar& b);
Tensor operator>=(const Tensor& a, const Scalar& b);
Tensor operator&(const Tensor& a, const Tensor& b);
Tensor operator|(const Tensor& a, const Tensor& b);
Tensor operator^(const Tensor& a, const Tensor& b);
Tensor operator~(const Tensor& a);
Tensor operator!(const Tensor& a);

// Helpers shared by ops.
int64_t normalize_axis(int64_t axis, int64_t ndim, const char* op);  // throws on out of range
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");
Shape contiguous_strides(const Shape& shape);
int64_t shape_numel(const Shape& shape);

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = to(dtype_of<T>).contiguous();
  const T* p = c.data_ptr<T>();
  return std::vector<T>(p, p + c.numel());
}

}  // namespace ravel
