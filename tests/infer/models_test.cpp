// Frozen model-zoo networks against the modules themselves in eval mode, with batch norm
// statistics randomised so that folding them into the convolutions is really tested. Float32 to
// 1e-4 of the largest logit; bfloat16 to 5e-2 of it, and the same top-1 class for nearly every
// image (random networks have near ties, so a few flips are allowed; a broken kernel flips most).
#include "ravel/models.h"

#include <gtest/gtest.h>

#include "ravel/autograd.h"
#include "ravel/infer.h"
#include "ravel/ops.h"
#include "ravel/random.h"

namespace ravel {
namespace {

void randomise_batch_norms(nn::Module& m) {
  NoGradGuard no_grad;
  for (auto& [name, t] : m.named_buffers()) {
    if (name.ends_with("running_var")) t.copy_(rand(t.shape()) + 0.5f);
    if (name.ends_with("running_mean")) t.copy_(randn(t.shape()) * 0.2f);
  }
  for (auto& [name, t] : m.named_parameters())
    if (name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos)
      t.copy_(name.ends_with("weight") ? rand(t.shape()) + 0.5f : randn(t.shape()) * 0.2f);
}

double max_abs(const Tensor& t) { return t.abs().max().item<double>(); }

int agreeing_top1(const Tensor& a, const Tensor& b) {
  return (argmax(a, 1) == argmax(b, 1)).sum().item<int>();
}

// Nothing is left to the eager ops (the CIFAR ResNets' option-A shortcut, a strided Slice and a
// channel Pad, runs as a 1x1 convolution).
void check_model(const std::shared_ptr<nn::Module>& net, const Shape& input) {
  randomise_batch_norms(*net);
  Tensor x = randn(input);
  // freeze() is trace + create; one trace serves both dtypes here (the tests run under ASan too).
  auto frozen = infer::freeze(*net, x);
  auto fast = infer::FrozenModel::create(graph::trace(*net, {x}, {.verify = false}),
                                         {.dtype = DType::BFloat16});
  net->eval();
  NoGradGuard no_grad;
  Tensor want = net->forward(x);
  Tensor got = frozen->run(x), got16 = fast->run(x);
  const double scale = max_abs(want);
  EXPECT_LE(max_abs(got - want), 1e-4 * scale) << frozen->describe();
  EXPECT_LE(max_abs(got16 - want), 5e-2 * scale) << fast->describe();
  EXPECT_GE(agreeing_top1(got16, want), input[0] - 1 - input[0] / 8);
  EXPECT_EQ(frozen->describe().find("fallback"), std::string::npos) << frozen->describe();
}

TEST(InferModels, ResNet20FashionMnistSize) {
  manual_seed(11);
  check_model(models::create("resnet20", {.num_classes = 10, .in_channels = 1}), {8, 1, 28, 28});
}

TEST(InferModels, PreActResNet20) {
  manual_seed(12);
  check_model(models::create("preact_resnet20", {.in_channels = 3}), {3, 3, 16, 16});
}

TEST(InferModels, ResNet18SmallInput) {
  manual_seed(13);
  check_model(models::resnet18({.num_classes = 100}), {2, 3, 32, 32});
}

// ResNet-50's bottleneck blocks at full width, one per stage (all 16 stay too slow to compile
// under the sanitizers).
TEST(InferModels, BottleneckResNetSmallInput) {
  manual_seed(14);
  check_model(std::make_shared<models::ResNet>(models::BlockKind::Bottleneck,
                                               std::vector<int64_t>{1, 1, 1, 1},
                                               models::ResNetOptions{.num_classes = 100}),
              {1, 3, 32, 32});
}

}  // namespace
}  // namespace ravel
