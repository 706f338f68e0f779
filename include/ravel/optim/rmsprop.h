// RMSprop (torch.optim.RMSprop):
//
//   optim::RMSprop opt(model->parameters(), {.lr = 1e-3, .momentum = 0.9, .centered = true});
//
// Per step, with g the gradient (negated when maximize):
//   g += weight_decay * p
//   sq = alpha * sq + (1 - alpha) * g^2
//   avg = sqrt(sq - ga^2) + eps with ga = alpha * ga + (1 - alpha) * g   (centered)
//   avg = sqrt(sq) + eps                                                 (otherwise)
//   momentum > 0: buf = momentum * buf + g / avg;  p -= lr * buf
//   otherwise:    p -= lr * g / avg
#pragma once
#include "ravel/optim/optimizer.h"

namespace ravel::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;

  template <typename F>
  void fields(F&& f) {
    f("lr", lr), f("alpha", alpha), f("eps", eps), f("weight_decay", weight_decay);
    f("momentum", momentum), f("centered", centered), f("maximize", maximize);
  }
  void check(const char* opt) const;
};

class RMSprop : public OptimizerWith<RMSpropOptions> {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  const char* name() const override { return "RMSprop"; }
  std::vector<std::string> state_names() const override {
    return {"square_avg", "momentum_buffer", "grad_avg"};
  }
  using Optimizer::step;
  void step() override;
};

}  // namespace ravel::optim
