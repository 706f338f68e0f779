// ravel::graph — a model as a list of ONNX operators: what ravel exports to ONNX, imports from
// it, runs as a trainable module, and freezes for fast inference (ravel/infer.h).
//
//   auto net = models::resnet18();
//   graph::Graph g = graph::trace(*net, {ravel::randn({1, 3, 224, 224})});  // eval mode
//   onnx::save(g, "resnet18.onnx");                                         // ravel/onnx.h
//
//   auto m = std::make_shared<graph::GraphModule>(onnx::load("resnet18.onnx"));
//   Tensor logits = (*m)(x);          // eager ravel ops: trainable, fine-tunable, an nn::Module
//   graph::Graph tuned = m->to_graph();   // the current weights, ready to export again
//
// Operators are ONNX's (names, inputs, attributes and semantics of opset 13): a Graph is the
// in-memory form of an ONNX GraphProto, so exporting and importing are plain translations.
// Supported operators (trace, GraphModule, infer_shapes): Conv, Gemm, MatMul,
// BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, LogSoftmax, MaxPool, AveragePool,
// GlobalAveragePool, Add, Sub, Mul, Div, Flatten, Reshape, Concat, Transpose, Constant, Identity,
// Clip, Slice, Pad, Dropout (inference: identity). Anything else is an Error naming the node and
// its operator.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "ravel/nn/module.h"
#include "ravel/tensor.h"

namespace ravel::graph {

// An attribute value, as ONNX has them (INT, FLOAT, STRING, INTS, FLOATS, TENSOR).
using Attribute =
    std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>, Tensor>;

struct Node {
  std::string op;                    // ONNX op type: "Conv", "Gemm", "Relu", ...
  std::string name;                  // unique in the graph ("Conv_3"); errors name it
  std::vector<std::string> inputs;   // value names; "" marks an optional input left out
  std::vector<std::string> outputs;  // value names
  std::map<std::string, Attribute> attrs;

  bool has(const std::string& attr) const { return attrs.count(attr) != 0; }
  // Typed access; a missing attribute gives `fallback`, a wrong kind an Error naming the node.
  int64_t attr_int(const std::string& attr, int64_t fallback) const;
  float attr_float(const std::string& attr, float fallback) const;
  std::string attr_string(const std::string& attr, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& attr,
                                 const std::vector<int64_t>& fallback = {}) const;
  Tensor attr_tensor(const std::string& attr) const;  // Error when missing
};

// A graph input or output: name, element type and shape; -1 marks a dynamic dimension (the batch).
struct ValueInfo {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
};

// A named constant: a weight, a BN statistic, a reshape target.
struct Initializer {
  std::string name;
  Tensor value;
};

struct Graph {
  std::string name = "ravel";
  std::vector<ValueInfo> inputs, outputs;
  std::vector<Node> nodes;                // in execution (topological) order
  std::vector<Initializer> initializers;  // in a stable order (a module's state_dict order)
  int64_t opset = 13;

  const Initializer* find_initializer(const std::string& name) const;  // null when absent
  // Structural checks: unique value and node names, every input produced before it is used (by
  // an earlier node, a graph input or an initializer), every graph output produced, every op
  // supported. Throws an Error naming the first offending node.
  void check() const;
};

// Shapes of every value for the given input shapes (the graph's declared ones when empty, with
// dynamic dimensions taken as 1): per-operator rules, not a run. An inconsistent graph (a Conv
// weight whose channels do not match its input, a Gemm of mismatched sizes, a Reshape to the
// wrong element count, ...) throws an Error naming the node, its op and the shapes.
std::map<std::string, std::vector<int64_t>> infer_shapes(
    const Graph& g, const std::vector<std::vector<int64_t>>& input_shapes = {});

// ---- tracing: a module's forward pass as a Graph ---------------------------------------------
struct TraceOptions {
  std::vector<std::string> input_names = {};   // default "input" (one) or "input_0", "input_1", ...
  std::vector<std::string> output_names = {};  // default "output" (one) or "output_0", ...
  bool dynamic_batch = true;  // dimension 0 of every input and output is -1 in the Graph
  // Runs the traced Graph (through GraphModule) on fresh random inputs with a different batch
  // size and compares with the module: catches an op that was not recorded (its result would
  // have been frozen into a constant) and shapes fixed to the example's batch.
  bool verify = true;
};

// Records the ops of one forward pass in eval mode (the module's train/eval mode is restored
// after). Parameters and buffers the pass reads become initializers named as in the module's
// state_dict (in its order; unread ones, like BN's num_batches_tracked, are left out); other
// tensors it reads become constants ("const_0", ...). What exports: conv,
// linear (2-D input), matmul, batch_norm (eval), relu, leaky_relu, sigmoid, tanh, hardtanh/relu6,
// clip, softmax, log_softmax, max/avg pools, adaptive pools to a divisor (1: GlobalAveragePool),
// mean over the spatial axes, + - * / (tensor or scalar), neg, reshape/view/flatten/squeeze,
// permute/transpose, slices (Tensor::slice, index with Slice entries), pad, concatenate, dropout
// in eval (no node). Another op on traced data throws an Error naming it ("trace: op 'cumsum'
// has no ONNX form; supported operators: ...").
Graph trace(nn::Module& module, const std::vector<Tensor>& example_inputs,
            const TraceOptions& options = {});
// The same for any function of tensors (several inputs and outputs, Keras functional models):
// `named_tensors` are the weights the function reads, named as they should appear.
Graph trace(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
            const std::vector<std::pair<std::string, Tensor>>& named_tensors,
            const std::vector<Tensor>& example_inputs, const TraceOptions& options = {});

// ---- running a Graph with ravel's eager ops ---------------------------------------------------
// An nn::Module that executes the Graph node by node with ravel's differentiable ops. Weights
// (Conv W/B, Gemm B/C, MatMul's constant operand, BatchNormalization scale/B) become parameters
// (trainable); BN mean/var become buffers, updated in training mode with ONNX's momentum; other
// initializers are non-trainable buffers. Names follow the initializer names: a dotted name
// ("layer1.0.conv1.weight") becomes nested submodules, so state_dict() keys equal the ONNX
// initializer names (torchvision's, for a torchvision export); characters not allowed in a
// module name are replaced by '_'.
// The constructor runs Graph::check and infer_shapes, so an unsupported or inconsistent graph
// fails there, naming the node.
class GraphModule : public nn::Module {
 public:
  explicit GraphModule(Graph g);
  Tensor forward(const Tensor& x) override;                    // one input, one output
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);  // in graph input order
  std::string type_name() const override { return "GraphModule"; }

  const Graph& graph() const { return graph_; }
  // The Graph with the module's current weights and statistics as initializers.
  Graph to_graph() const;

 private:
  struct Impl;
  Graph graph_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace ravel::graph
