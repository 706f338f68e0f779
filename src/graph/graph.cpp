// Graph: attribute access, structural checks and per-operator shape inference (ONNX opset 13).
#include "ravel/graph.h"

#include <algorithm>
#include <set>

#include "graph_internal.h"
#include "ravel/ops.h"

namespace ravel::graph {

// ---------------------------------------------------------------- node attributes
namespace {
template <typename T>
const T* attr_of(const Node& n, const std::string& attr, const char* kind) {
  auto it = n.attrs.find(attr);
  if (it == n.attrs.end()) return nullptr;
  const T* v = std::get_if<T>(&it->second);
  RAVEL_CHECK(v != nullptr, detail::describe(n), ": attribute '", attr, "' is not of kind ", kind);
  return v;
}
}  // namespace

int64_t Node::attr_int(const std::string& attr, int64_t fallback) const {
  const int64_t* v = attr_of<int64_t>(*this, attr, "INT");
  return v ? *v : fallback;
}
float Node::attr_float(const std::string& attr, float fallback) const {
  // An INT where a FLOAT is expected is accepted: some exporters write alpha=1 as an INT.
  auto it = attrs.find(attr);
  if (it != attrs.end())
    if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  const float* v = attr_of<float>(*this, attr, "FLOAT");
  return v ? *v : fallback;
}
std::string Node::attr_string(const std::string& attr, const std::string& fallback) const {
  const std::string* v = attr_of<std::string>(*this, attr, "STRING");
  return v ? *v : fallback;
}
std::vector<int64_t> Node::attr_ints(const std::string& attr,
                                     const std::vector<int64_t>& fallback) const {
  const auto* v = attr_of<std::vector<int64_t>>(*this, attr, "INTS");
  return v ? *v : fallback;
}
Tensor Node::attr_tensor(const std::string& attr) const {
  const Tensor* v = attr_of<Tensor>(*this, attr, "TENSOR");
  RAVEL_CHECK(v != nullptr, detail::describe(*this), ": missing attribute '", attr, "'");
  return *v;
}

// ---------------------------------------------------------------- shared helpers
namespace detail {

const std::vector<std::string>& supported_ops() {
  static const std::vector<std::string> ops = {"Conv",
                                               "Gemm",
                                               "MatMul",
                                               "BatchNormalization",
                                               "Relu",
                                               "LeakyRelu",
                                               "Sigmoid",
                                               "Tanh",
                                               "Softmax",
                                               "LogSoftmax",
                                               "MaxPool",
                                               "AveragePool",
                                               "GlobalAveragePool",
                                               "Add",
                                               "Sub",
                                               "Mul",
                                               "Div",
                                               "Flatten",
                                               "Reshape",
                                               "Concat",
                                               "Transpose",
                                               "Constant",
                                               "Identity",
                                               "Clip",
                                               "Slice",
                                               "Pad",
                                               "Dropout"};
  return ops;
}

bool is_supported(const std::string& op) {
  const auto& ops = supported_ops();
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

std::string supported_list() {
  std::string s;
  for (const auto& op : supported_ops()) s += (s.empty() ? "" : ", ") + op;
  return s;
}

std::string describe(const Node& n) { return "node '" + n.name + "' (" + n.op + ")"; }

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

Tensor constant_node_value(const Node& n) {
  if (n.has("value")) return n.attr_tensor("value");
  if (n.has("value_float")) return scalar_tensor(n.attr_float("value_float", 0), DType::Float32);
  if (n.has("value_int")) return scalar_tensor(n.attr_int("value_int", 0), DType::Int64);
  if (n.has("value_ints")) return from_vector(n.attr_ints("value_ints"));
  if (n.has("value_floats")) {
    const auto& v = std::get<std::vector<float>>(n.attrs.at("value_floats"));
    return from_vector(v);
  }
  node_error(n, "expected a value, value_float(s) or value_int(s) attribute");
}

std::optional<Tensor> find_constant(const Graph& g, const std::string& value) {
  if (const Initializer* init = g.find_initializer(value)) return init->value;
  for (const Node& n : g.nodes)
    if (n.op == "Constant" && !n.outputs.empty() && n.outputs[0] == value)
      return constant_node_value(n);
  return std::nullopt;
}

std::vector<int64_t> constant_ints(const Graph& g, const Node& n, size_t i, const char* what,
                                   const std::vector<int64_t>& fallback) {
  if (i >= n.inputs.size() || n.inputs[i].empty())
    return n.attr_ints(what, fallback);  // older opsets: an attribute of the same name
  std::optional<Tensor> t = find_constant(g, n.inputs[i]);
  if (!t)
    node_error(n, "input ", i, " (", what, ", '", n.inputs[i],
               "') must be a constant (an initializer or a Constant node); computed ", what,
               " are not supported");
  RAVEL_CHECK(is_integral(t->dtype()), describe(n), ": input ", i, " (", what,
              ") must hold integers, got dtype ", t->dtype());
  return t->to_vector<int64_t>();
}

int64_t node_axis(const Node& n, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    node_error(n, "axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

Window window_of(const Node& n, const std::vector<int64_t>& spatial,
                 const std::vector<int64_t>& kernel) {
  const size_t s = spatial.size();
  Window w;
  w.kernel = kernel;
  w.strides = n.attr_ints("strides", std::vector<int64_t>(s, 1));
  w.dilations = n.attr_ints("dilations", std::vector<int64_t>(s, 1));
  std::vector<int64_t> pads = n.attr_ints("pads", std::vector<int64_t>(2 * s, 0));
  w.ceil_mode = n.attr_int("ceil_mode", 0) != 0;
  if (kernel.size() != s || w.strides.size() != s || w.dilations.size() != s ||
      pads.size() != 2 * s)
    node_error(n, "kernel_shape ", shape_str(kernel), ", strides ", shape_str(w.strides),
               ", dilations ", shape_str(w.dilations), " and pads ", shape_str(pads),
               " do not fit ", s, " spatial axes");
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  if (!same && auto_pad != "NOTSET" && auto_pad != "VALID")
    node_error(n, "auto_pad '", auto_pad, "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  for (size_t i = 0; i < s; ++i) {
    const int64_t k = kernel[i], st = w.strides[i], d = w.dilations[i], in = spatial[i];
    if (k < 1 || st < 1 || d < 1)
      node_error(n, "kernel ", k, ", stride ", st, " and dilation ", d, " must be positive");
    const int64_t eff = size_add(n, size_mul(n, d, k - 1), 1);
    int64_t pb = pads[i], pe = pads[i + s], out;
    if (pb < 0 || pe < 0) node_error(n, "pads ", shape_str(pads), " must not be negative");
    if (auto_pad == "VALID") pb = pe = 0;
    if (same) {
      out = size_add(n, in, st - 1) / st;
      const int64_t total = std::max<int64_t>(0, size_add(n, size_mul(n, out - 1, st), eff) - in);
      pb = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      const int64_t span = size_add(n, size_add(n, in, pb), pe) - eff;
      if (span < 0)
        node_error(n, "a window of ", eff, " (kernel ", k, ", dilation ", d,
                   ") does not fit spatial size ", in, " padded by ", pb, "+", pe);
      out = (w.ceil_mode ? size_add(n, span, st - 1) / st : span / st) + 1;
      // As PyTorch and ONNX Runtime: the last window must start inside the input or left pad.
      if (w.ceil_mode && (out - 1) * st >= in + pb) --out;
    }
    w.pads_begin.push_back(pb);
    w.pads_end.push_back(pe);
    w.out.push_back(out);
  }
  return w;
}

std::vector<SliceAxis> slice_plan(const Node& n, const std::vector<int64_t>& shape,
                                  const std::vector<int64_t>& starts,
                                  const std::vector<int64_t>& ends, std::vector<int64_t> axes,
                                  std::vector<int64_t> steps) {
  const auto rank = static_cast<int64_t>(shape.size());
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    node_error(n, "starts ", shape_str(starts), ", ends ", shape_str(ends), ", axes ",
               shape_str(axes), " and steps ", shape_str(steps), " must have the same length");
  std::vector<SliceAxis> plan;
  std::set<int64_t> seen;
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = node_axis(n, axes[i], rank), step = steps[i], dim = shape[axis];
    if (!seen.insert(axis).second) node_error(n, "axis ", axis, " is sliced twice");
    if (step == 0) node_error(n, "steps must not be 0");
    // Clamping as ONNX: negative values count from the end, then clip to the valid range
    // ([0, dim] forward, [-1, dim - 1] backward). int64 extremes stand for "to the end".
    auto fix = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v = v < -dim ? lo : v + dim;
      return std::clamp(v, lo, hi);
    };
    int64_t start, end, len;
    if (step > 0) {
      start = fix(starts[i], 0, dim);
      end = fix(ends[i], 0, dim);
      len = end > start ? 1 + (end - start - 1) / step : 0;
    } else {
      start = fix(starts[i], -1, dim - 1);
      end = fix(ends[i], -1, dim - 1);
      len = start > end ? 1 + (start - end - 1) / -std::max(step, -dim - 1) : 0;
      if (len == 0) start = 0;
    }
    plan.push_back({axis, start, step, len});
  }
  return plan;
}

std::vector<int64_t> reshape_target(const Node& n, const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& target) {
  if (n.attr_int("allowzero", 0) != 0) node_error(n, "allowzero=1 is not supported");
  std::vector<int64_t> out = target;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0) {
      if (i >= in.size())
        node_error(n, "target ", shape_str(target), " copies dimension ", i, " (0) of input ",
                   shape_str(in), ", which has no such dimension");
      out[i] = in[i];
    }
    if (out[i] == -1) {
      if (infer >= 0) node_error(n, "target ", shape_str(target), " has more than one -1");
      infer = static_cast<int64_t>(i);
    } else if (out[i] < 0) {
      node_error(n, "target ", shape_str(target), " has a negative size");
    } else {
      known = size_mul(n, known, out[i]);
    }
  }
  int64_t total = 1;
  for (int64_t d : in) total = size_mul(n, total, d);
  if (infer >= 0) {
    if (known == 0 || total % known != 0)
      node_error(n, "cannot reshape input ", shape_str(in), " to ", shape_str(target));
    out[infer] = total / known;
  } else if (known != total) {
    node_error(n, "cannot reshape input ", shape_str(in), " (", total, " elements) to ",
               shape_str(target), " (", known, " elements)");
  }
  return out;
}

}  // namespace detail

