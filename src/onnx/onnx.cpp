// ONNX models <-> graph::Graph, through the protobuf classes of Debian's libonnx-dev.
//
// Reading: the protobuf parser bounds nesting and never reads past the buffer; everything it
// yields is then checked here (opsets, domains, names, element types, sizes against the bytes
// present) before anything is allocated, and operators of opsets 11-18 are brought to the
// opset-13 semantics a Graph has. Last, Graph::check and (where a conversion needs shapes)
// infer_shapes run, so a loaded Graph is one GraphModule can run. tests/fuzz/fuzz_onnx.cpp
// fuzzes it.
#include "ravel/onnx.h"

#include <climits>
#include <filesystem>
#include <set>

#include "io/files.h"
#include "onnx/proto.h"

namespace ravel::onnx {
namespace {

namespace pb = ::onnx;
using detail::clip;
using detail::Context;

constexpr int64_t kMinOpset = 11, kMaxOpset = 18;
constexpr int64_t kIrVersion = 8;                         // ONNX 1.10-1.12; opsets up to 18 allowed
constexpr int64_t kMinIrVersion = 3, kMaxIrVersion = 10;  // 3: opset imports; 10: ONNX 1.16
constexpr size_t kMaxBytes = size_t{INT_MAX};             // protobuf's limit for one message

std::string node_label(const graph::Node& n) {
  return "node '" + clip(n.name) + "' (" + n.op + ")";
}

// Operators whose opset 11-12 forms differ from opset 13's are rewritten or refused here; the
// rest of graph.h's operators kept their semantics from opset 11 to 18.
// Returns true when the node is an opset < 13 Softmax/LogSoftmax, fixed once shapes are known.
bool upgrade_node(graph::Node& n, int64_t opset, const Context& ctx) {
  auto refuse_attrs = [&](std::initializer_list<const char*> names, const char* how) {
    for (const char* a : names)
      if (n.has(a))
        ctx.fail(node_label(n), " has attribute '", a, "', the form of opset < 11; opset ", opset,
                 " passes ", how, " as inputs");
  };
  if (n.op == "Clip") refuse_attrs({"min", "max"}, "min and max");
  if (n.op == "Slice") refuse_attrs({"starts", "ends", "axes", "steps"}, "starts, ends and axes");
  if (n.op == "Pad") {
    refuse_attrs({"pads", "value"}, "pads and the constant value");
    if (n.inputs.size() > 3 && !n.inputs[3].empty())
      ctx.fail(node_label(n),
               " has an 'axes' input (opset 18); only Pad over every axis is "
               "supported");
  }
  if (n.op == "Constant") {  // the opset 12 shorthands become the one 'value' tensor
    for (const char* a : {"sparse_value", "value_string", "value_strings"})
      if (n.has(a)) ctx.fail(node_label(n), ": a Constant '", a, "' is not supported");
    auto scalar_or_list = [&](const char* a, auto tag) {
      using T = decltype(tag);
      if (!n.has(a)) return;
      const graph::Attribute& v = n.attrs.at(a);
      Tensor t;
      if (const T* s = std::get_if<T>(&v))
        t = from_vector(std::vector<T>{*s}, Shape{});
      else if (const auto* l = std::get_if<std::vector<T>>(&v))
        t = from_vector(*l);
      else
        ctx.fail(node_label(n), ": attribute '", a, "' has the wrong type");
      n.attrs.erase(a);
      RAVEL_CHECK(!n.has("value"), "onnx: ", ctx.what, ": ", node_label(n),
                  " has several values; expected one");
      n.attrs["value"] = t;
    };
    scalar_or_list("value_float", float{});
    scalar_or_list("value_floats", float{});
    scalar_or_list("value_int", int64_t{});
    scalar_or_list("value_ints", int64_t{});
    if (!n.has("value") || !std::holds_alternative<Tensor>(n.attrs.at("value")))
      ctx.fail(node_label(n), ": no 'value' tensor");
  }
  return opset < 13 && (n.op == "Softmax" || n.op == "LogSoftmax");
}

// Opset < 13 Softmax/LogSoftmax flatten the input to 2-D at `axis` (default 1) and normalise
// over the whole of the second part. Where that part is more than the last axis, it becomes
// Flatten -> Softmax(axis=1) -> Reshape back (only the batch dimension may be dynamic there).
void upgrade_softmax(graph::Graph& g, const std::vector<size_t>& which, const Context& ctx) {
  const auto shapes = graph::infer_shapes(g);
  std::vector<graph::Node> nodes;
  size_t k = 0;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    graph::Node n = std::move(g.nodes[i]);
    if (k >= which.size() || which[k] != i) {
      nodes.push_back(std::move(n));
      continue;
    }
    ++k;
    const auto& shape = shapes.at(n.inputs.at(0));
    const auto rank = static_cast<int64_t>(shape.size());
    int64_t axis = n.attr_int("axis", 1);
    if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
      ctx.fail(node_label(n), ": axis ", axis, " out of range for rank ", rank);
    if (axis < 0) axis += rank;
    if (axis >= rank - 1) {
      n.attrs["axis"] = axis;
      nodes.push_back(std::move(n));
      continue;
    }
    const std::string x = n.inputs[0], y = n.outputs.at(0), base = n.name;
    std::vector<int64_t> target(shape.begin(), shape.end());
    target[0] = -1;
    g.initializers.push_back({base + "/shape", from_vector(target)});
    graph::Node flat{"Flatten", base + "/flatten", {x}, {y + "/flat_in"}, {{"axis", axis}}};
    graph::Node reshape{"Reshape", base + "/reshape", {y + "/flat_out", base + "/shape"}, {y}, {}};
    n.inputs = {y + "/flat_in"};
    n.outputs = {y + "/flat_out"};
    n.attrs["axis"] = int64_t{1};
    nodes.push_back(std::move(flat));
    nodes.push_back(std::move(n));
    nodes.push_back(std::move(reshape));
  }
  g.nodes = std::move(nodes);
}

graph::Graph graph_from_proto(const pb::GraphProto& gp, int64_t opset, const Context& ctx) {
  if (gp.sparse_initializer_size() > 0)
    ctx.fail("sparse initializers are not supported ('",
             clip(gp.sparse_initializer(0).values().name()), "')");
  graph::Graph g;
  g.name = gp.name().empty() ? "ravel" : gp.name();
  g.opset = std::max<int64_t>(opset, 13);

  std::set<std::string> init_names;
  for (const auto& t : gp.initializer()) {
    const std::string where = "initializer '" + clip(t.name()) + "'";
    if (t.name().empty()) ctx.fail("an initializer has no name");
    if (!init_names.insert(t.name()).second) ctx.fail(where, " appears twice");
    g.initializers.push_back({t.name(), detail::tensor_from_proto(t, where, ctx)});
  }
  for (const auto& v : gp.input()) {
    if (init_names.count(v.name())) continue;  // old exporters list weights as inputs too
    bool has_shape = false;
    g.inputs.push_back(detail::value_info_from_proto(v, "input", ctx, &has_shape));
    if (!has_shape)
      ctx.fail("graph input '", clip(v.name()),
               "' has no shape; ravel needs the rank of every "
               "input");
  }
  std::vector<size_t> shapeless_outputs;
  for (const auto& v : gp.output()) {
    bool has_shape = false;
    g.outputs.push_back(detail::value_info_from_proto(v, "output", ctx, &has_shape));
    if (!has_shape) shapeless_outputs.push_back(g.outputs.size() - 1);
  }
  if (g.outputs.empty()) ctx.fail("the graph has no outputs");

  std::set<std::string> node_names;
  std::vector<size_t> old_softmax;
  for (int i = 0; i < gp.node_size(); ++i) {
    const pb::NodeProto& np = gp.node(i);
    graph::Node n;
    n.op = np.op_type();
    const std::string base = np.name().empty() ? n.op + "_" + std::to_string(i) : np.name();
    n.name = base;
    for (int k = 2; !node_names.insert(n.name).second; ++k)  // names are optional, not unique
      n.name = base + "_" + std::to_string(k);
    if (!np.domain().empty() && np.domain() != "ai.onnx")
      ctx.fail(node_label(n), " is in domain '", clip(np.domain()),
               "'; only the default ONNX domain is supported");
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    while (!n.outputs.empty() && n.outputs.back().empty()) n.outputs.pop_back();  // optional
    for (const auto& a : np.attribute()) {
      if (n.attrs.count(a.name()))
        ctx.fail(node_label(n), ": attribute '", clip(a.name()), "' appears twice");
      n.attrs[a.name()] = detail::attribute_from_proto(a, node_label(n), ctx);
    }
    if (upgrade_node(n, opset, ctx)) old_softmax.push_back(g.nodes.size());
    g.nodes.push_back(std::move(n));
  }

  try {
    detail::fold_shape_arithmetic(g);
    g.check();
    if (!old_softmax.empty()) {
      upgrade_softmax(g, old_softmax, ctx);
      g.check();
    }
    if (!shapeless_outputs.empty()) {  // the shapes the graph computes; a dynamic batch stays so
      const auto shapes = graph::infer_shapes(g);
      bool dynamic = false;
      for (const auto& in : g.inputs) dynamic |= !in.shape.empty() && in.shape[0] < 0;
      for (size_t i : shapeless_outputs) {
        auto& out = g.outputs[i];
        const auto& s = shapes.at(out.name);
        out.shape.assign(s.begin(), s.end());
        if (dynamic && !out.shape.empty()) out.shape[0] = -1;
      }
    }
  } catch (const Error& e) {
    if (std::string(e.what()).rfind("onnx: " + ctx.what + ": ", 0) == 0) throw;
    ctx.fail(e.what());  // Graph's own checks: name the file too
  }
  return g;
}

pb::ModelProto model_to_proto(const graph::Graph& g) {
  RAVEL_CHECK(g.opset >= 13 && g.opset <= kMaxOpset, "onnx: graph '", g.name, "' has opset ",
              g.opset, "; ravel writes opsets 13 to ", kMaxOpset);
  g.check();
  pb::ModelProto m;
  m.set_ir_version(kIrVersion);
  m.set_producer_name("ravel");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(g.opset);
  pb::GraphProto* gp = m.mutable_graph();
  gp->set_name(g.name);
  for (const auto& v : g.inputs) detail::value_info_to_proto(v, gp->add_input());
  for (const auto& v : g.outputs) detail::value_info_to_proto(v, gp->add_output());
  for (const auto& init : g.initializers)
    detail::tensor_to_proto(init.value, init.name, gp->add_initializer());
  for (const auto& n : g.nodes) {
    pb::NodeProto* np = gp->add_node();
    np->set_op_type(n.op);
    np->set_name(n.name);
    for (const auto& s : n.inputs) np->add_input(s);
    for (const auto& s : n.outputs) np->add_output(s);
    for (const auto& [name, value] : n.attrs)
      detail::attribute_to_proto(name, value, np->add_attribute());
  }
  return m;
}

}  // namespace

