// The autograd engine: graph nodes, saved tensors, recording, and the backward pass.
//
// A tensor that requires grad carries an AutogradMeta. An op on such tensors records a Node that
// holds an Edge to each input's node (its grad_fn, or for a leaf the AccumulateGrad node that adds
// into leaf.grad). backward() counts, for every node reachable from the roots, how many gradients
// it will receive, then runs nodes whose gradients are complete (newest first), sums the
// gradients flowing into each input, and frees what each node saved once it has run.
#include "ravel/autograd.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <unordered_map>

#include "graph/trace_hook.h"
#include "ravel/ops.h"

namespace ravel {
namespace autograd {
namespace detail {
thread_local constinit bool grad_enabled = true;
bool anomaly_enabled = false;
}  // namespace detail

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
std::atomic<int> next_hook_id{1};

// A tensor handle to the same data without autograd state (no graph recording involved).
Tensor alias_of(const Tensor& t) {
  auto impl = std::make_shared<TensorImpl>(t.impl());
  impl->autograd = nullptr;
  return Tensor(std::move(impl));
}

AutogradMeta& meta_of(const Tensor& t) {
  auto& slot = t.impl().autograd;
  if (!slot) slot = std::make_shared<AutogradMeta>();
  return *slot;
}

bool has_nonfinite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return false;
  NoGradGuard ng;
  return !all(isfinite(t)).item<bool>();
}

// Sums a gradient to the shape of the input it belongs to (undoing broadcasting) and casts it to
// the input's dtype.
Tensor fit_to(Tensor g, const TensorMeta& m, const char* op) {
  if (g.shape() != m.shape) {
    const int64_t lead = g.ndim() - static_cast<int64_t>(m.shape.size());
    RAVEL_CHECK(lead >= 0, "autograd: backward of ", op, " returned a gradient of shape ",
                g.shape(), " for an input of shape ", m.shape);
    Shape axes;
    for (int64_t d = 0; d < g.ndim(); ++d) {
      if (d < lead) {
        axes.push_back(d);
      } else {
        int64_t want = m.shape[d - lead];
        RAVEL_CHECK(want == g.shape()[d] || want == 1, "autograd: backward of ", op,
                    " returned a gradient of shape ", g.shape(), " for an input of shape ",
                    m.shape);
        if (want == 1 && g.shape()[d] != 1) axes.push_back(d);
      }
    }
    if (!axes.empty()) g = sum(g, Axes(axes), true);
    g = g.reshape(m.shape);
  }
  if (g.dtype() != m.dtype) g = g.to(m.dtype);
  return g;
}

constexpr int kRetainGradHook = -1;

// User hooks in registration order, then retain_grad's (it stores the final gradient, as
// PyTorch's retains_grad hook which always runs last).
Tensor apply_hooks(const std::vector<std::pair<int, TensorHook>>& hooks, Tensor g) {
  for (bool retain : {false, true}) {
    for (const auto& [id, hook] : hooks) {
      if ((id == kRetainGradHook) != retain) continue;
      Tensor r = hook(g);
      if (r.defined()) g = r;
    }
  }
  return g;
}

// Adds a leaf's gradient into leaf.grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(Tensor leaf) : Node("AccumulateGrad"), leaf_(std::move(leaf)) {
    next_edges.clear();
    input_meta.clear();
    output_meta.push_back({leaf_.shape(), leaf_.dtype()});
    output_hooks.resize(1);
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    AutogradMeta& m = meta_of(leaf_);
    Tensor g = apply_hooks(m.hooks, std::move(grads[0]));
    if (!m.grad.defined()) {
      // Take the gradient over when nothing else can see it (no other handle to its data), else
      // copy it: a later accumulation adds into grad in place. Under create_graph keep its
      // history instead.
      bool exclusive = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1 &&
                       g.is_contiguous() && !g.impl().autograd;
      m.grad = is_grad_enabled() || exclusive ? g : alias_of(g).clone();
    } else if (is_grad_enabled()) {
      m.grad = m.grad + g;
    } else {
      m.grad.add_(g);
    }
    return {};
  }
  Tensor leaf_;
};

std::shared_ptr<Node> grad_accumulator(const Tensor& leaf) {
  AutogradMeta& m = meta_of(leaf);
  if (auto acc = m.grad_accumulator.lock()) return acc;
  // The node holds a handle without a strong reference back from the meta (weak), so no cycle.
  auto acc = std::make_shared<AccumulateGrad>(leaf);
  m.grad_accumulator = acc;
  return acc;
}

