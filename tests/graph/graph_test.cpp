// Graph checks, shape inference and GraphModule on hand-built one-node graphs, against PyTorch.
#include "ravel/graph.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>

#include "ravel/nn/functional/activation.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

namespace ravel::graph {
namespace {

using testing::expect_error;
using testing::matches;
using testing::TorchOracle;
using Dims = std::vector<int64_t>;

Dims dims(const Tensor& t) { return Dims(t.shape().begin(), t.shape().end()); }
Tensor ints(const Dims& v) { return from_vector(v); }

// A graph with one node `op` reading the graph input "x" and the named constants `consts`
// (initializers), in `node_inputs` order, producing "y".
Graph one_node(const std::string& op, const Tensor& x, std::vector<std::string> node_inputs,
               const std::vector<std::pair<std::string, Tensor>>& consts,
               std::map<std::string, Attribute> attrs = {}) {
  Graph g;
  g.inputs.push_back({"x", DType::Float32, dims(x)});
  for (const auto& [name, t] : consts) g.initializers.push_back({name, t});
  g.nodes.push_back({op, op + "_0", std::move(node_inputs), {"y"}, std::move(attrs)});
  g.outputs.push_back({"y", DType::Float32, {}});
  return g;
}

struct Case {
  std::string name;
  Graph g;
  Tensor x;
  std::string script;  // torch: x is `a`, the initializers b, c, ...
};

TEST(GraphShapes, OperatorsMatchTorch) {
  manual_seed(3);
  const int64_t big = std::numeric_limits<int64_t>::max(),
                small = std::numeric_limits<int64_t>::min();
  std::vector<Case> cases;
  {
    Tensor x = randn({1, 2, 7, 8}), w = randn({3, 2, 3, 3}), b = randn({3});
    cases.push_back({"conv_same_upper",
                     one_node("Conv", x, {"x", "w", "b"}, {{"w", w}, {"b", b}},
                              {{"auto_pad", std::string("SAME_UPPER")}, {"strides", Dims{2, 2}}}),
                     x,
                     // ONNX SAME_UPPER: total pad (out-1)*s + k - in, the odd one at the end.
                     "import math\n"
                     "p = []\n"
                     "for n in (a.shape[3], a.shape[2]):\n"
                     "  t = max(0, (math.ceil(n / 2) - 1) * 2 + 3 - n); p += [t // 2, t - t // 2]\n"
                     "out = F.conv2d(F.pad(torch.tensor(a), p), torch.tensor(b), torch.tensor(c), "
                     "stride=2)"});
    cases.push_back(
        {"conv_pads_dilation_group",
         one_node("Conv", randn({2, 4, 9, 9}), {"x", "w"}, {{"w", randn({6, 2, 3, 2})}},
                  {{"pads", Dims{1, 0, 2, 1}}, {"dilations", Dims{2, 1}}, {"group", int64_t{2}}}),
         Tensor(),
         "out = F.conv2d(F.pad(torch.tensor(a), [0, 1, 1, 2]), torch.tensor(b), "
         "dilation=(2, 1), groups=2)"});
  }
  {
    Tensor x = randn({2, 3, 7, 6});
    cases.push_back({"maxpool_ceil",
                     one_node("MaxPool", x, {"x"}, {},
                              {{"kernel_shape", Dims{3, 2}},
                               {"strides", Dims{2, 2}},
                               {"pads", Dims{1, 0, 1, 0}},
                               {"ceil_mode", int64_t{1}}}),
                     x, "out = F.max_pool2d(torch.tensor(a), (3, 2), 2, (1, 0), ceil_mode=True)"});
    cases.push_back({"avgpool_ceil_include_pad",
                     one_node("AveragePool", x, {"x"}, {},
                              {{"kernel_shape", Dims{3, 3}},
                               {"strides", Dims{2, 2}},
                               {"pads", Dims{1, 1, 1, 1}},
                               {"ceil_mode", int64_t{1}},
                               {"count_include_pad", int64_t{1}}}),
                     x,
                     "out = F.avg_pool2d(torch.tensor(a), 3, 2, 1, ceil_mode=True, "
                     "count_include_pad=True)"});
    cases.push_back(
        {"avgpool_exclude_pad",
         one_node(
             "AveragePool", x, {"x"}, {},
             {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}, {"pads", Dims{1, 1, 1, 1}}}),
         x, "out = F.avg_pool2d(torch.tensor(a), 2, 2, 1, count_include_pad=False)"});
    cases.push_back({"global_avg", one_node("GlobalAveragePool", x, {"x"}, {}), x,
                     "out = torch.tensor(a).mean((2, 3), keepdim=True)"});
  }
  {
    Tensor x = randn({3, 7, 4});
    cases.push_back({"slice_negative_steps",
                     one_node("Slice", x, {"x", "s", "e", "ax", "st"},
                              {{"s", ints({-1, 1})},
                               {"e", ints({small, big})},
                               {"ax", ints({1, -1})},
                               {"st", ints({-2, 2})}}),
                     x, "out = a[:, ::-2, 1::2].copy()"});
    cases.push_back(
        {"slice_clamped",
         one_node("Slice", x, {"x", "s", "e"}, {{"s", ints({1, -100})}, {"e", ints({big, 5})}}), x,
         "out = a[1:, :5].copy()"});
    cases.push_back(
        {"slice_backward_clamped",
         one_node("Slice", x, {"x", "s", "e", "ax", "st"},
                  {{"s", ints({100})}, {"e", ints({2})}, {"ax", ints({1})}, {"st", ints({-1})}}),
         x, "out = a[:, :2:-1].copy()"});
    cases.push_back({"reshape_0_minus1",
                     one_node("Reshape", x, {"x", "shape"}, {{"shape", ints({0, -1})}}), x,
                     "out = a.reshape(a.shape[0], -1)"});
    cases.push_back({"flatten_axis2", one_node("Flatten", x, {"x"}, {}, {{"axis", int64_t{2}}}), x,
                     "out = a.reshape(21, 4)"});
    cases.push_back({"transpose", one_node("Transpose", x, {"x"}, {}, {{"perm", Dims{2, 0, 1}}}), x,
                     "out = a.transpose(2, 0, 1).copy()"});
    cases.push_back(
        {"concat",
         one_node("Concat", x, {"x", "c", "x"}, {{"c", randn({3, 2, 4})}}, {{"axis", int64_t{-2}}}),
         x, "out = np.concatenate([a, b, a], 1)"});
    cases.push_back({"pad_constant",
                     one_node("Pad", x, {"x", "p", "v"},
                              {{"p", ints({0, 2, 1, 1, -1, 0})}, {"v", scalar_tensor(1.5f)}}),
                     x, "out = F.pad(torch.tensor(a), [1, 0, 2, -1, 0, 1], value=1.5)"});
    cases.push_back({"softmax", one_node("Softmax", x, {"x"}, {}, {{"axis", int64_t{1}}}), x,
                     "out = F.softmax(torch.tensor(a), 1)"});
    cases.push_back({"logsoftmax", one_node("LogSoftmax", x, {"x"}, {}), x,
                     "out = F.log_softmax(torch.tensor(a), -1)"});
    cases.push_back({"clip",
                     one_node("Clip", x, {"x", "lo", "hi"},
                              {{"lo", scalar_tensor(-0.5f)}, {"hi", scalar_tensor(0.25f)}}),
                     x, "out = np.clip(a, -0.5, 0.25)"});
    cases.push_back({"leaky", one_node("LeakyRelu", x, {"x"}, {}, {{"alpha", 0.2f}}), x,
                     "out = F.leaky_relu(torch.tensor(a), 0.2)"});
    cases.push_back({"matmul_broadcast",
                     one_node("MatMul", x, {"x", "m"}, {{"m", randn({2, 1, 4, 5})}}), x,
                     "out = np.matmul(a, b)"});
    cases.push_back({"div_broadcast", one_node("Div", x, {"x", "d"}, {{"d", randn({7, 1})}}), x,
                     "out = a / b"});
  }
  {
    Tensor x = randn({4, 3});
    cases.push_back(
        {"gemm_trans_alpha_beta",
         one_node(
             "Gemm", x, {"x", "b", "c"}, {{"b", randn({5, 4})}, {"c", randn({1, 5})}},
             {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}}),
         x, "out = 0.5 * a.T @ b.T + 2 * c"});
    Tensor xb = randn({3, 4, 5, 5});
    cases.push_back(
        {"batchnorm",
         one_node(
             "BatchNormalization", xb, {"x", "s", "b", "m", "v"},
             {{"s", randn({4})}, {"b", randn({4})}, {"m", randn({4})}, {"v", rand({4}) + 0.5f}},
             {{"epsilon", 1e-3f}}),
         xb,
         "out = F.batch_norm(torch.tensor(a), torch.tensor(d), torch.tensor(e), "
         "torch.tensor(b), torch.tensor(c), eps=1e-3)"});
  }
  TorchOracle torch;
  std::vector<int> handles;
  std::vector<Tensor> ys;
  for (Case& c : cases) {
    if (!c.x.defined()) c.x = randn(Shape(c.g.inputs[0].shape));
    auto m = std::make_shared<GraphModule>(c.g);
    m->eval();
    ys.push_back((*m)(c.x));
    EXPECT_EQ(infer_shapes(c.g).at("y"), dims(ys.back())) << c.name;
    std::vector<Tensor> in{c.x};
    for (const auto& init : c.g.initializers) in.push_back(init.value);
    handles.push_back(torch.add_script(c.script, in));
  }
  torch.run();
  for (size_t i = 0; i < cases.size(); ++i) {
    ASSERT_EQ(torch.error(handles[i]), "") << cases[i].name;
    EXPECT_TRUE(matches(ys[i], torch.result(handles[i]).to(DType::Float32), 1e-4, 1e-5))
        << cases[i].name;
  }
}

