// Normalisation (torch.nn.functional.*_norm), channels on axis 1 like PyTorch.
//
//   namespace F = ravel::nn::functional;
//   Tensor x = randn({8, 16, 32, 32});
//   Tensor rm = zeros({16}), rv = ones({16}), w = ones({16}), b = zeros({16});
//   Tensor y = F::batch_norm(x, rm, rv, w, b, /*training=*/true);   // updates rm, rv in place
//   Tensor e = F::batch_norm(x, rm, rv, w, b);                       // eval: uses rm, rv
//   Tensor l = F::layer_norm(randn({4, 10, 64}), {64});              // over the last axis
//   Tensor g = F::group_norm(x, 4, w, b);                            // 4 groups of 4 channels
//   Tensor i = F::instance_norm(x);                                  // per sample and channel
//
// weight, bias and running statistics may be undefined (Tensor()). Batch norm runs on oneDNN
// for float32 when ravel is built with it; layer, group and instance norm are batch norm of a
// reshaped input plus an elementwise affine, so they share its kernels.
#pragma once
#include <cstdint>

#include "ravel/tensor.h"

namespace ravel::nn::functional {

// input [N, C], [N, C, L], [N, C, H, W] or [N, C, D, H, W]. training: normalise with the batch
// statistics (biased variance) and, when running_mean/running_var are given, update them in
// place: r = (1 - momentum) * r + momentum * batch_stat, running_var with the unbiased
// variance. Otherwise normalise with running_mean/running_var.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  bool training = false, double momentum = 0.1, double eps = 1e-5);

// Normalises over the trailing axes normalized_shape; weight/bias have that shape.
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape,
                  const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

// input [N, C, *]: channels split into num_groups groups, each normalised over its channels and
// all spatial positions; weight/bias [C].
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// input [N, C, *]: each sample's channel normalised over its spatial positions
// (use_input_stats), or with running_mean/running_var [C] (eval). In training the running
// statistics, when given, are updated with the mean over the batch of the per-sample ones.
Tensor instance_norm(const Tensor& input, const Tensor& running_mean = Tensor(),
                     const Tensor& running_var = Tensor(), const Tensor& weight = Tensor(),
                     const Tensor& bias = Tensor(), bool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);

}  // namespace ravel::nn::functional
