#include "ravel/optim/rmsprop.h"

#include <cmath>

#include "optim/update.h"

namespace ravel::optim {

void RMSpropOptions::check(const char* opt) const {
  RAVEL_CHECK(lr >= 0, opt, ": invalid learning rate ", lr, " (expected >= 0)");
  RAVEL_CHECK(eps >= 0, opt, ": invalid eps ", eps, " (expected >= 0)");
  RAVEL_CHECK(alpha >= 0, opt, ": invalid alpha ", alpha, " (expected >= 0)");
  RAVEL_CHECK(momentum >= 0, opt, ": invalid momentum ", momentum, " (expected >= 0)");
  RAVEL_CHECK(weight_decay >= 0, opt, ": invalid weight_decay ", weight_decay, " (expected >= 0)");
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : OptimizerWith(options) {
  add_param_group(std::move(params));
}

void RMSprop::step() {
  detail::FusedStep<3> fused;
  for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
    const RMSpropOptions& o = options(group);
    // Buffers appear when first needed (PyTorch creates them at the first step from the options
    // of that time; a later change of momentum/centered starts them from zero, as here).
    if (!st.buffers[0].defined()) st.buffers[0] = zeros(p.shape(), grad.dtype());
    if (o.momentum > 0 && !st.buffers[1].defined()) st.buffers[1] = zeros(p.shape(), grad.dtype());
    if (o.centered && !st.buffers[2].defined()) st.buffers[2] = zeros(p.shape(), grad.dtype());
    ++st.step;
    fused.add(p, grad, {st.buffers[0], st.buffers[1], st.buffers[2]},
              [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
                using T = std::remove_cvref_t<decltype(*w)>;
                const T alpha = static_cast<T>(o.alpha), one_m_alpha = static_cast<T>(1 - o.alpha);
                const T lr = static_cast<T>(o.lr), eps = static_cast<T>(o.eps);
                const T wd = static_cast<T>(o.weight_decay), mom = static_cast<T>(o.momentum);
                T *sq = b[0], *buf = b[1], *ga = b[2];
                detail::with_flags(
                    [&](auto maximize, auto decay, auto centered, auto momentum) {
                      for (int64_t i = begin; i < end; ++i) {
                        T d = maximize ? -g[i] : g[i];
                        if constexpr (decay) d = d + wd * w[i];
                        sq[i] = sq[i] * alpha + one_m_alpha * d * d;
                        T avg;
                        if constexpr (centered) {
                          ga[i] = ga[i] * alpha + one_m_alpha * d;
                          avg = std::sqrt(sq[i] + T(-1) * ga[i] * ga[i]);
                        } else {
                          avg = std::sqrt(sq[i]);
                        }
                        avg = avg + eps;
                        if constexpr (momentum) {
                          buf[i] = buf[i] * mom + d / avg;
                          w[i] = w[i] - lr * buf[i];
                        } else {
                          w[i] = w[i] + (-lr) * d / avg;
                        }
                      }
                    },
                    o.maximize, o.weight_decay != 0, o.centered, o.momentum > 0);
              });
  });
  fused.run();
}

}  // namespace ravel::optim
