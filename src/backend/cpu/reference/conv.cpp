// Direct loops: for each output row, the kernel taps that land inside the input are found once
// (valid_range), so the innermost loop runs over a contiguous output row with no bounds checks.
#include "backend/cpu/reference/conv.h"

#include <algorithm>
#include <cstring>

#include "core/parallel.h"

namespace ravel::cpu {
namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Outputs o in [lo, hi) whose tap o * s - pad + off falls inside [0, in).
struct Range {
  int64_t lo, hi;
};
Range valid_range(int64_t out, int64_t in, int64_t s, int64_t pad, int64_t off) {
  int64_t lo = std::max<int64_t>(0, -floor_div(off - pad, s));  // ceil((pad - off) / s)
  int64_t hi = std::min<int64_t>(out, floor_div(in - 1 + pad - off, s) + 1);
  return {lo, std::max(lo, hi)};
}

// Grain for parallel_for over items of `work` multiply-adds each.
int64_t grain_for(int64_t work) {
  return std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(work, 1));
}

// For kernel tap (kd, kh, kw), calls fn(io, oo, cnt) for every output row: outputs oo .. oo + cnt
// (offsets within a plane) read the input at io, io + stride, ... (all in bounds).
template <typename Fn>
void for_each_tap_row(const ConvGeom& g, int64_t kd, int64_t kh, int64_t kw, Fn&& fn) {
  const int64_t offd = kd * g.dil[0], offh = kh * g.dil[1], offw = kw * g.dil[2];
  Range rd = valid_range(g.out[0], g.in[0], g.stride[0], g.pad_l[0], offd);
  Range rh = valid_range(g.out[1], g.in[1], g.stride[1], g.pad_l[1], offh);
  Range rw = valid_range(g.out[2], g.in[2], g.stride[2], g.pad_l[2], offw);
  if (rw.lo >= rw.hi) return;
  for (int64_t od = rd.lo; od < rd.hi; ++od) {
    const int64_t id = od * g.stride[0] - g.pad_l[0] + offd;
    for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
      const int64_t ih = oh * g.stride[1] - g.pad_l[1] + offh;
      const int64_t iw = rw.lo * g.stride[2] - g.pad_l[2] + offw;
      fn((id * g.in[1] + ih) * g.in[2] + iw, (od * g.out[1] + oh) * g.out[2] + rw.lo,
         rw.hi - rw.lo);
    }
  }
}

// y[i] += a * x[i * xs]; y[i * ys] += a * x[i]; sum of y[i] * x[i * xs]. Unit strides get
// their own loops so they vectorise; the reduction may be reordered (omp simd) for the same reason.
template <typename T>
inline void axpy(T* y, const T* x, int64_t xs, T a, int64_t n) {
  if (xs == 1)
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
  else
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i * xs];
}
template <typename T>
inline void axpy_strided_out(T* y, int64_t ys, const T* x, T a, int64_t n) {
  if (ys == 1)
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
  else
    for (int64_t i = 0; i < n; ++i) y[i * ys] += a * x[i];
}
template <typename T>
inline T dot(const T* y, const T* x, int64_t xs, int64_t n) {
  T acc = 0;
  if (xs == 1) {
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += y[i] * x[i];
  } else {
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; ++i) acc += y[i] * x[i * xs];
  }
  return acc;
}

template <typename Fn>
void for_each_tap(const ConvGeom& g, Fn&& fn) {
  int64_t t = 0;
  for (int64_t kd = 0; kd < g.k[0]; ++kd)
    for (int64_t kh = 0; kh < g.k[1]; ++kh)
      for (int64_t kw = 0; kw < g.k[2]; ++kw) fn(t++, kd, kh, kw);
}

}  // namespace

