// Resampling layers (torch.nn.Upsample, PixelShuffle, PixelUnshuffle).
//
//   nn::Upsample up2(2.0);                                          // nearest, x2
//   nn::Upsample bil({.scale_factor = {2.0}, .mode = "bilinear", .align_corners = true});
//   nn::Upsample to_size({.size = {32, 48}, .mode = "bilinear"});
//   nn::PixelShuffle ps(2);                                          // [N, 4C, H, W] -> [N, C, 2H,
//   2W]
#pragma once
#include <cstdint>
#include <string>

#include "ravel/nn/functional/layers.h"
#include "ravel/nn/module.h"

namespace ravel::nn {

using UpsampleOptions = functional::InterpolateOptions;

class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions o) : options(std::move(o)) {}
  explicit Upsample(double scale_factor, std::string mode = "nearest")
      : options{.scale_factor = {scale_factor}, .mode = std::move(mode)} {}
  Tensor forward(const Tensor& x) override { return functional::interpolate(x, options); }
  std::string type_name() const override { return "Upsample"; }
  std::string extra_repr() const override;
  UpsampleOptions options;
};

class PixelShuffle : public Module {
 public:
  explicit PixelShuffle(int64_t upscale_factor) : upscale_factor(upscale_factor) {}
  Tensor forward(const Tensor& x) override { return functional::pixel_shuffle(x, upscale_factor); }
  std::string type_name() const override { return "PixelShuffle"; }
  std::string extra_repr() const override {
    return "upscale_factor=" + std::to_string(upscale_factor);
  }
  int64_t upscale_factor;
};

class PixelUnshuffle : public Module {
 public:
  explicit PixelUnshuffle(int64_t downscale_factor) : downscale_factor(downscale_factor) {}
  Tensor forward(const Tensor& x) override {
    return functional::pixel_unshuffle(x, downscale_factor);
  }
  std::string type_name() const override { return "PixelUnshuffle"; }
  std::string extra_repr() const override {
    return "downscale_factor=" + std::to_string(downscale_factor);
  }
  int64_t downscale_factor;
};

}  // namespace ravel::nn
