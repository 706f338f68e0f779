// ravel's side of bench/compare. Usage: ravel_bench [workload...] (default: all).
// Each workload mirrors one in bench/peers/numpy_bench.py (np_*) or bench/peers/torch_bench.py
// (autograd_chain, mlp_train); the names must match.
#include <ravel/nn.h>
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
  // Autograd overhead: forward and backward through 1,000 tiny ops (x * 1.0001, + 0.001, tanh
  // in turn) on 16 elements; the time is almost all graph bookkeeping.
  w["autograd_chain"] = [=] {
    Tensor x = rand({16}).requires_grad_();
    return [=] {
      Tensor y = x;
      for (int i = 0; i < 1000; ++i)
        y = i % 3 == 0 ? y * 1.0001f : i % 3 == 1 ? y + 0.001f : tanh(y);
      y.sum().backward();
      sink = x.grad().data_ptr<float>()[0];
      x.set_grad(Tensor());
    };
  };
  // One training step of a 784-512-512-10 ReLU MLP on a batch of 128: zero_grad, forward,
  // cross-entropy, backward, SGD with momentum.
  w["mlp_train"] = [=] {
    namespace F = nn::functional;
    auto fc1 = std::make_shared<nn::Linear>(784, 512);
    auto fc2 = std::make_shared<nn::Linear>(512, 512);
    auto fc3 = std::make_shared<nn::Linear>(512, 10);
    std::vector<Tensor> params;
    for (const auto& m : {fc1, fc2, fc3})
      for (const Tensor& p : m->parameters()) params.push_back(p);
    auto opt = std::make_shared<optim::SGD>(params, optim::SGDOptions{.lr = 0.01, .momentum = 0.9});
    Tensor x = randn({128, 784}), y = randint(0, 10, {128});
    return [=] {
      opt->zero_grad();
      Tensor logits = fc3->forward(F::relu(fc2->forward(F::relu(fc1->forward(x)))));
      Tensor loss = F::cross_entropy(logits, y);
      loss.backward();
      opt->step();
      sink = loss.item<float>();
    };
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
