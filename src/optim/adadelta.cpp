#include "ravel/optim/adadelta.h"

#include <cmath>

#include "optim/update.h"

namespace ravel::optim {

void AdadeltaOptions::check(const char* opt) const {
  RAVEL_CHECK(lr >= 0, opt, ": invalid learning rate ", lr, " (expected >= 0)");
  RAVEL_CHECK(rho >= 0 && rho <= 1, opt, ": invalid rho ", rho, " (expected in [0, 1])");
  RAVEL_CHECK(eps >= 0, opt, ": invalid eps ", eps, " (expected >= 0)");
  RAVEL_CHECK(weight_decay >= 0, opt, ": invalid weight_decay ", weight_decay, " (expected >= 0)");
}

Adadelta::Adadelta(std::vector<Tensor> params, const AdadeltaOptions& options)
    : OptimizerWith(options) {
  add_param_group(std::move(params));
}

void Adadelta::step() {
  detail::FusedStep<2> fused;
  for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
    const AdadeltaOptions& o = options(group);
    if (!st.buffers[0].defined()) {
      st.buffers[0] = zeros(p.shape(), grad.dtype());
      st.buffers[1] = zeros(p.shape(), grad.dtype());
    }
    ++st.step;
    fused.add(p, grad, {st.buffers[0], st.buffers[1]},
              [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
                using T = std::remove_cvref_t<decltype(*w)>;
                const T rho = static_cast<T>(o.rho), one_m_rho = static_cast<T>(1 - o.rho);
                const T lr = static_cast<T>(o.lr), eps = static_cast<T>(o.eps);
                const T wd = static_cast<T>(o.weight_decay);
                T *sq = b[0], *acc = b[1];
                detail::with_flags(
                    [&](auto maximize, auto decay) {
                      for (int64_t i = begin; i < end; ++i) {
                        T d = maximize ? -g[i] : g[i];
                        if constexpr (decay) d = d + wd * w[i];
                        sq[i] = sq[i] * rho + one_m_rho * d * d;
                        const T std_ = std::sqrt(sq[i] + eps);
                        const T delta = std::sqrt(acc[i] + eps) / std_ * d;
                        acc[i] = acc[i] * rho + one_m_rho * delta * delta;
                        w[i] = w[i] - lr * delta;
                      }
                    },
                    o.maximize, o.weight_decay != 0);
              });
  });
  fused.run();
}

}  // namespace ravel::optim
