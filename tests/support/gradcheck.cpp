#include "support/gradcheck.h"

#include <cmath>
#include <cstring>
#include <sstream>

namespace ravel::testing {
namespace {

// A leaf copy of t with the same strides (so non-contiguous layouts are exercised).
Tensor leaf_like(const Tensor& t) {
  RAVEL_CHECK(t.dtype() == DType::Float64, "gradcheck: inputs must be float64, got ",
              dtype_name(t.dtype()));
  Tensor c = t.detach();
  if (!t.is_contiguous() || t.offset() != 0) {
    // Rebuild the same view over a private copy of the storage.
    Tensor base =
        empty({static_cast<int64_t>(t.storage()->nbytes() / sizeof(double))}, DType::Float64);
    std::memcpy(base.raw_data(), t.storage()->data(), t.storage()->nbytes());
    c = base.as_strided(t.shape(), t.strides(), t.offset());
  } else {
    c = t.clone();
  }
  c.requires_grad_();
  return c;
}

double* element(const Tensor& t, int64_t flat) {
  int64_t off = 0;
  for (int64_t d = t.ndim() - 1; d >= 0; --d) {
    int64_t n = t.shape()[d];
    off += (flat % n) * t.strides()[d];
    flat /= n;
  }
  return static_cast<double*>(t.raw_data()) + off;
}

// Scalar function: sum(f(x) * w) for the fixed weights w.
double eval_scalar(const GradFn& f, const std::vector<Tensor>& x, const Tensor& w) {
  NoGradGuard ng;
  Tensor y = f(x).to(DType::Float64);
  return (y * w).sum().item<double>();
}

::testing::AssertionResult compare(const std::vector<Tensor>& analytic,
                                   const std::vector<Tensor>& numeric, double atol, double rtol,
                                   const char* what) {
  for (size_t i = 0; i < analytic.size(); ++i) {
    std::vector<double> a = analytic[i].defined() ? analytic[i].to_vector<double>()
                                                  : std::vector<double>(numeric[i].numel(), 0.0);
    std::vector<double> n = numeric[i].to_vector<double>();
    if (a.size() != n.size())
      return ::testing::AssertionFailure() << what << ": input " << i << " gradient has "
                                           << a.size() << " elements, expected " << n.size();
    for (size_t k = 0; k < a.size(); ++k) {
      if (!(std::fabs(a[k] - n[k]) <= atol + rtol * std::fabs(n[k])))
        return ::testing::AssertionFailure()
               << what << ": input " << i << " element " << k << ": autograd " << a[k]
               << ", finite differences " << n[k];
    }
  }
  return ::testing::AssertionSuccess();
}

// Numeric gradient of x -> g(x) (a scalar) for every input.
std::vector<Tensor> numeric_grad(const std::function<double(const std::vector<Tensor>&)>& g,
                                 const std::vector<Tensor>& x, double eps) {
  std::vector<Tensor> out;
  for (const Tensor& xi : x) {
    Tensor gi = zeros(xi.shape(), DType::Float64);
    double* gp = gi.data_ptr<double>();
    for (int64_t k = 0; k < xi.numel(); ++k) {
      double* p = element(xi, k);
      double orig = *p;
      *p = orig + eps;
      double hi = g(x);
      *p = orig - eps;
      double lo = g(x);
      *p = orig;
      gp[k] = (hi - lo) / (2 * eps);
    }
    out.push_back(gi);
  }
  return out;
}

}  // namespace

::testing::AssertionResult gradcheck(const GradFn& f, const std::vector<Tensor>& inputs, double eps,
                                     double atol, double rtol) {
  std::vector<Tensor> x;
  for (const Tensor& t : inputs) x.push_back(leaf_like(t));
  Tensor y = f(x);
  Generator gen(1234);
  Tensor w = rand(y.shape(), gen, DType::Float64) + 0.5;
  std::vector<Tensor> analytic =
      grad({(y.to(DType::Float64) * w).sum()}, x, {}, false, std::nullopt, true);
  auto g = [&](const std::vector<Tensor>& xs) { return eval_scalar(f, xs, w); };
  return compare(analytic, numeric_grad(g, x, eps), atol, rtol, "gradcheck");
}

::testing::AssertionResult gradgradcheck(const GradFn& f, const std::vector<Tensor>& inputs,
                                         double eps, double atol, double rtol) {
  std::vector<Tensor> x;
  for (const Tensor& t : inputs) x.push_back(leaf_like(t));
  Generator gen(4321);
  Tensor y0 = f(x);
  Tensor w = rand(y0.shape(), gen, DType::Float64) + 0.5;
  std::vector<Tensor> u;
  for (const Tensor& xi : x) u.push_back(rand(xi.shape(), gen, DType::Float64) + 0.5);
  // h(x) = sum_i <d(sum f*w)/dx_i, u_i>, differentiated twice by autograd and once numerically.
  auto h = [&](const std::vector<Tensor>& xs, bool create) {
    Tensor y = f(xs);
    std::vector<Tensor> g1 =
        grad({(y.to(DType::Float64) * w).sum()}, xs, {}, create, std::nullopt, true);
    Tensor s = zeros({}, DType::Float64);
    for (size_t i = 0; i < xs.size(); ++i)
      if (g1[i].defined()) s = s + (g1[i] * u[i]).sum();
    return s;
  };
  Tensor s = h(x, true);
  std::vector<Tensor> analytic;
  if (s.requires_grad())
    analytic = grad({s}, x, {}, false, std::nullopt, true);
  else
    analytic.resize(x.size());
  auto g = [&](const std::vector<Tensor>& xs) { return h(xs, false).item<double>(); };
  return compare(analytic, numeric_grad(g, x, eps), atol, rtol, "gradgradcheck");
}

}  // namespace ravel::testing
