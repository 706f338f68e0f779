// Folds the shape arithmetic exporters emit for `x.view(x.size(0), -1)`:
//   Shape(x) -> Gather(0) -> Unsqueeze -> Concat(with -1) -> Reshape(x, ...)
// into one Reshape with a constant target ([0, -1]), so the graph needs only graph.h's
// operators. Each element of such an int64 vector is tracked as a constant or as the batch size
// (a dimension that follows the dynamic batch of the inputs: found by inferring shapes at two
// batch sizes). Chains that do not fold are left alone; Graph::check then names their first
// unsupported node.
#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "onnx/proto.h"

namespace ravel::onnx::detail {
namespace {

constexpr size_t kMaxLength = 64;  // longer int vectors are not shapes

struct Dim {
  int64_t value = 0;
  bool batch = false;  // the batch size (value unused)
};
struct Ints {
  std::vector<Dim> dims;
  bool scalar = false;  // a 0-d tensor (Gather with a scalar index)
};

class Folder {
 public:
  explicit Folder(graph::Graph& g) : g_(g) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (const auto& o : g.nodes[i].outputs) producer_[o] = i;
  }

  void run() {
    for (auto& n : g_.nodes) {
      if (n.outputs.empty()) continue;
      std::optional<Ints> r;
      if (n.op == "Shape")
        r = shape_of(n);
      else if (n.op == "Constant" && n.has("value"))
        r = from_tensor(n.attrs.at("value"));
      else if (n.op == "Gather")
        r = gather(n);
      else if (n.op == "Unsqueeze")
        r = unsqueeze(n);
      else if (n.op == "Squeeze")
        r = squeeze(n);
      else if (n.op == "Concat")
        r = concat(n);
      else if (n.op == "Cast" && n.inputs.size() == 1)
        r = ints(n.inputs[0]);
      else if (n.op == "Reshape" && n.inputs.size() == 2)
        fold_reshape(n);
      if (r) folded_[n.outputs[0]] = *r;
    }
    remove_dead_nodes();
  }

 private:
  std::optional<Ints> from_tensor(const graph::Attribute& a) {
    const Tensor* t = std::get_if<Tensor>(&a);
    if (!t || !is_integral(t->dtype()) || t->ndim() > 1 ||
        t->numel() > static_cast<int64_t>(kMaxLength))
      return std::nullopt;
    Ints r;
    r.scalar = t->ndim() == 0;
    for (int64_t v : t->to_vector<int64_t>()) r.dims.push_back({v, false});
    return r;
  }
  std::optional<Ints> ints(const std::string& v) {
    if (auto it = folded_.find(v); it != folded_.end()) return it->second;
    if (const auto* init = g_.find_initializer(v)) return from_tensor(init->value);
    return std::nullopt;
  }
  std::optional<std::vector<int64_t>> constant(const std::string& v) {
    auto r = ints(v);
    if (!r) return std::nullopt;
    std::vector<int64_t> out;
    for (const Dim& d : r->dims) {
      if (d.batch) return std::nullopt;
      out.push_back(d.value);
    }
    return out;
  }

  // The shape of value `v`, from shape inference over the nodes it depends on, at batch sizes 2
  // and 3: a dimension that follows the batch is the batch; one that changes otherwise is
  // unknown (nullopt).
  std::optional<std::vector<Dim>> dims_of(const std::string& v) {
    for (const auto& in : g_.inputs)
      if (in.name == v) {
        std::vector<Dim> r;
        for (size_t i = 0; i < in.shape.size(); ++i) {
          if (in.shape[i] >= 0)
            r.push_back({in.shape[i], false});
          else if (i == 0)
            r.push_back({0, true});
          else
            return std::nullopt;
        }
        return r;
      }
    // Each inference walks the graph: a hostile file with thousands of Shape nodes is left to
    // Graph::check past a few dozen.
    if (!producer_.count(v) || ++inferences_ > kMaxInferences) return std::nullopt;
    graph::Graph sub;  // v and the nodes it depends on
    sub.inputs = g_.inputs;
    sub.initializers = g_.initializers;
    sub.opset = g_.opset;
    sub.outputs = {graph::ValueInfo{v, DType::Float32, {}}};
    std::set<size_t> needed;
    std::vector<std::string> todo{v};
    while (!todo.empty()) {
      auto it = producer_.find(todo.back());
      todo.pop_back();
      if (it == producer_.end() || !needed.insert(it->second).second) continue;
      for (const auto& in : g_.nodes[it->second].inputs) todo.push_back(in);
    }
    for (size_t i : needed) sub.nodes.push_back(g_.nodes[i]);
    std::map<std::string, std::vector<int64_t>> at[2];
    for (int k = 0; k < 2; ++k) {
      std::vector<std::vector<int64_t>> shapes;
      for (const auto& in : g_.inputs) {
        shapes.push_back(in.shape);
        for (auto& d : shapes.back())
          if (d < 0) d = 2 + k;
      }
      try {
        sub.check();
        at[k] = graph::infer_shapes(sub, shapes);
      } catch (const Error&) {
        return std::nullopt;  // left to Graph::check to report, on the whole graph
      }
    }
    const auto &s2 = at[0].at(v), &s3 = at[1].at(v);
    if (s2.size() != s3.size()) return std::nullopt;
    std::vector<Dim> r;
    for (size_t i = 0; i < s2.size(); ++i) {
      if (s2[i] == s3[i])
        r.push_back({s2[i], false});
      else if (s2[i] == 2 && s3[i] == 3)
        r.push_back({0, true});
      else
        return std::nullopt;
    }
    return r;
  }

