// Internal: the fused per-parameter update loop every optimizer's step() runs. The optimizer
// writes its rule once, as a generic lambda over raw pointers of the work dtype:
//
//   fused_update<2>(p, grad, {st.buffers[0], st.buffers[1]},
//                   [&](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
//                     using T = std::remove_cvref_t<decltype(*w)>;
//                     for (int64_t i = begin; i < end; ++i) { ... w[i] -= ...; }
//                   });
//
// One pass over memory per parameter and no temporaries: this is what makes a training step
// cheap next to PyTorch's chain of in-place ops. (The loops that call std::sqrt vectorise only
// when compiled with -fno-math-errno: GCC otherwise keeps a scalar call for errno.)
#pragma once
#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "core/parallel.h"
#include "ravel/tensor.h"

namespace ravel::optim::detail {

// Calls fn(std::bool_constant<flag>...) for runtime flags, so an update loop is compiled once
// per combination of options: a branch on an option inside the loop stops vectorisation.
template <typename Fn>
void with_flags(Fn&& fn) {
  fn();
}
template <typename Fn, typename... Rest>
void with_flags(Fn&& fn, bool first, Rest... rest) {
  if (first)
    with_flags([&](auto... f) { fn(std::true_type{}, f...); }, rest...);
  else
    with_flags([&](auto... f) { fn(std::false_type{}, f...); }, rest...);
}

// body(w, g, b, begin, end): w the parameter, g its gradient, b[k] the k-th buffer (nullptr where
// undefined), all of the work dtype (float or double) and contiguous; runs on disjoint ranges in
// parallel for large parameters. Parameters of another dtype or layout are updated through a
// contiguous work copy that is written back.
template <size_t N, typename Body>
void fused_update(const Tensor& param, const Tensor& grad, const std::array<Tensor, N>& bufs,
                  Body&& body) {
  const DType wd = grad.dtype();  // for_each_param gives grads in the work dtype
  const bool direct = param.dtype() == wd && param.is_contiguous();
  Tensor w = direct ? param : param.to(wd).contiguous();
  if (!direct && w.shares_storage(param)) w = w.clone();
  auto run = [&](auto tag) {
    using T = decltype(tag);
    T* wp = w.data_ptr<T>();
    const T* gp = grad.data_ptr<T>();
    std::array<T*, N> bp{};
    for (size_t k = 0; k < N; ++k)
      bp[k] = bufs[k].defined() ? bufs[k].template data_ptr<T>() : nullptr;
    parallel_for(w.numel(), kParallelGrain,
                 [&](int64_t begin, int64_t end) { body(wp, gp, bp, begin, end); });
  };
  if (wd == DType::Float64)
    run(double{});
  else
    run(float{});
  if (direct)
    param.bump_version();  // written through a raw pointer: autograd must see the change
  else
    Tensor(param).copy_(w);
}

}  // namespace ravel::optim::detail
