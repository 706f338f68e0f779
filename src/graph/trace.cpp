// graph::trace: records the ops of one forward pass as ONNX nodes.
//
// Values are known by their autograd identity: (grad_fn, output_nr) for an op's result, the
// TensorImpl for a leaf (an input, a weight). The trace runs the inputs as copies that require
// grad, so every op on traced data records an autograd node; ops with an ONNX form of their own
// record themselves through TracedOp (trace_hook.h), the others arrive at on_record by name.
#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "graph_internal.h"
#include "ravel/autograd.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "trace_hook.h"

namespace ravel::graph {
namespace detail {

thread_local constinit Tracer* active_tracer = nullptr;

namespace {
using Key = std::pair<const void*, uint32_t>;
Key key_of(const Tensor& t) {
  const autograd::AutogradMeta* m = t.impl().autograd.get();
  if (m != nullptr && m->grad_fn) return {m->grad_fn.get(), m->output_nr};
  return {t.impl_ptr().get(), std::numeric_limits<uint32_t>::max()};
}
Tensor int_list(const std::vector<int64_t>& v) { return from_vector(v); }

[[noreturn]] void no_onnx_form(const std::string& what) {
  ::ravel::detail::throw_error("trace: ", what,
                               " has no ONNX form; supported operators: ", supported_list());
}
}  // namespace

class Tracer {
 public:
  Graph g;
  bool dynamic_batch = true;
  int64_t batch = -1;  // dimension 0 of the first input: a Reshape keeps it dynamic (0)
  int depth = 0;       // > 0 inside a recording TracedOp

  void bind(const Tensor& t, const std::string& name, bool traced) {
    names_[key_of(t)] = name;
    keep_.push_back(t);
    used_.insert(name);
    if (traced) traced_.insert(name);
  }
  const std::string* find(const Tensor& t) const {
    if (!t.defined()) return nullptr;
    auto it = names_.find(key_of(t));
    return it == names_.end() ? nullptr : &it->second;
  }
  bool is_traced(const Tensor& t) const {
    const std::string* n = find(t);
    return n != nullptr && traced_.count(*n) != 0;
  }
  // A name no value has yet: base, base_1, ...
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
    used_.insert(name);
    return name;
  }
  std::string add_constant(const Tensor& t) {
    std::string name = fresh("const_" + std::to_string(consts_++));
    g.initializers.push_back({name, t.detach().clone()});
    return name;
  }
  // t as a node input: its value name; a value the trace has not seen becomes a constant.
  std::string value(const Tensor& t) {
    if (!t.defined()) return "";
    if (const std::string* n = find(t)) return *n;
    std::string name = add_constant(t);
    bind(t, name, false);
    return name;
  }
  // Adds a node; its output is y's value (or, for an undefined y, an intermediate). Returns the
  // output's name.
  std::string add_node(const std::string& op, std::vector<std::string> inputs, const Tensor& y,
                       std::map<std::string, Attribute> attrs = {}) {
    const std::string name = op + "_" + std::to_string(op_counts_[op]++);
    const std::string out = fresh(name + "_out");
    g.nodes.push_back({op, name, std::move(inputs), {out}, std::move(attrs)});
    if (y.defined()) bind(y, out, true);
    return out;
  }
  void alias(const Tensor& y, const Tensor& x) {
    const std::string* n = find(x);
    if (n != nullptr) bind(y, *n, traced_.count(*n) != 0);
  }
  // x reshaped to y's shape: Flatten(1) when it is one, else Reshape with the batch kept as 0.
  void reshape(const Tensor& x, const Tensor& y) {
    if (x.shape() == y.shape()) return alias(y, x);
    reshape(value(x), x.shape(), y);
  }
  // The same for a value x of shape `in`.
  void reshape(const std::string& x, const Shape& in, const Tensor& y) {
    const Shape& out = y.shape();
    const bool same_first = !in.empty() && !out.empty() && in[0] == out[0];
    if (out.size() == 2 && in.size() >= 2 && same_first) {
      add_node("Flatten", {x}, y, {{"axis", int64_t{1}}});
      return;
    }
    std::vector<int64_t> target(out.begin(), out.end());
    if (dynamic_batch && same_first && out[0] == batch) target[0] = 0;
    add_node("Reshape", {x, add_constant(int_list(target))}, y);
  }

