#include "optim/update.h"

namespace ravel::optim::detail {

void for_each_range(const std::vector<int64_t>& sizes,
                    const std::function<void(size_t, int64_t, int64_t)>& fn) {
  std::vector<int64_t> start(sizes.size() + 1, 0);  // prefix sums: job j is [start[j], start[j+1])
  for (size_t j = 0; j < sizes.size(); ++j) start[j + 1] = start[j] + sizes[j];
  const int64_t total = start.back();
  // The job holding element v of the jobs laid end to end.
  auto job_of = [&](int64_t v) {
    return static_cast<size_t>(std::upper_bound(start.begin(), start.end(), v) - start.begin() - 1);
  };
  // A split point moved up to a multiple of 16 elements within its job, so that no two threads
  // write the same cache line of a parameter (both neighbours round it alike).
  auto split = [&](int64_t v) {
    if (v == total) return v;
    const size_t j = job_of(v);
    return start[j] + std::min(sizes[j], (v - start[j] + 15) / 16 * 16);
  };
  parallel_for(total, kParallelGrain, [&](int64_t begin, int64_t end) {
    begin = split(begin);
    end = split(end);
    for (size_t j = job_of(begin); j < sizes.size() && start[j] < end; ++j) {
      const int64_t b = std::max(begin, start[j]) - start[j];
      const int64_t e = std::min(end, start[j + 1]) - start[j];
      if (b < e) fn(j, b, e);
    }
  });
}

}  // namespace ravel::optim::detail
