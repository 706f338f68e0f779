// ravel::models -- the model zoo: ResNets (ImageNet and CIFAR styles, pre-activation
// variants), MLP, LeNet-5 and VGG (torchvision's layouts and parameter names).
//
//   #include <ravel/models.h>
//   auto net = ravel::models::resnet20({.num_classes = 10, .in_channels = 1});
//   auto same = ravel::models::create("resnet20", {.num_classes = 10, .in_channels = 1});
#pragma once
#include "ravel/models/classic.h"
#include "ravel/models/resnet.h"
#include "ravel/models/zoo.h"
