// Parameter initialisation (torch.nn.init): fills a tensor in place, without recording autograd
// history, from a Generator (ravel's default generator unless one is given).
//
//   nn::Linear fc(256, 128);
//   nn::init::kaiming_normal_(fc.weight, 0, "fan_out", "relu");
//   nn::init::zeros_(fc.bias);
//   Generator gen(7);
//   nn::init::xavier_uniform_(w, nn::init::calculate_gain("tanh"), gen);   // reproducible
//   nn::init::orthogonal_(rnn_weight);                                     // W W^T = I (rows <=
//   cols)
//
// Every function returns the tensor it filled (the same handle). Modes are "fan_in" or
// "fan_out"; nonlinearities are those of calculate_gain.
#pragma once
#include <optional>
#include <string>
#include <utility>

#include "ravel/random.h"
#include "ravel/tensor.h"

namespace ravel::nn::init {

// The recommended gain for a nonlinearity: "linear", "conv1d", "conv2d", "conv3d",
// "conv_transpose1d/2d/3d", "sigmoid" -> 1; "tanh" -> 5/3; "relu" -> sqrt(2); "leaky_relu" ->
// sqrt(2 / (1 + slope^2)) (slope = param, default 0.01); "selu" -> 3/4.
double calculate_gain(const std::string& nonlinearity, std::optional<double> param = std::nullopt);
// (fan_in, fan_out) of a weight with at least 2 dimensions: size(1) and size(0) times the
// product of the remaining (kernel) sizes.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor uniform_(const Tensor& t, double a = 0.0, double b = 1.0,
                Generator& gen = default_generator());
Tensor normal_(const Tensor& t, double mean = 0.0, double std = 1.0,
               Generator& gen = default_generator());
// Normal(mean, std) restricted to [a, b] (a and b in the tensor's units, as PyTorch), drawn by
// inverting the normal CDF, so bounds far in the tail are exact too.
Tensor trunc_normal_(const Tensor& t, double mean = 0.0, double std = 1.0, double a = -2.0,
                     double b = 2.0, Generator& gen = default_generator());
Tensor constant_(const Tensor& t, double value);
Tensor zeros_(const Tensor& t);
Tensor ones_(const Tensor& t);
Tensor eye_(const Tensor& t);  // 2-D: the identity

// Glorot: uniform(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)); normal with
// std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());
Tensor xavier_normal_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());
// He: std = gain(nonlinearity, a) / sqrt(fan); uniform(-b, b) with b = sqrt(3) * std.
Tensor kaiming_uniform_(const Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu",
                        Generator& gen = default_generator());
Tensor kaiming_normal_(const Tensor& t, double a = 0.0, const std::string& mode = "fan_in",
                       const std::string& nonlinearity = "leaky_relu",
                       Generator& gen = default_generator());
// A (semi-)orthogonal matrix from the QR decomposition of a normal matrix (signs fixed so the
// result is uniformly distributed), scaled by gain; dimensions after the first are flattened.
Tensor orthogonal_(const Tensor& t, double gain = 1.0, Generator& gen = default_generator());

}  // namespace ravel::nn::init
