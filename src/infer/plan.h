// Internal: the backend-neutral half of ravel::infer. A Graph, for given input shapes, becomes a
// list of steps: a convolution with its batch norm folded into the weights and the activations
// and residual add that follow it fused as post-ops, a pooling, an inner product (Gemm, with the
// Flatten before it), and runs of nodes no step covers ("fallback", run by a GraphModule of
// their own). A backend (backend/cpu/onednn/inference.cpp) turns the steps into kernels.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ravel/graph.h"

namespace ravel::infer {

// An elementwise operation fused after a kernel, in order. Sum adds the step's second input
// (the residual shortcut) to the result.
struct PostOp {
  enum Kind { Relu, LeakyRelu, Clip, Sigmoid, Tanh, Sum } kind = Relu;
  float alpha = 0, beta = 0;  // LeakyRelu: alpha; Clip: [alpha, beta]
};

struct Step {
  enum Kind { Conv, InnerProduct, Pool, BatchNorm, Eltwise, Add, Fallback } kind = Fallback;
  std::vector<std::string> inputs;  // Conv with a Sum post-op: {x, shortcut}; Add: {a, b}
  std::vector<std::string> outputs;
  std::vector<const graph::Node*> nodes;  // the graph nodes it stands for, in graph order

  // Conv: float32 [O, I/groups, k...] with BN folded; InnerProduct: [O, I] or [O, C, k...] when
  // it absorbed a Flatten. bias [O] (zeros when the graph had none). BatchNorm: scale, shift.
  Tensor weight, bias;
  Tensor mean, var;  // BatchNorm
  float epsilon = 0;
  int64_t groups = 1;
  // Conv / Pool geometry over the spatial axes; dilations count from 1.
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end;
  enum PoolKind { Max, AvgIncludePad, AvgExcludePad } pool = Max;
  std::vector<PostOp> post_ops;   // Eltwise: exactly one (not Sum)
  std::vector<std::string> tags;  // "+bn", "+relu", "+add", "+flatten": for describe()

  std::shared_ptr<graph::GraphModule> fallback;  // Fallback: runs `nodes`
};

struct Plan {
  std::vector<Step> steps;
  std::map<std::string, std::vector<int64_t>> shapes;  // every value's shape
  // Values that name the same data (Identity, Dropout): alias -> source.
  std::map<std::string, std::string> aliases;
  std::string resolve(const std::string& v) const {
    auto it = aliases.find(v);
    return it == aliases.end() ? v : it->second;
  }
};

// training: the plan ravel::compile's training programs run (src/compile/): batch norm stays a
// step of its own (batch statistics; it fuses a following ReLU), a step absorbs at most one ReLU
// and no residual sum, a Gemm must be a Linear (transB = 1, alpha = beta = 1). Conv and Gemm
// steps keep the graph's weights unchanged (the trainer binds the module's live tensors by the
// nodes' initializer names), except the constant 1x1 convolution of a slice/pad shortcut.
Plan make_plan(const graph::Graph& g, const std::vector<std::vector<int64_t>>& input_shapes,
               bool training = false);

// "conv 64->64 3x3 s2 +bn +relu": the step without its backend's layout.
std::string describe_step(const Step& s, const Plan& p);

}  // namespace ravel::infer