 private:
  std::map<Key, std::string> names_;
  std::set<std::string> traced_, used_;
  std::vector<Tensor> keep_;  // keeps identities (impls, grad_fns) alive and unique
  std::map<std::string, int> op_counts_;
  int consts_ = 0;
};

// ---------------------------------------------------------------- TracedOp
struct TracedOp::State {
  Tracer* tracer;
  std::string op;
  std::vector<std::pair<Tensor, bool>> inputs;  // (tensor, always a constant)
  std::map<std::string, Attribute> attrs;
  bool alias = false;    // no node: the output is input 0
  bool reshape = false;  // the node's result is reshaped to the output
  bool any_traced() const {
    return std::any_of(inputs.begin(), inputs.end(),
                       [&](const auto& in) { return !in.second && tracer->is_traced(in.first); });
  }
};

void TracedOp::begin(const char* op, Inputs inputs) {
  Tracer* tr = active_tracer;
  if (tr->depth > 0) return;  // inside another recording op: its parts are not recorded
  ++tr->depth;
  state_ = new State{tr, op, {}, {}};
  for (const Tensor& t : inputs) state_->inputs.emplace_back(t, false);
}
void TracedOp::end() {
  --state_->tracer->depth;
  delete state_;
  state_ = nullptr;
}
void TracedOp::set_op(const char* op) { state_->op = op; }
void TracedOp::input(const Tensor& t) { state_->inputs.emplace_back(t, false); }
void TracedOp::constant(const Tensor& t) { state_->inputs.emplace_back(t, true); }
void TracedOp::reshape_output() { state_->reshape = true; }
void TracedOp::no_input() { state_->inputs.emplace_back(Tensor(), false); }
void TracedOp::attr(const char* name, int64_t v) { state_->attrs[name] = v; }
void TracedOp::attr(const char* name, double v) { state_->attrs[name] = static_cast<float>(v); }
void TracedOp::attr(const char* name, const std::vector<int64_t>& v) { state_->attrs[name] = v; }
void TracedOp::attr(const char* name, const std::string& v) { state_->attrs[name] = v; }

void TracedOp::unsupported(const std::string& what) {
  if (state_->any_traced()) no_onnx_form(what);
}

void TracedOp::index(const std::vector<Index>& idx, const Shape& shape) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max(),
                    kMin = std::numeric_limits<int64_t>::min();
  std::vector<int64_t> starts, ends, axes, steps;
  int64_t axis = 0;
  for (size_t i = 0; i < idx.size(); ++i) {
    const Index& e = idx[i];
    if (e.kind() == Index::Kind::Ellipsis) {
      axis = static_cast<int64_t>(shape.size()) - static_cast<int64_t>(idx.size() - i - 1);
      continue;
    }
    if (e.kind() != Index::Kind::Slice) {
      unsupported("indexing with an integer, newaxis or tensor entry (only slices export)");
      return;
    }
    const Slice& s = e.slice();
    if (s.start || s.stop || s.step != 1) {
      starts.push_back(s.start.value_or(s.step > 0 ? 0 : kMax));
      ends.push_back(s.stop.value_or(s.step > 0 ? kMax : kMin));
      axes.push_back(axis);
      steps.push_back(s.step);
    }
    ++axis;
  }
  if (axes.empty()) {
    state_->alias = true;
    return;
  }
  for (const auto& v : {starts, ends, axes, steps}) constant(int_list(v));
}

