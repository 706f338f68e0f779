// graph::trace on ravel's models and Keras models: the traced Graph, run by GraphModule, gives
// the module's outputs at other batch sizes, trains like it, and loads torchvision's weights.
#include <gtest/gtest.h>

#include "ravel/graph.h"
#include "ravel/keras.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/nn/functional.h"
#include "ravel/ops.h"
#include "ravel/optim/sgd.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

namespace ravel::graph {
namespace {

namespace F = nn::functional;
using testing::expect_error;
using testing::matches;

// Randomises BN statistics and affine parameters so eval-mode BN is not the identity.
void randomize_bn(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard ng;
  for (auto& [name, t] : m.state_dict()) {
    if (name.find("running_var") != std::string::npos) t.copy_(rand(t.shape(), gen) + 0.5f);
    if (name.find("running_mean") != std::string::npos) t.copy_(randn(t.shape(), gen) * 0.1f);
    if (name.find("bn") != std::string::npos && name.find("bias") != std::string::npos)
      t.copy_(randn(t.shape(), gen) * 0.1f);
  }
}

std::map<std::string, int> op_counts(const Graph& g) {
  std::map<std::string, int> c;
  for (const Node& n : g.nodes) ++c[n.op];
  return c;
}

// Traces at batch 1 (verify runs batch 3), then compares GraphModule with the module at batch
// sizes 1 and 5.
Graph check_traced(nn::Module& m, const Shape& sample, const std::string& what) {
  SCOPED_TRACE(what);
  m.eval();
  Shape s1{1}, s5{5};
  for (int64_t d : sample) {
    s1.push_back(d);
    s5.push_back(d);
  }
  Graph g = trace(m, {randn(s1)});
  EXPECT_EQ(g.inputs[0].shape[0], -1);
  EXPECT_EQ(g.outputs[0].name, "output");
  auto gm = std::make_shared<GraphModule>(g);
  gm->eval();
  for (const Shape& s : {s1, s5}) {
    Tensor x = randn(s);
    NoGradGuard ng;
    EXPECT_TRUE(matches((*gm)(x), m(x), 1e-4, 1e-4)) << "batch " << s[0];
  }
  return g;
}

TEST(GraphTrace, ClassicModels) {
  manual_seed(1);
  auto mlp = models::mlp({12, 16, 10}, {.activation = "tanh"});
  Graph g = check_traced(*mlp, {3, 4}, "mlp");
  EXPECT_EQ(op_counts(g), (std::map<std::string, int>{{"Flatten", 1}, {"Gemm", 2}, {"Tanh", 1}}));
  // One initializer per state_dict entry, with its name (an MLP reads them all).
  std::vector<std::string> keys, names;
  for (const auto& [k, v] : mlp->state_dict()) keys.push_back(k);
  for (const auto& i : g.initializers) names.push_back(i.name);
  EXPECT_EQ(names, keys);

  auto lenet = models::lenet5({.num_classes = 10, .in_channels = 1});
  check_traced(*lenet, {1, 28, 28}, "lenet5");

  // A small VGG-style net (vgg11_bn's 100M-parameter classifier is too big for a unit test).
  auto vgg = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(3, 8, 3, nn::Conv2dOptions{.padding = 1}),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Conv2d>(8, 8, 3),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::AdaptiveAvgPool2d>(F::Ints{2, 2}), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(32, 5),
      std::make_shared<nn::Softmax>(1));
  randomize_bn(*vgg, 2);
  g = check_traced(*vgg, {3, 12, 12}, "vgg-style");
  EXPECT_EQ(op_counts(g).count("Dropout"), 0u);  // eval: identity, no node
}

TEST(GraphTrace, ResNets) {
  manual_seed(2);
  // The CIFAR ResNet-20 with its ZeroPad shortcut (strided slice + pad), as trained on
  // Fashion-MNIST.
  auto r20 = models::resnet20({.num_classes = 10, .in_channels = 1});
  randomize_bn(*r20, 3);
  Graph g = check_traced(*r20, {1, 28, 28}, "resnet20");
  EXPECT_EQ(op_counts(g)["Slice"], 2);
  EXPECT_EQ(op_counts(g)["Pad"], 2);
  EXPECT_EQ(op_counts(g)["Conv"], 19);
  EXPECT_EQ(op_counts(g)["GlobalAveragePool"], 1);

  auto r18 = models::resnet18({.num_classes = 10});
  randomize_bn(*r18, 4);
  g = check_traced(*r18, {3, 32, 32}, "resnet18");
  EXPECT_EQ(op_counts(g)["Conv"], 20);
  EXPECT_EQ(op_counts(g)["BatchNormalization"], 20);
  EXPECT_EQ(op_counts(g)["MaxPool"], 1);

  auto r50 = models::resnet50({.num_classes = 10, .width = 16});  // Bottleneck blocks, narrow
  randomize_bn(*r50, 5);
  g = check_traced(*r50, {3, 32, 32}, "resnet50 (width 16)");
  EXPECT_EQ(op_counts(g)["Conv"], 53);
}

TEST(GraphTrace, KerasModels) {
  manual_seed(3);
  using namespace keras;
  auto seq =
      Sequential({InputLayer({1, 12, 12}), Conv2D(4, 3, {.padding = "same", .activation = "relu"}),
                  BatchNormalization(), MaxPooling2D(2), Flatten(), Dense(16, "relu"), Dropout(0.2),
                  Dense(10, "softmax")});
  randomize_bn(*seq, 6);
  check_traced(*seq, {1, 12, 12}, "keras Sequential");

  Symbol in = Input({3, 6, 6});
  Symbol x = Activation("relu")(BatchNormalization()(Conv2D(4, 3, {.padding = "same"})(in)));
  Symbol y = BatchNormalization()(Conv2D(4, 3, {.padding = "same"})(x));
  x = Activation("relu")(Add()({x, y}));
  auto functional = Model::functional(in, Dense(5)(GlobalAveragePooling2D()(x)));
  randomize_bn(*functional, 7);
  check_traced(*functional, {3, 6, 6}, "keras functional");

  // Two inputs, two outputs: the function form of trace.
  Symbol a = Input({4}), b = Input({3});
  Symbol h = Add()({Dense(5, "relu")(a), Dense(5)(b)});
  auto heads = Model::functional({a, b}, {Dense(2)(h), Dense(1, "sigmoid")(Concatenate()({h, a}))});
  heads->eval();
  auto fn = [&](const std::vector<Tensor>& xs) { return heads->run(xs); };
  Graph g = trace(fn, heads->named_parameters(), {randn({2, 4}), randn({2, 3})});
  EXPECT_EQ(g.inputs[1].name, "input_1");
  EXPECT_EQ(g.outputs[1].name, "output_1");
  GraphModule gm(g);
  std::vector<Tensor> xs{randn({5, 4}), randn({5, 3})};
  auto want = heads->run(xs), got = gm.run(xs);
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(matches(got[i], want[i], 1e-5, 1e-5));
}

// One SGD step on the GraphModule of a traced CNN gives the same weights as the same step on the
// module (state_dict keys are the same, so the two compare key by key).
TEST(GraphTrace, GraphModuleTrainsLikeTheModule) {
  manual_seed(4);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(1, 4, 3, nn::Conv2dOptions{.padding = 1}),
      std::make_shared<nn::BatchNorm2d>(4), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(64, 3));
  Tensor x = randn({6, 1, 8, 8}), labels = tensor({0, 1, 2, 0, 1, 2});
  Graph g = trace(*net, {x});
  auto gm = std::make_shared<GraphModule>(g);
  for (nn::Module* m : {static_cast<nn::Module*>(net.get()), static_cast<nn::Module*>(gm.get())}) {
    m->train();
    optim::SGD opt(m->parameters(), {.lr = 0.1});
    opt.zero_grad();
    F::cross_entropy((*m)(x), labels).backward();
    opt.step();
  }
  EXPECT_EQ(gm->parameters().size(), net->parameters().size());
  nn::StateDict want = net->state_dict();
  std::map<std::string, Tensor> got;
  for (const auto& [k, v] : gm->state_dict()) got[k] = v;
  for (const auto& [k, v] : want) {
    if (!is_floating(v.dtype())) continue;  // num_batches_tracked: not read, not in the graph
    ASSERT_TRUE(got.count(k)) << k;
    EXPECT_TRUE(matches(got[k], v, 1e-5, 1e-6)) << k;
  }
  // to_graph() carries the trained weights.
  Graph tuned = gm->to_graph();
  net->eval();
  GraphModule again(tuned);
  again.eval();
  NoGradGuard ng;
  EXPECT_TRUE(matches(again(x), (*net)(x), 1e-5, 1e-5));
}

