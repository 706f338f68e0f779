// ravel's side of bench/compare. Usage: ravel_bench [workload...] (default: all).
// Each workload mirrors one in bench/peers/numpy_bench.py (np_*) or bench/peers/torch_bench.py
// (autograd_chain, mlp_train, resnet*_infer_*) or scripts/ort.js (ort_*); the names must match.
//   ravel_bench --peak     the machine's float32 FMA peak in GFLOP/s on all threads
#include <immintrin.h>
#include <ravel/nn.h>
#include <ravel/ravel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>

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
  // One ResNet-20 training step, batch 128 (bench/peers/torch_fmnist.py's model in torch):
  // compiled (ravel/compile.h, fp32 or bf16 mixed precision) or the eager modules.
  auto resnet20_train = [](int64_t channels, int64_t size, bool compiled, DType dtype) {
    namespace F = nn::functional;
    std::shared_ptr<nn::Module> net =
        models::resnet20({.num_classes = 10, .in_channels = channels});
    Tensor x = randn({128, channels, size, size}), y = randint(0, 10, {128});
    if (compiled) net = compile(net, x, {.dtype = dtype});
    auto opt = std::make_shared<optim::SGD>(
        net->parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
    return [=] {
      opt->zero_grad();
      Tensor loss = F::cross_entropy((*net)(x), y);
      loss.backward();
      opt->step();
      sink = loss.item<float>();
    };
  };
  w["resnet20_train_fmnist"] = [=] { return resnet20_train(1, 28, true, DType::Float32); };
  w["resnet20_train_cifar"] = [=] { return resnet20_train(3, 32, true, DType::Float32); };
  w["resnet20_train_fmnist_bf16"] = [=] { return resnet20_train(1, 28, true, DType::BFloat16); };
  w["resnet20_train_fmnist_eager"] = [=] { return resnet20_train(1, 28, false, DType::Float32); };
  w["small_op"] = w["np_small_add"];
  // Inference, eval mode, batch 1 or 16 at 3x224x224: ravel's frozen path (ravel/infer.h:
  // BN folded, weights packed, blocked layouts, fused ReLU/add) against torch's eval mode.
  auto frozen = [](std::shared_ptr<nn::Module> net, int64_t batch, DType dtype) {
    net->eval();
    Tensor x = rand({batch, 3, 224, 224});
    auto model = infer::freeze(*net, x, {.dtype = dtype});
    return [=] { sink = model->run(x).data_ptr<float>()[0]; };
  };
  w["resnet18_infer_b1"] = [=] { return frozen(models::resnet18(), 1, DType::Float32); };
  w["resnet18_infer_b16"] = [=] { return frozen(models::resnet18(), 16, DType::Float32); };
  w["resnet50_infer_b1"] = [=] { return frozen(models::resnet50(), 1, DType::Float32); };
  // The ONNX files bench/compare exported from torchvision (RAVEL_BENCH_ONNX_DIR), imported and
  // frozen; ONNX Runtime runs the same files (scripts/ort.js).
  auto onnx_frozen = [](const std::string& file, DType dtype) {
    const char* dir = std::getenv("RAVEL_BENCH_ONNX_DIR");
    RAVEL_CHECK(dir, "ravel_bench: set RAVEL_BENCH_ONNX_DIR (bench/compare does)");
    auto model =
        infer::FrozenModel::create(onnx::load(std::string(dir) + "/" + file), {.dtype = dtype});
    Tensor x = full({1, 3, 224, 224}, 0.5f);
    return [=] { sink = model->run(x).data_ptr<float>()[0]; };
  };
  w["ort_resnet18_infer_b1"] = [=] { return onnx_frozen("resnet18.onnx", DType::Float32); };
  w["ort_resnet50_infer_b1"] = [=] { return onnx_frozen("resnet50.onnx", DType::Float32); };
  w["ort_resnet18_infer_b1_bf16"] = [=] { return onnx_frozen("resnet18.onnx", DType::BFloat16); };
  return w;
}

// Float32 FMA throughput: 10 independent chains of 16-wide FMAs per thread (enough to hide the
// FMA latency), on as many threads as ravel uses.
double fma_peak_gflops() {
#ifndef __AVX512F__
  return 0;  // built without -march=native on an AVX-512 machine: no peak to measure
#else
  const int threads = get_num_threads();
  const long iters = 100000000;
  std::vector<double> rate(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      __m512 a[10];
      for (int k = 0; k < 10; ++k) a[k] = _mm512_set1_ps(1.0f + 0.1f * k);
      const __m512 b = _mm512_set1_ps(0.99999f), c = _mm512_set1_ps(1e-5f);
      auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < iters; ++i)
        for (int k = 0; k < 10; ++k) a[k] = _mm512_fmadd_ps(a[k], b, c);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      float lanes[16], acc = 0;
      for (int k = 0; k < 10; ++k) {
        _mm512_storeu_ps(lanes, a[k]);
        acc += lanes[0];
      }
      sink = acc;
      rate[t] = iters * 10.0 * 16 * 2 / s / 1e9;
    });
  for (auto& th : pool) th.join();
  double total = 0;
  for (double r : rate) total += r;
  return total;
#endif
}
}  // namespace

int main(int argc, char** argv) {
  auto all = workloads();
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) names.push_back(argv[i]);
  if (names.size() == 1 && names[0] == "--peak") {
    std::printf("PEAK %.1f\n", fma_peak_gflops());
    return 0;
  }
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
