#include "ravel/optim/lion.h"

#include "optim/update.h"

namespace ravel::optim {

void LionOptions::check(const char* opt) const {
  RAVEL_CHECK(lr >= 0, opt, ": invalid learning rate ", lr, " (expected >= 0)");
  RAVEL_CHECK(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1, opt,
              ": invalid betas (", betas[0], ", ", betas[1], ") (expected each in [0, 1))");
  RAVEL_CHECK(weight_decay >= 0, opt, ": invalid weight_decay ", weight_decay, " (expected >= 0)");
}

Lion::Lion(std::vector<Tensor> params, const LionOptions& options) : OptimizerWith(options) {
  add_param_group(std::move(params));
}

void Lion::step() {
  detail::FusedStep<1> fused;
  for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
    const LionOptions& o = options(group);
    if (!st.buffers[0].defined()) st.buffers[0] = zeros(p.shape(), grad.dtype());
    ++st.step;
    fused.add(
        p, grad, {st.buffers[0]}, [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
          using T = std::remove_cvref_t<decltype(*w)>;
          const T beta1 = static_cast<T>(o.betas[0]), beta2 = static_cast<T>(o.betas[1]);
          const T one_m_beta1 = static_cast<T>(1 - o.betas[0]);
          const T one_m_beta2 = static_cast<T>(1 - o.betas[1]);
          const T lr = static_cast<T>(o.lr), shrink = static_cast<T>(1 - o.lr * o.weight_decay);
          const bool maximize = o.maximize;
          T* m = b[0];
          for (int64_t i = begin; i < end; ++i) {
            const T d = maximize ? -g[i] : g[i];
            const T c = m[i] * beta1 + one_m_beta1 * d;
            const T s = static_cast<T>((c > 0) - (c < 0));  // sign, 0 at 0 (NaN gives 0)
            w[i] = w[i] * shrink - lr * s;
            m[i] = m[i] * beta2 + one_m_beta2 * d;
          }
        });
  });
  fused.run();
}

}  // namespace ravel::optim