template <typename T>
void conv_forward(const T* x, const T* w, const T* b, T* y, const ConvGeom& g) {
  const int64_t icg = g.c_in / g.groups, ocg = g.c_out / g.groups;
  const int64_t isz = g.in_size(), osz = g.out_size(), ksz = g.k_size(), sw = g.stride[2];
  parallel_for(g.n * g.c_out, grain_for(icg * ksz * osz), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / g.c_out, oc = item % g.c_out, grp = oc / ocg;
      T* yp = y + item * osz;
      std::fill(yp, yp + osz, b ? b[oc] : T(0));
      for (int64_t j = 0; j < icg; ++j) {
        const T* xp = x + (n * g.c_in + grp * icg + j) * isz;
        const T* wp = w + (oc * icg + j) * ksz;
        for_each_tap(g, [&](int64_t t, int64_t kd, int64_t kh, int64_t kw) {
          const T wv = wp[t];
          for_each_tap_row(g, kd, kh, kw, [&](int64_t io, int64_t oo, int64_t cnt) {
            axpy(yp + oo, xp + io, sw, wv, cnt);
          });
        });
      }
    }
  });
}

template <typename T>
void conv_backward_data(const T* gy, const T* w, T* gx, const ConvGeom& g) {
  const int64_t icg = g.c_in / g.groups, ocg = g.c_out / g.groups;
  const int64_t isz = g.in_size(), osz = g.out_size(), ksz = g.k_size(), sw = g.stride[2];
  parallel_for(g.n * g.c_in, grain_for(ocg * ksz * osz), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / g.c_in, ic = item % g.c_in, grp = ic / icg, j = ic % icg;
      T* xp = gx + item * isz;
      std::fill(xp, xp + isz, T(0));
      for (int64_t o = 0; o < ocg; ++o) {
        const int64_t oc = grp * ocg + o;
        const T* yp = gy + (n * g.c_out + oc) * osz;
        const T* wp = w + (oc * icg + j) * ksz;
        for_each_tap(g, [&](int64_t t, int64_t kd, int64_t kh, int64_t kw) {
          const T wv = wp[t];
          for_each_tap_row(g, kd, kh, kw, [&](int64_t io, int64_t oo, int64_t cnt) {
            axpy_strided_out(xp + io, sw, yp + oo, wv, cnt);
          });
        });
      }
    }
  });
}

template <typename T>
void conv_backward_weight(const T* gy, const T* x, T* gw, T* gb, const ConvGeom& g) {
  const int64_t icg = g.c_in / g.groups, ocg = g.c_out / g.groups;
  const int64_t isz = g.in_size(), osz = g.out_size(), ksz = g.k_size(), sw = g.stride[2];
  parallel_for(g.c_out * icg, grain_for(g.n * ksz * osz), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t oc = item / icg, j = item % icg, grp = oc / ocg;
      T* wp = gw + item * ksz;
      for_each_tap(g, [&](int64_t t, int64_t kd, int64_t kh, int64_t kw) {
        T acc = 0;
        for (int64_t n = 0; n < g.n; ++n) {
          const T* xp = x + (n * g.c_in + grp * icg + j) * isz;
          const T* yp = gy + (n * g.c_out + oc) * osz;
          for_each_tap_row(g, kd, kh, kw, [&](int64_t io, int64_t oo, int64_t cnt) {
            acc += dot(yp + oo, xp + io, sw, cnt);
          });
        }
        wp[t] = acc;
      });
    }
  });
  if (!gb) return;
  parallel_for(g.c_out, grain_for(g.n * osz), [&](int64_t begin, int64_t end) {
    for (int64_t oc = begin; oc < end; ++oc) {
      T acc = 0;
      for (int64_t n = 0; n < g.n; ++n) {
        const T* yp = gy + (n * g.c_out + oc) * osz;
        for (int64_t i = 0; i < osz; ++i) acc += yp[i];
      }
      gb[oc] = acc;
    }
  });
}

#define RAVEL_CONV_INSTANTIATE(T)                                                   \
  template void conv_forward<T>(const T*, const T*, const T*, T*, const ConvGeom&); \
  template void conv_backward_data<T>(const T*, const T*, T*, const ConvGeom&);     \
  template void conv_backward_weight<T>(const T*, const T*, T*, T*, const ConvGeom&);
RAVEL_CONV_INSTANTIATE(float)
RAVEL_CONV_INSTANTIATE(double)
#undef RAVEL_CONV_INSTANTIATE

}  // namespace ravel::cpu
