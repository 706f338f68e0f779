#include "ravel/nn/utils.h"

#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::nn::utils {

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  RAVEL_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive (or INFINITY), got ",
              norm_type);
  NoGradGuard ng;
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) return scalar_tensor(0.0);
  const bool inf = std::isinf(norm_type);
  // Per-gradient norms, then the norm of those: the norm of everything as one vector.
  std::vector<Tensor> norms;
  for (const Tensor& g : grads) {
    Tensor flat = g.reshape({-1});
    norms.push_back(inf ? amax(abs(flat)) : norm(flat, norm_type));
  }
  Tensor all = stack(norms);
  Tensor total = inf ? amax(all) : norm(all, norm_type);
  if (error_if_nonfinite) {
    const double t = total.item_scalar().to_double();
    RAVEL_CHECK(
        std::isfinite(t), "clip_grad_norm_: the total norm of order ", norm_type,
        " of the gradients is non-finite (", t,
        "), so it cannot be clipped; pass error_if_nonfinite = false to scale by it anyway");
  }
  // Always multiplied (by 1 when under max_norm), as PyTorch does.
  Tensor coef = minimum(max_norm / (total + 1e-6), 1.0);
  for (Tensor& g : grads) g.mul_(coef.to(g.dtype()));
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard ng;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) g.copy_(clip(g, -clip_value, clip_value));
  }
}

Tensor parameters_to_vector(const std::vector<Tensor>& params) {
  std::vector<Tensor> flat;
  for (const Tensor& p : params) flat.push_back(p.reshape({-1}));
  RAVEL_CHECK(!flat.empty(), "parameters_to_vector: no parameters");
  return concatenate(flat);
}

void vector_to_parameters(const Tensor& vec, const std::vector<Tensor>& params) {
  int64_t total = 0;
  for (const Tensor& p : params) total += p.numel();
  RAVEL_CHECK(vec.ndim() == 1 && vec.numel() == total,
              "vector_to_parameters: expected a 1-D vector of ", total,
              " elements (the parameters' total), got shape ", vec.shape());
  NoGradGuard ng;
  int64_t at = 0;
  for (const Tensor& p : params) {
    const int64_t n = p.numel();
    Tensor dst = p;
    dst.copy_(vec.slice(0, at, at + n).reshape(p.shape()));
    at += n;
  }
}

}  // namespace ravel::nn::utils