void TracedOp::scalar_operand(const char* op, const Scalar& s, DType dtype, bool reverse) {
  static const std::map<std::string, const char*> kOps = {
      {"add", "Add"}, {"sub", "Sub"}, {"mul", "Mul"}, {"div", "Div"}};
  auto it = kOps.find(op);
  if (it == kOps.end()) return unsupported(std::string("op '") + op + "' with a scalar operand");
  state_->op = it->second;
  Tensor c = scalar_tensor(s, dtype);
  if (reverse)
    state_->inputs.insert(state_->inputs.begin(), {c, true});
  else
    constant(c);
}

void TracedOp::record(const Tensor& y) {
  State& s = *state_;
  if (!s.any_traced()) return;  // computed from constants only: a constant itself
  const Tensor& x0 = s.inputs.front().first;
  if (s.alias || (y.is_same(x0) && !s.inputs.front().second)) return s.tracer->alias(y, x0);
  std::vector<std::string> names;
  for (const auto& [t, is_const] : s.inputs)
    names.push_back(is_const ? s.tracer->add_constant(t) : s.tracer->value(t));
  while (!names.empty() && names.back().empty()) names.pop_back();  // optional inputs left out
  if (!s.reshape) return (void)s.tracer->add_node(s.op, std::move(names), y, std::move(s.attrs));
  const std::string v = s.tracer->add_node(s.op, std::move(names), Tensor(), std::move(s.attrs));
  s.tracer->reshape(v, x0.shape(), y);  // (x0's first dimension is the result's)
}

