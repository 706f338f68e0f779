// Internal: split [0, n) across ravel's OpenMP threads, only when the work is large enough to
// pay for waking them (small tensors stay on the calling thread: no start-up storms).
#pragma once
#include <algorithm>
#include <cstdint>

#include "ravel/error.h"
#include "ravel/parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace ravel {

inline constexpr int64_t kParallelGrain = 32768;  // elements; below this, one thread

// Calls fn(begin, end) on disjoint ranges covering [0, n). Runs inline when n < grain or when
// already inside a parallel region.
template <typename Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn);

namespace detail {
bool in_parallel_region();
int max_threads();
}  // namespace detail

template <typename Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  int nt = detail::max_threads();
  if (nt <= 1 || n < 2 * grain || detail::in_parallel_region()) {
    fn(int64_t{0}, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(nt, (n + grain - 1) / grain);
#pragma omp parallel num_threads(static_cast <int>(chunks))
  {
    int64_t t = 0, nthreads = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nthreads = omp_get_num_threads();
#endif
    int64_t per = (n + nthreads - 1) / nthreads;
    int64_t b = t * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  }
}

}  // namespace ravel
