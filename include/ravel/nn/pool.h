// Pooling layers (torch.nn.MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d).
//
//   nn::MaxPool2d pool(2);                                   // kernel 2, stride 2
//   nn::MaxPool2d overlap(3, {.stride = 2, .padding = 1});
//   nn::AvgPool2d avg(3, {.stride = 1, .padding = 1, .count_include_pad = false});
//   nn::AdaptiveAvgPool2d gap(1);                            // [N, C, H, W] -> [N, C, 1, 1]
//
// No parameters; forward calls the functional ops of ravel/nn/functional/pool.h.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "ravel/nn/functional/pool.h"
#include "ravel/nn/module.h"

namespace ravel::nn {

struct MaxPoolOptions {
  functional::Ints stride = {};  // {}: the kernel size
  functional::Ints padding = 0;
  functional::Ints dilation = 1;
  bool ceil_mode = false;
};
struct AvgPoolOptions {
  functional::Ints stride = {};  // {}: the kernel size
  functional::Ints padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override = std::nullopt;  // 2-D only
};

// Max pooling over 1 or 2 spatial dimensions (PyTorch's MaxPool1d/2d).
class MaxPoolNd : public Module {
 public:
  MaxPoolNd(int64_t dims, functional::Ints kernel_size, const MaxPoolOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool" + std::to_string(dims_) + "d"; }
  std::string extra_repr() const override;
  functional::Ints kernel_size, stride, padding, dilation;
  bool ceil_mode;

 private:
  int64_t dims_;
};
class MaxPool1d : public MaxPoolNd {
 public:
  explicit MaxPool1d(functional::Ints kernel_size, const MaxPoolOptions& o = {})
      : MaxPoolNd(1, std::move(kernel_size), o) {}
};
class MaxPool2d : public MaxPoolNd {
 public:
  explicit MaxPool2d(functional::Ints kernel_size, const MaxPoolOptions& o = {})
      : MaxPoolNd(2, std::move(kernel_size), o) {}
};

class AvgPoolNd : public Module {
 public:
  AvgPoolNd(int64_t dims, functional::Ints kernel_size, const AvgPoolOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool" + std::to_string(dims_) + "d"; }
  std::string extra_repr() const override;
  functional::Ints kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;
  std::optional<int64_t> divisor_override;

 private:
  int64_t dims_;
};
class AvgPool1d : public AvgPoolNd {
 public:
  explicit AvgPool1d(functional::Ints kernel_size, const AvgPoolOptions& o = {})
      : AvgPoolNd(1, std::move(kernel_size), o) {}
};
class AvgPool2d : public AvgPoolNd {
 public:
  explicit AvgPool2d(functional::Ints kernel_size, const AvgPoolOptions& o = {})
      : AvgPoolNd(2, std::move(kernel_size), o) {}
};

// Pools each [H, W] plane into output_size bins.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(functional::Ints output_size) : output_size(std::move(output_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  functional::Ints output_size;
};
class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(functional::Ints output_size) : output_size(std::move(output_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string extra_repr() const override;
  functional::Ints output_size;
};

}  // namespace ravel::nn