// ---------------------------------------------------------------- Graph
const Initializer* Graph::find_initializer(const std::string& name) const {
  for (const Initializer& i : initializers)
    if (i.name == name) return &i;
  return nullptr;
}

void Graph::check() const {
  std::set<std::string> values, node_names;
  for (const ValueInfo& v : inputs) {
    RAVEL_CHECK(!v.name.empty(), "graph '", name, "': a graph input has an empty name");
    RAVEL_CHECK(values.insert(v.name).second, "graph '", name, "': input name '", v.name,
                "' is used twice");
  }
  for (const Initializer& i : initializers) {
    RAVEL_CHECK(i.value.defined(), "graph '", name, "': initializer '", i.name, "' has no value");
    // An initializer may share a graph input's name (ONNX IR < 4 style: a default value).
    if (!values.insert(i.name).second)
      RAVEL_CHECK(std::any_of(inputs.begin(), inputs.end(),
                              [&](const ValueInfo& v) { return v.name == i.name; }),
                  "graph '", name, "': initializer name '", i.name, "' is used twice");
  }
  for (const Node& n : nodes) {
    RAVEL_CHECK(!n.name.empty(), "graph '", name, "': a ", n.op, " node has no name");
    RAVEL_CHECK(node_names.insert(n.name).second, "graph '", name, "': node name '", n.name,
                "' is used twice");
    RAVEL_CHECK(detail::is_supported(n.op), detail::describe(n), ": unsupported operator '", n.op,
                "'; supported: ", detail::supported_list());
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const std::string& in = n.inputs[i];
      RAVEL_CHECK(in.empty() || values.count(in), detail::describe(n), ": input ", i, " '", in,
                  "' is not produced before it is used (not a graph input, an initializer, or "
                  "an output of an earlier node)");
    }
    RAVEL_CHECK(!n.outputs.empty(), detail::describe(n), ": has no outputs");
    for (const std::string& out : n.outputs) {
      if (out.empty()) continue;  // an optional output left out
      RAVEL_CHECK(values.insert(out).second, detail::describe(n), ": output '", out,
                  "' is already produced elsewhere (value names must be unique)");
    }
  }
  for (const ValueInfo& v : outputs)
    RAVEL_CHECK(values.count(v.name), "graph '", name, "': output '", v.name,
                "' is not produced by any node, input or initializer");
}