// The traced ravel ResNet-18 loads torchvision's state_dict through the GraphModule's keys and
// gives torchvision's logits (only BN's num_batches_tracked, which the graph does not read, is
// left over).
TEST(GraphTrace, TorchvisionWeightsLoadIntoTracedResNet18) {
  manual_seed(5);
  auto r18 = models::resnet18({.num_classes = 10});
  Graph g = trace(*r18, {randn({1, 3, 32, 32})}, {.verify = false});
  GraphModule gm(g);
  Tensor x = randn({2, 3, 32, 32});
  std::string keys;
  for (const auto& [k, v] : r18->state_dict()) keys += "'" + k + "', ";  // torchvision's names
  testing::TorchOracle torch;
  int h = torch.add_script(
      "import torchvision\n"
      "torch.manual_seed(0)\n"
      "m = torchvision.models.resnet18(num_classes=10)\n"
      "with torch.no_grad():\n"
      "  for n, b in m.named_buffers():\n"
      "    if 'running_var' in n: b.uniform_(0.5, 1.5)\n"
      "    if 'running_mean' in n: b.normal_(0, 0.1)\n"
      "m.eval()\n"
      "sd = m.state_dict()\n"
      "out = [m(torch.tensor(a))] + [sd[k] for k in [" +
          keys + "]]",
      {x});
  torch.run();
  ASSERT_EQ(torch.error(h), "");
  const auto& r = torch.results(h);
  nn::StateDict sd;
  size_t i = 1;
  for (const auto& [k, v] : r18->state_dict()) sd.emplace_back(k, r[i++].to(v.dtype()));
  nn::LoadResult loaded = gm.load_state_dict(sd, /*strict=*/false);
  EXPECT_TRUE(loaded.missing_keys.empty());
  EXPECT_EQ(loaded.unexpected_keys.size(), 20u);  // one num_batches_tracked per BN
  for (const auto& k : loaded.unexpected_keys)
    EXPECT_NE(k.find("num_batches_tracked"), std::string::npos) << k;
  gm.eval();
  NoGradGuard ng;
  EXPECT_TRUE(matches(gm(x), r[0], 1e-4, 1e-4));
}

