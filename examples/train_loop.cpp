// The low level of ravel: a hand-written training loop with autograd, nn modules, a loss and an
// optimizer, as one writes it in PyTorch. It fits an MLP to two interleaved spirals (a problem a
// linear model cannot solve) and prints the training accuracy.
#include <cmath>
#include <cstdio>

#include "ravel/nn.h"
#include "ravel/optim.h"
#include "ravel/ravel.h"

using namespace ravel;
namespace F = ravel::nn::functional;

int main() {
  // Data: 2 classes x 500 points on two spirals, with noise.
  Generator gen(0);
  const int64_t n = 500;
  Tensor t = linspace(0.25, 3.0 * M_PI, n);
  Tensor noise = randn({2 * n, 2}, gen) * 0.15f;
  Tensor r = concatenate({t, t});
  Tensor angle = concatenate({t, t + M_PI});
  Tensor x = stack({r * cos(angle), r * sin(angle)}, 1) / 5.0f + noise * 0.2f;  // [1000, 2]
  Tensor y = concatenate({zeros({n}, DType::Int64), ones({n}, DType::Int64)});

  manual_seed(0);
  auto model = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(2, 64), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(64, 64), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Linear>(64, 2));
  optim::Adam opt(model->parameters(), {.lr = 0.01});

  for (int epoch = 1; epoch <= 300; ++epoch) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy((*model)(x), y);  // forward, recorded by autograd
    loss.backward();                                 // gradients into every parameter's grad()
    opt.step();
    if (epoch % 100 == 0) std::printf("epoch %d  loss %.4f\n", epoch, loss.item<double>());
  }
  NoGradGuard no_grad;  // evaluation records no graph
  model->eval();
  double acc = mean((argmax((*model)(x), 1) == y).to(DType::Float32)).item<double>();
  std::printf("training accuracy %.1f%%\n", 100 * acc);
  return acc > 0.9 ? 0 : 1;
}
