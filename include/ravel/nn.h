// ravel::nn — modules, layers, initialisation and the functional ops (torch.nn).
//
//   #include <ravel/nn.h>
//   using namespace ravel;
//   auto net = std::make_shared<nn::Sequential>(
//       std::make_shared<nn::Conv2d>(1, 8, 3, nn::Conv2dOptions{.padding = 1}),
//       std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
//       std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(8 * 14 * 14, 10));
//   Tensor loss = nn::functional::cross_entropy((*net)(images), labels);
//   loss.backward();
//   std::cout << *net << "\n";        // the module tree, as PyTorch prints it
#pragma once
#include "ravel/nn/activation.h"
#include "ravel/nn/attention.h"
#include "ravel/nn/container.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/dropout.h"
#include "ravel/nn/embedding.h"
#include "ravel/nn/functional.h"
#include "ravel/nn/init.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/loss.h"
#include "ravel/nn/module.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/pool.h"
#include "ravel/nn/rnn.h"
#include "ravel/nn/upsample.h"
