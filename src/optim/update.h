// Internal: the fused update every optimizer's step() runs. The optimizer writes its rule once,
// as a generic lambda over raw pointers of the work dtype, and adds it for each parameter; run()
// then updates all parameters in one parallel pass over their elements:
//
//   detail::FusedStep<2> fused;
//   for_each_param([&](size_t group, const Tensor& p, const Tensor& grad, ParamState& st) {
//     const double scale = ...;  // per-parameter values: captured by value
//     fused.add(p, grad, {st.buffers[0], st.buffers[1]},
//               [=](auto* w, const auto* g, auto b, int64_t begin, int64_t end) {
//                 using T = std::remove_cvref_t<decltype(*w)>;
//                 for (int64_t i = begin; i < end; ++i) { ... w[i] -= ...; }
//               });
//   });
//   fused.run();
//
// One pass over memory per parameter, no temporaries, and one OpenMP region for the whole step
// (a ResNet's many small parameters were each below the grain and ran on one thread). Each
// element sees the same arithmetic whatever the split, so the result does not depend on it.
// (The loops that call std::sqrt vectorise only when compiled with -fno-math-errno: GCC
// otherwise keeps a scalar call for errno.)
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/parallel.h"
#include "ravel/autograd.h"
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

// Calls fn(job, begin, end) over disjoint ranges covering [0, sizes[job]) for every job: the
// jobs' elements laid end to end and split evenly across the threads (cache-line aligned), in
// one parallel region; inline when the total is small.
void for_each_range(const std::vector<int64_t>& sizes,
                    const std::function<void(size_t, int64_t, int64_t)>& fn);

template <size_t N>
class FusedStep {
 public:
  template <typename T>
  using Body = std::function<void(T*, const T*, std::array<T*, N>, int64_t, int64_t)>;

  // body(w, g, b, begin, end): w the parameter, g its gradient, b[k] the k-th buffer (nullptr
  // where undefined), all of the work dtype (float or double, grad's dtype) and contiguous.
  // Parameters of another dtype or layout are updated through a contiguous work copy that run()
  // writes back.
  template <typename Fn>
  void add(const Tensor& param, const Tensor& grad, const std::array<Tensor, N>& bufs, Fn body) {
    Job job{param, Tensor(), grad, bufs, {}, {}};
    const DType wd = grad.dtype();  // for_each_param gives grads in the work dtype
    job.direct = param.dtype() == wd && param.is_contiguous();
    job.work = job.direct ? param : param.to(wd).contiguous();
    if (!job.direct && job.work.shares_storage(param)) job.work = job.work.clone();
    if (wd == DType::Float64)
      job.f64 = std::move(body);
    else
      job.f32 = std::move(body);
    jobs_.push_back(std::move(job));
  }

  // Updates every added parameter, then makes the changes visible (version bump or write-back).
  void run() {
    std::vector<int64_t> sizes(jobs_.size());
    for (size_t j = 0; j < jobs_.size(); ++j) sizes[j] = jobs_[j].work.numel();
    for_each_range(sizes, [&](size_t j, int64_t begin, int64_t end) {
      Job& job = jobs_[j];
      if (job.f64)
        call(job, job.f64, begin, end);
      else
        call(job, job.f32, begin, end);
    });
    NoGradGuard ng;
    for (Job& job : jobs_) {
      if (job.direct)
        job.param.bump_version();  // written through a raw pointer: autograd must see the change
      else
        Tensor(job.param).copy_(job.work);
    }
    jobs_.clear();
  }

 private:
  struct Job {
    Tensor param, work, grad;
    std::array<Tensor, N> bufs;
    Body<float> f32;
    Body<double> f64;
    bool direct = true;
  };

  template <typename T>
  static void call(Job& job, const Body<T>& body, int64_t begin, int64_t end) {
    std::array<T*, N> bp{};
    for (size_t k = 0; k < N; ++k)
      bp[k] = job.bufs[k].defined() ? job.bufs[k].template data_ptr<T>() : nullptr;
    body(job.work.template data_ptr<T>(), job.grad.template data_ptr<T>(), bp, begin, end);
  }

  std::vector<Job> jobs_;
};

}  // namespace ravel::optim::detail
