#include "ravel/optim/adam.h"

#include <cmath>

#include "optim/update.h"

namespace ravel::optim {

template <bool Decoupled>
void AdamOptionsT<Decoupled>::check(const char* opt) const {
  RAVEL_CHECK(lr >= 0, opt, ": invalid learning rate ", lr, " (expected >= 0)");
  RAVEL_CHECK(eps >= 0, opt, ": invalid eps ", eps, " (expected >= 0)");
  RAVEL_CHECK(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1, opt,
              ": invalid betas (", betas[0], ", ", betas[1], ") (expected each in [0, 1))");
  RAVEL_CHECK(weight_decay >= 0, opt, ": invalid weight_decay ", weight_decay, " (expected >= 0)");
}

template <bool Decoupled>
AdamT<Decoupled>::AdamT(std::vector<Tensor> params, const AdamOptionsT<Decoupled>& options)
    : OptimizerWith<AdamOptionsT<Decoupled>>(options) {
  this->add_param_group(std::move(params));
}

template <bool Decoupled>
void AdamT<Decoupled>::step() {
  detail::FusedStep<3> fused;
  this->for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
    const AdamOptionsT<Decoupled>& o = this->options(group);
    if (!st.buffers[0].defined()) {
      st.buffers[0] = zeros(p.shape(), grad.dtype());
      st.buffers[1] = zeros(p.shape(), grad.dtype());
    }
    if (o.amsgrad && !st.buffers[2].defined()) st.buffers[2] = zeros(p.shape(), grad.dtype());
    const double t = static_cast<double>(++st.step);
    // Scalars in double, as PyTorch computes them in Python.
    const double step_size = o.lr / (1 - std::pow(o.betas[0], t));
    const double bc2_sqrt = std::sqrt(1 - std::pow(o.betas[1], t));
    fused.add(p, grad, {st.buffers[0], st.buffers[1], st.buffers[2]},
              [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
                using T = std::remove_cvref_t<decltype(*w)>;
                const T beta1 = static_cast<T>(o.betas[0]), beta2 = static_cast<T>(o.betas[1]);
                const T one_m_beta1 = static_cast<T>(1 - o.betas[0]);
                const T one_m_beta2 = static_cast<T>(1 - o.betas[1]);
                const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
                const T shrink = static_cast<T>(1 - o.lr * o.weight_decay);
                const T neg_step = static_cast<T>(-step_size), bc2s = static_cast<T>(bc2_sqrt);
                T *m = b[0], *v = b[1], *vmax = b[2];
                detail::with_flags(
                    [&](auto maximize, auto amsgrad, auto decay) {
                      for (int64_t i = begin; i < end; ++i) {
                        T d = maximize ? -g[i] : g[i];
                        if constexpr (Decoupled)
                          w[i] = w[i] * shrink;
                        else if constexpr (decay)
                          d = d + wd * w[i];
                        m[i] = m[i] * beta1 + one_m_beta1 * d;
                        v[i] = v[i] * beta2 + one_m_beta2 * d * d;
                        T vh = v[i];
                        if constexpr (amsgrad) vh = vmax[i] = std::max(vmax[i], v[i]);
                        const T denom = std::sqrt(vh) / bc2s + eps;
                        w[i] = w[i] + neg_step * m[i] / denom;
                      }
                    },
                    o.maximize, o.amsgrad, !Decoupled && o.weight_decay != 0);
              });
  });
  fused.run();
}

template struct AdamOptionsT<false>;
template struct AdamOptionsT<true>;
template class AdamT<false>;
template class AdamT<true>;

}  // namespace ravel::optim
