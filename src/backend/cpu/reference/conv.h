// Portable convolution kernels (float32 and float64), the path every build has: the float64
// path gradcheck runs, and float32 where oneDNN is absent or switched off.
#pragma once
#include <cstdint>

namespace ravel::cpu {

// A grouped convolution over 1-3 spatial axes, stored as 3 axes with leading size-1 ones (a
// conv1d of length L has in = {1, 1, L}, k = {1, 1, K}). Transposed convolutions are described
// by the ordinary convolution they are the data gradient of.
struct ConvGeom {
  int nsp = 2;  // spatial axes of the real op
  int64_t n = 0, c_in = 0, c_out = 0, groups = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
  int64_t pad_l[3] = {0, 0, 0}, pad_r[3] = {0, 0, 0};  // pad_r only matters to oneDNN
  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t k_size() const { return k[0] * k[1] * k[2]; }
};

// x [n, c_in, in], w [c_out, c_in / groups, k], b [c_out] or null -> y [n, c_out, out].
template <typename T>
void conv_forward(const T* x, const T* w, const T* b, T* y, const ConvGeom& g);
// gy [n, c_out, out], w -> gx [n, c_in, in] (overwritten).
template <typename T>
void conv_backward_data(const T* gy, const T* w, T* gx, const ConvGeom& g);
// gy, x -> gw [c_out, c_in / groups, k] and, when not null, gb [c_out] (overwritten).
template <typename T>
void conv_backward_weight(const T* gy, const T* x, T* gw, T* gb, const ConvGeom& g);

}  // namespace ravel::cpu
