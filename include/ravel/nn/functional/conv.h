// Convolutions (torch.nn.functional.conv*), NCHW like PyTorch: input [N, C_in, *spatial],
// weight [C_out, C_in / groups, *kernel] (transposed: [C_in, C_out / groups, *kernel]).
//
//   namespace F = ravel::nn::functional;
//   Tensor x = randn({8, 3, 32, 32});
//   Tensor w = randn({16, 3, 3, 3}), b = zeros({16});
//   Tensor y = F::conv2d(x, w, b, /*stride=*/1, /*padding=*/1);        // [8, 16, 32, 32]
//   Tensor s = F::conv2d(x, w, {}, 1, "same");                          // no bias
//   Tensor d = F::conv2d(y, randn({16, 1, 3, 3}), {}, 2, 1, 1, 16);     // depthwise, stride 2
//   Tensor u = F::conv_transpose2d(d, randn({16, 8, 2, 2}), {}, 2);     // upsample x2
//
// float32 runs on oneDNN when ravel is built with it, float64 (and every build without oneDNN)
// on portable kernels; float16/bfloat16 compute in float32. Gradients flow to input, weight and
// bias (the backward is not itself differentiable).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::nn::functional {

// A size for each spatial axis: one value for all of them (2) or one per axis ({2, 1}).
// Empty ({}) means "the default" where an op has one (a pool's stride defaults to its kernel).
class Ints {
 public:
  Ints() = default;
  Ints(int64_t v) : values_{v} {}  // NOLINT: implicit by design
  Ints(int v) : values_{v} {}      // NOLINT
  Ints(std::initializer_list<int64_t> v) : values_(v) {}
  Ints(const std::vector<int64_t>& v) : values_(v) {}    // NOLINT
  Ints(const Shape& v) : values_(v.begin(), v.end()) {}  // NOLINT
  bool empty() const { return values_.empty(); }
  const std::vector<int64_t>& values() const { return values_; }
  // n values: a single value repeated, or exactly n; anything else throws naming op and what.
  std::vector<int64_t> expand(size_t n, const char* op, const char* what) const;

 private:
  std::vector<int64_t> values_;
};

// A convolution's padding: sizes (as Ints) or "same" (output as large as the input; stride 1)
// or "valid" (no padding).
class Padding {
 public:
  Padding(int64_t v) : ints_(v) {}  // NOLINT: implicit by design
  Padding(int v) : ints_(v) {}      // NOLINT
  Padding(std::initializer_list<int64_t> v) : ints_(v) {}
  Padding(const Ints& v) : ints_(v) {}                   // NOLINT
  Padding(const char* mode) : mode_(mode) {}             // NOLINT
  Padding(std::string mode) : mode_(std::move(mode)) {}  // NOLINT
  const Ints& ints() const { return ints_; }
  const std::string& mode() const { return mode_; }  // "" when sizes are given

 private:
  Ints ints_;
  std::string mode_;
};

// bias may be undefined (Tensor()): no bias.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Ints& stride = 1, const Padding& padding = 0, const Ints& dilation = 1,
              int64_t groups = 1);
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Ints& stride = 1, const Padding& padding = 0, const Ints& dilation = 1,
              int64_t groups = 1);
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Ints& stride = 1, const Padding& padding = 0, const Ints& dilation = 1,
              int64_t groups = 1);

// Output size per axis: (in - 1) * stride - 2 * padding + dilation * (kernel - 1) +
// output_padding + 1 (output_padding < stride or < dilation picks among the sizes a strided
// convolution maps to the same input size).
Tensor conv_transpose1d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Ints& stride = 1, const Ints& padding = 0,
                        const Ints& output_padding = 0, int64_t groups = 1,
                        const Ints& dilation = 1);
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Ints& stride = 1, const Ints& padding = 0,
                        const Ints& output_padding = 0, int64_t groups = 1,
                        const Ints& dilation = 1);
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
                        const Ints& stride = 1, const Ints& padding = 0,
                        const Ints& output_padding = 0, int64_t groups = 1,
                        const Ints& dilation = 1);

}  // namespace ravel::nn::functional
