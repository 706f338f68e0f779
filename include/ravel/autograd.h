// Reverse-mode automatic differentiation, define-by-run (PyTorch's model).
//
//   #include <ravel/ravel.h>
//   using namespace ravel;
//   Tensor w = randn({3, 2}).requires_grad_();
//   Tensor x = randn({4, 3});
//   Tensor loss = tanh(matmul(x, w)).sum();
//   loss.backward();                         // w.grad() now holds d loss / d w
//   { NoGradGuard g; w.sub_(w.grad() * 0.1f); }   // an SGD step, not recorded
//   // higher order: d/dx of (d/dx sum(x^3)) with create_graph
//   Tensor x2 = randn({5}).requires_grad_();
//   Tensor gx = grad({pow(x2, 3).sum()}, {x2}, {}, true)[0];   // 3x^2, differentiable
//   Tensor ggx = grad({gx.sum()}, {x2})[0];                      // 6x
//
// How an op takes part (the pattern every differentiable op in src/ops follows):
//
//   Tensor exp(const Tensor& a) {
//     Tensor out = <kernel>(a);
//     if (autograd::needs_grad(a))
//       autograd::record("exp", {a}, out, {out},   // inputs, output, tensors saved for backward
//                        [](const Tensor& g, const std::vector<Tensor>& saved) {
//                          return std::vector<Tensor>{g * saved[0]};  // one grad per input
//                        });
//     return out;
//   }
//
// Backward functions are written with ravel ops. They run with grad mode off, or on when the
// caller asked for create_graph (then they are recorded too, which gives higher-order
// gradients). Rules for a backward function:
//  - return one gradient per input (an undefined Tensor where an input needs none); it may have
//    the broadcast shape or another float dtype: the engine sums it to the input's shape and
//    casts it to the input's dtype;
//  - reach tensors only through `saved` (the engine checks they were not modified in place since
//    the forward); capture shapes, axes and other plain values by value. Capturing a Tensor in the
//    lambda instead can create a reference cycle (an output that owns its own node).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "ravel/tensor.h"

namespace ravel {

// ---------------------------------------------------------------- grad mode
namespace autograd::detail {
// constinit: a constant initialiser, so reading it needs no per-access initialisation check.
extern thread_local constinit bool grad_enabled;  // true by default in every thread
extern bool anomaly_enabled;
}  // namespace autograd::detail

inline bool is_grad_enabled() { return autograd::detail::grad_enabled; }
inline void set_grad_enabled(bool on) { autograd::detail::grad_enabled = on; }

// Ops run inside its scope record no graph (torch.no_grad()).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Turns recording back on inside a NoGradGuard (torch.enable_grad()).
class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(is_grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

// Anomaly mode (torch.autograd.detect_anomaly): every recorded op checks its outputs, and every
// backward step its gradients, for NaN/Inf and throws a ravel::Error naming the op. Slow; for
// debugging. Process-wide.
inline bool is_anomaly_enabled() { return autograd::detail::anomaly_enabled; }
void set_anomaly_enabled(bool on);
class AnomalyModeGuard {
 public:
  AnomalyModeGuard() : prev_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  ~AnomalyModeGuard() { set_anomaly_enabled(prev_); }
  AnomalyModeGuard(const AnomalyModeGuard&) = delete;
  AnomalyModeGuard& operator=(const AnomalyModeGuard&) = delete;

 private:
  bool prev_;
};

// ---------------------------------------------------------------- the graph
namespace autograd {

class Node;
using TensorHook = std::function<Tensor(const Tensor&)>;  // may return an undefined Tensor (keep)

// Where a gradient goes: input `input_nr` of `node`. A null node means "needs no gradient".
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
};

struct TensorMeta {
  Shape shape;
  DType dtype = DType::Float32;
};

// The autograd state of a tensor (TensorImpl::autograd). Leaves have no grad_fn.
struct AutogradMeta {
  bool requires_grad = false;
  bool retains_grad = false;
  uint32_t output_nr = 0;                // which output of grad_fn this tensor is
  std::shared_ptr<Node> grad_fn;         // the op that produced it; null for leaves
  std::weak_ptr<Node> grad_accumulator;  // leaves: the node that adds into `grad`
  Tensor grad;
  std::vector<std::pair<int, TensorHook>> hooks;  // leaves; a non-leaf's live on its grad_fn
};

// One backward step of the graph: gradients of its outputs in, gradients of its inputs out.
class Node : public std::enable_shared_from_this<Node> {
 public:
  explicit Node(const char* name);
  virtual ~Node();
  const char* name() const { return name_; }
  // grads: one per output, zeros where an output received none. Returns one per input.
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  // Frees what backward needed (saved tensors); called after backward unless retain_graph.
  virtual void release() {}
  virtual bool released() const { return false; }

  std::vector<Edge> next_edges;        // one per input
  std::vector<TensorMeta> input_meta;  // per input: gradients are summed/cast to this
  std::vector<TensorMeta> output_meta;
  // Hooks of the tensors this node produced, per output (Tensor::register_hook on a non-leaf).
  std::vector<std::vector<std::pair<int, TensorHook>>> output_hooks;
  uint64_t sequence_nr;

  // Engine bookkeeping during one backward pass.
  int pending_ = 0;
  std::vector<Tensor> buffer_;

 private:
  const char* name_;
};

// A tensor kept for backward. Checks, when unpacked, that it was not modified in place since it
// was saved. Never holds a strong reference to a tensor that has a grad_fn (that would make a
// cycle through an op's own output): it keeps an alias of the data and a weak link to the node,
// and rebuilds the tensor's history when unpacked with grad mode on (double backward).
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t);
  Tensor unpack(const char* op) const;

