// The frozen inference path against the unfused reference: the same Graph run node by node by
// graph::GraphModule (ravel's eager ops, themselves checked against PyTorch), or the original
// module in eval mode. Float32 must agree to 1e-4 of the output's largest magnitude (the
// kernels sum in another order); bfloat16 (8-bit mantissa) to 3e-2 of it, with the same top-1.
#include <gtest/gtest.h>

#include "ravel/infer.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"

namespace ravel {
namespace {

using graph::Attribute;
using graph::Graph;

// Hand-built graphs with random weights.
class Builder {
 public:
  Graph g;

  std::string input(std::vector<int64_t> shape) {
    std::string name = "input_" + std::to_string(g.inputs.size());
    shape[0] = -1;
    g.inputs.push_back({name, DType::Float32, shape});
    return name;
  }
  std::string constant(const Tensor& t) {
    std::string name = "w" + std::to_string(g.initializers.size());
    g.initializers.push_back({name, t});
    return name;
  }
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   std::map<std::string, Attribute> attrs = {}) {
    std::string name = op + "_" + std::to_string(g.nodes.size());
    g.nodes.push_back({op, name, inputs, {name + "_y"}, std::move(attrs)});
    return name + "_y";
  }
  std::string conv(const std::string& x, int64_t cin, int64_t cout, int64_t k, int64_t stride = 1,
                   int64_t pad = 0, int64_t groups = 1, int64_t dil = 1, bool bias = true) {
    std::vector<std::string> in{x, constant(randn({cout, cin / groups, k, k}) * 0.3f)};
    if (bias) in.push_back(constant(randn({cout}) * 0.1f));
    return node("Conv", in,
                {{"kernel_shape", std::vector<int64_t>{k, k}},
                 {"strides", std::vector<int64_t>{stride, stride}},
                 {"pads", std::vector<int64_t>{pad, pad, pad, pad}},
                 {"dilations", std::vector<int64_t>{dil, dil}},
                 {"group", groups}});
  }
  std::string bn(const std::string& x, int64_t c) {
    return node("BatchNormalization",
                {x, constant(rand({c}) + 0.5f), constant(randn({c}) * 0.1f),
                 constant(randn({c}) * 0.1f), constant(rand({c}) + 0.5f)},
                {{"epsilon", 1e-5f}});
  }
  std::string relu(const std::string& x) { return node("Relu", {x}); }
  // The weight through an Identity node, as torch.onnx.export shares equal initializers.
  std::string gemm(const std::string& x, int64_t in, int64_t out) {
    return node("Gemm",
                {x, node("Identity", {constant(randn({out, in}) * 0.2f)}), constant(randn({out}))},
                {{"transB", int64_t{1}}});
  }
  Graph finish(const std::vector<std::string>& outputs) {
    for (const auto& o : outputs) g.outputs.push_back({o, DType::Float32, {}});
    auto shapes = graph::infer_shapes(g);
    for (auto& o : g.outputs) {
      o.shape = shapes.at(o.name);
      o.shape[0] = -1;
    }
    return g;
  }
};

double max_abs(const Tensor& t) { return t.abs().max().item<double>(); }

// fp32: 1e-4 of the largest magnitude; bf16: 3e-2.
void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_EQ(got.dtype(), DType::Float32) << what;
  double err = max_abs(got - want), scale = std::max(max_abs(want), 1e-6);
  EXPECT_LE(err, tol * scale) << what << ": max error " << err << " of " << scale;
}

std::vector<Tensor> reference(const Graph& g, const std::vector<Tensor>& xs) {
  graph::GraphModule m(g);
  m.eval();
  NoGradGuard no_grad;
  return m.run(xs);
}

