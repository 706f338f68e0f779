// ravel::compile — a module's training step as one compiled program (the idea of torch.compile
// and TensorFlow's graph mode, applied where it pays): the module is traced once, and each
// forward in training mode runs every convolution, batch norm, ReLU, residual add, pooling and
// the classifier as oneDNN primitives with activations kept in the kernels' blocked layout
// (nChw16c) from the first convolution to the classifier, batch norm + ReLU fused, all buffers in
// one arena planned at compile time; backward runs the matching backward primitives in reverse.
// Parameters, gradients and BN statistics stay the module's own tensors, so optimizers,
// checkpoints and the eager module work as before.
//
//   auto net = models::resnet20({.num_classes = 10, .in_channels = 1});
//   auto fast = ravel::compile(net, ravel::randn({128, 1, 28, 28}));
//   optim::SGD opt(fast->parameters(), {.lr = 0.05, .momentum = 0.9});
//   Tensor loss = F::cross_entropy((*fast)(images), labels);   // compiled forward
//   loss.backward();                                           // compiled backward
//   opt.step();
//   auto mixed = ravel::compile(net, example, {.dtype = DType::BFloat16});  // bf16 autocast
//
// BFloat16 is mixed precision as torch.autocast: convolutions, batch norm, ReLU, adds and pools
// run in bf16 on the CPU's avx512_bf16 (fp32 accumulation); the weights stay fp32 (master
// copies the optimizer updates) and are rounded to bf16 per step; batch-norm statistics,
// the classifier, the returned logits and all gradients are fp32. No loss scaling is needed.
//
// What is compiled: Conv (+ReLU), BatchNormalization (+ReLU), Relu, Add (+ReLU), MaxPool /
// AveragePool / GlobalAveragePool, Flatten + Gemm (a Linear, +ReLU), and the CIFAR ResNets'
// strided-slice + channel-pad shortcut. A model with any other op, an nn::Dropout with p > 0
// (the trace sees the eval forward), batch norm without running statistics, or no oneDNN build
// runs its ordinary eager forward in every mode; describe() says why, and compile() prints that
// reason once to stderr. Dropout called functionally inside a forward (F::dropout) is invisible
// to the trace: such a model must not be compiled.
// Eval mode and forwards with grad mode off also run the eager module. A new input shape
// (the last, smaller batch of an epoch) compiles once more; the last 8 shapes are kept.
#pragma once
#include <memory>
#include <string>

#include "ravel/nn/module.h"

namespace ravel {

struct CompileOptions {
  DType dtype = DType::Float32;  // Float32, or BFloat16 for mixed precision
};

namespace compiled {
class Trainer;  // internal: the per-shape programs
}

class CompiledModule : public nn::Module {
 public:
  CompiledModule(std::shared_ptr<nn::Module> module, const Tensor& example_input,
                 const CompileOptions& options);
  ~CompiledModule() override;

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "CompiledModule"; }

  // The wrapped module (its parameters are this module's parameters, under "module.").
  const std::shared_ptr<nn::Module>& module() const { return module_; }
  // False when the model has an op the compiled path does not cover (it then runs eagerly).
  bool is_compiled() const;
  // One line per compiled step of the latest shape ("conv 16->16 3x3 s1 [f32, nChw16c]
  // brgconv:avx512_core", "batchnorm 16 +relu", ...), or the reason it runs eagerly.
  std::string describe() const;

 private:
  std::shared_ptr<nn::Module> module_;
  std::shared_ptr<compiled::Trainer> trainer_;
};

// Traces module on example_input (eval mode, restored afterwards) and returns the compiled form.
std::shared_ptr<CompiledModule> compile(std::shared_ptr<nn::Module> module,
                                        const Tensor& example_input,
                                        const CompileOptions& options = {});

}  // namespace ravel
