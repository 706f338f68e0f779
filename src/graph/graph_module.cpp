// GraphModule: runs a Graph node by node with ravel's differentiable ops, so an imported model
// trains like any other module.
#include <algorithm>
#include <cctype>
#include <limits>
#include <set>
#include <unordered_map>

#include "graph_internal.h"
#include "ravel/nn/functional.h"
#include "ravel/ops.h"

namespace ravel::graph {

namespace F = nn::functional;
using detail::node_error;
using detail::shape_str;

namespace {

using Dims = std::vector<int64_t>;

Dims dims_of(const Tensor& t) { return Dims(t.shape().begin(), t.shape().end()); }

// Module names allow letters, digits and '_' here; anything else becomes '_'.
std::string sanitize(const std::string& s) {
  std::string out = s.empty() ? "_" : s;
  for (char& c : out)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  return out;
}

bool name_taken(const nn::Module& m, const std::string& name) {
  return m.parameter(name).defined() || m.buffer(name).defined() || m.child(name) != nullptr;
}

// Which initializers are trained: the weights of Conv, Gemm, MatMul and BatchNormalization.
std::set<std::string> trainable_initializers(const Graph& g) {
  std::set<std::string> names;
  auto add = [&](const Node& n, size_t i) {
    if (i < n.inputs.size() && g.find_initializer(n.inputs[i])) names.insert(n.inputs[i]);
  };
  for (const Node& n : g.nodes) {
    if (n.op == "Conv" || n.op == "Gemm" || n.op == "BatchNormalization") {
      add(n, 1);
      add(n, 2);
    } else if (n.op == "MatMul") {
      add(n, 0);
      add(n, 1);
    }
  }
  return names;
}

// The spatial ops of rank 3, 4, 5 inputs (1, 2, 3 spatial axes).
Tensor conv_nd(const Tensor& x, const Tensor& w, const Tensor& b, const detail::Window& win,
               int64_t group) {
  switch (x.ndim()) {
    case 3:
      return F::conv1d(x, w, b, win.strides, F::Ints(win.pads_begin), win.dilations, group);
    case 4:
      return F::conv2d(x, w, b, win.strides, F::Ints(win.pads_begin), win.dilations, group);
    default:
      return F::conv3d(x, w, b, win.strides, F::Ints(win.pads_begin), win.dilations, group);
  }
}
Tensor max_pool_nd(const Tensor& x, const detail::Window& w) {
  switch (x.ndim()) {
    case 3:
      return F::max_pool1d(x, w.kernel, w.strides, w.pads_begin, w.dilations, w.ceil_mode);
    case 4:
      return F::max_pool2d(x, w.kernel, w.strides, w.pads_begin, w.dilations, w.ceil_mode);
    default:
      return F::max_pool3d(x, w.kernel, w.strides, w.pads_begin, w.dilations, w.ceil_mode);
  }
}
Tensor avg_pool_nd(const Tensor& x, const detail::Window& w, bool include_pad) {
  switch (x.ndim()) {
    case 3:
      return F::avg_pool1d(x, w.kernel, w.strides, w.pads_begin, w.ceil_mode, include_pad);
    case 4:
      return F::avg_pool2d(x, w.kernel, w.strides, w.pads_begin, w.ceil_mode, include_pad);
    default:
      return F::avg_pool3d(x, w.kernel, w.strides, w.pads_begin, w.ceil_mode, include_pad);
  }
}

// Pads that ravel's op cannot take itself (asymmetric, or beyond its limit `max_pad`) are applied
// explicitly with `fill`; the window then runs unpadded.
bool explicit_pad(Tensor& x, detail::Window& w, int64_t max_pad, double fill) {
  bool need = w.pads_begin != w.pads_end;
  for (int64_t p : w.pads_begin) need = need || p > max_pad;
  if (!need) return false;
  std::vector<std::pair<int64_t, int64_t>> widths{{0, 0}, {0, 0}};
  for (size_t i = 0; i < w.pads_begin.size(); ++i)
    widths.emplace_back(w.pads_begin[i], w.pads_end[i]);
  x = pad(x, widths, "constant", fill);
  std::fill(w.pads_begin.begin(), w.pads_begin.end(), 0);
  std::fill(w.pads_end.begin(), w.pads_end.end(), 0);
  return true;
}

detail::Window window(const Node& n, const Tensor& x, const Dims& kernel) {
  RAVEL_CHECK(x.ndim() >= 3 && x.ndim() <= 5, detail::describe(n),
              ": expected an input [N, C, spatial...] with 1 to 3 spatial axes, got ", x.shape());
  return detail::window_of(n, Dims(x.shape().begin() + 2, x.shape().end()), kernel);
}

}  // namespace

// What a node needs that is fixed at construction: constant int lists (shape, axes, pads), a
// Constant's value, Clip bounds, the Pad value, the Dropout ratio.
struct Prepared {
  std::vector<Dims> ints;
  Tensor constant;
  std::optional<Scalar> lo, hi;
  double value = 0;
};

struct GraphModule::Impl {
  std::unordered_map<std::string, Tensor> weights;  // initializer name -> module tensor
  std::vector<Prepared> prepared;                   // per node
  std::vector<std::vector<std::string>> release;    // per node: values not needed after it
  std::vector<Tensor> run_node(const GraphModule& m, size_t index,
                               const std::vector<Tensor>& in) const;
};

GraphModule::GraphModule(Graph g) : graph_(std::move(g)), impl_(std::make_shared<Impl>()) {
  graph_.check();
  infer_shapes(graph_);
  // Weights: one module tensor per initializer (copied, so training leaves the caller's Graph
  // alone), placed in nested submodules by its dotted name.
  const std::set<std::string> trainable = trainable_initializers(graph_);
  for (Initializer& init : graph_.initializers) {
    nn::Module* owner = this;
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      const size_t dot = init.name.find('.', start);
      parts.push_back(sanitize(init.name.substr(start, dot - start)));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    size_t placed = 0;  // parts that became submodules
    for (; placed + 1 < parts.size(); ++placed) {
      std::shared_ptr<nn::Module> c = owner->child(parts[placed]);
      if (!c && name_taken(*owner, parts[placed])) break;  // a clash: keep the rest flat
      if (!c) c = owner->register_module(parts[placed], std::make_shared<nn::Module>());
      owner = c.get();
    }
    std::string base;
    for (size_t i = placed; i < parts.size(); ++i) base += (i > placed ? "_" : "") + parts[i];
    std::string leaf = base;
    for (int k = 2; name_taken(*owner, leaf); ++k) leaf = base + "_" + std::to_string(k);
    Tensor value = init.value.detach().clone();
    if (trainable.count(init.name) && is_floating(value.dtype()))
      value = owner->register_parameter(leaf, value);
    else
      value = owner->register_buffer(leaf, value);
    impl_->weights[init.name] = value;
    init.value = value.detach();  // graph() shows the current values
  }
  // Constant inputs read once.
  impl_->prepared.resize(graph_.nodes.size());
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    Prepared& p = impl_->prepared[i];
    if (n.op == "Reshape") {
      p.ints = {detail::constant_ints(graph_, n, 1, "shape")};
    } else if (n.op == "Slice") {
      const char* what[] = {"starts", "ends", "axes", "steps"};
      for (size_t k = 0; k < 4; ++k)
        p.ints.push_back(detail::constant_ints(graph_, n, k + 1, what[k]));
    } else if (n.op == "Pad") {
      p.ints = {detail::constant_ints(graph_, n, 1, "pads")};
    } else if (n.op == "Constant") {
      p.constant = detail::constant_node_value(n);
    }
    // A constant input, or (older opsets) the FLOAT attribute `attr`.
    auto scalar_input = [&](size_t k, const char* what,
                            const char* attr = "") -> std::optional<Scalar> {
      if (k >= n.inputs.size() || n.inputs[k].empty()) {
        if (n.has(attr)) return Scalar(static_cast<double>(n.attr_float(attr, 0)));
        return std::nullopt;
      }
      std::optional<Tensor> t = detail::find_constant(graph_, n.inputs[k]);
      if (!t) node_error(n, what, " ('", n.inputs[k], "') must be a constant");
      if (t->numel() != 1) node_error(n, what, " must hold one value, got shape ", t->shape());
      return t->reshape({}).item_scalar();
    };
    if (n.op == "Clip") {
      p.lo = scalar_input(1, "min", "min");
      p.hi = scalar_input(2, "max", "max");
    } else if (n.op == "Pad") {
      p.value = scalar_input(2, "constant_value", "value").value_or(Scalar(0.0)).to<double>();
    } else if (n.op == "Dropout") {
      p.value = scalar_input(1, "ratio", "ratio").value_or(Scalar(0.5)).to<double>();
      if (n.outputs.size() > 1 && !n.outputs[1].empty())
        node_error(n, "the mask output is not supported");
    }
  }
  // Values are dropped after their last use, so a deep network's activations do not pile up.
  std::unordered_map<std::string, size_t> last_use;
  for (size_t i = 0; i < graph_.nodes.size(); ++i)
    for (const std::string& in : graph_.nodes[i].inputs) last_use[in] = i;
  std::set<std::string> keep;
  for (const ValueInfo& v : graph_.outputs) keep.insert(v.name);
  for (const Initializer& init : graph_.initializers) keep.insert(init.name);
  impl_->release.resize(graph_.nodes.size());
  for (const auto& [name, i] : last_use)
    if (!keep.count(name) && !name.empty()) impl_->release[i].push_back(name);
}

