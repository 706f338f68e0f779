// Internal: float32 batch normalisation on oneDNN over x viewed as [n, c, s], same contract as
// backend/cpu/reference/norm.h. Each returns false when oneDNN cannot run it (the caller then
// runs the portable kernels).
#pragma once
#include "backend/cpu/reference/norm.h"

namespace ravel::onednn {

// training: y from the batch statistics, which are written to mean/var (biased variance);
// otherwise y from the given mean/var. w, b may be null (1, 0).
bool batch_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                        float* var, bool training, const cpu::NormGeom& g);
// As cpu::batch_norm_backward (gx, gw, gb may be null: not wanted).
bool batch_norm_backward(const float* gy, const float* x, const float* mean, const float* var,
                         const float* w, float* gx, float* gw, float* gb, bool training,
                         const cpu::NormGeom& g);

}  // namespace ravel::onednn
