// Element types and NumPy's type promotion.
//
//   ravel::DType t = ravel::promote_types(ravel::DType::Int32, ravel::DType::Float32);  // Float64
//   ravel::dtype_name(t);                                                              // "float64"
//
// Deliberate differences from NumPy (see README): floating tensors created without a dtype
// (rand, linspace, a float initializer list) are float32, not float64; a C++ scalar mixed with a
// tensor is "weak" (NEP 50): it never widens the tensor's dtype, except that a floating scalar
// with an integer or bool tensor gives float32. bfloat16 (absent from NumPy) promotes like
// float16, and bfloat16 with float16 gives float32.
#pragma once
#include <cstdint>
#include <cstring>
#include <iosfwd>
#include <string>

namespace ravel {

enum class DType : uint8_t {
  Bool,
  UInt8,
  Int8,
  Int16,
  Int32,
  Int64,
  Float16,
  BFloat16,
  Float32,
  Float64
};
inline constexpr int kNumDTypes = 10;

// IEEE 754 half precision, stored as bits; arithmetic goes through float.
struct Half {
  uint16_t bits = 0;
  Half() = default;
  Half(float f) {  // NOLINT: implicit, like a built-in float type; round to nearest even
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {  // inf or nan
      bits = static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    } else if (ax >= 0x477ff000u) {  // rounds to >= 65520: overflow to inf
      bits = static_cast<uint16_t>(sign | 0x7c00u);
    } else if (ax < 0x38800000u) {  // subnormal half (or zero): add 0.5 to shift mantissa down
      float af;
      std::memcpy(&af, &ax, 4);
      af += 0.5f;
      uint32_t r;
      std::memcpy(&r, &af, 4);
      bits = static_cast<uint16_t>(sign | (r - 0x3f000000u));
    } else {
      uint32_t mant_odd = (ax >> 13) & 1u;
      ax += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round
      bits = static_cast<uint16_t>(sign | (ax >> 13));
    }
  }
  operator float() const {
    uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    uint32_t exp = (bits >> 10) & 0x1fu, mant = bits & 0x3ffu;
    uint32_t out;
    if (exp == 0x1f) {
      out = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
      float f = static_cast<float>(mant) * 5.9604644775390625e-08f;  // mant * 2^-24
      std::memcpy(&out, &f, 4);
      out |= sign;
    } else {
      out = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &out, 4);
    return f;
  }
  static Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
};

// bfloat16: the top 16 bits of a float32, rounded to nearest even.
struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  BFloat16(float f) {  // NOLINT
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40);
      return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    bits = static_cast<uint16_t>(u >> 16);
  }
  operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  static BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
};

inline constexpr size_t kItemSizes[kNumDTypes] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};
inline size_t itemsize(DType t) { return kItemSizes[static_cast<int>(t)]; }
const char* dtype_name(DType t);  // NumPy's names: "float32", "bool", "bfloat16", ...
DType dtype_from_name(const std::string& name);  // throws ravel::Error for unknown names
std::ostream& operator<<(std::ostream& os, DType t);

inline bool is_floating(DType t) { return t >= DType::Float16; }
inline bool is_integral(DType t, bool include_bool = false) {
  return (t >= DType::UInt8 && t <= DType::Int64) || (include_bool && t == DType::Bool);
}
inline bool is_signed(DType t) { return t != DType::Bool && t != DType::UInt8; }

// NumPy's promote_types for two array dtypes.
DType promote_types(DType a, DType b);
// True if a value of `from` can be cast to `to` under the given rule
// ("no", "equiv", "safe", "same_kind", "unsafe"), as numpy.can_cast.
bool can_cast(DType from, DType to, const std::string& casting = "safe");

inline constexpr DType kDefaultFloat = DType::Float32;
inline constexpr DType kDefaultInt = DType::Int64;

// C++ type <-> DType.
template <typename T>
struct DTypeOf;
#define RAVEL_DTYPE_OF(T, D)                 \
  template <>                                \
  struct DTypeOf<T> {                        \
    static constexpr DType value = DType::D; \
  };
RAVEL_DTYPE_OF(bool, Bool)
RAVEL_DTYPE_OF(uint8_t, UInt8)
RAVEL_DTYPE_OF(int8_t, Int8)
RAVEL_DTYPE_OF(int16_t, Int16)
RAVEL_DTYPE_OF(int32_t, Int32)
RAVEL_DTYPE_OF(int64_t, Int64)
RAVEL_DTYPE_OF(Half, Float16)
RAVEL_DTYPE_OF(BFloat16, BFloat16)
RAVEL_DTYPE_OF(float, Float32)
RAVEL_DTYPE_OF(double, Float64)
#undef RAVEL_DTYPE_OF
template <typename T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

}  // namespace ravel