Tensor GraphModule::forward(const Tensor& x) {
  RAVEL_CHECK(graph_.inputs.size() == 1 && graph_.outputs.size() == 1,
              "GraphModule: forward(Tensor) needs a graph with one input and one output, this one "
              "has ",
              graph_.inputs.size(), " inputs and ", graph_.outputs.size(), " outputs; use run()");
  return run({x})[0];
}

std::vector<Tensor> GraphModule::run(const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(inputs.size() == graph_.inputs.size(), "GraphModule: graph '", graph_.name,
              "' takes ", graph_.inputs.size(), " inputs, got ", inputs.size());
  std::unordered_map<std::string, Tensor> env = impl_->weights;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& v = graph_.inputs[i];
    const Tensor& x = inputs[i];
    bool ok = x.defined() && x.ndim() == static_cast<int64_t>(v.shape.size());
    for (size_t d = 0; ok && d < v.shape.size(); ++d)
      ok = v.shape[d] < 0 || v.shape[d] == x.size(d);
    RAVEL_CHECK(ok, "GraphModule: input '", v.name, "' expects shape ", shape_str(v.shape),
                " (-1: any size), got ", x.defined() ? x.shape() : Shape{});
    env[v.name] = x;
  }
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    std::vector<Tensor> in;
    in.reserve(n.inputs.size());
    for (const std::string& name : n.inputs) in.push_back(name.empty() ? Tensor() : env.at(name));
    std::vector<Tensor> out = impl_->run_node(*this, i, in);
    for (size_t k = 0; k < n.outputs.size() && k < out.size(); ++k)
      if (!n.outputs[k].empty()) env[n.outputs[k]] = out[k];
    for (const std::string& name : impl_->release[i]) env.erase(name);
  }
  std::vector<Tensor> outs;
  for (const ValueInfo& v : graph_.outputs) outs.push_back(env.at(v.name));
  return outs;
}

