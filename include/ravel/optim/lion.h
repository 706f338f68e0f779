// Lion, "EvoLved Sign Momentum" (Chen et al. 2023, "Symbolic Discovery of Optimization
// Algorithms"; PyTorch has none: the test checks the paper's rule written in NumPy):
//
//   optim::Lion opt(model->parameters(), {.lr = 1e-4, .weight_decay = 0.1});
//
// Per step, with g the gradient (negated when maximize):
//   p *= 1 - lr * weight_decay                       (decoupled weight decay)
//   p -= lr * sign(beta1 * m + (1 - beta1) * g)
//   m = beta2 * m + (1 - beta2) * g
// Use a learning rate 3-10x smaller than AdamW's (the update has unit size per element).
#pragma once
#include <array>

#include "ravel/optim/optimizer.h"

namespace ravel::optim {

struct LionOptions {
  double lr = 1e-4;
  std::array<double, 2> betas = {0.9, 0.99};
  double weight_decay = 0.0;
  bool maximize = false;

  template <typename F>
  void fields(F&& f) {
    f("lr", lr), f("beta1", betas[0]), f("beta2", betas[1]), f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
  void check(const char* opt) const;
};

class Lion : public OptimizerWith<LionOptions> {
 public:
  explicit Lion(std::vector<Tensor> params, const LionOptions& options = {});
  const char* name() const override { return "Lion"; }
  std::vector<std::string> state_names() const override { return {"exp_avg"}; }
  using Optimizer::step;
  void step() override;
};

}  // namespace ravel::optim
