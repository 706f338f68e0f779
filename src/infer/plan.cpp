// Fusion planning: which graph nodes become one kernel, with BN folded into the convolution's
// weights. Decisions that depend only on the graph and the shapes live here; the kernels' choices
// (layouts, in-place adds) are the backend's.
#include "infer/plan.h"

#include <cmath>
#include <limits>
#include <set>
#include <sstream>

#include "ravel/autograd.h"
#include "ravel/error.h"

namespace ravel::infer {
namespace {

using graph::Graph;
using graph::Node;

// ONNX's pads for auto_pad SAME_UPPER / SAME_LOWER / VALID; NOTSET keeps the node's pads.
void resolve_pads(const Node& n, const std::vector<int64_t>& in, Step& s) {
  const size_t nsp = in.size();
  std::vector<int64_t> pads = n.attr_ints("pads", std::vector<int64_t>(2 * nsp, 0));
  RAVEL_CHECK(pads.size() == 2 * nsp, "infer: node '", n.name, "' (", n.op, ") has ", pads.size(),
              " pads, expected ", 2 * nsp);
  s.pads_begin.assign(pads.begin(), pads.begin() + static_cast<int64_t>(nsp));
  s.pads_end.assign(pads.begin() + static_cast<int64_t>(nsp), pads.end());
  const std::string ap = n.attr_string("auto_pad", "NOTSET");
  if (ap == "VALID") {
    std::fill(s.pads_begin.begin(), s.pads_begin.end(), 0);
    std::fill(s.pads_end.begin(), s.pads_end.end(), 0);
  } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    for (size_t i = 0; i < nsp; ++i) {
      int64_t out = (in[i] + s.strides[i] - 1) / s.strides[i];
      int64_t total = std::max<int64_t>(
          (out - 1) * s.strides[i] + (s.kernel[i] - 1) * s.dilations[i] + 1 - in[i], 0);
      s.pads_begin[i] = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
      s.pads_end[i] = total - s.pads_begin[i];
    }
  }
}

template <typename S>
std::vector<int64_t> spatial(const S& shape) {
  return std::vector<int64_t>(shape.begin() + 2, shape.end());
}

class Planner {
 public:
  Planner(const Graph& g, const std::vector<std::vector<int64_t>>& input_shapes, bool training)
      : g_(g), training_(training) {
    plan_.shapes = graph::infer_shapes(g, input_shapes);
    const size_t n = g.nodes.size();
    claimed_.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      const Node& node = g.nodes[i];
      if (is_alias(node)) {
        plan_.aliases[node.outputs[0]] = plan_.resolve(node.inputs[0]);
        claimed_[i] = true;
        continue;
      }
      for (const auto& in : node.inputs)
        if (!in.empty()) consumers_[plan_.resolve(in)].push_back(i);
    }
    for (const auto& o : g.outputs) graph_outputs_.insert(plan_.resolve(o.name));
  }