// ---------------------------------------------------------------- shape inference
namespace {

using Dims = std::vector<int64_t>;
using detail::node_error;
using detail::shape_str;

Dims to_dims(const Shape& s) { return Dims(s.begin(), s.end()); }

Dims broadcast(const Node& n, const Dims& a, const Dims& b) {
  const size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t x = i + a.size() >= r ? a[i + a.size() - r] : 1;
    const int64_t y = i + b.size() >= r ? b[i + b.size() - r] : 1;
    if (x != y && x != 1 && y != 1)
      node_error(n, "shapes ", shape_str(a), " and ", shape_str(b), " do not broadcast");
    out[i] = x == 1 ? y : x;
  }
  return out;
}

Dims matmul_shape(const Node& n, Dims a, Dims b) {
  if (a.empty() || b.empty()) node_error(n, "operands must not be 0-d");
  const bool va = a.size() == 1, vb = b.size() == 1;
  if (va) a.insert(a.begin(), 1);
  if (vb) b.push_back(1);
  if (a.back() != b[b.size() - 2])
    node_error(n, "inner sizes differ: ", shape_str(a), " @ ", shape_str(b));
  Dims batch = broadcast(n, Dims(a.begin(), a.end() - 2), Dims(b.begin(), b.end() - 2));
  if (!va) batch.push_back(a[a.size() - 2]);
  if (!vb) batch.push_back(b.back());
  return batch;
}