TEST(GraphShapes, ErrorsNameTheNode) {
  Tensor x = randn({1, 3, 8, 8});
  expect_error(
      [&] {
        infer_shapes(one_node("Conv", x, {"x", "w"}, {{"w", randn({4, 2, 3, 3})}}));
      },
      {"Conv_0", "Conv", "[4, 2, 3, 3]", "[1, 3, 8, 8]"});
  expect_error(
      [&] {
        infer_shapes(one_node("Reshape", x, {"x", "s"}, {{"s", ints({5, -1})}}));
      },
      {"Reshape_0", "Reshape", "[5, -1]"});
  expect_error(
      [&] {
        infer_shapes(one_node("Gemm", randn({2, 3}), {"x", "w"}, {{"w", randn({4, 3})}}));
      },
      {"Gemm_0", "[2, 3]", "[4, 3]"});
  expect_error([&] { one_node("Cumsum", x, {"x"}, {}).check(); },
               {"Cumsum_0", "unsupported operator 'Cumsum'", "supported: Conv"});
  expect_error([&] { one_node("Relu", x, {"z"}, {}).check(); }, {"Relu_0", "'z'", "not produced"});
  expect_error(
      [&] {
        GraphModule m(one_node("Relu", x, {"x"}, {}));
        m.run({});
      },
      {"takes 1 inputs"});
  expect_error(
      [&] {
        GraphModule m(one_node("Slice", x, {"x", "s", "x"}, {{"s", ints({0})}}));
      },
      {"Slice_0", "ends", "must be a constant"});
  Graph g = one_node("Relu", x, {"x"}, {});
  g.outputs[0].name = "nowhere";
  expect_error([&] { g.check(); }, {"output 'nowhere'"});
}

