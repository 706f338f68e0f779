// Adadelta (torch.optim.Adadelta):
//
//   optim::Adadelta opt(model->parameters());   // lr 1.0, rho 0.9, eps 1e-6
//
// Per step, with g the gradient (negated when maximize):
//   g += weight_decay * p
//   sq = rho * sq + (1 - rho) * g^2
//   delta = sqrt(acc + eps) / sqrt(sq + eps) * g
//   acc = rho * acc + (1 - rho) * delta^2
//   p -= lr * delta
#pragma once
#include "ravel/optim/optimizer.h"

namespace ravel::optim {

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0.0;
  bool maximize = false;

  template <typename F>
  void fields(F&& f) {
    f("lr", lr), f("rho", rho), f("eps", eps), f("weight_decay", weight_decay);
    f("maximize", maximize);
  }
  void check(const char* opt) const;
};

class Adadelta : public OptimizerWith<AdadeltaOptions> {
 public:
  explicit Adadelta(std::vector<Tensor> params, const AdadeltaOptions& options = {});
  const char* name() const override { return "Adadelta"; }
  std::vector<std::string> state_names() const override { return {"square_avg", "acc_delta"}; }
  using Optimizer::step;
  void step() override;
};

}  // namespace ravel::optim
