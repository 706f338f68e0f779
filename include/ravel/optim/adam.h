// Adam and AdamW (torch.optim.Adam, torch.optim.AdamW):
//
//   optim::Adam adam(model->parameters(), {.lr = 1e-3, .betas = {0.9, 0.999}});
//   optim::AdamW adamw(model->parameters(), {.lr = 1e-3, .weight_decay = 0.01});
//
// Per step t, with g the gradient (negated when maximize):
//   Adam:  g += weight_decay * p                 (L2 penalty in the gradient)
//   AdamW: p *= 1 - lr * weight_decay            (decoupled weight decay)
//   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
//   v_hat = amsgrad ? (v_max = max(v_max, v)) : v
//   p -= lr / (1 - beta1^t) * m / (sqrt(v_hat) / sqrt(1 - beta2^t) + eps)
// AdamW differs only in the weight decay and its default (0.01).
#pragma once
#include <array>

#include "ravel/optim/optimizer.h"

namespace ravel::optim {

template <bool Decoupled>
struct AdamOptionsT {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = Decoupled ? 1e-2 : 0.0;
  bool amsgrad = false;
  bool maximize = false;

  template <typename F>
  void fields(F&& f) {
    f("lr", lr), f("beta1", betas[0]), f("beta2", betas[1]), f("eps", eps);
    f("weight_decay", weight_decay), f("amsgrad", amsgrad), f("maximize", maximize);
  }
  void check(const char* opt) const;
};
using AdamOptions = AdamOptionsT<false>;
using AdamWOptions = AdamOptionsT<true>;

template <bool Decoupled>
class AdamT : public OptimizerWith<AdamOptionsT<Decoupled>> {
 public:
  explicit AdamT(std::vector<Tensor> params, const AdamOptionsT<Decoupled>& options = {});
  const char* name() const override { return Decoupled ? "AdamW" : "Adam"; }
  std::vector<std::string> state_names() const override {
    return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }
  using Optimizer::step;
  void step() override;
};
using Adam = AdamT<false>;
using AdamW = AdamT<true>;

extern template struct AdamOptionsT<false>;
extern template struct AdamOptionsT<true>;
extern template class AdamT<false>;
extern template class AdamT<true>;

}  // namespace ravel::optim
