// Pooling (torch.nn.functional.*pool*), NCHW like PyTorch: input [N, C, *spatial] or, without
// the batch axis, [C, *spatial].
//
//   namespace F = ravel::nn::functional;
//   Tensor x = randn({8, 16, 32, 32});
//   Tensor m = F::max_pool2d(x, 2);                        // [8, 16, 16, 16], stride = kernel
//   Tensor a = F::avg_pool2d(x, 3, 2, 1);                  // kernel 3, stride 2, padding 1
//   Tensor c = F::max_pool2d(x, 3, 2, 0, 1, /*ceil_mode=*/true);
//   Tensor g = F::adaptive_avg_pool2d(x, 1);               // global average: [8, 16, 1, 1]
//
// float32 runs on oneDNN when ravel is built with it (max pooling keeps oneDNN's workspace for
// backward), float64 and builds without oneDNN on portable kernels; float16/bfloat16 compute in
// float32.
#pragma once
#include <cstdint>
#include <optional>

#include "ravel/nn/functional/conv.h"  // Ints
#include "ravel/tensor.h"

namespace ravel::nn::functional {

// stride {} (the default) means stride = kernel_size. Padding is at most half the kernel.
// Padded positions never win (they are -inf).
Tensor max_pool1d(const Tensor& input, const Ints& kernel_size, const Ints& stride = {},
                  const Ints& padding = 0, const Ints& dilation = 1, bool ceil_mode = false);
Tensor max_pool2d(const Tensor& input, const Ints& kernel_size, const Ints& stride = {},
                  const Ints& padding = 0, const Ints& dilation = 1, bool ceil_mode = false);
Tensor max_pool3d(const Tensor& input, const Ints& kernel_size, const Ints& stride = {},
                  const Ints& padding = 0, const Ints& dilation = 1, bool ceil_mode = false);

// count_include_pad: padded zeros count in the divisor (windows that ceil_mode lets run past
// the padding never count that part). divisor_override replaces the divisor.
Tensor avg_pool1d(const Tensor& input, const Ints& kernel_size, const Ints& stride = {},
                  const Ints& padding = 0, bool ceil_mode = false, bool count_include_pad = true);
Tensor avg_pool2d(const Tensor& input, const Ints& kernel_size, const Ints& stride = {},
                  const Ints& padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
Tensor avg_pool3d(const Tensor& input, const Ints& kernel_size, const Ints& stride = {},
                  const Ints& padding = 0, bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);

// Output bin i of an axis of size L covers [floor(i * L / out), ceil((i + 1) * L / out)).
Tensor adaptive_avg_pool1d(const Tensor& input, const Ints& output_size);
Tensor adaptive_avg_pool2d(const Tensor& input, const Ints& output_size);
Tensor adaptive_max_pool1d(const Tensor& input, const Ints& output_size);
Tensor adaptive_max_pool2d(const Tensor& input, const Ints& output_size);

}  // namespace ravel::nn::functional