struct Cumsum : nn::Module {
  Tensor forward(const Tensor& x) override { return cumsum(F::relu(x), 1); }
};
struct Gelu : nn::Module {
  Tensor forward(const Tensor& x) override { return F::gelu(x * 2.0f); }
};
struct FrozenBatch : nn::Module {  // a reshape to a fixed batch: caught by verify
  Tensor forward(const Tensor& x) override { return x.reshape({x.size(0) * 3, -1}); }
};

TEST(GraphTrace, UnsupportedOpsAreNamed) {
  Cumsum c;
  expect_error(
      [&] {
        trace(c, {randn({2, 3})});
      },
      {"trace: op 'cumsum' has no ONNX form", "supported operators: Conv"});
  Gelu g;
  expect_error([&] { trace(g, {randn({2, 3})}); }, {"'gelu'"});
  FrozenBatch f;
  expect_error([&] { trace(f, {randn({2, 3, 4})}); }, {"verification failed", "batch 3"});
  // Nothing is left behind: the module still runs and trains after a failed trace.
  EXPECT_EQ(c(randn({2, 3})).shape(), (Shape{2, 3}));
  Graph ok = trace(f, {randn({2, 3, 4})}, {.dynamic_batch = false});
  EXPECT_EQ(ok.inputs[0].shape, (std::vector<int64_t>{2, 3, 4}));
}

TEST(GraphTrace, ScalarsTransposesAndSlices) {
  struct Net : nn::Module {
    Tensor w = randn({4, 5});
    Tensor forward(const Tensor& x) override {
      Tensor h = (1.0f - x) / 2.0f + 0.5f * x;  // reversed scalar forms
      h = 3.0f / (h * h + 1.0f);                // Div(const, x)
      Tensor t = h.transpose(1, 2).index({Slice(), Slice(None, None, -1)});  // [N, 4, 3] rev
      Tensor m = matmul(t.permute({0, 2, 1}), w);                            // [N, 3, 5] @ const
      Tensor s = m.slice(2, 1, None, 2);                                     // [N, 3, 2]
      return F::log_softmax(concatenate({s, -s}, 2).flatten(1), 1);
    }
  } net;
  manual_seed(6);
  Graph g = check_traced(net, {3, 4}, "scalars");
  EXPECT_EQ(op_counts(g)["Transpose"], 2);
  EXPECT_EQ(op_counts(g)["Slice"], 2);
}

}  // namespace
}  // namespace ravel::graph
