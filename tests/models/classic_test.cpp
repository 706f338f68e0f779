// MLP, LeNet-5 and VGG against torch, and the zoo: every model by name is built once (the
// ImageNet ResNets and VGGs at torchvision's 1000 classes, so the counts are the published ones),
// runs a forward, and has torch's state_dict names and parameter count.
#include "ravel/models/classic.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "models/model_testing.h"
#include "ravel/models/resnet.h"
#include "ravel/models/zoo.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/linear.h"
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

namespace {

// The torch twin of each zoo model built with kZoo.
const models::ZooOptions kZoo{.num_classes = 1000, .in_channels = 3, .input_size = 32};

std::string torch_twin(const std::string& name) {
  if (name == "mlp") return "mlp([3 * 32 * 32, 512, 512, 1000])";
  if (name == "lenet5") return "lenet5(3, 1000, 32)";
  for (const char* tv :
       {"vgg11_bn", "vgg16_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"})
    if (name == tv) return "torchvision.models." + name + "()";
  const bool pre = name.starts_with("preact_");
  std::string depth = name.substr(name.find_first_of("0123456789"));
  return "CifarResNet(" + depth + ", 3, 1000" + (pre ? ", pre=True)" : ")");
}

// Under AddressSanitizer (3-5x slower) the three largest models are left out: they run the same
// code as vgg11_bn and resnet50 with more layers, and drawing their 300M initial weights is most
// of this file's time.
bool skipped_under_sanitizers(const std::string& name) {
#if defined(__SANITIZE_ADDRESS__)
  return name == "vgg16_bn" || name == "resnet101" || name == "resnet152";
#else
  (void)name;
  return false;
#endif
}

struct ZooModel {
  std::string name;
  int64_t count = 0;
  int count_handle = -1;
  Shape output_shape;
  std::string error;  // ours threw
};

}  // namespace

TEST(ModelZoo, NamesListsEveryModel) {
  std::vector<std::string> expected = {"mlp",      "lenet5",   "vgg11_bn",  "vgg16_bn", "resnet18",
                                       "resnet34", "resnet50", "resnet101", "resnet152"};
  for (const char* prefix : {"resnet", "preact_resnet"})
    for (int depth : {20, 32, 44, 56, 110}) expected.push_back(prefix + std::to_string(depth));
  EXPECT_EQ(models::names(), expected);
}

// Every model by name in one test (ctest runs each test in its own process, and a VGG takes
// seconds to draw): each is built once, runs a forward, and has torch's state_dict names (in
// order) and parameter count. vgg11_bn's features also run against torchvision's on the same
// weights (the layout beyond names), and its initial weights have torchvision's statistics
// (kaiming_normal fan_out convs with zero bias, N(0, 0.01) linears with zero bias).
TEST(ModelZoo, EveryModelBuildsRunsAndMatchesTorch) {
  TorchOracle torch;
  std::vector<ZooModel> zoo;
  Parity features_parity;
  manual_seed(1);
  for (const std::string& name : models::names()) {  // each freed before the next is built
    if (skipped_under_sanitizers(name)) continue;
    ZooModel z;
    z.name = name;
    try {
      auto net = models::create(name, kZoo);
      z.count = net->num_parameters();
      z.count_handle = add_names_and_count(torch, *net, torch_twin(name));
      net->eval();
      {
        NoGradGuard ng;
        z.output_shape = (*net)(random_input({1, 3, 32, 32}, 2)).shape();
      }
      if (name == "vgg11_bn") {
        auto vgg = std::dynamic_pointer_cast<nn::Sequential>(net);
        auto conv = vgg->at<nn::Sequential>(0)->at<nn::Conv2d>(25);  // [512, 512, 3, 3]
        auto fc = vgg->at<nn::Sequential>(3)->at<nn::Linear>(6);     // 4096 -> 1000
        EXPECT_NEAR(ravel::std(conv->weight).item<double>(), std::sqrt(2.0 / (512 * 9)), 1e-4);
        EXPECT_NEAR(ravel::std(fc->weight).item<double>(), 0.01, 1e-4);
        EXPECT_TRUE(array_equal(conv->bias, zeros({512})));
        EXPECT_TRUE(array_equal(fc->bias, zeros({1000})));
        auto features = net->child("features");
        randomize_batch_norms(*features, 3);
        features_parity = add_parity(torch, *features, random_input({2, 3, 32, 32}, 4),
                                     {.torch_ctor = "torchvision.models.vgg11_bn().features",
                                      .grads = {"0.weight", "25.weight", "26.bias"},
                                      .buffers = {"1.running_mean", "26.running_var"}});
      }
    } catch (const std::exception& e) {
      z.error = e.what();
    }
    zoo.push_back(z);
  }
  torch.run();
  for (const auto& z : zoo) {
    SCOPED_TRACE(z.name);
    ASSERT_EQ(z.error, "");
    EXPECT_EQ(z.output_shape, (Shape{1, 1000}));
    ASSERT_EQ(torch.error(z.count_handle), "");
    EXPECT_EQ(z.count, torch.result(z.count_handle).item<int64_t>());
  }
  SCOPED_TRACE("vgg11_bn features");
  check_parity(torch, features_parity, 1e-4);
}

