// Convolution layers (torch.nn.Conv1d/2d/3d, ConvTranspose1d/2d/3d), NCHW like PyTorch.
//
//   nn::Conv2d conv(3, 16, 3);                                         // 3x3, stride 1, no pad
//   nn::Conv2d down(16, 32, 3, {.stride = 2, .padding = 1});
//   nn::Conv2d dw(32, 32, 3, {.padding = "same", .groups = 32, .bias = false});
//   nn::Conv2d refl(3, 8, 5, {.padding = 2, .padding_mode = "reflect"});
//   nn::ConvTranspose2d up(32, 16, 2, {.stride = 2});                  // doubles H and W
//   Tensor y = conv(x);                                                 // x [N, 3, H, W]
//
// Parameters as PyTorch: weight [out, in / groups, *kernel] (transposed: [in, out / groups,
// *kernel]) and bias [out], initialised with kaiming_uniform_(a = sqrt(5)) and
// uniform(+-1/sqrt(fan_in)). padding_mode "zeros" (default), "reflect", "replicate" or
// "circular" (the last three pad the input explicitly, then convolve unpadded).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ravel/nn/functional/conv.h"
#include "ravel/nn/module.h"

namespace ravel::nn {

struct ConvOptions {
  functional::Ints stride = 1;
  functional::Padding padding = 0;  // sizes, "same" or "valid"
  functional::Ints dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  std::string padding_mode = "zeros";
};
using Conv1dOptions = ConvOptions;
using Conv2dOptions = ConvOptions;
using Conv3dOptions = ConvOptions;

struct ConvTransposeOptions {
  functional::Ints stride = 1;
  functional::Ints padding = 0;
  functional::Ints output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  functional::Ints dilation = 1;
};
using ConvTranspose1dOptions = ConvTransposeOptions;
using ConvTranspose2dOptions = ConvTransposeOptions;
using ConvTranspose3dOptions = ConvTransposeOptions;

// The shared implementation of every convolution layer (PyTorch's _ConvNd).
class ConvNd : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string type_name() const override;
  std::string extra_repr() const override;

  int64_t in_channels, out_channels, groups;
  std::vector<int64_t> kernel_size, stride, padding, dilation, output_padding;
  std::string padding_str;  // "same" or "valid" when padding was given by name, else ""
  std::string padding_mode;
  bool transposed;
  Tensor weight;  // [out, in / groups, *kernel] or, transposed, [in, out / groups, *kernel]
  Tensor bias;    // [out]; undefined without bias

 protected:
  ConvNd(int64_t dims, int64_t in_channels, int64_t out_channels,
         const functional::Ints& kernel_size, const ConvOptions& o);
  ConvNd(int64_t dims, int64_t in_channels, int64_t out_channels,
         const functional::Ints& kernel_size, const ConvTransposeOptions& o);

 private:
  void init_parameters(bool has_bias);
  int64_t dims_;
};

class Conv1d : public ConvNd {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, const functional::Ints& kernel_size,
         const Conv1dOptions& o = {})
      : ConvNd(1, in_channels, out_channels, kernel_size, o) {}
};
class Conv2d : public ConvNd {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, const functional::Ints& kernel_size,
         const Conv2dOptions& o = {})
      : ConvNd(2, in_channels, out_channels, kernel_size, o) {}
};
class Conv3d : public ConvNd {
 public:
  Conv3d(int64_t in_channels, int64_t out_channels, const functional::Ints& kernel_size,
         const Conv3dOptions& o = {})
      : ConvNd(3, in_channels, out_channels, kernel_size, o) {}
};
class ConvTranspose1d : public ConvNd {
 public:
  ConvTranspose1d(int64_t in_channels, int64_t out_channels, const functional::Ints& kernel_size,
                  const ConvTranspose1dOptions& o = {})
      : ConvNd(1, in_channels, out_channels, kernel_size, o) {}
};
class ConvTranspose2d : public ConvNd {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, const functional::Ints& kernel_size,
                  const ConvTranspose2dOptions& o = {})
      : ConvNd(2, in_channels, out_channels, kernel_size, o) {}
};
class ConvTranspose3d : public ConvNd {
 public:
  ConvTranspose3d(int64_t in_channels, int64_t out_channels, const functional::Ints& kernel_size,
                  const ConvTranspose3dOptions& o = {})
      : ConvNd(3, in_channels, out_channels, kernel_size, o) {}
};

}  // namespace ravel::nn