 private:
  Tensor data_;  // a leaf or untracked tensor itself, else an alias without autograd state
  uint64_t version_ = 0;
  std::weak_ptr<Node> grad_fn_;
  uint32_t output_nr_ = 0;
  bool has_grad_fn_ = false;
  bool requires_grad_ = false;
};

// ---------------------------------------------------------------- recording ops
inline bool requires_grad(const Tensor& t) {
  const AutogradMeta* m = t.defined() ? t.impl().autograd.get() : nullptr;
  return m && m->requires_grad;
}
// True when an op with these inputs must record a node: grad mode on and an input requires grad.
// Inputs first: on the common path nothing requires grad and the thread-local is never read.
template <typename... Ts>
[[gnu::always_inline]] inline bool needs_grad(const Ts&... inputs) {
  return (requires_grad(inputs) || ...) && is_grad_enabled();
}
inline bool needs_grad_any(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (requires_grad(t)) return true;
  return false;
}

using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads,
                                                     const std::vector<Tensor>& saved)>;
using SingleBackwardFn =
    std::function<std::vector<Tensor>(const Tensor& grad, const std::vector<Tensor>& saved)>;

// Makes `outputs` the results of a new node with `inputs`, saving `saved` for backward.
// Outputs are fresh tensors of a float dtype (non-float outputs are left untracked).
void record_multi(const char* name, const std::vector<Tensor>& inputs,
                  const std::vector<Tensor>& outputs, const std::vector<Tensor>& saved,
                  BackwardFn backward);
void record(const char* name, const std::vector<Tensor>& inputs, const Tensor& output,
            const std::vector<Tensor>& saved, SingleBackwardFn backward);

// In-place ops under autograd: `result` is the op computed out of place on a clone of `self`
// (so the clone, not self, is what the op saved). Copies result into self and gives self the
// result's history. Throws for a leaf that requires grad (as PyTorch).
Tensor& rebase_history(Tensor& self, const Tensor& result, const char* op);
// Throws the PyTorch-style error for an in-place op on a leaf that requires grad, when grad mode
// is on.
void check_inplace(const Tensor& self, const char* op);

// ---------------------------------------------------------------- running backward
// Accumulates d(sum_i roots[i] * grads[i]) into the .grad of the leaves that require grad.
// grads may be empty or hold undefined entries for 1-element roots (ones).
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads = {},
              bool retain_graph = false, bool create_graph = false);

}  // namespace autograd

// Gradients of outputs w.r.t. inputs (torch.autograd.grad); does not touch .grad.
// create_graph records the backward pass, so the results can be differentiated again;
// retain_graph defaults to create_graph. An input the outputs do not depend on gives an error
// unless allow_unused (then an undefined Tensor).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool create_graph = false,
                         std::optional<bool> retain_graph = std::nullopt,
                         bool allow_unused = false);

namespace autograd {

// ---------------------------------------------------------------- user-defined functions
// A differentiable function with a forward and backward supplied by the user
// (torch.autograd.Function):
//
//   struct Cube : autograd::Function {
//     std::vector<Tensor> forward(const std::vector<Tensor>& x) override {
//       save_for_backward({x[0]});
//       return {x[0] * x[0] * x[0]};
//     }
//     std::vector<Tensor> backward(const std::vector<Tensor>& g) override {
//       Tensor x = saved()[0];
//       return {g[0] * 3 * x * x};
//     }
//   };
//   Tensor y = autograd::apply<Cube>({x})[0];
//
// forward runs with grad mode off; backward gets one gradient per output and returns one per
// input (undefined where none). Member variables keep non-tensor state between the two.
class Function {
 public:
  virtual ~Function() = default;
  virtual std::vector<Tensor> forward(const std::vector<Tensor>& inputs) = 0;
  virtual std::vector<Tensor> backward(const std::vector<Tensor>& grad_outputs) = 0;
  virtual const char* name() const { return "Function"; }

  void save_for_backward(std::vector<Tensor> ts) { to_save_ = std::move(ts); }
  const std::vector<Tensor>& saved() const { return saved_; }

 private:
  friend std::vector<Tensor> apply_function(std::shared_ptr<Function>, const std::vector<Tensor>&);
  std::vector<Tensor> to_save_;
  std::vector<Tensor> saved_;  // unpacked during backward
};
std::vector<Tensor> apply_function(std::shared_ptr<Function> fn, const std::vector<Tensor>& inputs);
template <typename F, typename... Args>
std::vector<Tensor> apply(const std::vector<Tensor>& inputs, Args&&... args) {
  return apply_function(std::make_shared<F>(std::forward<Args>(args)...), inputs);
}

}  // namespace autograd
}  // namespace ravel
