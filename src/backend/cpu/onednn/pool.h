// Internal: float32 pooling on oneDNN (pooling_v2: kernel, stride, dilation, asymmetric
// padding). Each returns false when oneDNN cannot run the geometry (the caller then runs the
// portable kernel).
#pragma once
#include <cstdint>

#include "ravel/tensor.h"

namespace ravel::onednn {

enum class PoolAlg : uint8_t { Max, AvgIncludePad, AvgExcludePad };

// Sizes over 1-3 spatial axes, stored as 3 with leading size-1 ones; dil counts from 1.
struct PoolParams {
  int nsp = 2;
  PoolAlg alg = PoolAlg::Max;
  int64_t n = 0, c = 0;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1};
  int64_t stride[3] = {1, 1, 1}, dil[3] = {1, 1, 1}, pad_l[3] = {0, 0, 0}, pad_r[3] = {0, 0, 0};
};

// x [n, c, in] -> y [n, c, out]. For max pooling, a non-null workspace receives what backward
// needs (a uint8 tensor).
bool pool_forward(const float* x, float* y, const PoolParams& p, Tensor* workspace);
// gy [n, c, out] -> gx [n, c, in]; workspace from pool_forward for max pooling.
bool pool_backward(const float* gy, const Tensor& workspace, float* gx, const PoolParams& p);

}  // namespace ravel::onednn
