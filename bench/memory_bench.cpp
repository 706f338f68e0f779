// ravel's half of bench/memory: peak resident memory of one forward + backward pass of a
// 20-layer MLP (1024 wide, batch 512, float32) over two training passes, above the resident
// memory once the model and data exist.
// Prints "PEAK_MIB mlp20_backward <MiB>". The peer script measures PyTorch the same way.
#include <ravel/nn.h>
#include <ravel/ravel.h>

#include <cstdio>
#include <fstream>
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
}  // namespace

int main() {
  manual_seed(0);
  auto net = std::make_shared<nn::Sequential>();
  for (int i = 0; i < 20; ++i) {
    net->push_back(std::make_shared<nn::Linear>(1024, 1024));
    net->push_back(std::make_shared<nn::ReLU>());
  }
  Tensor x = randn({512, 1024});
  Tensor y = randint(0, 1024, {512});
  auto step = [&] {
    net->zero_grad();
    F::cross_entropy((*net)(x), y).backward();
  };
  // From just after the model and data exist, over two steps (the second one runs with the
  // gradients of the first allocated, as in steady-state training). Memory an allocator keeps
  // cached for reuse counts as used.
  long base = status_kib("VmRSS");
  reset_peak();
  step();
  step();
  long peak = status_kib("VmHWM");
  std::printf("PEAK_MIB mlp20_backward %.1f\n", (peak - base) / 1024.0);
  return 0;
}
