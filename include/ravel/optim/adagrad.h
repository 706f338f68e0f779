// Adagrad (torch.optim.Adagrad):
//
//   optim::Adagrad opt(model->parameters(), {.lr = 0.01, .lr_decay = 1e-4});
//
// Per step t, with g the gradient (negated when maximize):
//   g += weight_decay * p
//   sum += g^2                      (sum starts at initial_accumulator_value)
//   p -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)
#pragma once
#include "ravel/optim/optimizer.h"

namespace ravel::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  bool maximize = false;

  template <typename F>
  void fields(F&& f) {
    f("lr", lr), f("lr_decay", lr_decay), f("weight_decay", weight_decay);
    f("initial_accumulator_value", initial_accumulator_value), f("eps", eps);
    f("maximize", maximize);
  }
  void check(const char* opt) const;
};

class Adagrad : public OptimizerWith<AdagradOptions> {
 public:
  explicit Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});
  const char* name() const override { return "Adagrad"; }
  std::vector<std::string> state_names() const override { return {"sum"}; }
  using Optimizer::step;
  void step() override;
};

}  // namespace ravel::optim
