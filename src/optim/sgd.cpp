#include "ravel/optim/sgd.h"

#include "optim/update.h"

namespace ravel::optim {

void SGDOptions::check(const char* opt) const {
  RAVEL_CHECK(lr >= 0, opt, ": invalid learning rate ", lr, " (expected >= 0)");
  RAVEL_CHECK(momentum >= 0, opt, ": invalid momentum ", momentum, " (expected >= 0)");
  RAVEL_CHECK(weight_decay >= 0, opt, ": invalid weight_decay ", weight_decay, " (expected >= 0)");
  RAVEL_CHECK(!nesterov || (momentum > 0 && dampening == 0), opt,
              ": nesterov momentum needs momentum > 0 and dampening = 0, got momentum ", momentum,
              " and dampening ", dampening);
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options) : OptimizerWith(options) {
  add_param_group(std::move(params));
}

void SGD::step() {
  detail::FusedStep<1> fused;
  for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
    const SGDOptions& o = options(group);
    Tensor& buf = st.buffers[0];
    const bool first = !buf.defined();
    if (o.momentum != 0 && first) buf = empty(p.shape(), grad.dtype());
    ++st.step;
    fused.add(p, grad, {buf}, [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
      using T = std::remove_cvref_t<decltype(*w)>;
      const T lr = static_cast<T>(o.lr), wd = static_cast<T>(o.weight_decay);
      const T mom = static_cast<T>(o.momentum), damp1 = static_cast<T>(1 - o.dampening);
      T* m = b[0];
      detail::with_flags(
          [&](auto maximize, auto decay, auto momentum, auto nesterov, auto first_step) {
            for (int64_t i = begin; i < end; ++i) {
              T d = maximize ? -g[i] : g[i];
              if constexpr (decay) d = d + wd * w[i];
              if constexpr (momentum) {
                m[i] = first_step ? d : m[i] * mom + damp1 * d;
                d = nesterov ? d + mom * m[i] : m[i];
              }
              w[i] = w[i] - lr * d;
            }
          },
          o.maximize, o.weight_decay != 0, o.momentum != 0, o.nesterov, first);
    });
  });
  fused.run();
}

}  // namespace ravel::optim