std::string to_bytes(const graph::Graph& g) {
  pb::ModelProto m = model_to_proto(g);
  const size_t size = m.ByteSizeLong();
  RAVEL_CHECK(size <= kMaxBytes, "onnx: graph '", g.name, "' needs ", size,
              " bytes; an ONNX file holds at most 2 GiB (external data is not supported)");
  std::string out;
  RAVEL_CHECK(m.SerializeToString(&out), "onnx: graph '", g.name, "' could not be serialised");
  return out;
}

graph::Graph from_bytes(const void* data, size_t size, const std::string& what) {
  const Context ctx{what};
  if (size > kMaxBytes)
    ctx.fail(size, " bytes; an ONNX file holds at most 2 GiB (external data is not supported)");
  if (size == 0) ctx.fail("empty; expected an ONNX model");
  pb::ModelProto m;
  if (!m.ParseFromArray(data, static_cast<int>(size)))
    ctx.fail(
        "not an ONNX model (the protobuf does not parse: truncated, corrupt or another "
        "format)");
  if (!m.has_graph()) ctx.fail("no graph; not an ONNX model");
  if (m.ir_version() < kMinIrVersion || m.ir_version() > kMaxIrVersion)
    ctx.fail("IR version ", m.ir_version(), " expected ", kMinIrVersion, " to ", kMaxIrVersion);
  int64_t opset = -1;
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  if (opset < 0) ctx.fail("no opset for the default ONNX domain");
  if (opset < kMinOpset || opset > kMaxOpset)
    ctx.fail("opset ", opset, " is not supported; ravel reads opsets ", kMinOpset, " to ",
             kMaxOpset, " (export with opset_version=13 or later)");
  return graph_from_proto(m.graph(), opset, ctx);
}

