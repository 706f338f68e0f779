// Dropout layers (torch.nn.Dropout, Dropout2d): active in training mode only.
//
//   nn::Dropout drop(0.1);
//   Tensor y = drop(x);            // training: elements zeroed with p = 0.1, the rest * 1/0.9
//   drop.eval();  y = drop(x);     // eval: x unchanged
//   nn::Dropout2d chan(0.2);       // zeroes whole channels of [N, C, H, W]
//
// Masks come from ravel's default generator (seed it with manual_seed for repeatable runs).
#pragma once
#include <string>

#include "ravel/nn/module.h"

namespace ravel::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;
};

class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout2d"; }
  std::string extra_repr() const override;
  double p;
};

}  // namespace ravel::nn
