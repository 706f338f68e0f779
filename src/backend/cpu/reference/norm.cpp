// One channel per task (sums in double), parallel over channels.
#include "backend/cpu/reference/norm.h"

#include <algorithm>
#include <cmath>

#include "core/parallel.h"

namespace ravel::cpu {
namespace {

// Calls fn(row pointer offset) for the n rows of s elements of channel ch.
template <typename Fn>
void for_each_row(const NormGeom& g, int64_t ch, Fn&& fn) {
  for (int64_t i = 0; i < g.n; ++i) fn((i * g.c + ch) * g.s);
}

}  // namespace

template <typename T>
void batch_norm_stats(const T* x, T* mean, T* var, const NormGeom& g) {
  const double m = static_cast<double>(g.n * g.s);
  for_each_channel(g, [&](int64_t ch) {
    double sum = 0;
    for_each_row(g, ch, [&](int64_t off) {
      for (int64_t j = 0; j < g.s; ++j) sum += x[off + j];
    });
    const double mu = m > 0 ? sum / m : 0.0;
    double sq = 0;  // second pass: no cancellation
    for_each_row(g, ch, [&](int64_t off) {
      for (int64_t j = 0; j < g.s; ++j) {
        const double d = x[off + j] - mu;
        sq += d * d;
      }
    });
    mean[ch] = static_cast<T>(mu);
    var[ch] = static_cast<T>(m > 0 ? sq / m : 0.0);
  });
}

template <typename T>
void batch_norm_apply(const T* x, const T* mean, const T* var, const T* w, const T* b, T* y,
                      const NormGeom& g) {
  for_each_channel(g, [&](int64_t ch) {
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var[ch]) + g.eps);
    const T scale = static_cast<T>(invstd * (w ? static_cast<double>(w[ch]) : 1.0));
    const T shift = static_cast<T>((b ? static_cast<double>(b[ch]) : 0.0) -
                                   static_cast<double>(mean[ch]) * static_cast<double>(scale));
    for_each_row(g, ch, [&](int64_t off) {
      for (int64_t j = 0; j < g.s; ++j) y[off + j] = x[off + j] * scale + shift;
    });
  });
}

template <typename T>
void batch_norm_backward(const T* gy, const T* x, const T* mean, const T* var, const T* w, T* gx,
                         T* gw, T* gb, bool batch_stats, const NormGeom& g) {
  const double m = static_cast<double>(g.n * g.s);
  for_each_channel(g, [&](int64_t ch) {
    const double mu = mean[ch];
    const double invstd = 1.0 / std::sqrt(static_cast<double>(var[ch]) + g.eps);
    double sum_g = 0, sum_gxhat = 0;
    for_each_row(g, ch, [&](int64_t off) {
      for (int64_t j = 0; j < g.s; ++j) {
        sum_g += gy[off + j];
        sum_gxhat += gy[off + j] * (x[off + j] - mu);
      }
    });
    sum_gxhat *= invstd;
    if (gw) gw[ch] = static_cast<T>(sum_gxhat);
    if (gb) gb[ch] = static_cast<T>(sum_g);
    if (!gx) return;
    const double k = invstd * (w ? static_cast<double>(w[ch]) : 1.0);
    // gx = k * (gy - mean(gy) - xhat * mean(gy * xhat)) with batch statistics, else k * gy.
    const double mg = batch_stats && m > 0 ? sum_g / m : 0.0;
    const double c = batch_stats && m > 0 ? sum_gxhat / m * invstd : 0.0;  // per unit of x - mu
    for_each_row(g, ch, [&](int64_t off) {
      for (int64_t j = 0; j < g.s; ++j)
        gx[off + j] = static_cast<T>(k * (gy[off + j] - mg - (x[off + j] - mu) * c));
    });
  });
}

#define RAVEL_NORM_INSTANTIATE(T)                                                                \
  template void batch_norm_stats<T>(const T*, T*, T*, const NormGeom&);                          \
  template void batch_norm_apply<T>(const T*, const T*, const T*, const T*, const T*, T*,        \
                                    const NormGeom&);                                            \
  template void batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, \
                                       T*, bool, const NormGeom&);
RAVEL_NORM_INSTANTIATE(float)
RAVEL_NORM_INSTANTIATE(double)
#undef RAVEL_NORM_INSTANTIATE

}  // namespace ravel::cpu
