// ravel: n-d arrays and math, autograd, neural-network layers, optimizers, data loading, the
// model zoo and checkpoints, in C++20. This header includes all of them.
//
//   #include <ravel/ravel.h>
//   using namespace ravel;
//   Tensor a = tensor({{1.0, 2.0}, {3.0, 4.0}});
//   std::cout << linalg::inv(a) << "\n" << a.sum(0) << "\n";
#pragma once
#include "ravel/autograd.h"
#include "ravel/checkpoint.h"
#include "ravel/compile.h"
#include "ravel/data.h"
#include "ravel/dtype.h"
#include "ravel/error.h"
#include "ravel/graph.h"
#include "ravel/image.h"
#include "ravel/infer.h"
#include "ravel/io.h"
#include "ravel/keras.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/onnx.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "ravel/parallel.h"
#include "ravel/pytorch.h"
#include "ravel/random.h"
#include "ravel/safetensors.h"
#include "ravel/scalar.h"
#include "ravel/tensor.h"
#include "ravel/train/progress.h"
#include "ravel/train/report.h"
