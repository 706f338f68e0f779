// Internal: ravel::compile's training step for one input shape, as a backend runs it. The
// backend (backend/cpu/onednn/training.cpp) turns a training plan (infer/plan.h, training = true)
// into forward and backward kernels over the module's live tensors.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "infer/plan.h"

namespace ravel::compiled {

class TrainProgram {
 public:
  virtual ~TrainProgram() = default;

  // What one forward keeps for its backward (its activations); released with the autograd node.
  struct Saved {
    virtual ~Saved() = default;
  };

  // The module's tensors whose gradients backward returns, in that order.
  virtual const std::vector<Tensor>& parameters() const = 0;
  // Training-mode forward of a contiguous float32 input: batch statistics; the module's running
  // statistics are updated as its eager forward would. Returns the graph's output (float32,
  // contiguous) and sets `saved`.
  virtual Tensor forward(const Tensor& x, std::shared_ptr<Saved>& saved) = 0;
  // d(loss)/d(parameters()) from d(loss)/d(output); the saved activations are left intact, so
  // backward may run again (retain_graph).
  virtual std::vector<Tensor> backward(const Tensor& grad_output, Saved& saved) = 0;
  virtual std::string describe() const = 0;
};

// The oneDNN program for plan (made with training = true) over module_tensors (the module's
// parameters and buffers by state_dict name: the graph's initializer names). dtype: Float32 or
// BFloat16 (mixed precision). Throws ravel::Error naming the node when a step cannot be trained
// this way.
std::unique_ptr<TrainProgram> make_onednn_train_program(
    const infer::Plan& plan, const graph::Graph& g,
    const std::map<std::string, Tensor>& module_tensors, DType dtype);

}  // namespace ravel::compiled