// Before opsets 10/11/13: Slice, Pad and Clip take attributes, Softmax works on [rows, rest].
TEST(GraphModule, OlderOpsetForms) {
  Tensor x = randn({2, 3, 4});
  Graph g =
      one_node("Slice", x, {"x"}, {}, {{"starts", Dims{1}}, {"ends", Dims{-1}}, {"axes", Dims{2}}});
  EXPECT_TRUE(matches(GraphModule(g).run({x})[0], x.slice(2, 1, -1)));
  g = one_node("Clip", x, {"x"}, {}, {{"min", -0.5f}, {"max", 0.5f}});
  EXPECT_TRUE(matches(GraphModule(g).run({x})[0], clip(x, -0.5, 0.5)));
  g = one_node("Pad", x, {"x"}, {}, {{"pads", Dims{0, 0, 1, 0, 0, 2}}, {"value", 2.0f}});
  EXPECT_TRUE(matches(GraphModule(g).run({x})[0], pad(x, {{0, 0}, {0, 0}, {1, 2}}, "constant", 2)));
  g = one_node("Softmax", x, {"x"}, {});
  g.opset = 11;
  EXPECT_TRUE(matches(GraphModule(g).run({x})[0],
                      nn::functional::softmax(x.reshape({2, 12}), 1).reshape({2, 3, 4}), 1e-6,
                      1e-6));
}

