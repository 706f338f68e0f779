// Timing helpers shared by ravel's benchmarks: run a function until a repetition lasts long
// enough to time, several repetitions, and report the median seconds per call.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ravel::bench {

inline double median_seconds_per_call(const std::function<void()>& fn, int reps = 7,
                                      double min_rep_seconds = 0.05) {
  using clock = std::chrono::steady_clock;
  fn();  // warm-up: first-touch page faults, caches, thread pool start
  int64_t calls = 1;
  for (;;) {  // grow the inner loop until one repetition is long enough to time
    auto t0 = clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s >= min_rep_seconds || calls >= (int64_t{1} << 24)) break;
    calls *= s > 0 ? std::max<int64_t>(2, static_cast<int64_t>(min_rep_seconds / s)) : 16;
  }
  std::vector<double> per_call;
  for (int r = 0; r < reps; ++r) {
    auto t0 = clock::now();
    for (int64_t i = 0; i < calls; ++i) fn();
    per_call.push_back(std::chrono::duration<double>(clock::now() - t0).count() / calls);
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

}  // namespace ravel::bench
