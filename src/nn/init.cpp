// torch.nn.init: every function draws a fresh tensor and copies it into the target under
// NoGradGuard, so parameters keep their handles and no history is recorded.
#include "ravel/nn/init.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::nn::init {

namespace {

void check_float(const Tensor& t, const char* op) {
  RAVEL_CHECK(t.defined(), op, ": the tensor is undefined");
  RAVEL_CHECK(is_floating(t.dtype()), op, ": expected a floating tensor, got ", t.dtype(),
              " of shape ", t.shape());
}

// Writes src into t (cast to t's dtype), unrecorded; returns t.
Tensor fill_from(const Tensor& t, const Tensor& src) {
  NoGradGuard ng;
  Tensor h = t;
  h.copy_(src);
  return h;
}

int64_t fan(const Tensor& t, const std::string& mode, const char* op) {
  RAVEL_CHECK(mode == "fan_in" || mode == "fan_out", op, ": mode \"", mode,
              "\" is not supported; expected \"fan_in\" or \"fan_out\"");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  int64_t f = mode == "fan_in" ? fan_in : fan_out;
  RAVEL_CHECK(f > 0, op, ": cannot initialise a tensor of shape ", t.shape(), " (", mode, " is 0)");
  return f;
}

// Inverse error function: a rational first guess refined by Newton steps on erf (double accuracy).
double erfinv(double y) {
  if (y <= -1) return -std::numeric_limits<double>::infinity();
  if (y >= 1) return std::numeric_limits<double>::infinity();
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    x = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941})
      x = c + x * w;
  } else {
    w = std::sqrt(w) - 3.0;
    x = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682})
      x = c + x * w;
  }
  x *= y;
  const double two_over_sqrt_pi = 1.1283791670955126;
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (two_over_sqrt_pi * std::exp(-x * x));
  return x;
}

}  // namespace

double calculate_gain(const std::string& nonlinearity, std::optional<double> param) {
  static const char* const kUnitGain[] = {
      "linear",           "conv1d",           "conv2d",           "conv3d",
      "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"};
  for (const char* name : kUnitGain)
    if (nonlinearity == name) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nonlinearity == "selu") return 0.75;
  detail::throw_error("calculate_gain: unsupported nonlinearity \"", nonlinearity,
                      "\"; expected linear, conv1d/2d/3d, conv_transpose1d/2d/3d, sigmoid, tanh, "
                      "relu, leaky_relu or selu");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  RAVEL_CHECK(t.ndim() >= 2, "calculate_fan_in_and_fan_out: a tensor of shape ", t.shape(),
              " has fewer than 2 dimensions; expected a weight [out, in, ...]");
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.ndim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor uniform_(const Tensor& t, double a, double b, Generator& gen) {
  check_float(t, "init.uniform_");
  return fill_from(t, uniform(a, b, t.shape(), gen, t.dtype()));
}

Tensor normal_(const Tensor& t, double mean, double std, Generator& gen) {
  check_float(t, "init.normal_");
  return fill_from(t, normal(mean, std, t.shape(), gen, t.dtype()));
}

Tensor trunc_normal_(const Tensor& t, double mean, double std, double a, double b, Generator& gen) {
  check_float(t, "init.trunc_normal_");
  RAVEL_CHECK(a < b && std > 0, "init.trunc_normal_: expected a < b and std > 0, got a=", a,
              ", b=", b, ", std=", std);
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  double lo = 2.0 * cdf((a - mean) / std) - 1.0, hi = 2.0 * cdf((b - mean) / std) - 1.0;
  Tensor u = uniform(lo, hi, t.shape(), gen, DType::Float64);
  double* p = u.data_ptr<double>();
  for (int64_t i = 0, n = u.numel(); i < n; ++i)
    p[i] = std::clamp(erfinv(p[i]) * std * std::sqrt(2.0) + mean, a, b);
  return fill_from(t, u);
}

Tensor constant_(const Tensor& t, double value) {
  NoGradGuard ng;
  Tensor h = t;
  h.fill_(value);
  return h;
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor eye_(const Tensor& t) {
  RAVEL_CHECK(t.defined() && t.ndim() == 2, "init.eye_: expected a 2-D tensor, got shape ",
              t.defined() ? t.shape() : Shape{});
  return fill_from(t, eye(t.size(0), t.size(1), 0, t.dtype()));
}

Tensor xavier_uniform_(const Tensor& t, double gain, Generator& gen) {
  check_float(t, "init.xavier_uniform_");
  if (t.numel() == 0) return t;  // nothing to draw (PyTorch warns and returns)
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -a, a, gen);
}

Tensor xavier_normal_(const Tensor& t, double gain, Generator& gen) {
  check_float(t, "init.xavier_normal_");
  if (t.numel() == 0) return t;  // nothing to draw (PyTorch warns and returns)
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

Tensor kaiming_uniform_(const Tensor& t, double a, const std::string& mode,
                        const std::string& nonlinearity, Generator& gen) {
  check_float(t, "init.kaiming_uniform_");
  if (t.numel() == 0) return t;  // nothing to draw (PyTorch warns and returns)
  double std = calculate_gain(nonlinearity, a) /
               std::sqrt(static_cast<double>(fan(t, mode, "init.kaiming_uniform_")));
  double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound, gen);
}

Tensor kaiming_normal_(const Tensor& t, double a, const std::string& mode,
                       const std::string& nonlinearity, Generator& gen) {
  check_float(t, "init.kaiming_normal_");
  if (t.numel() == 0) return t;  // nothing to draw (PyTorch warns and returns)
  double std = calculate_gain(nonlinearity, a) /
               std::sqrt(static_cast<double>(fan(t, mode, "init.kaiming_normal_")));
  return normal_(t, 0.0, std, gen);
}

Tensor orthogonal_(const Tensor& t, double gain, Generator& gen) {
  check_float(t, "init.orthogonal_");
  RAVEL_CHECK(t.ndim() >= 2, "init.orthogonal_: expected at least 2 dimensions, got shape ",
              t.shape());
  if (t.numel() == 0) return t;
  int64_t rows = t.size(0), cols = t.numel() / rows;
  Tensor flat = normal(0.0, 1.0, {rows, cols}, gen, DType::Float64);
  if (rows < cols) flat = flat.transpose().contiguous();
  auto [q, r] = linalg::qr(flat);
  // Multiplying each column by the sign of R's diagonal makes Q uniform (Haar) distributed.
  q = q * sign(diag(r));
  if (rows < cols) q = q.transpose();
  return fill_from(t, (q * gain).reshape(t.shape()));
}

}  // namespace ravel::nn::init
