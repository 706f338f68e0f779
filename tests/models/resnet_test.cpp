// ResNets against torchvision and against a torch CIFAR ResNet written in the oracle script:
// state_dict names and parameter counts; forward (train and eval), input gradients, parameter
// gradients and running statistics on the same weights; the pre-activation blocks; the
// initialisation; errors.
#include "ravel/models/resnet.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/model_testing.h"
#include "ravel/nn/init.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using ravel::testing::add_names_and_count;
using ravel::testing::add_parity;
using ravel::testing::check_parity;
using ravel::testing::expect_error;
using ravel::testing::Parity;
using ravel::testing::ParitySpec;
using ravel::testing::random_input;
using ravel::testing::randomize_batch_norms;
using ravel::testing::TorchOracle;

namespace {}  // namespace

// Every variant in one test (ctest runs each test in its own process; one python process pays
// the torch import once). The scripts check that names (in order) and shapes equal torch's and
// load the whole state; outputs, input gradients, parameter gradients and running statistics
// then agree in float32 within 1e-4 of each tensor's largest magnitude. Inputs: 64x64 for the
// ImageNet nets (2x2 at layer4: batch statistics over 8 values), Fashion-MNIST's 1x28x28 for
// ResNet-20. ResNet-50 compares the forward only: a backward through its max pool may route a
// gradient to another input of a window where two inputs differ by float32 rounding.
TEST(ResNetParity, EveryVariantMatchesTorch) {
  TorchOracle torch;
  std::vector<std::pair<std::string, Parity>> cases;
  auto add = [&](const std::string& key, nn::Module& net, const Tensor& x, ParitySpec spec) {
    cases.emplace_back(key, add_parity(torch, net, x, spec));
  };
  manual_seed(3);
  auto r18 = models::resnet18({.num_classes = 10});
  randomize_batch_norms(*r18, 4);
  add("resnet18", *r18, random_input({2, 3, 64, 64}, 5),
      {.torch_ctor = "torchvision.models.resnet18(num_classes=10)",
       .grads = {"conv1.weight", "layer2.0.downsample.0.weight", "layer3.1.bn2.weight",
                 "layer4.0.conv1.weight", "fc.weight", "fc.bias"},
       .buffers = {"bn1.running_mean", "layer2.0.downsample.1.running_var",
                   "layer4.1.bn2.running_mean", "layer4.1.bn2.num_batches_tracked"}});

  auto r20 = models::resnet20({.num_classes = 10, .in_channels = 1});
  randomize_batch_norms(*r20, 7);
  add("resnet20", *r20, random_input({4, 1, 28, 28}, 8),
      {.torch_ctor = "CifarResNet(20, 1, 10)",
       .grads = {"conv1.weight", "layer2.0.conv1.weight", "layer3.2.bn2.bias", "fc.weight"},
       .buffers = {"bn1.running_var", "layer3.0.bn1.running_mean"}});
  auto r20b = models::resnet20({.num_classes = 10, .cifar_shortcut = models::Shortcut::Projection});
  randomize_batch_norms(*r20b, 9);
  add("resnet20 option B", *r20b, random_input({2, 3, 16, 16}, 10),
      {.torch_ctor = "CifarResNet(20, 3, 10, option='B')",
       .grads = {"layer3.0.downsample.0.weight", "layer3.0.downsample.1.bias"}});

  auto r50 = models::resnet50();
  randomize_batch_norms(*r50, 11);
  add("resnet50", *r50, random_input({1, 3, 64, 64}, 12),
      {.torch_ctor = "torchvision.models.resnet50()", .modes = {false}, .backward = false});

  // The pre-activation blocks in small networks (both shortcut kinds) and the bottleneck.
  auto pre_a = std::make_shared<models::CifarResNet>(
      8, models::ResNetOptions{
             .num_classes = 3, .in_channels = 2, .cifar_width = 4, .pre_activation = true});
  auto pre_b = std::make_shared<models::CifarResNet>(
      14, models::ResNetOptions{.num_classes = 3,
                                .in_channels = 2,
                                .cifar_width = 4,
                                .cifar_shortcut = models::Shortcut::Projection,
                                .pre_activation = true});
  auto bottleneck =
      std::make_shared<models::PreActBottleneck>(8, 4, models::BlockOptions{.stride = 2});
  auto bottleneck_identity = std::make_shared<models::PreActBottleneck>(16, 4);
  for (auto* m : std::vector<nn::Module*>{pre_a.get(), pre_b.get(), bottleneck.get(),
                                          bottleneck_identity.get()})
    randomize_batch_norms(*m, 13);
  add("preact zero pad", *pre_a, random_input({2, 2, 12, 12}, 14),
      {.torch_ctor = "CifarResNet(8, 2, 3, pre=True, w=4)",
       .grads = {"conv1.weight", "layer2.0.bn1.weight"},
       .buffers = {"bn_final.running_var"}});
  add("preact projection", *pre_b, random_input({2, 2, 12, 12}, 15),
      {.torch_ctor = "CifarResNet(14, 2, 3, option='B', pre=True, w=4)",
       .grads = {"layer3.0.downsample.0.weight"}});
  add("preact bottleneck", *bottleneck, random_input({2, 8, 6, 6}, 16),
      {.torch_ctor = "PreActBottleneck(8, 4, 2)",
       .grads = {"conv3.weight", "downsample.1.weight"}});
  add("preact bottleneck identity", *bottleneck_identity, random_input({2, 16, 5, 5}, 17),
      {.torch_ctor = "PreActBottleneck(16, 4, 1)", .grads = {"bn1.bias"}});
  // The paper's 0.27M parameters of ResNet-20 (10 classes, 3 channels), both shortcuts.
  auto r20a = models::resnet20();
  int count_a = add_names_and_count(torch, *r20a, "CifarResNet(20, 3, 10)");
  int count_b = add_names_and_count(torch, *r20b, "CifarResNet(20, 3, 10, option='B')");
  torch.run();
  for (const auto& [key, p] : cases) {
    SCOPED_TRACE(key);
    check_parity(torch, p, 1e-4);
  }
  ASSERT_EQ(torch.error(count_a), "");
  ASSERT_EQ(torch.error(count_b), "");
  EXPECT_EQ(r20a->num_parameters(), torch.result(count_a).item<int64_t>());
  EXPECT_EQ(r20b->num_parameters(), torch.result(count_b).item<int64_t>());
}