  Plan run() {
    std::map<size_t, Step> pending;  // by the index of the step's last node
    std::vector<size_t> run;         // uncovered nodes waiting to become a fallback step
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (!claimed_[i]) {
        std::optional<Step> s = build(i);
        if (s) {
          size_t last = 0;
          for (const Node* n : s->nodes) last = std::max(last, index_of(n));
          pending.emplace(last, std::move(*s));
        } else {
          run.push_back(i);
          claimed_[i] = true;
        }
      }
      auto it = pending.find(i);
      if (it != pending.end()) {
        flush(run);
        plan_.steps.push_back(std::move(it->second));
        pending.erase(it);
      }
    }
    flush(run);
    return std::move(plan_);
  }

 private:
  const Graph& g_;
  const bool training_;
  Plan plan_;
  std::vector<bool> claimed_;
  std::map<std::string, std::vector<size_t>> consumers_;
  std::set<std::string> graph_outputs_;

  static bool is_alias(const Node& n) {
    if (n.op == "Identity") return true;
    return n.op == "Dropout" && (n.outputs.size() == 1 || n.outputs[1].empty());
  }
  size_t index_of(const Node* n) const { return static_cast<size_t>(n - g_.nodes.data()); }
  const std::vector<int64_t>& shape(const std::string& v) const {
    auto it = plan_.shapes.find(plan_.resolve(v));
    RAVEL_CHECK(it != plan_.shapes.end(), "infer: no shape for value '", v, "'");
    return it->second;
  }
  const Tensor* constant(const Node& n, size_t input) const {
    if (input >= n.inputs.size() || n.inputs[input].empty()) return nullptr;
    const graph::Initializer* init = g_.find_initializer(plan_.resolve(n.inputs[input]));
    return init ? &init->value : nullptr;
  }
  bool is_activation(const std::string& v) const {
    return !v.empty() && !g_.find_initializer(plan_.resolve(v));
  }
  // The one unclaimed node reading v, when v feeds nothing else and is no graph output.
  const Node* sole_consumer(const std::string& v) const {
    const std::string r = plan_.resolve(v);
    auto it = consumers_.find(r);
    if (it == consumers_.end() || it->second.size() != 1 || graph_outputs_.count(r)) return nullptr;
    return claimed_[it->second[0]] ? nullptr : &g_.nodes[it->second[0]];
  }
  void claim(Step& s, const Node& n) {
    claimed_[index_of(&n)] = true;
    s.nodes.push_back(&n);
  }
  // One output, the others absent.
  static bool single_output(const Node& n) {
    for (size_t i = 1; i < n.outputs.size(); ++i)
      if (!n.outputs[i].empty()) return false;
    return true;
  }

  std::optional<Step> build(size_t i) {
    const Node& n = g_.nodes[i];
    if (n.op == "Conv") return conv(n);
    if (n.op == "Gemm" || n.op == "MatMul" || n.op == "Flatten") return inner_product(n);
    if (n.op == "MaxPool" || n.op == "AveragePool" || n.op == "GlobalAveragePool" ||
        n.op == "GlobalMaxPool")
      return pool(n);
    if (n.op == "BatchNormalization") return batch_norm(n);
    if (n.op == "Slice" || n.op == "Pad") return subsample_pad(n);
    if (n.op == "Add") return add(n);
    if (std::optional<PostOp> p = eltwise(n)) {
      if (!is_activation(n.inputs[0]) || shape(n.inputs[0]).size() < 2) return std::nullopt;
      Step s;
      s.kind = Step::Eltwise;
      s.inputs = {plan_.resolve(n.inputs[0])};
      s.outputs = {n.outputs[0]};
      s.post_ops = {*p};
      claim(s, n);
      return s;
    }
    return std::nullopt;
  }

  // An activation ONNX node as a post-op, when its parameters are constants.
  std::optional<PostOp> eltwise(const Node& n) const {
    if (n.inputs.empty() || !single_output(n)) return std::nullopt;
    if (n.op == "Relu") return PostOp{PostOp::Relu};
    if (n.op == "Sigmoid") return PostOp{PostOp::Sigmoid};
    if (n.op == "Tanh") return PostOp{PostOp::Tanh};
    if (n.op == "LeakyRelu") return PostOp{PostOp::LeakyRelu, n.attr_float("alpha", 0.01f)};
    if (n.op == "Clip") {
      float lo = n.attr_float("min", -std::numeric_limits<float>::infinity());
      float hi = n.attr_float("max", std::numeric_limits<float>::infinity());
      for (size_t k : {size_t{1}, size_t{2}}) {
        if (k >= n.inputs.size() || n.inputs[k].empty()) continue;
        const Tensor* c = constant(n, k);
        if (!c || c->numel() != 1) return std::nullopt;
        (k == 1 ? lo : hi) = c->to(DType::Float32).item<float>();
      }
      return PostOp{PostOp::Clip, lo, hi};
    }
    return std::nullopt;
  }

  static const char* tag_of(PostOp::Kind k) {
    switch (k) {
      case PostOp::Relu:
        return "+relu";
      case PostOp::LeakyRelu:
        return "+leakyrelu";
      case PostOp::Clip:
        return "+clip";
      case PostOp::Sigmoid:
        return "+sigmoid";
      case PostOp::Tanh:
        return "+tanh";
      case PostOp::Sum:
        return "+add";
    }
    return "";
  }

  // Follows the step's output through activations (and, with allow_sum, one residual Add of a
  // tensor of the same shape), claiming them.
  void absorb_post_ops(Step& s, bool allow_sum) {
    if (training_) allow_sum = false;
    for (;;) {
      const std::string out = s.outputs[0];
      const Node* next = sole_consumer(out);
      if (!next) return;
      std::optional<PostOp> p = eltwise(*next);
      // Training differentiates one ReLU from the step's output (and nothing else).
      if (training_ && p && (p->kind != PostOp::Relu || !s.post_ops.empty())) return;
      if (p) {
        s.post_ops.push_back(*p);
      } else if (allow_sum && next->op == "Add" && next->inputs.size() == 2) {
        const std::string a = plan_.resolve(next->inputs[0]), b = plan_.resolve(next->inputs[1]);
        const std::string other = a == plan_.resolve(out) ? b : a;
        if (other == plan_.resolve(out) || !is_activation(other) || shape(other) != shape(out))
          return;
        s.post_ops.push_back({PostOp::Sum});
        s.inputs.push_back(other);
        allow_sum = false;
      } else {
        return;
      }
      s.tags.push_back(tag_of(s.post_ops.back().kind));
      s.outputs = {next->outputs[0]};
      claim(s, *next);
    }
  }

  // Batch norm statistics of node n (inputs 1..4 constant), as float64 [C] tensors.
  bool bn_constants(const Node& n, Tensor (&c)[4]) const {
    if (n.inputs.size() < 5 || !single_output(n)) return false;
    for (size_t k = 0; k < 4; ++k) {
      const Tensor* t = constant(n, k + 1);
      if (!t) return false;
      c[k] = t->to(DType::Float64).reshape({-1});
    }
    return true;
  }

  std::optional<Step> conv(const Node& n) {
    const Tensor* w = constant(n, 1);
    const Tensor* b = constant(n, 2);
    if (!w || (n.inputs.size() > 2 && !n.inputs[2].empty() && !b) || !is_activation(n.inputs[0]))
      return std::nullopt;
    const std::vector<int64_t>& x = shape(n.inputs[0]);
    if (x.size() < 3 || x.size() > 5) return std::nullopt;
    Step s;
    s.kind = Step::Conv;
    s.inputs = {plan_.resolve(n.inputs[0])};
    s.outputs = {n.outputs[0]};
    const size_t nsp = x.size() - 2;
    s.kernel = spatial(w->shape());
    s.strides = n.attr_ints("strides", std::vector<int64_t>(nsp, 1));
    s.dilations = n.attr_ints("dilations", std::vector<int64_t>(nsp, 1));
    s.groups = n.attr_int("group", 1);
    resolve_pads(n, spatial(x), s);
    claim(s, n);

    NoGradGuard no_grad;
    const int64_t o = w->shape()[0];
    Tensor wd = w->to(DType::Float64), bd = b ? b->to(DType::Float64) : zeros({o}, DType::Float64);
    Tensor bn[4];
    const Node* next = sole_consumer(s.outputs[0]);
    if (!training_ && next && next->op == "BatchNormalization" && bn_constants(*next, bn)) {
      // y = (conv(x) + b - mean) * scale / sqrt(var + eps) + shift
      Tensor k = bn[0] / (bn[3] + static_cast<double>(next->attr_float("epsilon", 1e-5f))).sqrt();
      Shape ks(w->shape().size(), 1);
      ks[0] = o;
      wd = wd * k.reshape(ks);
      bd = (bd - bn[2]) * k + bn[1];
      s.tags.push_back("+bn");
      s.outputs = {next->outputs[0]};
      claim(s, *next);
    }
    s.weight = wd.to(DType::Float32).contiguous();
    s.bias = bd.to(DType::Float32).contiguous();
    absorb_post_ops(s, true);
    return s;
  }

  std::optional<Step> inner_product(const Node& first) {
    const Node* flatten = nullptr;
    const Node* n = &first;
    if (first.op == "Flatten") {
      if (first.attr_int("axis", 1) != 1) return std::nullopt;
      flatten = &first;
      n = sole_consumer(first.outputs[0]);
      if (!n || (n->op != "Gemm" && n->op != "MatMul")) return std::nullopt;
    }
    if (n->inputs.size() < 2 || !is_activation(n->inputs[0])) return std::nullopt;
    if (plan_.resolve(n->inputs[0]) != plan_.resolve(first.outputs[0]) && flatten)
      return std::nullopt;
    const Tensor* b = constant(*n, 1);
    if (!b || b->ndim() != 2 || shape(n->inputs[0]).size() != 2) return std::nullopt;
    if (training_ &&
        (n->op != "Gemm" || n->attr_int("transA", 0) != 0 || n->attr_int("transB", 0) != 1 ||
         n->attr_float("alpha", 1) != 1 || n->attr_float("beta", 1) != 1))
      return std::nullopt;
    NoGradGuard no_grad;
    Tensor w = b->to(DType::Float64), bias;
    if (n->op == "Gemm") {
      if (n->attr_int("transA", 0) != 0) return std::nullopt;
      if (n->attr_int("transB", 0) == 0) w = w.transpose();
      w = w * static_cast<double>(n->attr_float("alpha", 1.0f));
      if (n->inputs.size() > 2 && !n->inputs[2].empty()) {
        const Tensor* c = constant(*n, 2);
        if (!c || (c->numel() != w.shape()[0] && c->numel() != 1)) return std::nullopt;
        bias = c->to(DType::Float64).reshape({-1}) * static_cast<double>(n->attr_float("beta", 1));
      }
    } else {
      w = w.transpose();
    }
    const int64_t o = w.shape()[0];
    bias = bias.defined() ? bias.expand({o}) : zeros({o}, DType::Float64);

    Step s;
    s.kind = Step::InnerProduct;
    const Node& src = flatten ? *flatten : *n;
    s.inputs = {plan_.resolve(src.inputs[0])};
    Shape ws{o};
    if (flatten) {
      const std::vector<int64_t>& x = shape(flatten->inputs[0]);
      for (size_t k = 1; k < x.size(); ++k) ws.push_back(x[k]);
      claim(s, *flatten);
      s.tags.push_back("+flatten");
    } else {
      ws.push_back(w.shape()[1]);
    }
    s.weight = w.to(DType::Float32).contiguous().reshape(ws);
    s.bias = bias.to(DType::Float32).contiguous();
    s.outputs = {n->outputs[0]};
    claim(s, *n);
    absorb_post_ops(s, false);
    return s;
  }

  std::optional<Step> pool(const Node& n) {
    if (!single_output(n) || !is_activation(n.inputs[0])) return std::nullopt;
    const std::vector<int64_t>& x = shape(n.inputs[0]);
    if (x.size() < 3 || x.size() > 5) return std::nullopt;
    const size_t nsp = x.size() - 2;
    Step s;
    s.kind = Step::Pool;
    s.inputs = {plan_.resolve(n.inputs[0])};
    s.outputs = {n.outputs[0]};
    if (n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool") {
      s.pool = n.op == "GlobalMaxPool" ? Step::Max : Step::AvgExcludePad;
      s.kernel = spatial(x);
      s.strides.assign(nsp, 1);
      s.dilations.assign(nsp, 1);
      s.pads_begin.assign(nsp, 0);
      s.pads_end.assign(nsp, 0);
      s.tags.push_back("global");
    } else {
      s.pool = n.op == "MaxPool"                         ? Step::Max
               : n.attr_int("count_include_pad", 0) != 0 ? Step::AvgIncludePad
                                                         : Step::AvgExcludePad;
      s.kernel = n.attr_ints("kernel_shape");
      s.strides = n.attr_ints("strides", std::vector<int64_t>(nsp, 1));
      s.dilations = n.attr_ints("dilations", std::vector<int64_t>(nsp, 1));
      if (s.kernel.size() != nsp || s.strides.size() != nsp || s.dilations.size() != nsp)
        return std::nullopt;
      resolve_pads(n, spatial(x), s);
      // ceil_mode: the output size (the shape rule's) decides how far the last window reaches.
      const std::vector<int64_t>& y = shape(n.outputs[0]);
      for (size_t i = 0; i < nsp; ++i) {
        int64_t reach = (y[i + 2] - 1) * s.strides[i] + (s.kernel[i] - 1) * s.dilations[i] + 1;
        int64_t extra = reach - x[i + 2] - s.pads_begin[i];
        if (extra > s.pads_end[i]) {
          // Averages that count padding divide by the window inside the declared padding only.
          if (s.pool == Step::AvgIncludePad) return std::nullopt;
          s.pads_end[i] = extra;
        }
      }
    }
    claim(s, n);
    return s;
  }

  std::optional<std::vector<int64_t>> ints(const Node& n, size_t input) const {
    const Tensor* t = constant(n, input);
    if (!t) return std::nullopt;
    return t->to(DType::Int64).contiguous().to_vector<int64_t>();
  }

  // A Slice of spatial axes from 0 with steps, and/or a zero Pad of the channels (the CIFAR
  // ResNets' option-A shortcut), is a 1x1 convolution with 0/1 weights: exact, and the
  // activations stay in the kernels' layout.
  std::optional<Step> subsample_pad(const Node& first) {
    const Node* slice = first.op == "Slice" ? &first : nullptr;
    const Node* pad = slice ? sole_consumer(slice->outputs[0]) : &first;
    if (pad && (pad->op != "Pad" || !single_output(*pad))) pad = nullptr;
    const Node& head = slice ? *slice : *pad;
    if (!single_output(head) || !is_activation(head.inputs[0])) return std::nullopt;
    const std::vector<int64_t>& x = shape(head.inputs[0]);
    const int64_t rank = static_cast<int64_t>(x.size());
    if (rank < 3 || rank > 5) return std::nullopt;
    std::vector<int64_t> strides(x.size() - 2, 1);
    if (slice) {
      auto starts = ints(*slice, 1), ends = ints(*slice, 2);
      if (!starts || !ends || starts->size() != ends->size()) return std::nullopt;
      std::vector<int64_t> axes(starts->size()), steps(starts->size(), 1);
      for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(i);
      const bool has_axes = slice->inputs.size() > 3 && !slice->inputs[3].empty();
      const bool has_steps = slice->inputs.size() > 4 && !slice->inputs[4].empty();
      if (has_axes) {
        auto a = ints(*slice, 3);
        if (!a || a->size() != axes.size()) return std::nullopt;
        axes = *a;
      }
      if (has_steps) {
        auto st = ints(*slice, 4);
        if (!st || st->size() != steps.size()) return std::nullopt;
        steps = *st;
      }
      for (size_t i = 0; i < axes.size(); ++i) {
        const int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
        if (a < 2 || a >= rank || (*starts)[i] != 0 || steps[i] < 1 || (*ends)[i] < x[a])
          return std::nullopt;
        strides[a - 2] = steps[i];
      }
    }
    int64_t before = 0, after = 0;
    if (pad) {
      auto pads = ints(*pad, 1);
      if (pad->attr_string("mode", "constant") != "constant" || !pads ||
          static_cast<int64_t>(pads->size()) != 2 * rank)
        return std::nullopt;
      for (int64_t i = 0; i < 2 * rank; ++i)
        if ((*pads)[i] != 0 && i != 1 && i != rank + 1) return std::nullopt;
      before = (*pads)[1];
      after = (*pads)[rank + 1];
      if (before < 0 || after < 0) return std::nullopt;
      if (pad->inputs.size() > 2 && !pad->inputs[2].empty()) {
        const Tensor* v = constant(*pad, 2);
        if (!v || v->numel() != 1 || v->to(DType::Float64).item<double>() != 0) return std::nullopt;
      }
    }
    const int64_t c = x[1], o = c + before + after;
    std::vector<float> w(static_cast<size_t>(o * c), 0.0f);
    for (int64_t i = 0; i < c; ++i) w[static_cast<size_t>((i + before) * c + i)] = 1.0f;
    Shape ws{o, c};
    for (int64_t i = 2; i < rank; ++i) ws.push_back(1);
    Step s;
    s.kind = Step::Conv;
    s.inputs = {plan_.resolve(head.inputs[0])};
    s.weight = from_vector(w).reshape(ws);
    s.bias = zeros({o});
    s.kernel.assign(x.size() - 2, 1);
    s.strides = strides;
    s.dilations.assign(x.size() - 2, 1);
    s.pads_begin.assign(x.size() - 2, 0);
    s.pads_end.assign(x.size() - 2, 0);
    if (slice) {
      claim(s, *slice);
      s.tags.push_back("=slice");
    }
    if (pad) {
      claim(s, *pad);
      s.tags.push_back(slice ? "+pad" : "=pad");
    }
    s.outputs = {s.nodes.back()->outputs[0]};
    absorb_post_ops(s, true);
    return s;
  }

  std::optional<Step> batch_norm(const Node& n) {
    Tensor c[4];
    if (!is_activation(n.inputs[0]) || !bn_constants(n, c) || shape(n.inputs[0]).size() < 2)
      return std::nullopt;
    Step s;
    s.kind = Step::BatchNorm;
    s.inputs = {plan_.resolve(n.inputs[0])};
    s.outputs = {n.outputs[0]};
    s.weight = c[0].to(DType::Float32).contiguous();
    s.bias = c[1].to(DType::Float32).contiguous();
    s.mean = c[2].to(DType::Float32).contiguous();
    s.var = c[3].to(DType::Float32).contiguous();
    s.epsilon = n.attr_float("epsilon", 1e-5f);
    claim(s, n);
    // oneDNN fuses a ReLU into batch norm and nothing else.
    const Node* next = sole_consumer(s.outputs[0]);
    if (next && next->op == "Relu") {
      s.post_ops.push_back({PostOp::Relu});
      s.tags.push_back("+relu");
      s.outputs = {next->outputs[0]};
      claim(s, *next);
    }
    return s;
  }

  std::optional<Step> add(const Node& n) {
    if (n.inputs.size() != 2 || !is_activation(n.inputs[0]) || !is_activation(n.inputs[1]) ||
        shape(n.inputs[0]) != shape(n.inputs[1]) || shape(n.inputs[0]).size() < 2)
      return std::nullopt;
    Step s;
    s.kind = Step::Add;
    s.inputs = {plan_.resolve(n.inputs[0]), plan_.resolve(n.inputs[1])};
    s.outputs = {n.outputs[0]};
    claim(s, n);
    absorb_post_ops(s, false);
    return s;
  }

  // The uncovered nodes in `run` become one GraphModule over a graph of their own.
  void flush(std::vector<size_t>& run) {
    if (run.empty()) return;
    Step s;
    s.kind = Step::Fallback;
    Graph sub;
    sub.name = "fallback";
    sub.opset = g_.opset;
    std::set<std::string> produced, inputs_seen, inits_seen;
    std::set<size_t> members(run.begin(), run.end());
    for (size_t i : run) {
      Node node = g_.nodes[i];
      for (auto& in : node.inputs) {
        if (in.empty()) continue;
        in = plan_.resolve(in);
        if (produced.count(in)) continue;
        if (const graph::Initializer* init = g_.find_initializer(in)) {
          if (inits_seen.insert(in).second) sub.initializers.push_back(*init);
        } else if (inputs_seen.insert(in).second) {
          s.inputs.push_back(in);
          sub.inputs.push_back({in, dtype_of(in), shape(in)});
        }
      }
      for (const auto& out : node.outputs)
        if (!out.empty()) produced.insert(out);
      s.nodes.push_back(&g_.nodes[i]);
      sub.nodes.push_back(std::move(node));
    }
    for (const auto& v : produced) {
      bool used_outside = graph_outputs_.count(v) != 0;
      auto it = consumers_.find(v);
      if (it != consumers_.end())
        for (size_t c : it->second) used_outside = used_outside || !members.count(c);
      if (used_outside) {
        s.outputs.push_back(v);
        sub.outputs.push_back({v, DType::Float32, shape(v)});
      }
    }
    s.fallback = std::make_shared<graph::GraphModule>(std::move(sub));
    s.fallback->eval();
    plan_.steps.push_back(std::move(s));
    run.clear();
  }

  DType dtype_of(const std::string& v) const {
    for (const auto& in : g_.inputs)
      if (in.name == v) return in.dtype;
    return DType::Float32;
  }
};