TEST(ModelZoo, OptionsReachTheModels) {
  NoGradGuard ng;
  auto net = models::create(
      "resnet20", {.num_classes = 7, .in_channels = 1, .width = 8, .zero_init_residual = true});
  auto r20 = std::dynamic_pointer_cast<models::CifarResNet>(net);
  ASSERT_NE(r20, nullptr);
  EXPECT_EQ(r20->conv1->out_channels, 8);
  EXPECT_TRUE(array_equal(r20->layer1->at<models::BasicBlock>(0)->bn2->weight, zeros({8})));
  r20->eval();
  EXPECT_EQ((*r20)(zeros({2, 1, 28, 28})).shape(), (Shape{2, 7}));
  auto pre = std::dynamic_pointer_cast<models::CifarResNet>(models::create("preact_resnet32"));
  ASSERT_NE(pre, nullptr);
  EXPECT_NE(pre->bn_final, nullptr);
  EXPECT_EQ(pre->bn1, nullptr);
  auto mlp = models::create("mlp", {.num_classes = 3, .in_channels = 2, .input_size = 5});
  EXPECT_EQ((*mlp)(zeros({4, 2, 5, 5})).shape(), (Shape{4, 3}));
}

TEST(ModelZoo, UnknownNamesAndSizesAreErrors) {
  expect_error([] { models::create("resnet19"); }, {"unknown model \"resnet19\"", "mlp", "lenet5",
                                                    "vgg16_bn", "resnet152", "preact_resnet110"});
  expect_error([] { models::create("vgg11_bn", {.input_size = 28}); },
               {"vgg11_bn", "32x32", "input_size 28"});
}

// LeNet-5 at both input sizes and MLPs with every option but dropout (random masks) against
// torch on the same weights, in train and eval mode (1e-4 of each tensor's largest magnitude);
// layouts with dropout by names and counts.
TEST(ClassicParity, LeNet5AndMlpsMatchTorch) {
  TorchOracle torch;
  std::vector<std::pair<std::string, Parity>> cases;
  manual_seed(5);
  auto lenet28 = models::lenet5();
  cases.emplace_back("lenet5 28x28", add_parity(torch, *lenet28, random_input({3, 1, 28, 28}, 5),
                                                {.torch_ctor = "lenet5(1, 10, 28)",
                                                 .grads = {"0.weight", "3.bias", "7.weight"}}));
  auto lenet32 = models::lenet5({.num_classes = 4, .in_channels = 2, .input_size = 32});
  cases.emplace_back("lenet5 32x32", add_parity(torch, *lenet32, random_input({2, 2, 32, 32}, 6),
                                                {.torch_ctor = "lenet5(2, 4, 32)",
                                                 .grads = {"0.weight", "11.weight"}}));
  auto mlp_bn = models::mlp({12, 16, 8, 3}, {.activation = "gelu", .batch_norm = true});
  randomize_batch_norms(*mlp_bn, 7);
  cases.emplace_back("mlp batch norm gelu",
                     add_parity(torch, *mlp_bn, random_input({5, 3, 4}, 8),
                                {.torch_ctor = "mlp([12, 16, 8, 3], nn.GELU, bn=True)",
                                 .grads = {"1.weight", "2.weight", "7.bias"},
                                 .buffers = {"2.running_mean", "5.running_var"}}));
  auto mlp_tanh = models::mlp({6, 5, 2}, {.activation = "tanh"});
  cases.emplace_back("mlp tanh", add_parity(torch, *mlp_tanh, random_input({4, 6}, 9),
                                            {.torch_ctor = "mlp([6, 5, 2], nn.Tanh)",
                                             .grads = {"1.weight", "3.bias"}}));
  struct Count {
    std::string name;
    int64_t ours;
    int handle;
  };
  std::vector<Count> counts;
  auto count = [&](const std::string& name, const nn::Module& m, const std::string& ctor) {
    counts.push_back({name, m.num_parameters(), add_names_and_count(torch, m, ctor)});
  };
  count("mlp dropout", *models::mlp({784, 512, 512, 10}, {.dropout = 0.2}),
        "mlp([784, 512, 512, 10], p=0.2)");
  count("mlp all options",
        *models::mlp({20, 30, 40, 5},
                     {.activation = "leaky_relu", .dropout = 0.5, .batch_norm = true}),
        "mlp([20, 30, 40, 5], nn.LeakyReLU, bn=True, p=0.5)");
  torch.run();
  for (const auto& [key, p] : cases) {
    SCOPED_TRACE(key);
    check_parity(torch, p, 1e-4);
  }
  for (const auto& c : counts) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(torch.error(c.handle), "");
    EXPECT_EQ(c.ours, torch.result(c.handle).item<int64_t>());
  }
  EXPECT_EQ(lenet28->num_parameters(), 61706);  // the paper's, as the header documents
}

TEST(ClassicModels, BadOptionsAreErrors) {
  expect_error([] { models::mlp({784}); }, {"mlp", "at least 2 sizes"});
  expect_error(
      [] {
        models::mlp({4, 2}, {.activation = "swish"});
      },
      {"mlp", "\"swish\"", "relu, gelu"});
  expect_error([] { models::mlp({4, 2}, {.dropout = 1.0}); }, {"mlp", "dropout"});
  expect_error([] { models::lenet5({.input_size = 8}); }, {"lenet5", "input_size 8", "too small"});
  expect_error([] { models::vgg16_bn({.num_classes = 0}); }, {"vgg16_bn", "num_classes"});
  // Inside a Sequential the layer's own op names the problem.
  auto lenet = models::lenet5();
  expect_error(
      [&] {
        (*lenet)(zeros({1, 3, 28, 28}));
      },
      {"conv2d", "[1, 3, 28, 28]", "3 channels"});
}