// torchvision's init: kaiming_normal(fan_out, relu) convs, BN 1/0; zero_init_residual zeroes the
// last BN of every block. Statistics of the drawn weights, not values.
TEST(ResNetInit, TorchvisionInitAndZeroInitResidual) {
  manual_seed(18);
  auto net = models::resnet18({.num_classes = 10, .zero_init_residual = true});
  auto conv = net->layer3->at<models::BasicBlock>(1)->conv1;  // [256, 256, 3, 3]
  const double fan_out = 256.0 * 9.0;
  EXPECT_NEAR(ravel::std(conv->weight).item<double>(), std::sqrt(2.0 / fan_out),
              0.02 * std::sqrt(2.0 / fan_out));
  EXPECT_NEAR(mean(conv->weight).item<double>(), 0.0, 1e-3);
  auto block = net->layer2->at<models::BasicBlock>(0);
  EXPECT_TRUE(array_equal(block->bn1->weight, ones({128})));
  EXPECT_TRUE(array_equal(block->bn1->bias, zeros({128})));
  EXPECT_TRUE(array_equal(block->bn2->weight, zeros({128})));  // zero_init_residual
  models::ResNet narrow(models::BlockKind::Bottleneck, {1, 1, 1, 1},
                        {.num_classes = 10, .zero_init_residual = true, .width = 8});
  EXPECT_TRUE(array_equal(narrow.layer1->at<models::Bottleneck>(0)->bn3->weight, zeros({32})));
  EXPECT_TRUE(array_equal(narrow.layer1->at<models::Bottleneck>(0)->bn2->weight, ones({8})));

  // With zero_init_residual every block starts as the identity (then ReLU): in eval mode, a
  // block of layer1 returns relu(x).
  block = net->layer1->at<models::BasicBlock>(0);
  block->eval();
  Tensor x = random_input({1, 64, 4, 4}, 19);
  EXPECT_TRUE(array_equal((*block)(x), maximum(x, 0.0f)));
  // The CIFAR ResNets: kaiming_normal(fan_in) convs and fc weight (akamaster's _weights_init).
  auto cifar = models::resnet20();
  Tensor w = cifar->layer3->at<models::BasicBlock>(2)->conv2->weight;  // [64, 64, 3, 3]
  EXPECT_NEAR(ravel::std(w).item<double>(), std::sqrt(2.0 / 576.0), 0.04 * std::sqrt(2.0 / 576.0));
}

