#include "ravel/optim/adagrad.h"

#include <cmath>

#include "optim/update.h"

namespace ravel::optim {

void AdagradOptions::check(const char* opt) const {
  RAVEL_CHECK(lr >= 0, opt, ": invalid learning rate ", lr, " (expected >= 0)");
  RAVEL_CHECK(lr_decay >= 0, opt, ": invalid lr_decay ", lr_decay, " (expected >= 0)");
  RAVEL_CHECK(eps >= 0, opt, ": invalid eps ", eps, " (expected >= 0)");
  RAVEL_CHECK(weight_decay >= 0, opt, ": invalid weight_decay ", weight_decay, " (expected >= 0)");
  RAVEL_CHECK(initial_accumulator_value >= 0, opt, ": invalid initial_accumulator_value ",
              initial_accumulator_value, " (expected >= 0)");
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : OptimizerWith(options) {
  add_param_group(std::move(params));
}

void Adagrad::step() {
  detail::FusedStep<1> fused;
  for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
    const AdagradOptions& o = options(group);
    if (!st.buffers[0].defined())
      st.buffers[0] = full(p.shape(), o.initial_accumulator_value, grad.dtype());
    const double t = static_cast<double>(++st.step);
    const double clr = o.lr / (1 + (t - 1) * o.lr_decay);
    fused.add(p, grad, {st.buffers[0]},
              [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
                using T = std::remove_cvref_t<decltype(*w)>;
                const T neg_clr = static_cast<T>(-clr), eps = static_cast<T>(o.eps);
                const T wd = static_cast<T>(o.weight_decay);
                T* sum = b[0];
                detail::with_flags(
                    [&](auto maximize, auto decay) {
                      for (int64_t i = begin; i < end; ++i) {
                        T d = maximize ? -g[i] : g[i];
                        if constexpr (decay) d = d + wd * w[i];
                        sum[i] = sum[i] + d * d;
                        w[i] = w[i] + neg_clr * d / (std::sqrt(sum[i]) + eps);
                      }
                    },
                    o.maximize, o.weight_decay != 0);
              });
  });
  fused.run();
}

}  // namespace ravel::optim
