// ravel: n-d arrays, math, and (in later layers) autograd and neural networks in C++20.
//
//   #include <ravel/ravel.h>
//   using namespace ravel;
//   Tensor a = tensor({{1.0, 2.0}, {3.0, 4.0}});
//   std::cout << linalg::inv(a) << "\n" << a.sum(0) << "\n";
#pragma once
#include "ravel/autograd.h"
#include "ravel/dtype.h"
#include "ravel/error.h"
#include "ravel/io.h"
#include "ravel/nn.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "ravel/parallel.h"
#include "ravel/random.h"
#include "ravel/scalar.h"
#include "ravel/tensor.h"
