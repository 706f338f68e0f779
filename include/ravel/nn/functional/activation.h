// Activation functions (torch.nn.functional): elementwise nonlinearities and softmax.
//
//   namespace F = ravel::nn::functional;
//   Tensor h = F::relu(matmul(x, w1));                // [N, H]
//   Tensor g = F::gelu(h, "tanh");                     // the tanh approximation
//   Tensor p = F::softmax(logits, -1);                 // rows sum to 1
//   Tensor lp = F::log_softmax(logits, 1);             // stable log(softmax)
//
// Every function is differentiable (to any order) and follows PyTorch's values and gradients,
// including at kinks (relu'(0) = 0, leaky_relu'(0) = slope, hardswish'(3) = 1). Integer
// inputs compute in float32, except relu, which keeps the dtype. Elementwise functions run in
// one pass forward and one pass backward; a backward asked for with create_graph is written with
// ravel ops so that it can be differentiated again.
#pragma once
#include <string>

#include "ravel/tensor.h"

namespace ravel::nn::functional {

Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);  // min(max(x, 0), 6)
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// weight: 1 element, or one per channel (dim 1 of x; x.ndim >= 2).
Tensor prelu(const Tensor& x, const Tensor& weight);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor selu(const Tensor& x);
Tensor celu(const Tensor& x, double alpha = 1.0);
// approximate: "none" (x * Phi(x), with erf) or "tanh".
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);  // x * sigmoid(x), also called swish
Tensor mish(const Tensor& x);  // x * tanh(softplus(x))
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor logsigmoid(const Tensor& x);  // log(sigmoid(x)), stable for large |x|
// log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch).
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace ravel::nn::functional
