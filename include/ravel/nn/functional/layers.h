// Functional forms of the simple layers (torch.nn.functional): linear, bilinear, embedding,
// dropout, interpolation and pixel shuffle. All are differentiable.
//
//   namespace F = ravel::nn::functional;
//   Tensor y = F::linear(x, w, b);                           // x [..., in] -> [..., out]
//   Tensor e = F::embedding(ids, table, /*padding_idx=*/0);  // int ids [...] -> [..., dim]
//   Tensor d = F::dropout(y, 0.1, /*training=*/true);
//   Tensor up = F::interpolate(img, {.scale_factor = {2.0}, .mode = "bilinear"});
//   Tensor hr = F::pixel_shuffle(feat, 2);                   // [N, 4C, H, W] -> [N, C, 2H, 2W]
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ravel/random.h"
#include "ravel/tensor.h"

namespace ravel::nn::functional {

// x [..., in] @ weight[out, in]^T + bias[out]; bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// y[..., o] = x1[..., i] weight[o, i, j] x2[..., j] + bias[o]; bias may be undefined.
Tensor bilinear(const Tensor& x1, const Tensor& x2, const Tensor& weight,
                const Tensor& bias = Tensor());

// Rows of weight [num, dim] picked by integer indices (any shape, values in [0, num)): the
// result has shape indices.shape + [dim]. The row padding_idx gets no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight,
                 std::optional<int64_t> padding_idx = std::nullopt);

// Zeroes each element with probability p and scales the rest by 1 / (1 - p) (training only; in
// eval it returns x itself).
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true,
               Generator& gen = default_generator());
// Zeroes whole channels of [N, C, H, W] (or unbatched [C, H, W]) with probability p.
Tensor dropout2d(const Tensor& x, double p = 0.5, bool training = true,
                 Generator& gen = default_generator());

// Resizes the spatial dimensions of [N, C, W], [N, C, H, W] or [N, C, D, H, W]. Give either
// size or scale_factor (one value for every spatial dimension, or one each). Modes: "nearest",
// "nearest-exact", "linear" (3-D), "bilinear" (4-D), "trilinear" (5-D); align_corners applies to
// the linear modes only (default false). Indices are computed exactly as PyTorch computes them.
struct InterpolateOptions {
  std::vector<int64_t> size = {};
  std::vector<double> scale_factor = {};
  std::string mode = "nearest";
  std::optional<bool> align_corners = std::nullopt;
};
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);

// [..., C*r*r, H, W] -> [..., C, H*r, W*r] and its inverse.
Tensor pixel_shuffle(const Tensor& x, int64_t upscale_factor);
Tensor pixel_unshuffle(const Tensor& x, int64_t downscale_factor);

}  // namespace ravel::nn::functional
