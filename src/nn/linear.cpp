// Identity, Linear, Bilinear, Flatten, Unflatten.
#include "ravel/nn/linear.h"

#include <cmath>

#include "ravel/nn/functional/layers.h"
#include "ravel/nn/init.h"

namespace ravel::nn {

namespace F = functional;

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : in_features(in_features), out_features(out_features) {
  RAVEL_CHECK(in_features >= 0 && out_features >= 0, "Linear: expected non-negative sizes, got ",
              "in_features=", in_features, ", out_features=", out_features);
  weight = register_parameter("weight", empty({out_features, in_features}));
  if (bias) this->bias = register_parameter("bias", empty({out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  // kaiming_uniform_(a = sqrt(5)) is uniform(+-1/sqrt(fan_in)), the bias bound too.
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) { return F::linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) +
         ", out_features=" + std::to_string(out_features) + ", bias=" + repr_bool(bias.defined());
}

Bilinear::Bilinear(int64_t in1_features, int64_t in2_features, int64_t out_features, bool bias)
    : in1_features(in1_features), in2_features(in2_features), out_features(out_features) {
  weight = register_parameter("weight", empty({out_features, in1_features, in2_features}));
  if (bias) this->bias = register_parameter("bias", empty({out_features}));
  reset_parameters();
}

void Bilinear::reset_parameters() {
  double bound = in1_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in1_features)) : 0.0;
  init::uniform_(weight, -bound, bound);
  if (bias.defined()) init::uniform_(bias, -bound, bound);
}

Tensor Bilinear::forward(const Tensor& x1, const Tensor& x2) {
  return F::bilinear(x1, x2, weight, bias);
}

std::string Bilinear::extra_repr() const {
  return "in1_features=" + std::to_string(in1_features) +
         ", in2_features=" + std::to_string(in2_features) +
         ", out_features=" + std::to_string(out_features) + ", bias=" + repr_bool(bias.defined());
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

Tensor Unflatten::forward(const Tensor& x) {
  const int64_t d = normalize_axis(dim, x.ndim(), "Unflatten");
  Shape shape(x.shape().begin(), x.shape().begin() + d);
  for (int64_t s : unflattened_size) shape.push_back(s);
  for (int64_t i = d + 1; i < x.ndim(); ++i) shape.push_back(x.size(i));
  return x.reshape(shape);
}

std::string Unflatten::extra_repr() const {
  return "dim=" + std::to_string(dim) + ", unflattened_size=" + repr_tuple(unflattened_size);
}

}  // namespace ravel::nn
