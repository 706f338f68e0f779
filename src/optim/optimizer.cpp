// The Optimizer base: parameter groups, option reflection, per-parameter state and its
// (name, tensor) serialisation.
#include "ravel/optim/optimizer.h"

#include <algorithm>
#include <charconv>
#include <tuple>
#include <unordered_set>

#include "ravel/autograd.h"
#include "ravel/ops.h"

namespace ravel::optim {

Optimizer::~Optimizer() = default;

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  Tensor loss;
  {
    EnableGradGuard eg;
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard ng;
  for (const auto& group : groups_)
    for (const Tensor& p : group) {
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        Tensor g = p.grad();
        if (g.defined()) g.zero_();
      }
    }
}

const std::vector<Tensor>& Optimizer::params(size_t group) const {
  RAVEL_CHECK(group < groups_.size(), name(), ": parameter group ", group, " out of range (",
              groups_.size(), " groups)");
  return groups_[group];
}

std::vector<Tensor> Optimizer::all_params() const {
  std::vector<Tensor> out;
  for (const auto& group : groups_) out.insert(out.end(), group.begin(), group.end());
  return out;
}

std::vector<std::string> Optimizer::option_names() const {
  std::vector<std::string> out;
  option_names_into(out);
  return out;
}

bool Optimizer::has_option(std::string_view opt) const {
  auto names = option_names();
  return std::find(names.begin(), names.end(), opt) != names.end();
}

double Optimizer::option(size_t group, std::string_view opt) const {
  params(group);  // range check
  double v = 0;
  RAVEL_CHECK(get_option(group, opt, &v), name(), ": no option '", opt, "'");
  return v;
}

void Optimizer::set_option(size_t group, std::string_view opt, double value) {
  params(group);
  RAVEL_CHECK(put_option(group, opt, value), name(), ": no option '", opt, "'");
}

void Optimizer::set_lr(double lr) {
  for (size_t g = 0; g < groups_.size(); ++g) set_lr(g, lr);
}

std::optional<double> Optimizer::initial_lr(size_t group) const {
  params(group);
  return initial_lrs_[group];
}

void Optimizer::set_initial_lr(size_t group, double lr) {
  params(group);
  initial_lrs_[group] = lr;
}

const ParamState& Optimizer::state(size_t param_index) const {
  RAVEL_CHECK(param_index < state_.size(), name(), ": parameter index ", param_index,
              " out of range (", state_.size(), " parameters)");
  return state_[param_index];
}

void Optimizer::add_params(std::vector<Tensor> params) {
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& group : groups_)
    for (const Tensor& p : group) seen.insert(p.impl_ptr().get());
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    RAVEL_CHECK(p.defined(), name(), ": parameter ", i, " of the new group is undefined");
    RAVEL_CHECK(is_floating(p.dtype()), name(), ": can only optimize float tensors, parameter ", i,
                " has dtype ", p.dtype());
    RAVEL_CHECK(p.is_leaf(), name(), ": can't optimize a non-leaf tensor (parameter ", i,
                ", shape ", p.shape(), ")");
    RAVEL_CHECK(seen.insert(p.impl_ptr().get()).second, name(), ": parameter ", i, " (shape ",
                p.shape(), ") appears in more than one parameter group");
  }
  state_.resize(state_.size() + params.size());
  groups_.push_back(std::move(params));
  initial_lrs_.emplace_back();
}

DType Optimizer::work_dtype(DType dt) {
  return dt == DType::Float64 ? DType::Float64 : DType::Float32;
}

Tensor Optimizer::new_buffer(const Tensor& p, double fill) {
  return full(p.shape(), fill, work_dtype(p.dtype()));
}

void Optimizer::for_each_param(
    const std::function<void(size_t, const Tensor&, const Tensor&, ParamState&)>& fn) {
  NoGradGuard ng;
  const size_t nbuf = state_names().size();
  size_t index = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (const Tensor& p : groups_[g]) {
      ParamState& st = state_[index++];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      RAVEL_CHECK(grad.shape() == p.shape(), name(), ": gradient of shape ", grad.shape(),
                  " for a parameter of shape ", p.shape());
      const DType wd = work_dtype(p.dtype());
      if (grad.dtype() != wd) grad = grad.to(wd);
      grad = grad.contiguous();
      st.buffers.resize(nbuf);
      fn(g, p, grad, st);
    }
  }
}

