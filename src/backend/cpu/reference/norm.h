// Portable batch normalisation kernels (float32 and float64) over x viewed as [n, c, s]: per
// channel statistics over n and s. Layer, group and instance norm reuse them on reshaped inputs.
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/parallel.h"

namespace ravel::cpu {

struct NormGeom {
  int64_t n = 0, c = 0, s = 0;
  double eps = 1e-5;
};

// Calls fn(channel) for every channel, channels in parallel (the float32 kernels of
// onednn/norm.cpp share it).
template <typename Fn>
void for_each_channel(const NormGeom& g, Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(g.n * g.s, 1));
  parallel_for(g.c, grain, [&](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) fn(ch);
  });
}

// mean [c], var [c]: the biased (1 / (n * s)) batch statistics.
template <typename T>
void batch_norm_stats(const T* x, T* mean, T* var, const NormGeom& g);
// y = (x - mean) / sqrt(var + eps) * w + b; w, b may be null (1, 0).
template <typename T>
void batch_norm_apply(const T* x, const T* mean, const T* var, const T* w, const T* b, T* y,
                      const NormGeom& g);
// Gradients of batch_norm_apply; with batch_stats, mean and var are the batch statistics of x
// (their gradients flow into gx), else constants. gx, gw, gb may be null (not wanted).
template <typename T>
void batch_norm_backward(const T* gy, const T* x, const T* mean, const T* var, const T* w, T* gx,
                         T* gw, T* gb, bool batch_stats, const NormGeom& g);

}  // namespace ravel::cpu
