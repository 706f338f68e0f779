// Models by name, for command lines and configuration files.
//
//   auto net = models::create("resnet20", {.num_classes = 10, .in_channels = 1});
//   for (auto& name : models::names()) std::cout << name << "\n";
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ravel/nn/module.h"

namespace ravel::models {

struct ZooOptions {
  int64_t num_classes = 10;
  int64_t in_channels = 1;
  int64_t input_size = 28;  // square inputs; sizes the first Linear of "mlp" and "lenet5"
  int64_t width = 0;        // CIFAR ResNets: first-stage channels (0 = the paper's 16)
  bool zero_init_residual = false;
};

// "mlp" (inputs-512-512-classes, ReLU), "lenet5", "vgg11_bn", "vgg16_bn" (input_size >= 32),
// "resnet18".."resnet152", "resnet20".."resnet110" and "preact_resnet20".."preact_resnet110".
// An unknown name throws, listing the known ones.
std::shared_ptr<nn::Module> create(const std::string& name, const ZooOptions& options = {});
std::vector<std::string> names();

}  // namespace ravel::models
