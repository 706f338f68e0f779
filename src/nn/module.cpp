// nn::Module: registration, traversal, mode, conversion, state_dict and hooks (PyTorch's
// nn.Module semantics: registration order, depth first, shared parameters listed once).
#include "ravel/nn/module.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ostream>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace ravel::nn {

Module::~Module() = default;

Tensor Module::forward(const Tensor&) {
  detail::throw_error(type_name(), ": forward(Tensor) is not implemented");
}

Tensor Module::operator()(const Tensor& x) {
  if (pre_hooks_.empty() && hooks_.empty()) return forward(x);
  Tensor input = x;
  // Copies: a hook may remove itself (or others) while it runs.
  auto pre = pre_hooks_;
  for (auto& [id, hook] : pre) {
    Tensor r = hook(*this, input);
    if (r.defined()) input = r;
  }
  Tensor out = forward(input);
  auto post = hooks_;
  for (auto& [id, hook] : post) {
    Tensor r = hook(*this, input, out);
    if (r.defined()) out = r;
  }
  return out;
}

// ---------------------------------------------------------------- printing
namespace {
// Indents every line after the first by two spaces (PyTorch's _addindent).
std::string add_indent(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\n') out += "  ";
  }
  return out;
}
}  // namespace

std::string Module::repr() const {
  std::vector<std::string> lines;
  std::string extra = extra_repr();
  if (!extra.empty()) {
    std::istringstream is(extra);
    for (std::string line; std::getline(is, line);) lines.push_back(line);
  }
  for (const auto& [name, m] : children_)
    lines.push_back("(" + name + "): " + add_indent(m->repr()));
  std::string s = type_name() + "(";
  if (!lines.empty()) {
    if (lines.size() == 1 && children_.empty()) {
      s += lines[0];
    } else {
      s += "\n";
      for (const auto& l : lines) s += "  " + l + "\n";
    }
  }
  return s + ")";
}

std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

std::string repr_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Python's repr: the shortest digits that round-trip, in fixed notation for exponents in
  // [-4, 16), else scientific with at least two exponent digits.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // "d.ddde+XX"
  size_t e = sci.find('e');
  int exp = std::stoi(sci.substr(e + 1));
  std::string digits = sci.substr(0, e);
  bool neg = digits[0] == '-';
  if (neg) digits.erase(0, 1);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  std::string out;
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else {
      size_t int_len = static_cast<size_t>(exp) + 1;
      if (digits.size() <= int_len)
        out = digits + std::string(int_len - digits.size(), '0') + ".0";
      else
        out = digits.substr(0, int_len) + "." + digits.substr(int_len);
    }
  } else {
    out = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "") + "e" +
          (exp < 0 ? "-" : "+") + (std::abs(exp) < 10 ? "0" : "") + std::to_string(std::abs(exp));
  }
  return neg ? "-" + out : out;
}

std::string repr_bool(bool v) { return v ? "True" : "False"; }

std::string repr_tuple(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + (v.size() == 1 ? ",)" : ")");
}

// ---------------------------------------------------------------- traversal
namespace {
using Named = std::vector<std::pair<std::string, Tensor>>;
std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace

// Collects named tensors of one kind (parameters or buffers) depth first, each tensor once.
template <typename Get>
static void collect(const Module& m, const std::string& prefix, bool recurse, Get get, Named& out,
                    std::unordered_set<const TensorImpl*>& seen) {
  for (const auto& [name, t] : get(m)) {
    if (!t.defined() || !seen.insert(t.impl_ptr().get()).second) continue;
    out.emplace_back(join(prefix, name), t);
  }
  if (!recurse) return;
  for (const auto& [name, child] : m.named_children())
    collect(*child, join(prefix, name), true, get, out, seen);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  Named out;
  std::unordered_set<const TensorImpl*> seen;
  collect(
      *this, "", recurse, [](const Module& m) -> const Named& { return m.params_; }, out, seen);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  Named out;
  std::unordered_set<const TensorImpl*> seen;
  collect(
      *this, "", recurse, [](const Module& m) -> const Named& { return m.buffers_; }, out, seen);
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [name, m] : children_) out.push_back(m);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  // A module that is not owned by a shared_ptr (one on the stack) is listed through a
  // non-owning handle.
  std::shared_ptr<Module> self = weak_from_this().lock();
  if (!self) self = std::shared_ptr<Module>(std::shared_ptr<Module>(), this);
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::unordered_set<const Module*> seen;
  std::function<void(const std::string&, const std::shared_ptr<Module>&)> visit =
      [&](const std::string& prefix, const std::shared_ptr<Module>& m) {
        if (!seen.insert(m.get()).second) return;
        out.emplace_back(prefix, m);
        for (const auto& [name, child] : m->children_) visit(join(prefix, name), child);
      };
  visit("", self);
  return out;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (const auto& [name, p] : named_parameters())
    if (!trainable_only || p.requires_grad()) n += p.numel();
  return n;
}

// ---------------------------------------------------------------- mode and conversion
void Module::train(bool on) {
  training_ = on;
  for (auto& [name, m] : children_) m->train(on);
}

void Module::to(DType dtype) {
  RAVEL_CHECK(is_floating(dtype), type_name(), ".to: expected a floating dtype, got ", dtype);
  NoGradGuard ng;
  auto convert = [&](const Tensor& t) {
    if (t.defined() && is_floating(t.dtype()) && t.dtype() != dtype)
      t.set_data(t.detach().to(dtype));
  };
  apply([&](Module& m) {
    for (auto& [name, t] : m.params_) convert(t);
    for (auto& [name, t] : m.buffers_) convert(t);
  });
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.set_grad(Tensor());
}