TEST(GraphModule, StateDictKeysAreInitializerNames) {
  Tensor x = randn({2, 3, 6, 6});
  Graph g;
  g.inputs.push_back({"input", DType::Float32, {-1, 3, 6, 6}});
  g.initializers = {{"layer1.0.conv1.weight", randn({4, 3, 3, 3})},
                    {"layer1.0.bn1.weight", ones({4})},
                    {"layer1.0.bn1.bias", zeros({4})},
                    {"layer1.0.bn1.running_mean", zeros({4})},
                    {"layer1.0.bn1.running_var", ones({4})},
                    {"onnx::Reshape_9", ints({0, -1})},
                    {"fc.weight", randn({5, 36})},
                    {"fc.bias", randn({5})}};
  g.nodes = {
      {"Conv", "c", {"input", "layer1.0.conv1.weight"}, {"h"}, {{"pads", Dims{1, 1, 1, 1}}}},
      {"BatchNormalization",
       "bn",
       {"h", "layer1.0.bn1.weight", "layer1.0.bn1.bias", "layer1.0.bn1.running_mean",
        "layer1.0.bn1.running_var"},
       {"h2"},
       {}},
      {"Relu", "r", {"h2"}, {"h3"}, {}},
      {"MaxPool", "p", {"h3"}, {"h4"}, {{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}}},
      {"Reshape", "f", {"h4", "onnx::Reshape_9"}, {"h5"}, {}},
      {"Gemm", "fc", {"h5", "fc.weight", "fc.bias"}, {"out"}, {{"transB", int64_t{1}}}}};
  g.outputs.push_back({"out", DType::Float32, {-1, 5}});
  GraphModule m(g);
  std::set<std::string> keys, names;
  for (const auto& [k, v] : m.state_dict()) keys.insert(k);
  for (const auto& init : g.initializers)
    names.insert(init.name == "onnx::Reshape_9" ? "onnx__Reshape_9" : init.name);
  EXPECT_EQ(keys, names);
  EXPECT_EQ(m.parameters().size(), 5u);  // conv, bn weight/bias, fc weight/bias
  EXPECT_EQ(m(x).shape(), (Shape{2, 5}));
  // Loading changes the output; to_graph() carries the new values.
  nn::StateDict sd = m.state_dict();
  for (auto& [k, v] : sd) {
    if (k == "fc.bias") v = v + 1.0f;
  }
  Tensor before = m(x);
  m.load_state_dict(sd);
  EXPECT_TRUE(matches(m(x), before + 1.0f, 1e-5, 1e-5));
  Graph g2 = m.to_graph();
  EXPECT_TRUE(matches((*std::make_shared<GraphModule>(g2))(x), before + 1.0f, 1e-5, 1e-5));
  EXPECT_TRUE(matches(g.initializers.back().value + 1.0f, g2.initializers.back().value));
}

}  // namespace
}  // namespace ravel::graph
