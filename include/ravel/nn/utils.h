// Gradient clipping and flat parameter vectors (torch.nn.utils):
//
//   loss.backward();
//   Tensor total = nn::utils::clip_grad_norm_(model->parameters(), 1.0);  // norm before clipping
//   nn::utils::clip_grad_value_(model->parameters(), 0.5);                  // each grad in [-.5,
//   .5] opt.step(); Tensor flat = nn::utils::parameters_to_vector(model->parameters());    // one
//   1-D tensor nn::utils::vector_to_parameters(flat * 0.5, model->parameters());      // and back
//
// Parameters without a gradient are skipped. Gradients are changed in place.
#pragma once
#include <cmath>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::nn::utils {

// Scales all gradients together by min(1, max_norm / (total_norm + 1e-6)), where total_norm is
// the norm_type-norm of all gradients as one vector (norm_type INFINITY: the largest |g|).
// Returns total_norm as a 0-d tensor of the gradients' dtype (0-d float32 0 if none have one).
// error_if_nonfinite: a NaN or infinite total norm throws instead of scaling by it.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);
// The parameters flattened and concatenated, in order (differentiable).
Tensor parameters_to_vector(const std::vector<Tensor>& params);
// Copies consecutive slices of the 1-D `vec` into the parameters (no graph recorded).
void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& params);

}  // namespace ravel::nn::utils