Edge edge_of(const Tensor& t) {
  if (!requires_grad(t)) return {};
  const AutogradMeta& m = *t.impl().autograd;
  if (m.grad_fn) return {m.grad_fn, m.output_nr};
  return {grad_accumulator(t), 0};
}

// A node whose backward is a function given by the op that recorded it.
class FunctionNode final : public Node {
 public:
  FunctionNode(const char* name, BackwardFn fn) : Node(name), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    RAVEL_CHECK(fn_, "autograd: trying to backward through the graph of ", name(),
                " a second time (or directly access saved tensors after they have already been "
                "freed). Saved intermediate values of the graph are freed when you call "
                "backward() or grad(). Specify retain_graph=true if you need to backward through "
                "the graph a second time.");
    std::vector<Tensor> saved;
    saved.reserve(saved_.size());
    for (const SavedTensor& s : saved_) saved.push_back(s.unpack(name()));
    return fn_(grads, saved);
  }
  void release() override {
    fn_ = nullptr;
    saved_.clear();
    saved_.shrink_to_fit();
  }
  bool released() const override { return !fn_; }
  std::vector<SavedTensor> saved_;

 private:
  BackwardFn fn_;
};

void check_outputs_anomaly(const char* name, const std::vector<Tensor>& inputs,
                           const std::vector<Tensor>& outputs) {
  for (const Tensor& t : inputs)
    if (has_nonfinite(t)) return;  // a NaN that came in is not this op's doing
  for (const Tensor& t : outputs)
    RAVEL_CHECK(!has_nonfinite(t), "anomaly mode: the forward of '", name,
                "' produced NaN or Inf from finite inputs (output shape ", t.shape(), ")");
}

}  // namespace

Node::Node(const char* name)
    : sequence_nr(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)), name_(name) {}
Node::~Node() = default;

// ---------------------------------------------------------------- saved tensors
SavedTensor::SavedTensor(const Tensor& t) {
  if (!t.defined()) return;
  version_ = t.storage()->version();
  const AutogradMeta* m = t.impl().autograd.get();
  if (m && m->grad_fn) {
    data_ = alias_of(t);
    grad_fn_ = m->grad_fn;
    output_nr_ = m->output_nr;
    has_grad_fn_ = true;
    requires_grad_ = m->requires_grad;
  } else {
    data_ = t;
  }
}

Tensor SavedTensor::unpack(const char* op) const {
  if (!data_.defined()) return {};
  RAVEL_CHECK(data_.storage()->version() == version_,
              "autograd: one of the tensors needed for the backward of '", op,
              "' has been modified by an inplace operation: its version is ",
              data_.storage()->version(), ", expected ", version_,
              ". Compute it out of place, or clone() it before the in-place op.");
  if (!has_grad_fn_ || !is_grad_enabled()) return data_;
  // Double backward: give the tensor its history back so the backward pass is recorded.
  auto fn = grad_fn_.lock();
  if (!fn) return data_;
  Tensor t = alias_of(data_);
  AutogradMeta& m = meta_of(t);
  m.requires_grad = requires_grad_;
  m.grad_fn = std::move(fn);
  m.output_nr = output_nr_;
  return t;
}

// ---------------------------------------------------------------- recording
void record_multi(const char* name, const std::vector<Tensor>& inputs,
                  const std::vector<Tensor>& outputs, const std::vector<Tensor>& saved,
                  BackwardFn backward) {
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  node->next_edges.reserve(inputs.size());
  node->input_meta.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    node->next_edges.push_back(edge_of(t));
    node->input_meta.push_back(t.defined() ? TensorMeta{t.shape(), t.dtype()} : TensorMeta{});
  }
  node->output_meta.reserve(outputs.size());
  node->output_hooks.resize(outputs.size());
  for (uint32_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    if (!out.defined()) {
      node->output_meta.push_back({});
      continue;
    }
    node->output_meta.push_back({out.shape(), out.dtype()});
    if (!is_floating(out.dtype())) continue;
    // An op that returned one of its inputs unchanged (a no-op view) keeps the input's history.
    if (std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& t) { return t.is_same(out); }))
      continue;
    AutogradMeta& m = meta_of(out);
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = i;
  }
  // Saved after the outputs have their grad_fn, so a saved output holds only a weak link.
  node->saved_.reserve(saved.size());
  for (const Tensor& t : saved) node->saved_.emplace_back(t);
  if (is_anomaly_enabled()) check_outputs_anomaly(name, inputs, outputs);
  if (graph::detail::active_tracer != nullptr) [[unlikely]]
    graph::detail::on_record(name, inputs, outputs);
}

