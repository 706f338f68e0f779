// Activation modules: forward calls the functional op; extra_repr prints the settings as
// PyTorch does.
#include "ravel/nn/activation.h"

#include "ravel/nn/functional/activation.h"
#include "ravel/ops.h"

namespace ravel::nn {

namespace F = functional;

#define RAVEL_SIMPLE_FORWARD(Name, fn) \
  Tensor Name::forward(const Tensor& x) { return fn(x); }
RAVEL_SIMPLE_FORWARD(ReLU, F::relu)
RAVEL_SIMPLE_FORWARD(ReLU6, F::relu6)
RAVEL_SIMPLE_FORWARD(SELU, F::selu)
RAVEL_SIMPLE_FORWARD(SiLU, F::silu)
RAVEL_SIMPLE_FORWARD(Mish, F::mish)
RAVEL_SIMPLE_FORWARD(Hardswish, F::hardswish)
RAVEL_SIMPLE_FORWARD(Hardsigmoid, F::hardsigmoid)
RAVEL_SIMPLE_FORWARD(Sigmoid, F::sigmoid)
RAVEL_SIMPLE_FORWARD(Tanh, F::tanh)
RAVEL_SIMPLE_FORWARD(LogSigmoid, F::logsigmoid)
#undef RAVEL_SIMPLE_FORWARD

Tensor LeakyReLU::forward(const Tensor& x) { return F::leaky_relu(x, negative_slope_); }
std::string LeakyReLU::extra_repr() const {
  return "negative_slope=" + repr_float(negative_slope_);
}

PReLU::PReLU(int64_t num_parameters, double init) : num_parameters_(num_parameters) {
  RAVEL_CHECK(num_parameters >= 1, "PReLU: num_parameters must be at least 1, got ",
              num_parameters);
  weight = register_parameter("weight", full({num_parameters}, init, kDefaultFloat));
}
Tensor PReLU::forward(const Tensor& x) { return F::prelu(x, weight); }
std::string PReLU::extra_repr() const {
  return "num_parameters=" + std::to_string(num_parameters_);
}

Tensor ELU::forward(const Tensor& x) { return F::elu(x, alpha_); }
std::string ELU::extra_repr() const { return "alpha=" + repr_float(alpha_); }

Tensor CELU::forward(const Tensor& x) { return F::celu(x, alpha_); }
std::string CELU::extra_repr() const { return "alpha=" + repr_float(alpha_); }

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  RAVEL_CHECK(approximate_ == "none" || approximate_ == "tanh",
              "GELU: approximate must be 'none' or 'tanh', got '", approximate_, "'");
}
Tensor GELU::forward(const Tensor& x) { return F::gelu(x, approximate_); }
std::string GELU::extra_repr() const { return "approximate='" + approximate_ + "'"; }

Hardtanh::Hardtanh(double min_val, double max_val) : min_val_(min_val), max_val_(max_val) {
  RAVEL_CHECK(min_val <= max_val, "Hardtanh: min_val ", min_val, " must not exceed max_val ",
              max_val);
}
Tensor Hardtanh::forward(const Tensor& x) { return F::hardtanh(x, min_val_, max_val_); }
std::string Hardtanh::extra_repr() const {
  return "min_val=" + repr_float(min_val_) + ", max_val=" + repr_float(max_val_);
}

Tensor Softplus::forward(const Tensor& x) { return F::softplus(x, beta_, threshold_); }
std::string Softplus::extra_repr() const {
  return "beta=" + repr_float(beta_) + ", threshold=" + repr_float(threshold_);
}

Tensor Softmax::forward(const Tensor& x) { return F::softmax(x, dim_); }
std::string Softmax::extra_repr() const { return "dim=" + std::to_string(dim_); }

Tensor LogSoftmax::forward(const Tensor& x) { return F::log_softmax(x, dim_); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(dim_); }

}  // namespace ravel::nn
