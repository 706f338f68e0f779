// Portable pooling kernels (float32 and float64) over 1-3 spatial axes, stored as 3 axes with
// leading size-1 ones. Each output position pools a window per axis, precomputed once, so max,
// average and adaptive pooling share one loop.
#pragma once
#include <cstdint>
#include <vector>

namespace ravel::cpu {

// The input positions lo, lo + step, ... < hi pooled by one output position along one axis;
// `span` is the window's size for count_include_pad (clipped to the padded input).
struct Window {
  int64_t lo, hi, step, span;
};

struct PoolGeom {
  int nsp = 2;     // spatial axes of the real op
  int64_t nc = 0;  // batch * channels: planes pooled independently
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1};
  std::vector<Window> win[3];  // out[a] windows per axis
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

// Windows of a strided pool along one axis (size `in`, `out` outputs).
std::vector<Window> pool_windows(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad,
                                 int64_t dil);
// Windows of an adaptive pool: [floor(i * in / out), ceil((i + 1) * in / out)).
std::vector<Window> adaptive_windows(int64_t in, int64_t out);

// Max: y [nc, out]; idx (may be null) gets each maximum's flat position in its input plane.
// NaN wins (as PyTorch); an empty window gives -inf.
template <typename T>
void max_pool_forward(const T* x, T* y, int64_t* idx, const PoolGeom& g);
template <typename T>
void max_pool_backward(const T* gy, const int64_t* idx, T* gx, const PoolGeom& g);

// Average, divided by the window's span product (count_include_pad), the number of input
// positions in it, or `divisor` when it is not 0.
template <typename T>
void avg_pool_forward(const T* x, T* y, const PoolGeom& g, bool count_include_pad, int64_t divisor);
template <typename T>
void avg_pool_backward(const T* gy, T* gx, const PoolGeom& g, bool count_include_pad,
                       int64_t divisor);

}  // namespace ravel::cpu
