// Internal: how the conv/pool/norm ops hand tensors to the kernels, which compute in double for
// float64 and in float for everything else.
#pragma once
#include "ravel/tensor.h"

namespace ravel::cpu {

// Calls fn<T>() for the type the kernels compute in: double for float64, else float.
template <typename Fn>
void with_type(DType dt, Fn&& fn) {
  if (dt == DType::Float64)
    fn.template operator()<double>();
  else
    fn.template operator()<float>();
}

// The data of an optional tensor; an undefined one (e.g. no bias) gives nullptr.
template <typename T>
const T* ptr(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}
template <typename T>
T* mut_ptr(const Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

}  // namespace ravel::cpu
