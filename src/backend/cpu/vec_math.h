// Internal: float32 math written so that GCC auto-vectorises loops that call it (no branches,
// no library calls): Cephes-style range reduction plus a polynomial, with bit tricks for the
// power of two. Accurate to about 1-2 ulp over the whole range, with IEEE results for
// inf/NaN/zero/subnormals, so they can replace std::exp etc. for float, float16 and bfloat16.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace ravel::vec {

// Forced inline: a call left in a loop body stops it from being vectorised, and GCC's inliner
// gives up on these once a file instantiates many loops.
#define RAVEL_VEC_INLINE inline __attribute__((always_inline))

// 2^n for an integer n in [-126, 127], built in the exponent field.
RAVEL_VEC_INLINE float pow2i(int32_t n) {
  return std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
}

RAVEL_VEC_INLINE float exp(float x) {
  constexpr float kHi = 88.7228393554687f, kLo = -103.972084045410f;
  float xc = x > kHi ? kHi : (x < kLo ? kLo : x);  // also keeps NaN out of the int conversion
  xc = x != x ? 0.0f : xc;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (std::floor/nearbyint do not vectorise here)
  float fx = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = xc - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * z + r + 1.0f;
  // Scale by 2^n in two steps so that results in the subnormal range (n < -126) stay exact.
  int32_t n = static_cast<int32_t>(fx);
  int32_t n1 = n / 2;
  y = y * pow2i(n1) * pow2i(n - n1);
  y = x > kHi ? INFINITY : y;
  y = x < kLo ? 0.0f : y;
  return x != x ? x : y;
}

RAVEL_VEC_INLINE float log(float x) {
  // Subnormals: scale into the normal range first.
  bool sub = x < 1.17549435e-38f;
  float xs = x * (sub ? 8388608.0f : 1.0f);  // 2^23
  uint32_t u = std::bit_cast<uint32_t>(xs);
  int32_t e = static_cast<int32_t>((u >> 23) & 0xffu) - 126 - (sub ? 23 : 0);
  float m = std::bit_cast<float>((u & 0x007fffffu) | 0x3f000000u);  // in [0.5, 1)
  bool small = m < 0.707106781186547524f;
  // Selects between constants only: GCC will not if-convert (speculate) float arithmetic.
  float ef = static_cast<float>(e) - (small ? 1.0f : 0.0f);
  float t = (m - 1.0f) + (small ? m : 0.0f);
  float z = t * t;
  float p = 7.0376836292e-2f;
  p = p * t - 1.1514610310e-1f;
  p = p * t + 1.1676998740e-1f;
  p = p * t - 1.2420140846e-1f;
  p = p * t + 1.4249322787e-1f;
  p = p * t - 1.6668057665e-1f;
  p = p * t + 2.0000714765e-1f;
  p = p * t - 2.4999993993e-1f;
  p = p * t + 3.3333331174e-1f;
  float y = p * t * z;
  y += -2.12194440e-4f * ef;
  y += -0.5f * z;
  float r = t + y;
  r += 0.693359375f * ef;
  r = x == INFINITY ? x : r;
  r = x == 0.0f ? -INFINITY : r;
  r = x < 0.0f ? NAN : r;
  return x != x ? x : r;
}

RAVEL_VEC_INLINE float tanh(float x) {
  float ax = std::fabs(x);
  // Small |x|: odd polynomial (Cephes tanhf); otherwise 1 - 2 / (e^{2|x|} + 1).
  float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  float small = p * z * x + x;
  float big = 1.0f - 2.0f / (vec::exp(ax + ax) + 1.0f);
  big = std::copysign(big, x);
  return ax < 0.625f ? small : big;  // NaN falls through to `big`, which is NaN
}

RAVEL_VEC_INLINE float sigmoid(float x) { return 1.0f / (1.0f + vec::exp(-x)); }

}  // namespace ravel::vec
