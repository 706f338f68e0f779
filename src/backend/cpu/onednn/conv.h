// Internal: float32 convolutions on oneDNN, same contract as the portable kernels in
// backend/cpu/reference/conv.h (plain NCHW buffers in and out). Each returns false when oneDNN
// cannot run the geometry (the caller then runs the portable kernel).
#pragma once
#include "backend/cpu/reference/conv.h"

namespace ravel::onednn {

bool conv_forward(const float* x, const float* w, const float* b, float* y, const cpu::ConvGeom& g);
bool conv_backward_data(const float* gy, const float* w, float* gx, const cpu::ConvGeom& g);
bool conv_backward_weight(const float* gy, const float* x, float* gw, float* gb,
                          const cpu::ConvGeom& g);

}  // namespace ravel::onednn