void record(const char* name, const std::vector<Tensor>& inputs, const Tensor& output,
            const std::vector<Tensor>& saved, SingleBackwardFn backward) {
  record_multi(name, inputs, {output}, saved,
               [fn = std::move(backward)](const std::vector<Tensor>& g,
                                          const std::vector<Tensor>& s) { return fn(g[0], s); });
}

void check_inplace(const Tensor& self, const char* op) {
  if (!is_grad_enabled()) return;
  const AutogradMeta* m = self.impl().autograd.get();
  RAVEL_CHECK(!(m && m->requires_grad && !m->grad_fn), op,
              ": a leaf tensor that requires grad is being used in an in-place operation; "
              "do it under NoGradGuard, or on a clone()");
  // Writing through a view would need the base's history rewritten too (PyTorch's CopySlices),
  // which ravel does not do yet: refuse rather than give the base a wrong gradient.
  RAVEL_CHECK(!self.impl().is_view, op,
              ": in-place operation on a view (a slice, select, reshape, ... of another tensor) "
              "while autograd records it is not supported yet: the gradient would not reach the "
              "tensor it views. Build the result out of place (concatenate, stack, where, "
              "index_put_ on the tensor itself), or run it under NoGradGuard");
}

Tensor& rebase_history(Tensor& self, const Tensor& result, const char* op) {
  check_inplace(self, op);
  RAVEL_CHECK(result.shape() == self.shape(), op, ": in-place result of shape ", result.shape(),
              " does not fit the tensor of shape ", self.shape());
  {
    NoGradGuard ng;
    self.copy_(result);  // casts to self's dtype and bumps the version
  }
  const AutogradMeta* rm = result.impl().autograd.get();
  if (rm && rm->requires_grad) {
    AutogradMeta& m = meta_of(self);
    m.requires_grad = true;
    m.grad_fn = rm->grad_fn;
    m.output_nr = rm->output_nr;
  }
  return self;
}

