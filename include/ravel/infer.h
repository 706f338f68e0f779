// ravel::infer — freeze a trained model for fast inference: batch norm folded into the
// convolutions, weights packed once in the kernels' layout, activations kept in the layout the
// convolutions choose (nhwc or nChw16c blocks) from the first convolution to the classifier, ReLU
// and residual adds fused into the convolutions, no autograd. float32 or bfloat16 (the CPU's
// avx512_bf16; weights and activations in bf16, accumulation in fp32).
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
//
// The first run for a set of input shapes (and thread count, ravel::set_num_threads) compiles
// the graph for them: kernels chosen, weights packed, every activation buffer laid out in one
// arena; later runs with those shapes only execute. The last 8 shapes stay compiled. Runs of one
// FrozenModel are serialised (it owns its buffers); use one per thread to run concurrently.
// Without oneDNN (RAVEL_ONEDNN=OFF) a FrozenModel runs the graph on ravel's ops, float32 only.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ravel/graph.h"

namespace ravel::infer {

struct FreezeOptions {
  DType dtype = DType::Float32;  // Float32 or BFloat16
  // Float32 3x3 stride-1 convolutions by Winograd's algorithm where oneDNN has it: 2.25x fewer
  // multiplies, rounding error still well under 1e-4 relative. Off: the direct algorithm only.
  bool winograd = true;
};

class FrozenModel {
 public:
  static std::shared_ptr<FrozenModel> create(const graph::Graph& g, const FreezeOptions& o = {});
  virtual ~FrozenModel() = default;

  // Inputs and outputs are float32 NCHW (or whatever the graph declares), outputs contiguous.
  virtual std::vector<Tensor> run(const std::vector<Tensor>& inputs) = 0;
  Tensor run(const Tensor& x) { return run(std::vector<Tensor>{x}).at(0); }
  // One line per compiled step of the most recent run's shapes ("conv 64->64 3x3 s1 +bn +add
  // +relu [bf16, nhwc] brgconv:avx512_core_bf16": fused ops, activation dtype and layout, the
  // oneDNN kernel), reorders and fallback runs included, for tests and for seeing what was
  // fused. Empty before the first run.
  virtual std::string describe() const = 0;
};

// trace (ravel/graph.h) + create.
std::shared_ptr<FrozenModel> freeze(nn::Module& module, const Tensor& example_input,
                                    const FreezeOptions& options = {});

}  // namespace ravel::infer
