// torch.nn.functional for ravel: every functional op family in one include.
//
//   #include <ravel/nn/functional.h>
//   namespace F = ravel::nn::functional;
//   Tensor h = F::relu(F::linear(x, w1, b1));
//   Tensor y = F::max_pool2d(F::conv2d(img, k, {}, 1, 1), 2);
//   Tensor loss = F::cross_entropy(logits, labels);
#pragma once
#include "ravel/nn/functional/activation.h"
#include "ravel/nn/functional/conv.h"
#include "ravel/nn/functional/layers.h"
#include "ravel/nn/functional/loss.h"
#include "ravel/nn/functional/norm.h"
#include "ravel/nn/functional/pool.h"
