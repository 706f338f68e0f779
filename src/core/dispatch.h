// Internal: run a templated lambda for the C++ type of a DType.
//
//   visit_dtype(t.dtype(), [&]<typename T>() { T* p = t.data_ptr<T>(); ... });
//
// Half and BFloat16 are storage types; kernels compute on compute_t<T> (float for them).
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "ravel/dtype.h"
#include "ravel/error.h"

namespace ravel {

template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Bool:
      return f.template operator()<bool>();
    case DType::UInt8:
      return f.template operator()<uint8_t>();
    case DType::Int8:
      return f.template operator()<int8_t>();
    case DType::Int16:
      return f.template operator()<int16_t>();
    case DType::Int32:
      return f.template operator()<int32_t>();
    case DType::Int64:
      return f.template operator()<int64_t>();
    case DType::Float16:
      return f.template operator()<Half>();
    case DType::BFloat16:
      return f.template operator()<BFloat16>();
    case DType::Float32:
      return f.template operator()<float>();
    case DType::Float64:
      return f.template operator()<double>();
  }
  detail::throw_error("internal: unknown dtype ", static_cast<int>(t));
}

// Runs f.template operator()<U>() with U an unsigned integer of the given item size (1, 2, 4 or
// 8 bytes): copies and gathers move bytes and need no more than the element's width.
template <typename F>
void visit_itemsize(size_t size, F&& f) {
  switch (size) {
    case 1:
      return f.template operator()<uint8_t>();
    case 2:
      return f.template operator()<uint16_t>();
    case 4:
      return f.template operator()<uint32_t>();
    default:
      return f.template operator()<uint64_t>();
  }
}

template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<Half> {
  using type = float;
};
template <>
struct ComputeType<BFloat16> {
  using type = float;
};
template <typename T>
using compute_t = typename ComputeType<T>::type;

template <typename T>
inline constexpr bool is_float_v =
    std::is_floating_point_v<T> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

// Value conversion with NumPy's results where C++ would be undefined: float -> int of NaN or an
// out-of-range value gives INT64_MIN truncated to the target width (what NumPy gives on x86).
template <typename To, typename From>
inline To cast_value(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    if constexpr (is_float_v<From>)
      return static_cast<compute_t<From>>(v) != 0;
    else
      return v != 0;
  } else if constexpr (is_float_v<From> && std::is_integral_v<To>) {
    double d = static_cast<double>(static_cast<compute_t<From>>(v));
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
      return static_cast<To>(std::numeric_limits<int64_t>::min());
    return static_cast<To>(static_cast<int64_t>(d));
  } else if constexpr (std::is_same_v<To, Half> || std::is_same_v<To, BFloat16>) {
    if constexpr (std::is_same_v<From, double>)
      return To(static_cast<float>(v));
    else
      return To(static_cast<float>(static_cast<compute_t<From>>(v)));
  } else if constexpr (std::is_same_v<From, Half> || std::is_same_v<From, BFloat16>) {
    return static_cast<To>(static_cast<float>(v));
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace ravel
