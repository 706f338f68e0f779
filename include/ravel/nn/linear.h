// Linear layers and shape adapters (torch.nn.Identity, Linear, Bilinear, Flatten, Unflatten).
//
//   auto fc = std::make_shared<nn::Linear>(784, 128);        // weight [128, 784], bias [128]
//   Tensor y = (*fc)(x);                                      // x [..., 784] -> [..., 128]
//   nn::Linear head(128, 10, /*bias=*/false);
//   nn::Bilinear bl(20, 30, 40);                              // bl.forward(x1, x2) -> [..., 40]
//   nn::Flatten flat;                                          // [N, C, H, W] -> [N, C*H*W]
//   nn::Unflatten unflat(1, {16, 7, 7});                       // [N, 784] -> [N, 16, 7, 7]
//
// Weights start as PyTorch's: kaiming_uniform_(a = sqrt(5)) and bias uniform(+-1/sqrt(fan_in)),
// from ravel's default generator (reset_parameters() draws them again).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ravel/nn/module.h"

namespace ravel::nn {

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  int64_t in_features, out_features;
  Tensor weight;  // [out_features, in_features]
  Tensor bias;    // [out_features]; undefined without bias
};

class Bilinear : public Module {
 public:
  Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x1, const Tensor& x2);
  void reset_parameters();
  std::string type_name() const override { return "Bilinear"; }
  std::string extra_repr() const override;

  int64_t in1_features, in2_features, out_features;
  Tensor weight;  // [out_features, in1_features, in2_features]
  Tensor bias;    // [out_features]; undefined without bias
};

// Flattens dimensions start_dim..end_dim into one.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1)
      : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

// Splits dimension dim into unflattened_size (whose product must equal its size; one -1 infers).
class Unflatten : public Module {
 public:
  Unflatten(int64_t dim, std::vector<int64_t> unflattened_size)
      : dim(dim), unflattened_size(std::move(unflattened_size)) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Unflatten"; }
  std::string extra_repr() const override;
  int64_t dim;
  std::vector<int64_t> unflattened_size;
};

}  // namespace ravel::nn