Dims expect_rank(const Node& n, const Dims& s, size_t rank, const char* what) {
  if (s.size() != rank) node_error(n, what, " must have rank ", rank, ", got ", shape_str(s));
  return s;
}

// One node's output shapes from its input shapes (`in`, empty for an absent optional input).
std::vector<Dims> node_shapes(const Graph& g, const Node& n, const std::vector<Dims>& in) {
  auto input = [&](size_t i) -> const Dims& {
    if (i >= in.size() || n.inputs[i].empty()) node_error(n, "missing input ", i);
    return in[i];
  };
  auto has_input = [&](size_t i) { return i < n.inputs.size() && !n.inputs[i].empty(); };
  const std::string& op = n.op;
  if (op == "Relu" || op == "LeakyRelu" || op == "Sigmoid" || op == "Tanh" || op == "Identity" ||
      op == "Clip") {
    for (size_t i = 1; i < in.size(); ++i)
      if (has_input(i) && !in[i].empty()) node_error(n, "min/max must be scalars (0-d)");
    return {input(0)};
  }
  if (op == "Dropout") return {input(0), input(0)};
  if (op == "Softmax" || op == "LogSoftmax") {
    detail::node_axis(n, n.attr_int("axis", -1), static_cast<int64_t>(input(0).size()));
    return {input(0)};
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div")
    return {broadcast(n, input(0), input(1))};
  if (op == "MatMul") return {matmul_shape(n, input(0), input(1))};
  if (op == "Gemm") {
    Dims a = expect_rank(n, input(0), 2, "A"), b = expect_rank(n, input(1), 2, "B");
    if (n.attr_int("transA", 0)) std::swap(a[0], a[1]);
    if (n.attr_int("transB", 0)) std::swap(b[0], b[1]);
    if (a[1] != b[0])
      node_error(n, "A ", shape_str(input(0)), " and B ", shape_str(input(1)),
                 " do not multiply (transA=", n.attr_int("transA", 0),
                 ", transB=", n.attr_int("transB", 0), ")");
    Dims out{a[0], b[1]};
    if (has_input(2) && broadcast(n, out, input(2)) != out)
      node_error(n, "C ", shape_str(input(2)), " does not broadcast to ", shape_str(out));
    return {out};
  }
  if (op == "Conv") {
    const Dims& x = input(0);
    const Dims& w = input(1);
    if (x.size() < 3) node_error(n, "input must be [N, C, spatial...], got ", shape_str(x));
    expect_rank(n, w, x.size(), "weight");
    const int64_t group = n.attr_int("group", 1);
    if (group < 1 || w[0] % group != 0 || x[1] % group != 0 || w[1] != x[1] / group)
      node_error(n, "weight ", shape_str(w), " with group ", group, " expects ",
                 detail::size_mul(n, w[1], group), " input channels, input is ", shape_str(x));
    if (has_input(2) && input(2) != Dims{w[0]})
      node_error(n, "bias ", shape_str(input(2)), " must be [", w[0], "]");
    Dims kernel(w.begin() + 2, w.end());
    if (n.has("kernel_shape") && n.attr_ints("kernel_shape") != kernel)
      node_error(n, "kernel_shape ", shape_str(n.attr_ints("kernel_shape")),
                 " does not match weight ", shape_str(w));
    detail::Window win = detail::window_of(n, Dims(x.begin() + 2, x.end()), kernel);
    Dims out{x[0], w[0]};
    out.insert(out.end(), win.out.begin(), win.out.end());
    return {out};
  }
  if (op == "MaxPool" || op == "AveragePool") {
    const Dims& x = input(0);
    if (x.size() < 3) node_error(n, "input must be [N, C, spatial...], got ", shape_str(x));
    if (!n.has("kernel_shape")) node_error(n, "missing attribute kernel_shape");
    if (n.outputs.size() > 1 && !n.outputs[1].empty())
      node_error(n, "the Indices output is not supported");
    detail::Window win =
        detail::window_of(n, Dims(x.begin() + 2, x.end()), n.attr_ints("kernel_shape"));
    Dims out{x[0], x[1]};
    out.insert(out.end(), win.out.begin(), win.out.end());
    return {out};
  }
  if (op == "GlobalAveragePool") {
    Dims x = input(0);
    if (x.size() < 3) node_error(n, "input must be [N, C, spatial...], got ", shape_str(x));
    std::fill(x.begin() + 2, x.end(), 1);
    return {x};
  }
  if (op == "BatchNormalization") {
    const Dims& x = input(0);
    if (x.size() < 2) node_error(n, "input must be [N, C, ...], got ", shape_str(x));
    for (size_t i = 1; i < 5; ++i)
      if (input(i) != Dims{x[1]})
        node_error(n, "input ", i, " has shape ", shape_str(input(i)), ", expected [", x[1],
                   "] for input ", shape_str(x));
    if (n.outputs.size() > 1) node_error(n, "training-mode outputs are not supported");
    return {x};
  }
  if (op == "Flatten") {
    const Dims& x = input(0);
    const auto rank = static_cast<int64_t>(x.size());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < -rank || axis > rank) node_error(n, "axis ", axis, " out of range for rank ", rank);
    if (axis < 0) axis += rank;
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < rank; ++i)
      (i < axis ? a : b) = detail::size_mul(n, i < axis ? a : b, x[i]);
    return {{a, b}};
  }
  if (op == "Reshape")
    return {detail::reshape_target(n, input(0), detail::constant_ints(g, n, 1, "shape"))};
  if (op == "Concat") {
    Dims out = input(0);
    const int64_t axis =
        detail::node_axis(n, n.attr_int("axis", 0), static_cast<int64_t>(out.size()));
    for (size_t i = 1; i < in.size(); ++i) {
      const Dims& s = input(i);
      bool ok = s.size() == out.size();
      for (size_t d = 0; ok && d < s.size(); ++d)
        ok = static_cast<int64_t>(d) == axis || s[d] == out[d];
      if (!ok)
        node_error(n, "input ", i, " ", shape_str(s), " does not fit ", shape_str(input(0)),
                   " along axis ", axis);
      out[axis] = detail::size_add(n, out[axis], s[axis]);
    }
    return {out};
  }
  if (op == "Transpose") {
    const Dims& x = input(0);
    Dims perm = n.attr_ints("perm");
    if (perm.empty())
      for (size_t i = x.size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    Dims sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i)
      if (sorted.size() != x.size() || sorted[i] != static_cast<int64_t>(i))
        node_error(n, "perm ", shape_str(perm), " is not a permutation of the axes of ",
                   shape_str(x));
    Dims out;
    for (int64_t p : perm) out.push_back(x[p]);
    return {out};
  }
  if (op == "Constant") return {to_dims(detail::constant_node_value(n).shape())};
  if (op == "Slice") {
    Dims out = input(0);
    auto plan = detail::slice_plan(
        n, out, detail::constant_ints(g, n, 1, "starts"), detail::constant_ints(g, n, 2, "ends"),
        detail::constant_ints(g, n, 3, "axes"), detail::constant_ints(g, n, 4, "steps"));
    for (const auto& p : plan) out[p.axis] = p.length;
    return {out};
  }
  if (op == "Pad") {
    Dims out = input(0);
    const std::string mode = n.attr_string("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge")
      node_error(n, "mode '", mode, "' is not one of constant, reflect, edge");
    const Dims pads = detail::constant_ints(g, n, 1, "pads");
    if (pads.size() != 2 * out.size())
      node_error(n, "pads ", shape_str(pads), " must have 2 * rank = ", 2 * out.size(),
                 " values for input ", shape_str(out));
    if (has_input(2) && !input(2).empty() && input(2) != Dims{1})
      node_error(n, "constant_value must be a scalar, got ", shape_str(input(2)));
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = detail::size_add(n, out[i], detail::size_add(n, pads[i], pads[i + out.size()]));
      if (out[i] < 0) node_error(n, "pads ", shape_str(pads), " crop axis ", i, " below 0");
    }
    return {out};
  }
  node_error(n, "unsupported operator '", op, "'; supported: ", detail::supported_list());
}

}  // namespace

