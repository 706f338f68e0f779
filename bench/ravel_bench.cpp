// ravel's side of bench/compare. Usage: ravel_bench [workload...] (default: all).
// Each workload mirrors one in bench/peers/numpy_bench.py; the names must match.
#include <ravel/ravel.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "workloads.h"

using namespace ravel;

namespace {
volatile float sink;  // keeps results alive so the work is not optimised away

std::map<std::string, std::function<std::function<void()>()>> workloads() {
  std::map<std::string, std::function<std::function<void()>()>> w;
  Generator gen(0);
  auto big = [] { return rand({16 * 1024 * 1024}); };
  auto square = [] { return rand({4096, 4096}); };
  w["np_add_16m"] = [=] {
    Tensor a = big(), b = big();
    return [=] { sink = add(a, b).data_ptr<float>()[0]; };
  };
  w["np_exp_16m"] = [=] {
    Tensor a = big();
    return [=] { sink = exp(a).data_ptr<float>()[0]; };
  };
  w["np_sum_axis0"] = [=] {
    Tensor a = square();
    return [=] { sink = sum(a, 0).data_ptr<float>()[0]; };
  };
  w["np_sum_axis1"] = [=] {
    Tensor a = square();
    return [=] { sink = sum(a, 1).data_ptr<float>()[0]; };
  };
  w["np_max_axis0"] = [=] {
    Tensor a = square();
    return [=] { sink = amax(a, 0).data_ptr<float>()[0]; };
  };
  w["np_max_axis1"] = [=] {
    Tensor a = square();
    return [=] { sink = amax(a, 1).data_ptr<float>()[0]; };
  };
  for (int n : {256, 1024, 2048}) {
    w["np_matmul_" + std::to_string(n)] = [=] {
      Tensor a = rand({n, n}), b = rand({n, n});
      return [=] { sink = matmul(a, b).data_ptr<float>()[0]; };
    };
  }
  w["np_small_add"] = [=] {
    Tensor a = rand({16}), b = rand({16});
    return [=] { sink = add(a, b).data_ptr<float>()[0]; };
  };
  w["np_small_exp"] = [=] {
    Tensor a = rand({16});
    return [=] { sink = exp(a).data_ptr<float>()[0]; };
  };
  return w;
}
}  // namespace

int main(int argc, char** argv) {
  auto all = workloads();
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) names.push_back(argv[i]);
  if (names.empty())
    for (auto& [name, _] : all) names.push_back(name);
  for (const auto& name : names) {
    auto it = all.find(name);
    if (it == all.end()) {
      std::fprintf(stderr, "ravel_bench: unknown workload '%s'\n", name.c_str());
      return 2;
    }
    auto fn = it->second();
    std::printf("TIME %s %.9g\n", name.c_str(), bench::median_seconds_per_call(fn));
    std::fflush(stdout);
  }
  return 0;
}