// Runs the graph frozen in float32 (with and without Winograd convolutions) and bfloat16 and
// checks it against GraphModule. Returns the steps without Winograd (whose layouts, nChw16c,
// differ from the direct convolutions' and add reorders).
std::string check(const Graph& g, const std::vector<Tensor>& xs, bool bf16 = true) {
  auto want = reference(g, xs);
  auto frozen = infer::FrozenModel::create(g, {.winograd = false});
  auto got = frozen->run(xs), got_wino = infer::FrozenModel::create(g)->run(xs);
  EXPECT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    expect_close(got[i], want[i], 1e-4, "float32");
    expect_close(got_wino[i], want[i], 1e-4, "float32, winograd");
  }
  if (bf16) {
    auto fast = infer::FrozenModel::create(g, {.dtype = DType::BFloat16});
    auto got16 = fast->run(xs);
    for (size_t i = 0; i < got16.size(); ++i) expect_close(got16[i], want[i], 3e-2, "bfloat16");
  }
  return frozen->describe();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(InferFrozen, ConvBnReluFusesIntoOneStep) {
  manual_seed(1);
  struct Case {
    int64_t n, cin, cout, hw, k, stride, pad, groups, dil;
  };
  for (const Case& c : std::vector<Case>{{1, 3, 5, 9, 3, 1, 1, 1, 1},
                                         {3, 17, 16, 8, 3, 2, 1, 1, 1},
                                         {1, 16, 17, 7, 1, 2, 0, 1, 1},
                                         {3, 8, 12, 10, 3, 1, 2, 4, 2},
                                         {1, 5, 3, 6, 5, 1, 2, 1, 1}}) {
    Builder b;
    std::string x = b.input({c.n, c.cin, c.hw, c.hw});
    std::string y =
        b.relu(b.bn(b.conv(x, c.cin, c.cout, c.k, c.stride, c.pad, c.groups, c.dil), c.cout));
    std::string text = check(b.finish({y}), {randn({c.n, c.cin, c.hw, c.hw})});
    EXPECT_EQ(count(text, "conv "), 1) << text;
    EXPECT_EQ(count(text, "+bn +relu"), 1) << text;
    EXPECT_EQ(count(text, "fallback"), 0) << text;
  }
}

// A ResNet basic block, identity and downsampling: the add and its ReLU ride on the second
// convolution, writing into the shortcut's buffer.
TEST(InferFrozen, ResidualAddFusesIntoTheConv) {
  manual_seed(2);
  for (int64_t stride : {1, 2}) {
    const int64_t c = 16 * stride;
    Builder b;
    // a stem, so that the shortcut is computed (a graph input is the caller's: copied)
    std::string x = b.relu(b.bn(b.conv(b.input({3, 3, 8, 8}), 3, 16, 3, 1, 1), 16));
    std::string h = b.relu(b.bn(b.conv(x, 16, c, 3, stride, 1, 1, 1, false), c));
    std::string y = b.bn(b.conv(h, c, c, 3, 1, 1, 1, 1, false), c);
    // the downsampling shortcut: a 1x1 convolution with batch norm.
    std::string sc = stride == 1 ? x : b.bn(b.conv(x, 16, c, 1, 2, 0, 1, 1, false), c);
    std::string out = b.relu(b.node("Add", {y, sc}));
    std::string text = check(b.finish({out}), {randn({3, 3, 8, 8})});
    EXPECT_EQ(count(text, "+bn +add +relu"), 1) << text;
    EXPECT_EQ(count(text, "copy shortcut"), 0) << text;
  }
}

// The shortcut is read again after the add: it is copied, not overwritten. A standalone Add of
// two computed values, and the add's output as a second graph output.
TEST(InferFrozen, ShortcutReadLaterIsCopied) {
  manual_seed(3);
  Builder b;
  std::string x = b.input({1, 5, 6, 6});
  std::string a = b.relu(b.conv(x, 5, 8, 3, 1, 1));
  std::string s = b.relu(b.node("Add", {b.conv(a, 8, 8, 3, 1, 1), a}));
  std::string t = b.node("Add", {s, a});
  // t twice: each output its own tensor.
  std::string text = check(b.finish({t, s, t}), {randn({1, 5, 6, 6})});
  EXPECT_EQ(count(text, "copy shortcut"), 1) << text;
  EXPECT_EQ(count(text, "add"), 2) << text;
}