// ---------------------------------------------------------------- the backward pass
namespace {

struct Capture {
  Node* node;
  uint32_t output_nr;
  size_t index;
};

// Runs the graph below `roots`. With captures (grad()), gradients reaching the captured
// (node, output) pairs are returned instead of being accumulated into leaves.
std::vector<Tensor> run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                                 bool retain_graph, bool create_graph,
                                 const std::vector<Capture>* captures, size_t n_captures) {
  RAVEL_CHECK(grads.empty() || grads.size() == roots.size(), "backward: got ", grads.size(),
              " gradients for ", roots.size(), " outputs");
  // Seed gradients.
  std::vector<std::pair<Edge, Tensor>> seeds;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    RAVEL_CHECK(requires_grad(r), "backward: element ", i,
                " of the outputs does not require grad and has no grad_fn (nothing it depends "
                "on requires grad, or it was computed under NoGradGuard)");
    Tensor g = i < grads.size() ? grads[i] : Tensor();
    if (!g.defined()) {
      RAVEL_CHECK(r.numel() == 1,
                  "backward: grad can be implicitly created only for outputs "
                  "with one element; this output has shape ",
                  r.shape(), " — pass a gradient of that shape");
      g = ones(r.shape(), r.dtype());
    } else {
      RAVEL_CHECK(g.shape() == r.shape(), "backward: gradient of shape ", g.shape(),
                  " does not match the output's shape ", r.shape());
    }
    seeds.emplace_back(edge_of(r), g);
  }

  // Count the gradients each node will receive.
  std::vector<Node*> stack;
  std::vector<std::shared_ptr<Node>> seen;
  auto visit = [&](Node* n) {
    if (n->pending_++ == 0) {
      seen.push_back(n->shared_from_this());
      stack.push_back(n);
    }
  };
  for (auto& [e, g] : seeds) visit(e.node.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges)
      if (e.node) visit(e.node.get());
  }
  // Nodes reached from the seeds count their seed as a dependency too; rebuild it as delivery.
  for (auto& [e, g] : seeds) {
    Node* n = e.node.get();
    if (n->buffer_.empty()) n->buffer_.resize(n->output_meta.size());
    Tensor& slot = n->buffer_[e.input_nr];
    slot = slot.defined() ? slot + g : g;
  }

  std::unordered_multimap<Node*, const Capture*> capture_at;
  if (captures)
    for (const Capture& c : *captures) capture_at.emplace(c.node, &c);
  std::vector<Tensor> captured(n_captures);

  // Ready = all gradients arrived. Newest first keeps memory low on long chains.
  auto newer = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::vector<Node*> ready;
  for (auto& [e, g] : seeds) {
    Node* n = e.node.get();
    if (--n->pending_ == 0) {
      ready.push_back(n);
      std::push_heap(ready.begin(), ready.end(), newer);
    }
  }

  struct Reset {  // leaves no engine state behind, even when a backward function throws
    std::vector<std::shared_ptr<Node>>& nodes;
    ~Reset() {
      for (auto& n : nodes) {
        n->pending_ = 0;
        n->buffer_.clear();
      }
    }
  } reset{seen};

  std::optional<NoGradGuard> no_grad;
  std::optional<EnableGradGuard> with_grad;
  if (create_graph)
    with_grad.emplace();
  else
    no_grad.emplace();

  while (!ready.empty()) {
    std::pop_heap(ready.begin(), ready.end(), newer);
    Node* n = ready.back();
    ready.pop_back();
    std::vector<Tensor> in = std::move(n->buffer_);
    n->buffer_.clear();
    in.resize(n->output_meta.size());
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i].defined()) in[i] = zeros(n->output_meta[i].shape, n->output_meta[i].dtype);
      if (!n->output_hooks[i].empty()) in[i] = apply_hooks(n->output_hooks[i], in[i]);
    }
    bool is_accumulator = dynamic_cast<AccumulateGrad*>(n) != nullptr;
    if (captures) {
      auto [lo, hi] = capture_at.equal_range(n);
      for (auto it = lo; it != hi; ++it) {
        Tensor g = in[it->second->output_nr];
        if (is_accumulator)
          g = apply_hooks(meta_of(static_cast<AccumulateGrad*>(n)->leaf_).hooks, g);
        captured[it->second->index] = g;
      }
      if (is_accumulator) continue;  // grad() leaves .grad alone
    }
    std::vector<Tensor> out = n->apply(std::move(in));
    if (!retain_graph) n->release();
    if (is_accumulator) continue;
    RAVEL_CHECK(out.size() == n->next_edges.size(), "autograd: backward of ", n->name(),
                " returned ", out.size(), " gradients for ", n->next_edges.size(), " inputs");
    for (size_t i = 0; i < out.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.node) continue;
      Node* next = e.node.get();
      if (out[i].defined()) {
        Tensor g = fit_to(std::move(out[i]), n->input_meta[i], n->name());
        if (is_anomaly_enabled())
          RAVEL_CHECK(!has_nonfinite(g), "anomaly mode: the backward of '", n->name(),
                      "' produced NaN or Inf in the gradient of its input ", i, " (shape ",
                      g.shape(), ")");
        if (next->buffer_.empty()) next->buffer_.resize(next->output_meta.size());
        Tensor& slot = next->buffer_[e.input_nr];
        slot = slot.defined() ? slot + g : g;
      }
      if (--next->pending_ == 0) {
        ready.push_back(next);
        std::push_heap(ready.begin(), ready.end(), newer);
      }
    }
  }
  return captured;
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph,
              bool create_graph) {
  run_backward(roots, grads, retain_graph || create_graph, create_graph, nullptr, 0);
}

// ---------------------------------------------------------------- user-defined functions
std::vector<Tensor> apply_function(std::shared_ptr<Function> fn,
                                   const std::vector<Tensor>& inputs) {
  std::vector<Tensor> outputs;
  {
    NoGradGuard ng;
    outputs = fn->forward(inputs);
  }
  if (!needs_grad_any(inputs)) return outputs;
  // Outputs that alias an input would share its autograd state; give them their own handle.
  for (Tensor& o : outputs)
    if (o.defined() && o.impl().autograd) o = alias_of(o);
  std::vector<Tensor> to_save = std::move(fn->to_save_);
  record_multi(fn->name(), inputs, outputs, to_save,
               [fn](const std::vector<Tensor>& g, const std::vector<Tensor>& saved) {
                 fn->saved_ = saved;
                 std::vector<Tensor> r = fn->backward(g);
                 fn->saved_.clear();
                 return r;
               });
  return outputs;
}

}  // namespace autograd

