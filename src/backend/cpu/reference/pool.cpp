#include "backend/cpu/reference/pool.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/parallel.h"

namespace ravel::cpu {

std::vector<Window> pool_windows(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                                 int64_t dil) {
  std::vector<Window> w(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    int64_t lo = o * stride - pad;
    int64_t end = lo + (k - 1) * dil + 1;
    int64_t span = std::min(end, in + pad) - lo;  // what count_include_pad counts
    while (lo < 0) lo += dil;
    w[static_cast<size_t>(o)] = {lo, std::min(end, in), dil, span};
  }
  return w;
}

std::vector<Window> adaptive_windows(int64_t in, int64_t out) {
  std::vector<Window> w(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    int64_t lo = o * in / out, hi = ((o + 1) * in + out - 1) / out;
    w[static_cast<size_t>(o)] = {lo, hi, 1, hi - lo};
  }
  return w;
}

namespace {

int64_t count(const Window& w) { return w.hi > w.lo ? (w.hi - w.lo + w.step - 1) / w.step : 0; }

// Calls fn(plane, out_offset, wd, wh, ww) for every output position, parallel over planes.
template <typename Fn>
void for_each_output(const PoolGeom& g, Fn&& fn) {
  int64_t per_plane = 1;
  for (int a = 0; a < 3; ++a) per_plane *= g.out[a];
  int64_t work = per_plane * std::max<int64_t>(1, g.in_size() / std::max<int64_t>(1, per_plane));
  int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work, 1));
  parallel_for(g.nc, grain, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      int64_t o = 0;
      for (const Window& wd : g.win[0])
        for (const Window& wh : g.win[1])
          for (const Window& ww : g.win[2]) fn(p, o++, wd, wh, ww);
    }
  });
}

// Calls fn(flat input position) for every position of a window.
template <typename Fn>
void for_each_in_window(const PoolGeom& g, const Window& wd, const Window& wh, const Window& ww,
                        Fn&& fn) {
  for (int64_t d = wd.lo; d < wd.hi; d += wd.step)
    for (int64_t h = wh.lo; h < wh.hi; h += wh.step) {
      const int64_t row = (d * g.in[1] + h) * g.in[2];
      for (int64_t w = ww.lo; w < ww.hi; w += ww.step) fn(row + w);
    }
}

int64_t divisor_for(const Window& wd, const Window& wh, const Window& ww, bool include_pad,
                    int64_t divisor) {
  if (divisor) return divisor;
  if (include_pad) return wd.span * wh.span * ww.span;
  return count(wd) * count(wh) * count(ww);
}

}  // namespace

template <typename T>
void max_pool_forward(const T* x, T* y, int64_t* idx, const PoolGeom& g) {
  const int64_t isz = g.in_size(), osz = g.out_size();
  for_each_output(g,
                  [&](int64_t p, int64_t o, const Window& wd, const Window& wh, const Window& ww) {
                    const T* xp = x + p * isz;
                    T best = -std::numeric_limits<T>::infinity();
                    int64_t arg = wd.lo * g.in[1] * g.in[2] + wh.lo * g.in[2] + ww.lo;
                    for_each_in_window(g, wd, wh, ww, [&](int64_t i) {
                      const T v = xp[i];
                      // Selects, not branches: on random data the compare is a coin toss.
                      const bool take = v > best || std::isnan(v);  // PyTorch's rule: NaN wins
                      best = take ? v : best;
                      arg = take ? i : arg;
                    });
                    y[p * osz + o] = best;
                    if (idx) idx[p * osz + o] = arg;
                  });
}

template <typename T>
void max_pool_backward(const T* gy, const int64_t* idx, T* gx, const PoolGeom& g) {
  const int64_t isz = g.in_size(), osz = g.out_size();
  parallel_for(g.nc, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(isz, 1)),
               [&](int64_t begin, int64_t end) {
                 for (int64_t p = begin; p < end; ++p) {
                   T* xp = gx + p * isz;
                   std::fill(xp, xp + isz, T(0));
                   for (int64_t o = 0; o < osz; ++o) xp[idx[p * osz + o]] += gy[p * osz + o];
                 }
               });
}

template <typename T>
void avg_pool_forward(const T* x, T* y, const PoolGeom& g, bool count_include_pad,
                      int64_t divisor) {
  const int64_t isz = g.in_size(), osz = g.out_size();
  for_each_output(
      g, [&](int64_t p, int64_t o, const Window& wd, const Window& wh, const Window& ww) {
        const T* xp = x + p * isz;
        T acc = 0;
        for_each_in_window(g, wd, wh, ww, [&](int64_t i) { acc += xp[i]; });
        y[p * osz + o] = acc / static_cast<T>(divisor_for(wd, wh, ww, count_include_pad, divisor));
      });
}

template <typename T>
void avg_pool_backward(const T* gy, T* gx, const PoolGeom& g, bool count_include_pad,
                       int64_t divisor) {
  const int64_t isz = g.in_size(), osz = g.out_size();
  parallel_for(g.nc, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) std::fill(gx + p * isz, gx + (p + 1) * isz, T(0));
  });
  for_each_output(
      g, [&](int64_t p, int64_t o, const Window& wd, const Window& wh, const Window& ww) {
        T* xp = gx + p * isz;
        const T v =
            gy[p * osz + o] / static_cast<T>(divisor_for(wd, wh, ww, count_include_pad, divisor));
        for_each_in_window(g, wd, wh, ww, [&](int64_t i) { xp[i] += v; });
      });
}

#define RAVEL_POOL_INSTANTIATE(T)                                                    \
  template void max_pool_forward<T>(const T*, T*, int64_t*, const PoolGeom&);        \
  template void max_pool_backward<T>(const T*, const int64_t*, T*, const PoolGeom&); \
  template void avg_pool_forward<T>(const T*, T*, const PoolGeom&, bool, int64_t);   \
  template void avg_pool_backward<T>(const T*, T*, const PoolGeom&, bool, int64_t);
RAVEL_POOL_INSTANTIATE(float)
RAVEL_POOL_INSTANTIATE(double)
#undef RAVEL_POOL_INSTANTIATE

}  // namespace ravel::cpu
