#include "core/parallel.h"

namespace ravel {

void set_num_threads(int n) {
  RAVEL_CHECK(n >= 1, "set_num_threads: thread count must be >= 1, got ", n);
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
}

int get_num_threads() { return detail::max_threads(); }

namespace detail {
bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}
int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}
}  // namespace detail

}  // namespace ravel