std::vector<Tensor> GraphModule::Impl::run_node(const GraphModule& m, size_t index,
                                                const std::vector<Tensor>& in) const {
  const Node& n = m.graph_.nodes[index];
  const Prepared& p = prepared[index];
  const std::string& op = n.op;
  auto input = [&](size_t i) -> const Tensor& {
    if (i >= in.size() || !in[i].defined()) node_error(n, "missing input ", i);
    return in[i];
  };
  auto opt = [&](size_t i) { return i < in.size() ? in[i] : Tensor(); };
  if (op == "Relu") return {F::relu(input(0))};
  if (op == "LeakyRelu") return {F::leaky_relu(input(0), n.attr_float("alpha", 0.01f))};
  if (op == "Sigmoid") return {F::sigmoid(input(0))};
  if (op == "Tanh") return {F::tanh(input(0))};
  if (op == "Identity") return {input(0)};
  if (op == "Softmax" || op == "LogSoftmax") {
    const Tensor& x = input(0);
    auto softmax = [&](const Tensor& t, int64_t axis) {
      return op == "Softmax" ? F::softmax(t, axis) : F::log_softmax(t, axis);
    };
    if (m.graph_.opset >= 13) return {softmax(x, n.attr_int("axis", -1))};
    // Before opset 13: over all axes from `axis` on (default 1), as one.
    const int64_t axis = detail::node_axis(n, n.attr_int("axis", 1), x.ndim());
    int64_t rows = 1;
    for (int64_t i = 0; i < axis; ++i) rows *= x.size(i);
    return {softmax(x.reshape({rows, -1}), 1).reshape(x.shape())};
  }
  if (op == "Add") return {add(input(0), input(1))};
  if (op == "Sub") return {sub(input(0), input(1))};
  if (op == "Mul") return {mul(input(0), input(1))};
  if (op == "Div") return {div(input(0), input(1))};
  if (op == "MatMul") return {matmul(input(0), input(1))};
  if (op == "Constant") return {p.constant};
  if (op == "Clip") return {clip(input(0), p.lo, p.hi)};
  if (op == "Dropout")
    return {m.is_training() && p.value > 0 ? F::dropout(input(0), p.value, true) : input(0)};
  if (op == "Concat") {
    const int64_t axis = detail::node_axis(n, n.attr_int("axis", 0), input(0).ndim());
    return {concatenate(in, axis)};
  }
  if (op == "Transpose") {
    Dims perm = n.attr_ints("perm");
    if (perm.empty())
      for (int64_t i = input(0).ndim(); i-- > 0;) perm.push_back(i);
    return {input(0).permute(Shape(perm))};
  }
  if (op == "Flatten") {
    const Tensor& x = input(0);
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += x.ndim();
    int64_t a = 1;
    for (int64_t i = 0; i < axis; ++i) a *= x.size(i);
    return {x.reshape({a, a == 0 ? 0 : x.numel() / a})};
  }
  if (op == "Reshape")
    return {input(0).reshape(Shape(detail::reshape_target(n, dims_of(input(0)), p.ints[0])))};
  if (op == "Slice") {
    Tensor x = input(0);
    for (const auto& s :
         detail::slice_plan(n, dims_of(x), p.ints[0], p.ints[1], p.ints[2], p.ints[3])) {
      if (s.length == 0) {
        x = x.slice(s.axis, 0, 0);
        continue;
      }
      const int64_t stop = s.start + s.step * s.length;
      x = x.slice(s.axis, s.start, stop < 0 ? std::nullopt : std::optional<int64_t>(stop), s.step);
    }
    return {x};
  }
  if (op == "Pad") {
    Tensor x = input(0);
    const Dims& pads = p.ints[0];
    const auto r = static_cast<size_t>(x.ndim());
    if (pads.size() != 2 * r)
      node_error(n, "pads ", shape_str(pads), " do not fit input ", x.shape());
    std::vector<std::pair<int64_t, int64_t>> widths;
    for (size_t i = 0; i < r; ++i) {
      // Negative pads crop.
      const int64_t b = pads[i], e = pads[i + r];
      if (b < 0 || e < 0)
        x = x.slice(static_cast<int64_t>(i), std::max<int64_t>(-b, 0),
                    x.size(static_cast<int64_t>(i)) - std::max<int64_t>(-e, 0));
      widths.emplace_back(std::max<int64_t>(b, 0), std::max<int64_t>(e, 0));
    }
    return {pad(x, widths, n.attr_string("mode", "constant"), p.value)};
  }
  if (op == "Gemm") {
    Tensor a = input(0), b = input(1), c = opt(2);
    const bool ta = n.attr_int("transA", 0) != 0, tb = n.attr_int("transB", 0) != 0;
    const float alpha = n.attr_float("alpha", 1), beta = n.attr_float("beta", 1);
    if (!ta && tb && alpha == 1 && beta == 1 && (!c.defined() || c.ndim() == 1))
      return {F::linear(a, b, c)};
    Tensor y = matmul(ta ? a.transpose() : a, tb ? b.transpose() : b);
    if (alpha != 1) y = y * alpha;
    if (c.defined()) y = y + (beta != 1 ? c * beta : c);
    return {y};
  }
  if (op == "Conv") {
    Tensor x = input(0);
    const Tensor& w = input(1);
    detail::Window win = window(n, x, Dims(w.shape().begin() + 2, w.shape().end()));
    explicit_pad(x, win, std::numeric_limits<int64_t>::max(), 0.0);
    return {conv_nd(x, w, opt(2), win, n.attr_int("group", 1))};
  }
  if (op == "MaxPool" || op == "AveragePool") {
    Tensor x = input(0);
    const Dims kernel = n.attr_ints("kernel_shape");
    detail::Window win = window(n, x, kernel);
    int64_t max_pad = std::numeric_limits<int64_t>::max();
    for (int64_t k : kernel) max_pad = std::min(max_pad, k / 2);  // PyTorch's limit
    if (op == "MaxPool") {
      explicit_pad(x, win, max_pad, -std::numeric_limits<double>::infinity());
      return {max_pool_nd(x, win)};
    }
    const bool include_pad = n.attr_int("count_include_pad", 0) != 0;
    if (explicit_pad(x, win, max_pad, 0.0) && !include_pad)
      node_error(n, "pads ", shape_str(n.attr_ints("pads")),
                 " that are asymmetric or larger than half the kernel need count_include_pad=1");
    return {avg_pool_nd(x, win, include_pad)};
  }
  if (op == "GlobalAveragePool") {
    const Tensor& x = input(0);
    if (x.ndim() == 4) return {F::adaptive_avg_pool2d(x, 1)};
    Shape axes;
    for (int64_t i = 2; i < x.ndim(); ++i) axes.push_back(i);
    return {mean(x, Axes(axes), true)};
  }
  if (op == "BatchNormalization") {
    // PyTorch's momentum weighs the new statistic, ONNX's the running one.
    return {F::batch_norm(input(0), input(3), input(4), input(1), input(2), m.is_training(),
                          1.0 - n.attr_float("momentum", 0.9f), n.attr_float("epsilon", 1e-5f))};
  }
  node_error(n, "unsupported operator '", op, "'; supported: ", detail::supported_list());
}

Graph GraphModule::to_graph() const {
  Graph g = graph_;
  for (Initializer& init : g.initializers)
    init.value = impl_->weights.at(init.name).detach().clone();
  return g;
}

}  // namespace ravel::graph
