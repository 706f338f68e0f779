// Activation modules (torch.nn.ReLU, ...): thin Module wrappers around
// ravel/nn/functional/activation.h, with PyTorch's names, defaults and printing.
//
//   auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(784, 128),
//                                                std::make_shared<nn::ReLU>(),
//                                                std::make_shared<nn::Linear>(128, 10),
//                                                std::make_shared<nn::LogSoftmax>(1));
//   nn::GELU gelu("tanh");
//   Tensor y = gelu(x);
//   nn::PReLU prelu(16);        // one learnable slope per channel: parameter "weight" [16]
#pragma once
#include <cstdint>
#include <string>

#include "ravel/nn/module.h"

namespace ravel::nn {

// Activations without settings.
#define RAVEL_SIMPLE_ACTIVATION(Name)                        \
  class Name : public Module {                               \
   public:                                                   \
    Tensor forward(const Tensor& x) override;                \
    std::string type_name() const override { return #Name; } \
  };
RAVEL_SIMPLE_ACTIVATION(ReLU)
RAVEL_SIMPLE_ACTIVATION(ReLU6)
RAVEL_SIMPLE_ACTIVATION(SELU)
RAVEL_SIMPLE_ACTIVATION(SiLU)
RAVEL_SIMPLE_ACTIVATION(Mish)
RAVEL_SIMPLE_ACTIVATION(Hardswish)
RAVEL_SIMPLE_ACTIVATION(Hardsigmoid)
RAVEL_SIMPLE_ACTIVATION(Sigmoid)
RAVEL_SIMPLE_ACTIVATION(Tanh)
RAVEL_SIMPLE_ACTIVATION(LogSigmoid)
#undef RAVEL_SIMPLE_ACTIVATION

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;

 private:
  double negative_slope_;
};

// A learnable slope for negative inputs: one shared (num_parameters = 1) or one per channel.
class PReLU : public Module {
 public:
  explicit PReLU(int64_t num_parameters = 1, double init = 0.25);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PReLU"; }
  std::string extra_repr() const override;

  Tensor weight;  // [num_parameters]

 private:
  int64_t num_parameters_;
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ELU"; }
  std::string extra_repr() const override;

 private:
  double alpha_;
};

class CELU : public Module {
 public:
  explicit CELU(double alpha = 1.0) : alpha_(alpha) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "CELU"; }
  std::string extra_repr() const override;

 private:
  double alpha_;
};

class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");  // "none" or "tanh"
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override;

 private:
  std::string approximate_;
};

class Hardtanh : public Module {
 public:
  explicit Hardtanh(double min_val = -1.0, double max_val = 1.0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Hardtanh"; }
  std::string extra_repr() const override;

 private:
  double min_val_, max_val_;
};

class Softplus : public Module {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0)
      : beta_(beta), threshold_(threshold) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Softplus"; }
  std::string extra_repr() const override;

 private:
  double beta_, threshold_;
};

// dim is required (PyTorch's implicit-dim default is deprecated there).
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override;

 private:
  int64_t dim_;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override;

 private:
  int64_t dim_;
};

}  // namespace ravel::nn
