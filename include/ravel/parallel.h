// Threading: ravel's kernels share one OpenMP thread pool (the one oneDNN uses too).
//
//   ravel::set_num_threads(2);
#pragma once
#include <cstdint>

namespace ravel {
void set_num_threads(int n);
int get_num_threads();
}  // namespace ravel
