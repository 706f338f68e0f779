// Smaller classic networks: MLP, LeNet-5, VGG-11/16 with batch norm (torchvision layout and
// parameter names: features.*, classifier.*).
//
//   auto mlp = models::mlp({784, 512, 512, 10});          // Flatten, Linear-ReLU..., Linear
//   auto lenet = models::lenet5({.num_classes = 10, .in_channels = 1});
//   auto vgg = models::vgg16_bn({.num_classes = 10, .in_channels = 3});
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ravel/nn/container.h"

namespace ravel::models {

struct MLPOptions {
  std::string activation = "relu";  // relu | gelu | tanh | sigmoid | silu | leaky_relu
  double dropout = 0.0;             // after each hidden activation
  bool batch_norm = false;          // BatchNorm1d before each hidden activation
};
// Flatten then Linear layers of the given sizes (sizes[0] = inputs, back() = outputs), the
// activation between them. A Sequential, so parameters read "1.weight", "1.bias", ...
std::shared_ptr<nn::Sequential> mlp(const std::vector<int64_t>& sizes, MLPOptions options = {});

struct ClassicOptions {
  int64_t num_classes = 10;
  int64_t in_channels = 1;
  int64_t input_size = 28;  // LeNet-5 only (square inputs): sizes its first Linear
};
// LeCun et al. 1998 for 28x28 inputs (32x32 works too): conv 6@5x5 (padding 2 for 28x28, none
// for 32x32, as the paper) - tanh - avgpool 2 - conv 16@5x5 - tanh - avgpool 2 - flatten -
// fc 120 - tanh - fc 84 - tanh - fc classes (parameters "0.weight", ..., "11.bias").
// 61,706 parameters for 1 input channel and 10 classes.
std::shared_ptr<nn::Sequential> lenet5(ClassicOptions options = {});

// torchvision's VGG with BN: features (3x3 convs, BN, ReLU, maxpools), avgpool
// (AdaptiveAvgPool2d(7x7)), flatten, classifier (4096-4096-classes with dropout 0.5), children of
// a Sequential. vgg16_bn has 138,365,992 parameters at 1000 classes and 3 channels, as
// torchvision's, and is initialised as torchvision's. Five 2x2 max pools: inputs of at least 32x32.
std::shared_ptr<nn::Sequential> vgg11_bn(ClassicOptions options = {.num_classes = 1000,
                                                                   .in_channels = 3});
std::shared_ptr<nn::Sequential> vgg16_bn(ClassicOptions options = {.num_classes = 1000,
                                                                   .in_channels = 3});

}  // namespace ravel::models
