// Dropout layers over F::dropout / F::dropout2d.
#include "ravel/nn/dropout.h"

#include "ravel/nn/functional/layers.h"

namespace ravel::nn {

namespace {
double checked_p(double p, const char* name) {
  RAVEL_CHECK(p >= 0.0 && p <= 1.0, name, ": dropout probability has to be between 0 and 1, got ",
              p);
  return p;
}
}  // namespace

Dropout::Dropout(double p) : p(checked_p(p, "Dropout")) {}
Tensor Dropout::forward(const Tensor& x) { return functional::dropout(x, p, training_); }
std::string Dropout::extra_repr() const { return "p=" + repr_float(p) + ", inplace=False"; }

Dropout2d::Dropout2d(double p) : p(checked_p(p, "Dropout2d")) {}
Tensor Dropout2d::forward(const Tensor& x) { return functional::dropout2d(x, p, training_); }
std::string Dropout2d::extra_repr() const { return "p=" + repr_float(p) + ", inplace=False"; }

}  // namespace ravel::nn
