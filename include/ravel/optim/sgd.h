// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay
// (torch.optim.SGD):
//
//   optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
//
// Per step, with g the gradient (negated when maximize):
//   g += weight_decay * p
//   buf = g on the first step, else momentum * buf + (1 - dampening) * g   (if momentum != 0)
//   g = nesterov ? g + momentum * buf : buf
//   p -= lr * g
#pragma once
#include "ravel/optim/optimizer.h"

namespace ravel::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;

  template <typename F>
  void fields(F&& f) {
    f("lr", lr), f("momentum", momentum), f("dampening", dampening);
    f("weight_decay", weight_decay), f("nesterov", nesterov), f("maximize", maximize);
  }
  void check(const char* opt) const;
};

class SGD : public OptimizerWith<SGDOptions> {
 public:
  explicit SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  const char* name() const override { return "SGD"; }
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }
  using Optimizer::step;
  void step() override;
};

}  // namespace ravel::optim