std::map<std::string, std::vector<int64_t>> infer_shapes(
    const Graph& g, const std::vector<std::vector<int64_t>>& input_shapes) {
  RAVEL_CHECK(input_shapes.empty() || input_shapes.size() == g.inputs.size(), "infer_shapes: got ",
              input_shapes.size(), " input shapes for a graph with ", g.inputs.size(), " inputs");
  std::map<std::string, Dims> shapes;
  for (const Initializer& init : g.initializers) shapes[init.name] = to_dims(init.value.shape());
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    Dims s = input_shapes.empty() ? g.inputs[i].shape : input_shapes[i];
    for (int64_t& d : s) {
      if (d < 0) d = 1;
    }
    shapes[g.inputs[i].name] = s;
  }
  for (const Node& n : g.nodes) {
    std::vector<Dims> in;
    for (const std::string& name : n.inputs) {
      if (name.empty()) {
        in.emplace_back();
        continue;
      }
      auto it = shapes.find(name);
      RAVEL_CHECK(it != shapes.end(), detail::describe(n), ": input '", name,
                  "' is not produced before it is used");
      in.push_back(it->second);
    }
    std::vector<Dims> out;
    try {
      out = node_shapes(g, n, in);
    } catch (const Error& e) {
      std::string shapes_text;
      for (const Dims& s : in) shapes_text += (shapes_text.empty() ? "" : ", ") + shape_str(s);
      ::ravel::detail::throw_error("infer_shapes: ", e.what(), " (input shapes ", shapes_text, ")");
    }
    for (size_t i = 0; i < n.outputs.size() && i < out.size(); ++i)
      if (!n.outputs[i].empty()) shapes[n.outputs[i]] = out[i];
  }
  return shapes;
}

}  // namespace ravel::graph