std::string dims_text(const std::vector<int64_t>& v, char sep) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? std::string(1, sep) : "") << v[i];
  return os.str();
}

}  // namespace

Plan make_plan(const Graph& g, const std::vector<std::vector<int64_t>>& input_shapes,
               bool training) {
  return Planner(g, input_shapes, training).run();
}

std::string describe_step(const Step& s, const Plan& p) {
  std::ostringstream os;
  auto uniform = [](const std::vector<int64_t>& v) {
    for (int64_t x : v)
      if (x != v[0]) return false;
    return !v.empty();
  };
  auto strides = [&] {
    os << " s" << (uniform(s.strides) ? std::to_string(s.strides[0]) : dims_text(s.strides, 'x'));
  };
  switch (s.kind) {
    case Step::Conv:
      os << "conv " << s.weight.shape()[1] * s.groups << "->" << s.weight.shape()[0] << " "
         << dims_text(s.kernel, 'x');
      strides();
      if (s.groups > 1) os << " g" << s.groups;
      break;
    case Step::InnerProduct:
      os << "gemm " << s.weight.numel() / s.weight.shape()[0] << "->" << s.weight.shape()[0];
      break;
    case Step::Pool:
      os << (s.pool == Step::Max ? "maxpool " : "avgpool ") << dims_text(s.kernel, 'x');
      strides();
      break;
    case Step::BatchNorm:
      os << "batchnorm " << s.weight.numel();
      break;
    case Step::Eltwise:
      os << s.nodes[0]->op;
      break;
    case Step::Add:
      os << "add";
      break;
    case Step::Fallback: {
      os << "fallback (eager ops):";
      for (const graph::Node* n : s.nodes) os << " " << n->op;
      break;
    }
  }
  for (const auto& t : s.tags) os << " " << t;
  (void)p;
  return os.str();
}

}  // namespace ravel::infer
