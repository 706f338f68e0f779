// ravel's half of bench/memory: peak resident memory of training steps, above the resident memory
// once the model and data exist, over two steps (the second runs with the first's gradients and
// optimizer state allocated, as in steady-state training). Memory an allocator keeps cached for
// reuse counts as used. Workloads (argument; default all):
//   mlp20_backward       forward + backward of a 20-layer MLP (1024 wide, batch 512)
//   resnet20_train_step  ResNet-20 SGD step, batch 128, 1x28x28, compiled (ravel/compile.h)
//   resnet20_train_step_eager   the same step with the eager modules
// Prints "PEAK_MIB <workload> <MiB>". bench/peers/torch_memory.py measures PyTorch the same way.
#include <ravel/compile.h>
#include <ravel/models.h>
#include <ravel/nn.h>
#include <ravel/optim.h>
#include <ravel/ravel.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

using namespace ravel;
namespace F = ravel::nn::functional;

namespace {
// VmRSS or VmHWM (the peak since the last reset) from /proc/self/status, in KiB.
long status_kib(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}
void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }

void measure(const std::string& name, const std::function<void()>& step) {
  long base = status_kib("VmRSS");
  reset_peak();
  step();
  step();
  long peak = status_kib("VmHWM");
  std::printf("PEAK_MIB %s %.1f\n", name.c_str(), (peak - base) / 1024.0);
}

void mlp20_backward() {
  auto net = std::make_shared<nn::Sequential>();
  for (int i = 0; i < 20; ++i) {
    net->push_back(std::make_shared<nn::Linear>(1024, 1024));
    net->push_back(std::make_shared<nn::ReLU>());
  }
  Tensor x = randn({512, 1024});
  Tensor y = randint(0, 1024, {512});
  measure("mlp20_backward", [&] {
    net->zero_grad();
    F::cross_entropy((*net)(x), y).backward();
  });
}

void resnet20_train_step(bool compiled) {
  std::shared_ptr<nn::Module> net = models::resnet20({.num_classes = 10, .in_channels = 1});
  Tensor x = randn({128, 1, 28, 28}), y = randint(0, 10, {128});
  if (compiled) net = compile(net, x);
  optim::SGD opt(net->parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
  measure(compiled ? "resnet20_train_step" : "resnet20_train_step_eager", [&] {
    opt.zero_grad();
    F::cross_entropy((*net)(x), y).backward();
    opt.step();
  });
}
}  // namespace

int main(int argc, char** argv) {
  manual_seed(0);
  const std::string which = argc > 1 ? argv[1] : "";
  if (which == "mlp20_backward") {
    mlp20_backward();
  } else if (which == "resnet20_train_step" || which == "resnet20_train_step_eager") {
    resnet20_train_step(which == "resnet20_train_step");
  } else {
    std::fprintf(stderr,
                 "memory_bench: unknown workload '%s' (mlp20_backward, "
                 "resnet20_train_step, resnet20_train_step_eager)\n",
                 which.c_str());
    return 2;
  }
  return 0;
}