void set_anomaly_enabled(bool on) { autograd::detail::anomaly_enabled = on; }

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool create_graph,
                         std::optional<bool> retain_graph, bool allow_unused) {
  using namespace autograd;
  std::vector<Capture> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    RAVEL_CHECK(requires_grad(inputs[i]), "grad: input ", i,
                " does not require grad (call requires_grad_() on it before computing the "
                "outputs)");
    Edge e = edge_of(inputs[i]);
    captures.push_back({e.node.get(), e.input_nr, i});
  }
  // Keep the accumulators alive for the pass.
  std::vector<std::shared_ptr<Node>> keep;
  for (const Tensor& t : inputs) keep.push_back(edge_of(t).node);
  std::vector<Tensor> r = run_backward(outputs, grad_outputs, retain_graph.value_or(create_graph),
                                       create_graph, &captures, inputs.size());
  for (size_t i = 0; i < r.size(); ++i)
    RAVEL_CHECK(r[i].defined() || allow_unused, "grad: input ", i,
                " was not used in computing the outputs (pass allow_unused=true to get an "
                "undefined gradient for it)");
  return r;
}

// ---------------------------------------------------------------- Tensor's autograd methods
using autograd::AutogradMeta;
using autograd::meta_of;

bool Tensor::requires_grad() const { return autograd::requires_grad(*this); }

Tensor& Tensor::requires_grad_(bool on) {
  AutogradMeta* m = impl().autograd.get();
  if (!on) {
    RAVEL_CHECK(!(m && m->grad_fn),
                "requires_grad_(false): only leaves can stop requiring grad; "
                "this tensor was produced by '",
                m ? m->grad_fn->name() : "", "' — use detach()");
    if (m) m->requires_grad = false;
    return *this;
  }
  RAVEL_CHECK(is_floating(dtype()),
              "requires_grad_: only floating point tensors can require "
              "gradients, got ",
              dtype_name(dtype()));
  meta_of(*this).requires_grad = true;
  return *this;
}

bool Tensor::is_leaf() const {
  const AutogradMeta* m = impl().autograd.get();
  return !(m && m->grad_fn);
}

Tensor Tensor::grad() const {
  const AutogradMeta* m = impl().autograd.get();
  return m ? m->grad : Tensor();
}

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    RAVEL_CHECK(g.shape() == shape(), "set_grad: gradient of shape ", g.shape(),
                " for a tensor of shape ", shape());
  meta_of(*this).grad = g;
}

const char* Tensor::grad_fn_name() const {
  const AutogradMeta* m = impl().autograd.get();
  return m && m->grad_fn ? m->grad_fn->name() : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph, create_graph);
}

Tensor Tensor::detach() const { return autograd::alias_of(*this); }

Tensor& Tensor::detach_() {
  if (AutogradMeta* m = impl().autograd.get()) {
    m->grad_fn = nullptr;
    m->requires_grad = false;
    m->output_nr = 0;
  }
  return *this;
}

void Tensor::retain_grad() const {
  AutogradMeta& m = meta_of(*this);
  RAVEL_CHECK(m.requires_grad, "retain_grad: the tensor does not require grad");
  if (!m.grad_fn || m.retains_grad) return;  // leaves keep their grad anyway
  m.retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  m.grad_fn->output_hooks[m.output_nr].emplace_back(
      autograd::kRetainGradHook, [weak](const Tensor& g) {
        if (auto impl = weak.lock()) {
          AutogradMeta& mm = *impl->autograd;
          mm.grad = mm.grad.defined() ? mm.grad + g : g.detach().clone();
        }
        return Tensor();
      });
}

int Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  AutogradMeta& m = meta_of(*this);
  RAVEL_CHECK(m.requires_grad,
              "register_hook: cannot register a hook on a tensor that does not require grad");
  int id = autograd::next_hook_id.fetch_add(1);
  if (m.grad_fn)
    m.grad_fn->output_hooks[m.output_nr].emplace_back(id, std::move(hook));
  else
    m.hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_hook(int id) const {
  AutogradMeta* m = impl().autograd.get();
  if (!m) return;
  auto drop = [id](auto& hooks) {
    std::erase_if(hooks, [id](const auto& h) { return h.first == id; });
  };
  drop(m->hooks);
  if (m->grad_fn) drop(m->grad_fn->output_hooks[m->output_nr]);
}

void Tensor::set_data(const Tensor& src) const {
  TensorImpl& me = impl();
  const TensorImpl& s = src.impl();
  bool same_kind = me.shape == s.shape && me.dtype == s.dtype;
  me.storage = s.storage;
  me.shape = s.shape;
  me.strides = s.strides;
  me.offset = s.offset;
  me.dtype = s.dtype;
  me.contiguous = s.contiguous;
  if (!same_kind && me.autograd) me.autograd->grad = Tensor();
}

}  // namespace ravel