TEST(ResNetShapes, BlocksAndVariantsProduceTheDocumentedShapes) {
  manual_seed(20);
  NoGradGuard ng;
  // A pre-activation ImageNet-style ResNet (bn_final before the pool), narrow.
  models::ResNet preact(models::BlockKind::PreActBottleneck, {1, 1, 1, 1},
                        {.num_classes = 5, .in_channels = 1, .width = 8});
  ASSERT_NE(preact.bn_final, nullptr);
  EXPECT_EQ(preact(random_input({2, 1, 32, 32}, 21)).shape(), (Shape{2, 5}));
  EXPECT_EQ(preact.fc->in_features, 8 * 8 * 4);
  // Blocks: [N, in, H, W] -> [N, planes * expansion, H / s, W / s].
  models::Bottleneck b(16, 8, {.stride = 2});
  EXPECT_EQ(b(random_input({1, 16, 7, 7}, 22)).shape(), (Shape{1, 32, 4, 4}));
  models::BasicBlock a(8, 16, {.stride = 2, .shortcut = models::Shortcut::ZeroPad});
  EXPECT_EQ(a.downsample, nullptr);
  EXPECT_EQ(a.num_parameters(), 8 * 16 * 9 + 16 * 16 * 9 + 4 * 16);
  EXPECT_EQ(a(random_input({1, 8, 6, 6}, 23)).shape(), (Shape{1, 16, 3, 3}));
  // Wider CIFAR nets and any input size.
  auto wide = models::resnet20({.num_classes = 10, .in_channels = 1, .cifar_width = 32});
  EXPECT_EQ(wide->fc->in_features, 128);
  wide->eval();
  EXPECT_EQ((*wide)(random_input({1, 1, 9, 9}, 24)).shape(), (Shape{1, 10}));
}

TEST(ResNetErrors, BadInputsAndOptionsNameTheLayer) {
  auto net =
      std::make_shared<models::ResNet>(models::BlockKind::Basic, std::vector<int64_t>{1, 1, 1, 1},
                                       models::ResNetOptions{.num_classes = 10, .width = 8});
  expect_error([&] { (*net)(zeros({2, 3})); }, {"ResNet", "conv1", "[N, 3, H, W]", "[2, 3]"});
  expect_error([&] { (*net)(zeros({1, 1, 32, 32})); }, {"ResNet", "conv1", "[1, 1, 32, 32]"});
  auto cifar = models::resnet20({.num_classes = 10, .in_channels = 1});
  expect_error([&] { (*cifar)(zeros({2, 3, 28, 28})); }, {"CifarResNet", "conv1", "[N, 1, H, W]"});
  models::BasicBlock block(16, 32, {.stride = 2});
  expect_error(
      [&] {
        block(zeros({1, 8, 4, 4}));
      },
      {"BasicBlock", "[N, 16, H, W]", "[1, 8, 4, 4]"});
  expect_error([] { models::CifarResNet(21); }, {"CifarResNet", "depth 21", "6n + 2"});
  expect_error([] { models::BasicBlock(16, 16, {.groups = 2}); }, {"BasicBlock", "groups=2"});
  expect_error([] { models::Bottleneck(16, 4, {.stride = 0}); }, {"Bottleneck", "stride", "0"});
  expect_error([] { models::BasicBlock(32, 16, {.shortcut = models::Shortcut::ZeroPad}); },
               {"BasicBlock", "ZeroPad", "32", "16"});
  expect_error(
      [] {
        models::ResNet(models::BlockKind::Basic, {2, 2, 2});
      },
      {"ResNet", "4 stage sizes", "3"});
  expect_error([] { models::resnet18({.num_classes = 0}); }, {"ResNet", "num_classes"});
}