// Pools (max, average with and without padding counted, ceil mode), global pool + Flatten +
// Gemm (one inner product), a Gemm + ReLU, and a Softmax left to the eager ops.
TEST(InferFrozen, PoolsAndClassifier) {
  manual_seed(4);
  Builder b;
  std::string x = b.input({3, 3, 15, 15});
  std::string h = b.relu(b.bn(b.conv(x, 3, 17, 3, 2, 1), 17));
  h = b.node("MaxPool", {h},
             {{"kernel_shape", std::vector<int64_t>{3, 3}},
              {"strides", std::vector<int64_t>{2, 2}},
              {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  std::string p1 = b.node("AveragePool", {h},
                          {{"kernel_shape", std::vector<int64_t>{3, 3}},
                           {"strides", std::vector<int64_t>{1, 1}},
                           {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                           {"count_include_pad", int64_t{1}}});
  std::string p2 = b.node("AveragePool", {p1},
                          {{"kernel_shape", std::vector<int64_t>{2, 2}},
                           {"strides", std::vector<int64_t>{2, 2}},
                           {"ceil_mode", int64_t{1}}});
  std::string g = b.node("GlobalAveragePool", {p2});
  std::string f = b.node("Flatten", {g}, {{"axis", int64_t{1}}});
  std::string l = b.relu(b.gemm(f, 17, 9));
  std::string out = b.node("Softmax", {b.gemm(l, 9, 4)}, {{"axis", int64_t{1}}});
  std::string text = check(b.finish({out}), {randn({3, 3, 15, 15})});
  EXPECT_EQ(count(text, "gemm 17->9 +flatten +relu"), 1) << text;
  EXPECT_EQ(count(text, "maxpool 3x3 s2"), 1) << text;
  EXPECT_EQ(count(text, "fallback (eager ops): Softmax"), 1) << text;
}

// Operators the fast path leaves out run on eager ops between compiled steps; a graph output that
// is a view of a compiled buffer is copied out.
TEST(InferFrozen, UncoveredNodesRunEagerBetweenKernels) {
  manual_seed(5);
  Builder b;
  std::string x = b.input({3, 4, 6, 6});
  std::string h = b.relu(b.conv(x, 4, 6, 3, 1, 1));
  std::string m = b.node("Mul", {h, b.constant(full({1}, 0.5f))});
  std::string t = b.node("Transpose", {m}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  std::string y = b.conv(t, 6, 5, 3, 1, 0);
  std::string r = b.node("Reshape", {y, b.constant(from_vector<int64_t>({0, -1}))});
  // The graph input as an output too.
  std::string text = check(b.finish({r, b.node("Sigmoid", {y}), x}), {randn({3, 4, 6, 6})});
  EXPECT_EQ(count(text, "fallback (eager ops): Mul Transpose"), 1) << text;
}

// A strided Slice from 0 and a zero channel Pad (the CIFAR ResNets' shortcut) run as a 1x1
// convolution with 0/1 weights, alone or together; a Slice from 1 is left to the eager ops.
TEST(InferFrozen, SubsampleAndChannelPadBecomeAConvolution) {
  manual_seed(9);
  Builder b;
  std::string x = b.input({3, 5, 7, 7});
  std::string h = b.relu(b.conv(x, 5, 6, 3, 1, 1));
  auto big = from_vector<int64_t>({INT64_MAX, INT64_MAX});
  std::string sl = b.node("Slice", {h, b.constant(from_vector<int64_t>({0, 0})), b.constant(big),
                                    b.constant(from_vector<int64_t>({2, 3})),
                                    b.constant(from_vector<int64_t>({2, 3}))});
  std::string p = b.node("Pad", {sl, b.constant(from_vector<int64_t>({0, 2, 0, 0, 0, 3, 0, 0}))},
                         {{"mode", std::string("constant")}});
  std::string p2 = b.node("Pad", {h, b.constant(from_vector<int64_t>({0, 1, 0, 0, 0, 0, 0, 0}))});
  std::string s1 = b.node(
      "Slice", {h, b.constant(from_vector<int64_t>({1})), b.constant(from_vector<int64_t>({7})),
                b.constant(from_vector<int64_t>({2}))});
  std::string text = check(b.finish({p, p2, s1}), {randn({3, 5, 7, 7})});
  EXPECT_EQ(count(text, "conv 6->11 1x1 s2x3 =slice +pad"), 1) << text;
  EXPECT_EQ(count(text, "conv 6->7 1x1 s1 =pad"), 1) << text;
  EXPECT_EQ(count(text, "fallback (eager ops): Slice"), 1) << text;
}

TEST(InferFrozen, NonContiguousInputsAndShapeChanges) {
  manual_seed(6);
  Builder b;
  std::string x = b.input({2, 3, 7, 7});
  std::string y = b.relu(b.bn(b.conv(x, 3, 8, 3, 1, 1), 8));
  Graph g = b.finish({b.node("GlobalAveragePool", {y})});
  g.inputs[0].shape = {-1, 3, -1, -1};  // any image size
  auto frozen = infer::FrozenModel::create(g);
  graph::GraphModule ref(g);
  ref.eval();
  NoGradGuard no_grad;
  // A transposed view and a strided slice as inputs.
  Tensor t = randn({7, 7, 3, 2}).permute({3, 2, 1, 0});
  Tensor s = randn({3, 3, 14, 7}).slice(2, 0, 14, 2);
  for (const Tensor& in : {t, s, randn({1, 3, 7, 7}), randn({2, 3, 5, 9}), t}) {
    expect_close(frozen->run(in), ref.forward(in), 1e-4, "float32");
  }
  EXPECT_NE(frozen->describe().find("conv 3->8 3x3 s1 +bn +relu [f32"), std::string::npos)
      << frozen->describe();
}

// freeze() keeps the weights it was given, also for shapes compiled later.
TEST(InferFrozen, FreezeIsASnapshot) {
  manual_seed(8);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(3, 6, 3), std::make_shared<nn::BatchNorm2d>(6),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(6 * 4 * 4, 5));
  Tensor x = randn({2, 3, 6, 6}), x3 = randn({3, 3, 6, 6});
  auto frozen = infer::freeze(*net, x);
  net->eval();
  NoGradGuard no_grad;
  Tensor want = net->forward(x), want3 = net->forward(x3);
  for (auto& [name, p] : net->named_parameters()) p.mul_(2.0f);
  expect_close(frozen->run(x), want, 1e-4, "batch 2");
  expect_close(frozen->run(x3), want3, 1e-4, "batch 3, compiled after the change");
  EXPECT_NE(frozen->describe().find("gemm 96->5 +flatten"), std::string::npos)
      << frozen->describe();
}

TEST(InferFrozen, BadInputsAreNamedErrors) {
  manual_seed(7);
  Builder b;
  std::string x = b.input({1, 3, 5, 5});
  Graph g = b.finish({b.conv(x, 3, 4, 3)});
  auto frozen = infer::FrozenModel::create(g);
  testing::expect_error([&] { frozen->run(std::vector<Tensor>{}); },
                        "run got 0 inputs, expected 1");
  testing::expect_error([&] { frozen->run(randn({1, 3, 5})); }, "expected 4 dimensions");
  testing::expect_error([&] { frozen->run(randn({1, 4, 5, 5})); }, "dimension 1 expected 3");
  testing::expect_error([&] { infer::FrozenModel::create(g, {.dtype = DType::Int8}); },
                        "dtype int8 is not supported");
  // An empty batch runs (eagerly).
  EXPECT_EQ(frozen->run(randn({0, 3, 5, 5})).shape(), (Shape{0, 4, 3, 3}));
}

}  // namespace
}  // namespace ravel