// ---------------------------------------------------------------- serialisation
namespace {

Tensor scalar64(double v) { return scalar_tensor(v, DType::Float64); }

double scalar_value(const Tensor& t, const std::string& key, const char* opt) {
  RAVEL_CHECK(t.defined() && t.numel() == 1, opt, ": load_state_dict: '", key,
              "' must hold one value, got shape ", t.defined() ? t.shape() : Shape{});
  return t.item_scalar().to_double();
}

// Parses "<prefix><int>.<rest>"; false if the key does not have that form.
bool split_key(const std::string& key, std::string_view prefix, size_t* index, std::string* rest) {
  if (key.compare(0, prefix.size(), prefix) != 0) return false;
  const char* b = key.data() + prefix.size();
  const char* e = key.data() + key.size();
  auto [ptr, ec] = std::from_chars(b, e, *index);
  if (ec != std::errc() || ptr == b || ptr == e || *ptr != '.') return false;
  *rest = std::string(ptr + 1, e);
  return !rest->empty();
}

}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict out;
  const auto names = state_names();
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& st = state_[i];
    bool any = st.step > 0;
    for (const Tensor& b : st.buffers) any = any || b.defined();
    if (!any) continue;
    const std::string prefix = "state." + std::to_string(i) + ".";
    out.emplace_back(prefix + "step", scalar64(static_cast<double>(st.step)));
    for (size_t k = 0; k < st.buffers.size(); ++k)
      if (st.buffers[k].defined()) out.emplace_back(prefix + names[k], st.buffers[k].clone());
  }
  const auto opts = option_names();
  int64_t first = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "param_groups." + std::to_string(g) + ".";
    const auto n = static_cast<int64_t>(groups_[g].size());
    out.emplace_back(prefix + "params", arange(first, first + n));
    first += n;
    for (const auto& o : opts) out.emplace_back(prefix + o, scalar64(option(g, o)));
    if (initial_lrs_[g]) out.emplace_back(prefix + "initial_lr", scalar64(*initial_lrs_[g]));
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& dict) {
  const char* opt = name();
  const auto names = state_names();
  const auto opts = option_names();
  const std::vector<Tensor> flat = all_params();
  // Check the group layout first, so a mismatched dict changes nothing.
  std::vector<bool> group_seen(groups_.size(), false);
  for (const auto& [key, t] : dict) {
    size_t g;
    std::string rest;
    if (!split_key(key, "param_groups.", &g, &rest) || rest != "params") continue;
    RAVEL_CHECK(g < groups_.size(), opt, ": load_state_dict: '", key, "' but the optimizer has ",
                groups_.size(), " parameter groups");
    RAVEL_CHECK(
        t.defined() && t.ndim() == 1 && t.numel() == static_cast<int64_t>(groups_[g].size()), opt,
        ": load_state_dict: parameter group ", g, " has ", groups_[g].size(),
        " parameters, the dict's has ", t.defined() ? t.numel() : 0);
    group_seen[g] = true;
  }
  for (size_t g = 0; g < groups_.size(); ++g)
    RAVEL_CHECK(group_seen[g], opt, ": load_state_dict: 'param_groups.", g,
                ".params' is missing (the optimizer has ", groups_.size(), " groups)");

  std::vector<ParamState> state(state_.size());
  for (auto& st : state) st.buffers.resize(names.size());
  // Applied only once every key has been checked.
  std::vector<std::tuple<size_t, std::string, double>> option_values;
  std::vector<std::pair<size_t, double>> initial_lrs;
  for (const auto& [key, t] : dict) {
    size_t i;
    std::string rest;
    if (split_key(key, "state.", &i, &rest)) {
      RAVEL_CHECK(i < flat.size(), opt, ": load_state_dict: '", key, "' but the optimizer has ",
                  flat.size(), " parameters");
      if (rest == "step") {
        state[i].step = static_cast<int64_t>(scalar_value(t, key, opt));
        continue;
      }
      auto it = std::find(names.begin(), names.end(), rest);
      RAVEL_CHECK(it != names.end(), opt, ": load_state_dict: unknown state '", key, "'");
      RAVEL_CHECK(t.defined() && t.shape() == flat[i].shape(), opt, ": load_state_dict: '", key,
                  "' has shape ", t.defined() ? t.shape() : Shape{}, ", parameter ", i,
                  " has shape ", flat[i].shape());
      state[i].buffers[it - names.begin()] = t.to(work_dtype(flat[i].dtype()), true).contiguous();
    } else if (split_key(key, "param_groups.", &i, &rest)) {
      if (rest == "params") continue;
      RAVEL_CHECK(i < groups_.size(), opt, ": load_state_dict: '", key, "' but the optimizer has ",
                  groups_.size(), " parameter groups");
      const double v = scalar_value(t, key, opt);
      if (rest == "initial_lr") {
        initial_lrs.emplace_back(i, v);
      } else {
        RAVEL_CHECK(std::find(opts.begin(), opts.end(), rest) != opts.end(), opt,
                    ": load_state_dict: unknown option in '", key, "'");
        option_values.emplace_back(i, rest, v);
      }
    } else {
      detail::throw_error(opt, ": load_state_dict: unexpected key '", key, "'");
    }
  }
  state_ = std::move(state);
  for (auto& [g, o, v] : option_values) put_option(g, o, v);
  for (size_t g = 0; g < groups_.size(); ++g) initial_lrs_[g].reset();
  for (auto& [g, v] : initial_lrs) initial_lrs_[g] = v;
}

}  // namespace ravel::optim