void save(const graph::Graph& g, const std::string& path) {
  const std::string bytes = to_bytes(g);
  io::atomic_write(path, "onnx save",
                   [&](const io::WriteBytes& write) { write(bytes.data(), bytes.size()); });
}

graph::Graph load(const std::string& path) {
  std::error_code ec;  // refuse a huge file before reading it (a failed stat: read_file says why)
  const auto size = std::filesystem::file_size(path, ec);
  RAVEL_CHECK(ec || size <= kMaxBytes, "onnx: '", path, "': ", size,
              " bytes; an ONNX file holds at most 2 GiB (external data is not supported)");
  const std::string bytes = io::read_file(path, "onnx load");
  return from_bytes(bytes.data(), bytes.size(), "'" + path + "'");
}

void export_model(nn::Module& module, const std::vector<Tensor>& example_inputs,
                  const std::string& path, const graph::TraceOptions& options) {
  save(graph::trace(module, example_inputs, options), path);
}

std::shared_ptr<graph::GraphModule> import_model(const std::string& path) {
  graph::Graph g = load(path);
  try {
    return std::make_shared<graph::GraphModule>(std::move(g));
  } catch (const Error& e) {  // shape inference: name the file too
    ::ravel::detail::throw_error("onnx: '", path, "': ", e.what());
  }
}

}  // namespace ravel::onnx
