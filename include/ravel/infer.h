// ravel::infer — freeze a trained model for fast inference: batch norm folded into the
// convolutions, weights packed once in the kernels' layout, activations kept in oneDNN's blocked
// layout from the first convolution to the classifier, ReLU and residual adds fused into the
// convolutions, no autograd. float32 or bfloat16 (the CPU's avx512_bf16; weights and
// activations in bf16, accumulation in fp32).
//
//   auto net = models::resnet18();            // trained, or loaded
//   auto frozen = infer::freeze(*net, ravel::randn({1, 3, 224, 224}));
//   Tensor logits = frozen->run(images);      // float32 [N, 1000], any batch size
//   auto fast = infer::freeze(*net, example, {.dtype = DType::BFloat16});
//
//   auto from_onnx = infer::FrozenModel::create(onnx::load("resnet50.onnx"));
//
// The frozen model is a snapshot: later changes to the module's weights are not seen.
// Nodes the fast path does not cover run with ravel's ordinary ops, so every Graph that
// graph::GraphModule runs also runs here.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ravel/graph.h"

namespace ravel::infer {

struct FreezeOptions {
  DType dtype = DType::Float32;  // Float32 or BFloat16
};

class FrozenModel {
 public:
  static std::shared_ptr<FrozenModel> create(const graph::Graph& g, const FreezeOptions& o = {});
  virtual ~FrozenModel() = default;

  // Inputs and outputs are float32 NCHW (or whatever the graph declares), outputs contiguous.
  virtual std::vector<Tensor> run(const std::vector<Tensor>& inputs) = 0;
  Tensor run(const Tensor& x) { return run(std::vector<Tensor>{x}).at(0); }
  // One line per compiled step ("conv 64->64 3x3 s1 +bn +add +relu [bf16, nChw16c]"), for tests
  // and for seeing what was fused.
  virtual std::string describe() const = 0;
};

// trace (ravel/graph.h) + create.
std::shared_ptr<FrozenModel> freeze(nn::Module& module, const Tensor& example_input,
                                    const FreezeOptions& options = {});

}  // namespace ravel::infer
