// Tensor's math methods: thin forwards to the free functions in ops.h.
#include "ravel/ops.h"

namespace ravel {

Tensor Tensor::sum() const { return ravel::sum(*this); }
Tensor Tensor::sum(int64_t axis, bool keepdims) const { return ravel::sum(*this, axis, keepdims); }
Tensor Tensor::mean() const { return ravel::mean(*this); }
Tensor Tensor::mean(int64_t axis, bool keepdims) const {
  return ravel::mean(*this, axis, keepdims);
}
Tensor Tensor::max() const { return amax(*this); }
Tensor Tensor::min() const { return amin(*this); }
Tensor Tensor::abs() const { return ravel::abs(*this); }
Tensor Tensor::exp() const { return ravel::exp(*this); }
Tensor Tensor::log() const { return ravel::log(*this); }
Tensor Tensor::sqrt() const { return ravel::sqrt(*this); }
Tensor Tensor::matmul(const Tensor& o) const { return ravel::matmul(*this, o); }
bool Tensor::all_close(const Tensor& o, double rtol, double atol) const {
  return allclose(*this, o, rtol, atol);
}

}  // namespace ravel