void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [name, m] : children_) m->apply(fn);
  fn(*this);
}

// ---------------------------------------------------------------- state
namespace {
// PyTorch's order: each module's parameters, then its buffers, then its children. Shared tensors
// appear under every name (as torch's state_dict).
void save_state(const Module& m, const std::string& prefix, StateDict& out) {
  for (const auto& [name, t] : m.named_parameters(false)) out.emplace_back(join(prefix, name), t);
  for (const auto& [name, t] : m.named_buffers(false)) out.emplace_back(join(prefix, name), t);
  for (const auto& [name, child] : m.named_children()) save_state(*child, join(prefix, name), out);
}

std::string quoted_list(const std::vector<std::string>& keys) {
  std::string s;
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", \"" : "\"") + keys[i] + "\"";
  return s;
}
}  // namespace

StateDict Module::state_dict() const {
  StateDict live;
  save_state(*this, "", live);
  StateDict out;
  out.reserve(live.size());
  for (auto& [name, t] : live) out.emplace_back(name, t.detach());
  return out;
}

LoadResult Module::load_state_dict(const StateDict& dict, bool strict) {
  StateDict own;
  save_state(*this, "", own);
  std::unordered_map<std::string, const Tensor*> given;
  for (const auto& [name, t] : dict) given[name] = &t;

  LoadResult result;
  std::vector<std::string> mismatches;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  std::unordered_set<std::string> own_names;
  for (const auto& [name, t] : own) {
    own_names.insert(name);
    auto it = given.find(name);
    if (it == given.end()) {
      result.missing_keys.push_back(name);
      continue;
    }
    const Tensor& src = *it->second;
    if (!src.defined() || src.shape() != t.shape()) {
      std::ostringstream os;
      os << "size mismatch for " << name << ": copying a tensor with shape ";
      if (src.defined())
        os << src.shape();
      else
        os << "(undefined)";
      os << " from the state dict, the shape in the current model is " << t.shape();
      mismatches.push_back(os.str());
      continue;
    }
    copies.emplace_back(t, &src);
  }
  for (const auto& [name, t] : dict)
    if (!own_names.count(name)) result.unexpected_keys.push_back(name);

  // Everything is checked before anything is copied, so a failed load leaves the module as it was.
  std::string errors;
  if (strict && !result.missing_keys.empty())
    errors += "\n  missing key(s) in state_dict: " + quoted_list(result.missing_keys);
  if (strict && !result.unexpected_keys.empty())
    errors += "\n  unexpected key(s) in state_dict: " + quoted_list(result.unexpected_keys);
  for (const auto& m : mismatches) errors += "\n  " + m;
  RAVEL_CHECK(errors.empty(), "load_state_dict: error(s) in loading state_dict for ", type_name(),
              ":", errors);

  NoGradGuard ng;
  for (auto& [dst, src] : copies) {
    if (dst.is_same(*src)) continue;
    dst.copy_(*src);
  }
  return result;
}

// ---------------------------------------------------------------- hooks
int Module::register_forward_pre_hook(ForwardPreHook hook) {
  pre_hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

int Module::register_forward_hook(ForwardHook hook) {
  hooks_.emplace_back(next_hook_id_, std::move(hook));
  return next_hook_id_++;
}

void Module::remove_hook(int id) {
  std::erase_if(pre_hooks_, [id](const auto& h) { return h.first == id; });
  std::erase_if(hooks_, [id](const auto& h) { return h.first == id; });
}

// ---------------------------------------------------------------- registration
void Module::check_new_name(const std::string& name, const char* what) const {
  RAVEL_CHECK(!name.empty(), type_name(), ": ", what, " name can't be empty");
  RAVEL_CHECK(name.find('.') == std::string::npos, type_name(), ": ", what, " name \"", name,
              "\" can't contain \".\"");
  auto has = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const auto& e) { return e.first == name; });
  };
  RAVEL_CHECK(!has(params_) && !has(buffers_) && !has(children_), type_name(), ": cannot register ",
              what, " \"", name, "\": the name is already taken");
}

Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name, "parameter");
  if (t.defined()) {
    RAVEL_CHECK(!requires_grad || is_floating(t.dtype()), type_name(), ": parameter \"", name,
                "\" has dtype ", t.dtype(), "; only floating tensors can require grad");
    if (!t.is_leaf()) t = t.detach();  // a parameter is a leaf of every graph it takes part in
    t.requires_grad_(requires_grad);
  }
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name, "buffer");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::register_module_impl(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name, "module");
  RAVEL_CHECK(m != nullptr, type_name(), ": cannot register module \"", name, "\": it is null");
  children_.emplace_back(name, std::move(m));
}

std::shared_ptr<Module> Module::unregister_module(const std::string& name) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != name) continue;
    std::shared_ptr<Module> m = std::move(it->second);
    children_.erase(it);
    return m;
  }
  ravel::detail::throw_error(type_name(), ": unregister_module: no child named \"", name, "\"");
}

Tensor Module::parameter(const std::string& name) const {
  for (const auto& [n, t] : params_)
    if (n == name) return t;
  return Tensor();
}

Tensor Module::buffer(const std::string& name) const {
  for (const auto& [n, t] : buffers_)
    if (n == name) return t;
  return Tensor();
}

std::shared_ptr<Module> Module::child(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  return nullptr;
}

}  // namespace ravel::nn