// ---------------------------------------------------------------- ops seen by autograd
void on_record(const char* name, const std::vector<Tensor>& inputs,
               const std::vector<Tensor>& outputs) {
  Tracer& tr = *active_tracer;
  if (tr.depth > 0) return;
  if (std::none_of(inputs.begin(), inputs.end(), [&](const Tensor& t) { return tr.is_traced(t); }))
    return;
  const std::string op = name;
  if (outputs.size() != 1) no_onnx_form("op '" + op + "'");
  const Tensor& y = outputs[0];
  const Tensor& x = inputs[0];
  if (std::any_of(inputs.begin(), inputs.end(), [&](const Tensor& t) { return t.is_same(y); }))
    return;  // returned an input unchanged: same value
  static const std::map<std::string, const char*> kBinary = {
      {"add", "Add"}, {"sub", "Sub"}, {"mul", "Mul"}, {"div", "Div"}, {"matmul", "MatMul"}};
  static const std::map<std::string, const char*> kUnary = {
      {"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}};
  // ONNX wants both operands in the result's type: a constant is cast, a traced value must be.
  auto operand = [&](const Tensor& t) {
    if (t.dtype() == y.dtype()) return tr.value(t);
    if (tr.is_traced(t)) no_onnx_form("op '" + op + "' on mixed dtypes");
    return tr.add_constant(t.to(y.dtype()));
  };
  if (auto it = kBinary.find(op); it != kBinary.end() && inputs.size() == 2)
    return (void)tr.add_node(it->second, {operand(x), operand(inputs[1])}, y);
  if (auto it = kUnary.find(op); it != kUnary.end() && inputs.size() == 1)
    return (void)tr.add_node(it->second, {tr.value(x)}, y);
  if (op == "negative" || op == "neg")
    return (void)tr.add_node("Mul", {tr.value(x), tr.add_constant(scalar_tensor(-1, x.dtype()))},
                             y);
  if (op == "clone" || op == "to" || op == "contiguous") {
    if (y.dtype() == x.dtype()) return tr.alias(y, x);
    no_onnx_form("a cast to " + std::string(dtype_name(y.dtype())));
  }
  if (op == "reshape" || op == "view" || op == "flatten" || op == "squeeze" || op == "unsqueeze")
    return tr.reshape(x, y);
  no_onnx_form("op '" + op + "'");
}

// ---------------------------------------------------------------- trace()
namespace {

// Active for one trace; restores everything on the way out, errors included.
struct TraceScope {
  Tracer* prev;
  EnableGradGuard grad;
  explicit TraceScope(Tracer* t) : prev(active_tracer) { active_tracer = t; }
  ~TraceScope() { active_tracer = prev; }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;
};

std::vector<std::string> default_names(const std::vector<std::string>& given, size_t n,
                                       const char* base, const char* what) {
  if (!given.empty()) {
    RAVEL_CHECK(given.size() == n, "trace: ", given.size(), " ", what, " names for ", n, " ", what,
                "s");
    return given;
  }
  if (n == 1) return {base};
  std::vector<std::string> names;
  for (size_t i = 0; i < n; ++i) names.push_back(std::string(base) + "_" + std::to_string(i));
  return names;
}

std::vector<int64_t> declared(const Tensor& t, bool dynamic) {
  std::vector<int64_t> s(t.shape().begin(), t.shape().end());
  if (dynamic && !s.empty()) s[0] = -1;
  return s;
}

// Gives the graph outputs their names: the producing node's output is renamed, or (for an
// input, a constant, or a value already output) an Identity node added.
void name_outputs(Graph& g, const std::vector<std::string>& values,
                  const std::vector<std::string>& names) {
  std::map<std::string, std::string> renamed;
  for (size_t i = 0; i < values.size(); ++i) {
    Node* producer = nullptr;
    for (Node& n : g.nodes)
      if (n.outputs[0] == values[i]) producer = &n;
    if (producer != nullptr) {
      for (Node& n : g.nodes)
        for (std::string& in : n.inputs)
          if (in == values[i]) in = names[i];
      producer->outputs[0] = names[i];
      renamed[values[i]] = names[i];
    } else {
      auto it = renamed.find(values[i]);
      g.nodes.push_back({"Identity",
                         "Identity_output_" + std::to_string(i),
                         {it != renamed.end() ? it->second : values[i]},
                         {names[i]},
                         {}});
    }
  }
}

void verify(const Graph& g,
            const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
            const std::vector<Tensor>& examples, bool dynamic_batch) {
  std::vector<Tensor> xs;
  int64_t new_batch = -1;
  for (const Tensor& e : examples) {
    Shape s = e.shape();
    if (dynamic_batch && !s.empty()) {
      if (new_batch < 0) new_batch = s[0] == 3 ? 4 : 3;
      s[0] = new_batch;
    }
    xs.push_back(randn(s, default_generator(), e.dtype()));
  }
  NoGradGuard ng;
  std::vector<Tensor> ref = fn(xs), got;
  try {
    auto m = std::make_shared<GraphModule>(g);
    m->eval();
    got = m->run(xs);
  } catch (const Error& e) {
    ::ravel::detail::throw_error(
        "trace: verification failed: the traced graph does not run on fresh inputs",
        dynamic_batch ? " of batch " + std::to_string(new_batch) : std::string(),
        " (a shape fixed to the example's batch?): ", e.what());
  }
  for (size_t i = 0; i < ref.size(); ++i) {
    RAVEL_CHECK(ref[i].shape() == got[i].shape(), "trace: verification failed: output '",
                g.outputs[i].name, "' of the traced graph has shape ", got[i].shape(),
                " on inputs of batch ", new_batch, ", the module gives ", ref[i].shape(),
                " (a shape fixed to the example's batch?)");
    const double scale = ref[i].numel() ? amax(abs(ref[i])).item<double>() : 0.0;
    const double diff = ref[i].numel() ? amax(abs(ref[i] - got[i])).item<double>() : 0.0;
    RAVEL_CHECK(diff <= 1e-3 * std::max(scale, 1.0), "trace: verification failed: output '",
                g.outputs[i].name, "' differs from the module's by ", diff, " (largest |value| ",
                scale, ") on fresh inputs",
                dynamic_batch ? " of batch " + std::to_string(new_batch) : std::string(),
                ": an op was probably not recorded (its result frozen into a constant). Set "
                "TraceOptions::verify = false to get the graph anyway");
  }
}

}  // namespace
}  // namespace detail

Graph trace(const std::function<std::vector<Tensor>(const std::vector<Tensor>&)>& fn,
            const std::vector<std::pair<std::string, Tensor>>& named_tensors,
            const std::vector<Tensor>& example_inputs, const TraceOptions& options) {
  RAVEL_CHECK(detail::active_tracer == nullptr, "trace: a trace is already running");
  RAVEL_CHECK(!example_inputs.empty(), "trace: needs at least one example input");
  const auto in_names =
      detail::default_names(options.input_names, example_inputs.size(), "input", "input");
  detail::Tracer tr;
  tr.dynamic_batch = options.dynamic_batch;
  std::vector<Tensor> xs;
  for (size_t i = 0; i < example_inputs.size(); ++i) {
    const Tensor& e = example_inputs[i];
    RAVEL_CHECK(e.defined() && is_floating(e.dtype()), "trace: example input ", i,
                " must be a floating tensor, got ", e.defined() ? dtype_name(e.dtype()) : "none");
    Tensor x = e.detach().clone().requires_grad_();
    tr.bind(x, in_names[i], true);
    tr.g.inputs.push_back({in_names[i], e.dtype(), detail::declared(e, options.dynamic_batch)});
    xs.push_back(x);
  }
  if (example_inputs[0].ndim() > 0) tr.batch = example_inputs[0].size(0);
  for (const auto& [name, t] : named_tensors) {
    if (!t.defined() || tr.find(t) != nullptr) continue;      // tied weights: the first name
    tr.g.initializers.push_back({name, t.detach().clone()});  // a snapshot
    tr.bind(t, name, false);
  }
  std::vector<Tensor> ys;
  {
    detail::TraceScope scope(&tr);
    ys = fn(xs);
  }
  RAVEL_CHECK(!ys.empty(), "trace: the function returned no outputs");
  const auto out_names = detail::default_names(options.output_names, ys.size(), "output", "output");
  std::vector<std::string> values;
  for (const Tensor& y : ys) {
    RAVEL_CHECK(y.defined(), "trace: an output is undefined");
    values.push_back(tr.value(y));
    tr.g.outputs.push_back(
        {out_names[values.size() - 1], y.dtype(), detail::declared(y, options.dynamic_batch)});
  }
  detail::name_outputs(tr.g, values, out_names);
  Graph g = std::move(tr.g);
  // Weights the pass did not read (BN's num_batches_tracked, ...) are left out, as
  // torch.onnx.export does (ONNX Runtime warns about unused initializers).
  std::set<std::string> read;
  for (const Node& n : g.nodes) read.insert(n.inputs.begin(), n.inputs.end());
  std::erase_if(g.initializers, [&](const Initializer& i) { return !read.count(i.name); });
  g.check();
  if (options.verify) detail::verify(g, fn, example_inputs, options.dynamic_batch);
  return g;
}

Graph trace(nn::Module& module, const std::vector<Tensor>& example_inputs,
            const TraceOptions& options) {
  RAVEL_CHECK(example_inputs.size() == 1, "trace: a Module takes one input (forward(Tensor)), got ",
              example_inputs.size(),
              "; trace a function of several inputs with the other "
              "trace()");
  // Parameters and buffers by their state_dict names (a shared weight keeps its first name).
  std::vector<std::pair<std::string, Tensor>> named = module.named_parameters();
  for (auto& b : module.named_buffers()) named.push_back(b);
  std::map<std::string, size_t> order;
  for (const auto& [k, v] : module.state_dict()) order.emplace(k, order.size());
  std::stable_sort(named.begin(), named.end(),
                   [&](const auto& a, const auto& b) { return order[a.first] < order[b.first]; });
  const bool was_training = module.is_training();
  module.eval();
  struct Restore {
    nn::Module& m;
    bool on;
    ~Restore() { m.train(on); }
  } restore{module, was_training};
  return trace([&](const std::vector<Tensor>& xs) { return std::vector<Tensor>{module(xs[0])}; },
               named, example_inputs, options);
}

}  // namespace ravel::graph
