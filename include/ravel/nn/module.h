// ravel::nn::Module — the base of every layer and model: parameters, buffers and submodules
// in registration order, train/eval mode, state_dict, hooks (PyTorch's nn.Module).
//
//   namespace F = ravel::nn::functional;
//   struct Net : nn::Module {
//     std::shared_ptr<nn::Linear> fc1, fc2;
//     Net() {
//       fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 128));
//       fc2 = register_module("fc2", std::make_shared<nn::Linear>(128, 10));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc2)(F::relu((*fc1)(x))); }
//   };
//   auto net = std::make_shared<Net>();
//   Tensor logits = (*net)(x);                  // forward with hooks
//   for (auto& [name, p] : net->named_parameters()) std::cout << name << " " << p.shape() << "\n";
//   nn::StateDict sd = net->state_dict();       // "fc1.weight", "fc1.bias", ...
//   net->load_state_dict(sd);                   // strict: errors name missing/unexpected keys
//
// Parameters are ordinary tensors that require grad. A module keeps its own handle (e.g. a
// `Tensor weight` member) and registers the same handle, so both see every change; operations
// that change a parameter's dtype or data update the shared tensor in place, never by swapping
// handles: to(dtype) with Tensor::set_data, load_state_dict by copying the values in.
#pragma once
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/tensor.h"

namespace ravel::nn {

// Ordered (name, tensor) pairs: parameters then buffers, depth first, as PyTorch.
using StateDict = std::vector<std::pair<std::string, Tensor>>;

struct LoadResult {
  std::vector<std::string> missing_keys;     // in the module, absent from the dict
  std::vector<std::string> unexpected_keys;  // in the dict, absent from the module
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  Module() = default;
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation; modules with other signatures (several inputs or outputs) add their own
  // forward overloads. The default throws "<type>: forward(Tensor) is not implemented".
  virtual Tensor forward(const Tensor& x);
  // forward with the forward pre-hooks and hooks.
  Tensor operator()(const Tensor& x);

  // "Linear", "Conv2d", ... (used by printing and errors)
  virtual std::string type_name() const { return "Module"; }
  // One line of settings, as PyTorch prints them: "in_features=784, out_features=128, bias=True".
  virtual std::string extra_repr() const { return ""; }
  std::string repr() const;  // the whole tree, as PyTorch prints a module

  // ---- traversal (registration order, depth first) ----
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // this module first (name ""), then every descendant ("layer1.0.conv1", ...)
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  int64_t num_parameters(bool trainable_only = false) const;  // element count

  // ---- mode and conversion ----
  virtual void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void to(DType dtype);                                // floating parameters and buffers, in place
  void zero_grad();                                    // sets every parameter's grad to undefined
  void apply(const std::function<void(Module&)>& fn);  // fn(child) for all, then fn(*this)

  // ---- state ----
  StateDict state_dict() const;  // parameters and buffers, detached, sharing data
  // Copies values in (no handle swaps). strict: missing or unexpected keys throw ravel::Error
  // listing them; a shape mismatch always throws, naming the key and both shapes.
  LoadResult load_state_dict(const StateDict& dict, bool strict = true);

  // ---- hooks ----
  using ForwardPreHook = std::function<Tensor(Module&, const Tensor& input)>;  // undefined: keep
  using ForwardHook =
      std::function<Tensor(Module&, const Tensor& input, const Tensor& output)>;  // same
  int register_forward_pre_hook(ForwardPreHook hook);
  int register_forward_hook(ForwardHook hook);
  void remove_hook(int id);

  // Registration (public so containers and user code can build modules from outside too).
  // Names must be unique within a module and may not contain '.'.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor t);  // saved, not trained
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    register_module_impl(name, m);
    return m;
  }
  // Removes a child (Keras' Sequential.pop); returns it. An unknown name throws.
  std::shared_ptr<Module> unregister_module(const std::string& name);
  // Finds a registered parameter/buffer/child by its own (not dotted) name; undefined/null if none.
  Tensor parameter(const std::string& name) const;
  Tensor buffer(const std::string& name) const;
  std::shared_ptr<Module> child(const std::string& name) const;

 protected:
  bool training_ = true;

 private:
  void register_module_impl(const std::string& name, std::shared_ptr<Module> m);
  void check_new_name(const std::string& name, const char* what) const;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<std::pair<int, ForwardPreHook>> pre_hooks_;
  std::vector<std::pair<int, ForwardHook>> hooks_;
  int next_hook_id_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Module& m);  // m.repr()

// Python's spelling of values, for extra_repr() (so repr() reads as PyTorch's):
// repr_float(1e-5) == "1e-05", repr_float(2) == "2.0", repr_bool(true) == "True",
// repr_tuple({3, 3}) == "(3, 3)", repr_tuple({10}) == "(10,)".
std::string repr_float(double v);
std::string repr_bool(bool v);
std::string repr_tuple(const std::vector<int64_t>& v);

}  // namespace ravel::nn
