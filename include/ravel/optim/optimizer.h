// Optimizers update parameters from their gradients (torch.optim), with PyTorch's update rules
// and defaults.
//
//   optim::Adam opt(model->parameters(), {.lr = 1e-3, .weight_decay = 1e-4});
//   for (auto& [x, y] : batches) {
//     opt.zero_grad();
//     Tensor loss = F::cross_entropy((*model)(x), y);
//     loss.backward();
//     opt.step();
//   }
//   // Parameter groups: each group has its own copy of the options.
//   optim::SGD sgd(body->parameters(), {.lr = 0.1, .momentum = 0.9});
//   optim::SGDOptions head = sgd.defaults();
//   head.lr = 0.01;
//   sgd.add_param_group(classifier->parameters(), head);
//   // Resume exactly: the state (momentum buffers, moments, step counts) and every group's
//   // hyper-parameters as (name, tensor) pairs: "state.3.exp_avg", "param_groups.0.lr", ...
//   optim::StateDict sd = opt.state_dict();
//   opt.load_state_dict(sd);
//
// Parameters are updated in place (their data changes, their handles stay), without recording a
// graph. Parameters with no gradient are skipped, as PyTorch does. float32 and float64 parameters
// are updated by one fused loop per parameter; other float dtypes (float16, bfloat16) are updated
// through a float32 copy and keep float32 state.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::optim {

// (name, tensor) pairs, the same shape as nn::StateDict, so one file format holds both.
// Scalars (hyper-parameters, step counts) are 0-d float64 tensors; "param_groups.<g>.params" is
// an int64 vector of the group's parameter indices (counting across groups, in order).
using StateDict = std::vector<std::pair<std::string, Tensor>>;

// What an optimizer keeps per parameter: its step count and its buffers, named by the
// optimizer's state_names() ("momentum_buffer", "exp_avg", ...). A buffer is undefined until the
// optimizer first needs it.
struct ParamState {
  int64_t step = 0;
  std::vector<Tensor> buffers;
};

class Optimizer {
 public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual const char* name() const = 0;  // "SGD", "Adam", ...
  // One update of every parameter that has a gradient.
  virtual void step() = 0;
  // Evaluates closure() (with grad mode on; it usually zeroes grads, computes the loss and calls
  // backward), then steps. Returns the closure's loss.
  Tensor step(const std::function<Tensor()>& closure);
  // Clears gradients: undefined (set_to_none) or zero-filled.
  void zero_grad(bool set_to_none = true);

  // ---- parameter groups ----
  size_t num_param_groups() const { return groups_.size(); }
  const std::vector<Tensor>& params(size_t group) const;
  std::vector<Tensor> all_params() const;  // every group's, in order

  // Hyper-parameters by name, the same for every optimizer that has them: "lr",
  // "weight_decay", "momentum", "beta1", "beta2", "eps", ... (bool options read as 0 or 1).
  // Schedulers use these.
  std::vector<std::string> option_names() const;
  bool has_option(std::string_view name) const;
  double option(size_t group, std::string_view name) const;
  void set_option(size_t group, std::string_view name, double value);
  double lr(size_t group = 0) const { return option(group, "lr"); }
  void set_lr(size_t group, double lr) { set_option(group, "lr", lr); }
  void set_lr(double lr);  // every group
  // The lr a scheduler started from (PyTorch's group['initial_lr']): set by the first scheduler
  // attached to this optimizer, kept in the state dict.
  std::optional<double> initial_lr(size_t group) const;
  void set_initial_lr(size_t group, double lr);

  // ---- state ----
  // Names of the per-parameter buffers, in ParamState::buffers order.
  virtual std::vector<std::string> state_names() const = 0;
  const ParamState& state(size_t param_index) const;  // index across groups
  // A copy of the state (buffers are cloned: stepping on does not change a saved dict).
  StateDict state_dict() const;
  // Loads a dict from state_dict() of the same optimizer type with the same group layout (group
  // count, parameters per group, shapes). Copies values; unknown or malformed keys throw.
  void load_state_dict(const StateDict& dict);

 protected:
  Optimizer() = default;
  // Checks and appends a group's parameters; its options are stored by the subclass.
  void add_params(std::vector<Tensor> params);

  // Calls fn(group, param, grad, state) for each parameter that has a gradient, with grad mode
  // off. grad is contiguous and has the work dtype (see work_dtype).
  void for_each_param(const std::function<void(size_t group, const Tensor& param,
                                               const Tensor& grad, ParamState& state)>& fn);
  // dtype of state buffers and of the update arithmetic for a parameter of dtype `dt`.
  static DType work_dtype(DType dt);
  // A zero (or `fill`) buffer for param p, in its work dtype.
  static Tensor new_buffer(const Tensor& p, double fill = 0.0);

  // Option reflection, implemented by OptimizerWith<Options>.
  virtual bool get_option(size_t group, std::string_view name, double* out) const = 0;
  virtual bool put_option(size_t group, std::string_view name, double value) = 0;
  virtual void option_names_into(std::vector<std::string>& out) const = 0;

 private:
  std::vector<std::vector<Tensor>> groups_;
  std::vector<std::optional<double>> initial_lrs_;  // per group
  std::vector<ParamState> state_;                   // per parameter, across groups
};

// The typed half of every optimizer: groups of parameters, each with an Options struct.
// Options is an aggregate with PyTorch's defaults that lists its fields for reflection:
//   template <typename F> void fields(F&& f) { f("lr", lr); f("momentum", momentum); ... }
// (fields are double or bool) and checks them: void check(const char* optimizer) const.
template <typename Options>
class OptimizerWith : public Optimizer {
 public:
  const Options& defaults() const { return defaults_; }
  Options& options(size_t group) { return options_.at(group); }
  const Options& options(size_t group) const { return options_.at(group); }

  // A group's options are a complete Options: fields left out take the struct's defaults, not
  // this optimizer's (start from defaults() to change one field).
  void add_param_group(std::vector<Tensor> params, std::optional<Options> options = std::nullopt) {
    Options o = options ? *options : defaults_;
    o.check(name());
    add_params(std::move(params));
    options_.push_back(o);
  }

 protected:
  // The defaults are checked by the first add_param_group, under the optimizer's name.
  explicit OptimizerWith(const Options& defaults) : defaults_(defaults) {}

  bool get_option(size_t group, std::string_view name, double* out) const override {
    bool found = false;
    const_cast<Options&>(options_.at(group)).fields([&](std::string_view n, auto& v) {
      if (n == name) *out = static_cast<double>(v), found = true;
    });
    return found;
  }
  bool put_option(size_t group, std::string_view name, double value) override {
    bool found = false;
    options_.at(group).fields([&](std::string_view n, auto& v) {
      if (n != name) return;
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(v)>, bool>)
        v = value != 0.0;
      else
        v = value;
      found = true;
    });
    return found;
  }
  void option_names_into(std::vector<std::string>& out) const override {
    const_cast<Options&>(defaults_).fields([&](std::string_view n, auto&) { out.emplace_back(n); });
  }

 private:
  Options defaults_;
  std::vector<Options> options_;  // per group
};

}  // namespace ravel::optim