  std::optional<Ints> shape_of(const graph::Node& n) {
    auto dims = dims_of(n.inputs.at(0));
    if (!dims) return std::nullopt;
    const auto rank = static_cast<int64_t>(dims->size());
    auto clamp = [&](int64_t a) { return std::clamp(a < 0 ? a + rank : a, int64_t{0}, rank); };
    const int64_t start = clamp(n.attr_int("start", 0)), end = clamp(n.attr_int("end", rank));
    Ints r;
    for (int64_t i = start; i < end; ++i) r.dims.push_back((*dims)[i]);
    return r;
  }

  std::optional<Ints> gather(const graph::Node& n) {
    auto data = ints(n.inputs.at(0));
    auto index = n.inputs.size() == 2 ? ints(n.inputs[1]) : std::nullopt;
    if (!data || data->scalar || !index || n.attr_int("axis", 0) != 0) return std::nullopt;
    Ints r;
    r.scalar = index->scalar;
    const auto size = static_cast<int64_t>(data->dims.size());
    for (const Dim& i : index->dims) {
      const int64_t k = i.value < 0 ? i.value + size : i.value;
      if (i.batch || k < 0 || k >= size) return std::nullopt;
      r.dims.push_back(data->dims[k]);
    }
    return r;
  }

  // Axes from the attribute (opset < 13) or the second input.
  std::optional<std::vector<int64_t>> axes(const graph::Node& n) {
    if (n.has("axes")) return n.attr_ints("axes");
    if (n.inputs.size() == 2) return constant(n.inputs[1]);
    return std::nullopt;
  }
  std::optional<Ints> unsqueeze(const graph::Node& n) {  // scalar -> [x]
    auto x = ints(n.inputs.at(0));
    auto ax = axes(n);
    if (!x || !x->scalar || !ax || *ax != std::vector<int64_t>{0}) return std::nullopt;
    x->scalar = false;
    return x;
  }
  std::optional<Ints> squeeze(const graph::Node& n) {  // [x] -> scalar
    auto x = ints(n.inputs.at(0));
    auto ax = axes(n);
    if (!x || x->scalar || x->dims.size() != 1) return std::nullopt;
    if (ax && !ax->empty() && *ax != std::vector<int64_t>{0} && *ax != std::vector<int64_t>{-1})
      return std::nullopt;
    x->scalar = true;
    return x;
  }
  std::optional<Ints> concat(const graph::Node& n) {
    if (n.attr_int("axis", 0) != 0 && n.attr_int("axis", 0) != -1) return std::nullopt;
    Ints r;
    for (const auto& in : n.inputs) {
      auto x = ints(in);
      if (!x || x->scalar) return std::nullopt;
      r.dims.insert(r.dims.end(), x->dims.begin(), x->dims.end());
      if (r.dims.size() > kMaxLength) return std::nullopt;
    }
    return r;
  }

  // A target computed from shapes becomes a constant: the batch is copied (0) where the data's
  // dimension at that position is the batch, or inferred (-1) where nothing else is.
  void fold_reshape(graph::Node& n) {
    auto it = folded_.find(n.inputs[1]);
    if (it == folded_.end() || it->second.scalar) return;
    const auto& dims = it->second.dims;
    std::vector<int64_t> target;
    const bool has_infer = std::any_of(dims.begin(), dims.end(),
                                       [](const Dim& d) { return !d.batch && d.value == -1; });
    const auto batches =
        std::count_if(dims.begin(), dims.end(), [](const Dim& d) { return d.batch; });
    std::optional<std::vector<Dim>> data;
    for (size_t i = 0; i < dims.size(); ++i) {
      if (!dims[i].batch) {
        target.push_back(dims[i].value);
        continue;
      }
      if (!has_infer && batches == 1) {
        target.push_back(-1);
        continue;
      }
      if (!data) data = dims_of(n.inputs[0]);
      if (!data || i >= data->size() || !(*data)[i].batch) return;  // not foldable: left as is
      target.push_back(0);
    }
    std::string name = n.name + "/shape";
    while (g_.find_initializer(name)) name += "_";
    g_.initializers.push_back({name, from_vector(target)});
    n.inputs[1] = name;
  }

  // Nodes whose outputs nobody reads (the folded shape arithmetic), last to first.
  void remove_dead_nodes() {
    std::set<std::string> used;
    for (const auto& o : g_.outputs) used.insert(o.name);
    std::vector<bool> keep(g_.nodes.size(), false);
    for (size_t i = g_.nodes.size(); i-- > 0;) {
      const auto& n = g_.nodes[i];
      keep[i] = std::any_of(n.outputs.begin(), n.outputs.end(),
                            [&](const std::string& o) { return used.count(o) != 0; });
      if (keep[i]) used.insert(n.inputs.begin(), n.inputs.end());
    }
    std::vector<graph::Node> nodes;
    for (size_t i = 0; i < g_.nodes.size(); ++i)
      if (keep[i]) nodes.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(nodes);
  }

  static constexpr int kMaxInferences = 64;
  graph::Graph& g_;
  int inferences_ = 0;
  std::map<std::string, size_t> producer_;
  std::map<std::string, Ints> folded_;
};

}  // namespace

void fold_shape_arithmetic(graph::Graph& g) {
  const bool any = std::any_of(g.nodes.begin(), g.nodes.end(),
                               [](const graph::Node& n) { return n.op == "Shape"; });
  if (any) Folder(g).run();
}

}  // namespace ravel::onnx::detail
