// DType names, sizes and NumPy's promotion table.
#include "ravel/dtype.h"

#include <ostream>

#include "ravel/error.h"
#include "ravel/scalar.h"

namespace ravel {

const char* dtype_name(DType t) {
  static constexpr const char* names[kNumDTypes] = {"bool",    "uint8",  "int8",    "int16",
                                                    "int32",   "int64",  "float16", "bfloat16",
                                                    "float32", "float64"};
  return names[static_cast<int>(t)];
}

DType dtype_from_name(const std::string& name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (name == dtype_name(static_cast<DType>(i))) return static_cast<DType>(i);
  detail::throw_error("dtype: unknown dtype name '", name,
                      "' (expected bool, uint8, int8, int16, int32, int64, float16, bfloat16, "
                      "float32 or float64)");
}

std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

namespace {
// Bits of the smallest float that holds every value of an integer type, as NumPy chooses:
// int8/uint8 -> float16, int16 -> float32, int32/int64 -> float64.
int float_bits_for_int(DType t) {
  switch (t) {
    case DType::Bool:
    case DType::UInt8:
    case DType::Int8:
      return 16;
    case DType::Int16:
      return 32;
    default:
      return 64;
  }
}
int float_bits(DType t) { return t == DType::Float64 ? 64 : t == DType::Float32 ? 32 : 16; }
DType float_of_bits(int bits) {
  return bits == 64 ? DType::Float64 : bits == 32 ? DType::Float32 : DType::Float16;
}
}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  bool fa = is_floating(a), fb = is_floating(b);
  if (fa && fb) {
    // bfloat16 is ravel's addition: it meets float16 at float32, otherwise the wider wins.
    if ((a == DType::BFloat16 && b == DType::Float16) ||
        (a == DType::Float16 && b == DType::BFloat16))
      return DType::Float32;
    if (a == DType::BFloat16) return float_bits(b) > 16 ? b : a;
    if (b == DType::BFloat16) return float_bits(a) > 16 ? a : b;
    return float_bits(a) >= float_bits(b) ? a : b;
  }
  if (fa || fb) {
    DType f = fa ? a : b, i = fa ? b : a;
    int bits = std::max(float_bits(f), float_bits_for_int(i));
    if (f == DType::BFloat16 && bits == 16) return DType::BFloat16;
    return float_of_bits(bits);
  }
  // both integers (not bool)
  bool sa = is_signed(a), sb = is_signed(b);
  if (sa == sb) return itemsize(a) >= itemsize(b) ? a : b;
  // uint8 with a signed type: the signed type if wider, else int16
  DType s = sa ? a : b;
  return itemsize(s) > 1 ? s : DType::Int16;
}

bool can_cast(DType from, DType to, const std::string& casting) {
  if (casting == "unsafe") return true;
  if (casting == "no" || casting == "equiv") return from == to;
  if (casting == "safe") return promote_types(from, to) == to;
  if (casting == "same_kind") {
    if (promote_types(from, to) == to) return true;
    auto kind = [](DType t) {
      return t == DType::Bool ? 0 : is_floating(t) ? 3 : is_signed(t) ? 2 : 1;
    };
    return kind(from) <= kind(to) || (kind(from) == 1 && kind(to) == 2);
  }
  detail::throw_error("can_cast: unknown casting rule '", casting,
                      "' (expected no, equiv, safe, same_kind or unsafe)");
}

DType result_type(DType tensor_dtype, const Scalar& s) {
  if (s.is_floating() && !is_floating(tensor_dtype)) return kDefaultFloat;
  if (s.is_integral() && tensor_dtype == DType::Bool) return kDefaultInt;
  return tensor_dtype;
}

}  // namespace ravel
