// Functional models: graphs of layer calls against the same network written in PyTorch (weights
// copied over, outputs compared in training and eval mode), several inputs and outputs, shared
// layers, models nested as layers, the summary's "Connected to" column, and graph errors.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "ravel/keras/layers.h"
#include "ravel/keras/model.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using namespace ravel::keras;
using ravel::testing::expect_error;
using ravel::testing::matches;
using ravel::testing::TorchOracle;

namespace {

// Random values in every parameter, so a wrong wiring cannot hide behind initial values.
void randomize(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard ng;
  for (Tensor& p : m.parameters()) p.copy_(randn(p.shape(), gen) * 0.5);
}

Tensor flat_params(const nn::Module& m) {
  std::vector<Tensor> ps;
  for (const auto& [name, p] : m.named_parameters()) ps.push_back(p.detach().reshape({-1}));
  return concatenate(ps);
}

// Loads flat values `a` into torch module m's parameters in order.
const char* const kLoad = R"(
def load(m, flat):
    off = 0
    with torch.no_grad():
        for p in m.parameters():
            k = p.numel()
            p.copy_(torch.tensor(flat[off:off + k]).view_as(p))
            off += k
    assert off == flat.size, (off, flat.size)
)";

// A Keras table row for the "Connected to" layout (stops at 29, 58, 68 of 98).
std::string row4(const std::string& layer, const std::string& shape, const std::string& params,
                 const std::string& connected) {
  std::string s = " " + layer;
  s += std::string(29 - s.size(), ' ') + shape;
  s += std::string(58 - s.size(), ' ') + params;
  s += std::string(68 - s.size(), ' ') + connected;
  return s + "\n";
}

// Each case builds its model, gives the oracle its torch twin and returns the checks to run once
// the oracle has run (one python process for all of them).
using Check = std::function<void()>;

Check small_resnet_case(TorchOracle& torch) {
  reset_layer_names();
  // A stem and one residual block, in a few lines.
  Symbol in = Input({3, 6, 6});
  Symbol x = Activation("relu")(BatchNormalization()(Conv2D(4, 3, {.padding = "same"})(in)));
  Symbol y = Activation("relu")(BatchNormalization()(Conv2D(4, 3, {.padding = "same"})(x)));
  y = BatchNormalization()(Conv2D(4, 3, {.padding = "same"})(y));
  x = Activation("relu")(Add()({x, y}));
  Symbol out = Dense(5)(GlobalAveragePooling2D()(x));
  auto model = Model::functional(in, out);
  EXPECT_EQ(model->name(), "model");
  EXPECT_EQ(out.shape(), (keras::Shape{5}));
  randomize(*model, 1);
  Generator gen(2);
  Tensor xs = randn({4, 3, 6, 6}, gen);

  model->train();
  Tensor y_train = (*model)(xs);
  model->eval();
  Tensor y_eval = (*model)(xs);

  int h = torch.add_script(std::string(kLoad) + R"(
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        bn = lambda: nn.BatchNorm2d(4, eps=1e-3, momentum=0.01)  # Keras' defaults
        s.c0, s.b0 = nn.Conv2d(3, 4, 3, padding=1), bn()
        s.c1, s.b1 = nn.Conv2d(4, 4, 3, padding=1), bn()
        s.c2, s.b2 = nn.Conv2d(4, 4, 3, padding=1), bn()
        s.fc = nn.Linear(4, 5)
    def forward(s, x):
        x = F.relu(s.b0(s.c0(x)))
        y = F.relu(s.b1(s.c1(x)))
        y = s.b2(s.c2(y))
        x = F.relu(x + y)
        return s.fc(x.mean((2, 3)))
m = Net()
load(m, a)
x = torch.tensor(b)
m.train()
y_train = m(x)
m.eval()
out = [y_train, m(x)])",
                           {flat_params(*model), xs});
  return [&torch, h, y_train, y_eval] {
    SCOPED_TRACE("small ResNet");
    ASSERT_EQ(torch.error(h), "");
    EXPECT_TRUE(matches(y_train, torch.results(h)[0], 1e-4, 1e-5)) << "training mode";
    EXPECT_TRUE(matches(y_eval, torch.results(h)[1], 1e-4, 1e-5)) << "eval mode";
  };
}

Check two_heads_case(TorchOracle& torch) {
  reset_layer_names();
  Symbol a = Input({4}, DType::Float32, "a"), b = Input({3}, DType::Float32, "b");
  Symbol ha = Dense(5, "relu")(a), hb = Dense(5)(b);
  Symbol s = Add()({ha, hb});
  Symbol o1 = Dense(2)(s);
  Symbol o2 = Dense(1, "sigmoid")(Concatenate()({s, ha}));
  auto model = Model::functional({a, b}, {o1, o2}, "two_heads");
  randomize(*model, 3);
  EXPECT_EQ(model->num_model_inputs(), 2u);
  EXPECT_EQ(model->num_model_outputs(), 2u);
  EXPECT_EQ(model->output_shapes(), (std::vector<keras::Shape>{{2}, {1}}));
  Generator gen(4);
  Tensor xa = randn({3, 4}, gen), xb = randn({3, 3}, gen);
  auto outs = model->run({xa, xb});

  int h = torch.add_script(std::string(kLoad) + R"(
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        s.da, s.db, s.o1, s.o2 = nn.Linear(4, 5), nn.Linear(3, 5), nn.Linear(5, 2), nn.Linear(10, 1)
    def forward(s, a, b):
        ha = F.relu(s.da(a))
        t = ha + s.db(b)
        return s.o1(t), torch.sigmoid(s.o2(torch.cat([t, ha], 1)))
m = Net()
load(m, a)
y1, y2 = m(torch.tensor(b), torch.tensor(c))
out = [y1, y2, np.array([sum(p.numel() for p in l.parameters()) for l in [m.da, m.db, m.o1, m.o2]])])",
                           {flat_params(*model), xa, xb});
  return [&torch, h, model, outs, xa] {
    SCOPED_TRACE("two inputs, two outputs");
    ASSERT_EQ(torch.error(h), "");
    ASSERT_EQ(outs.size(), 2u);
    const auto& r = torch.results(h);
    EXPECT_TRUE(matches(outs[0], r[0], 1e-5, 1e-6));
    EXPECT_TRUE(matches(outs[1], r[1], 1e-5, 1e-6));

    // Keras' layout for a graph that is not a chain: a "Connected to" column, 98 wide; a list that
    // does not fit breaks after "',".
    const auto n = r[2].to_vector<int64_t>();
    const std::string more(68, ' ');
    std::string expected =
        "Model: \"two_heads\"\n" + std::string(98, '_') + "\n" +
        row4("Layer (type)", "Output Shape", "Param #", "Connected to") + std::string(98, '=') +
        "\n" + row4("a (InputLayer)", "[(None, 4)]", "0", "[]") +
        row4("b (InputLayer)", "[(None, 3)]", "0", "[]") +
        row4("dense (Dense)", "(None, 5)", std::to_string(n[0]), "['a[0][0]']") +
        row4("dense_1 (Dense)", "(None, 5)", std::to_string(n[1]), "['b[0][0]']") +
        row4("add (Add)", "(None, 5)", "0", "['dense[0][0]',") + more + " 'dense_1[0][0]']\n" +
        row4("dense_2 (Dense)", "(None, 2)", std::to_string(n[2]), "['add[0][0]']") +
        row4("concatenate (Concatenate)", "(None, 10)", "0", "['add[0][0]',") + more +
        " 'dense[0][0]']\n" +
        row4("dense_3 (Dense)", "(None, 1)", std::to_string(n[3]), "['concatenate[0][0]']") +
        std::string(98, '=') + "\n";
    const std::string summary = model->summary_string();
    EXPECT_EQ(summary.substr(0, expected.size()), expected);
    const int64_t total = n[0] + n[1] + n[2] + n[3];
    EXPECT_NE(summary.find("Total params: " + std::to_string(total) + "\n"), std::string::npos);

    expect_error([&] { model->run({xa}); }, {"two_heads", "1 inputs, expected 2"});
    expect_error([&] { model->run({xa, xa}); }, {"Input \"b\"", "[3, 4]", "(None, 3)"});
    expect_error([&] { (*model)(xa); }, {"two_heads", "expected 2"});
  };
}

Check nested_case(TorchOracle& torch) {
  reset_layer_names();
  auto inner = Sequential({Dense(6, "relu"), Dense(3)}, "inner");
  Symbol in = Input({4});
  Symbol h = Dense(4, "tanh")(in);
  Symbol out = Activation("softmax")((*inner)(h));
  auto model = Model::functional(in, out);
  EXPECT_TRUE(inner->is_built());  // built by the symbolic call
  EXPECT_EQ(inner->input_shapes(), (std::vector<keras::Shape>{{4}}));
  randomize(*model, 6);
  std::vector<std::string> keys;
  for (const auto& [k, t] : model->named_parameters()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"dense_2.linear.weight", "dense_2.linear.bias",
                                      "inner.dense.linear.weight", "inner.dense.linear.bias",
                                      "inner.dense_1.linear.weight", "inner.dense_1.linear.bias"}));
  Generator gen(7);
  Tensor x = randn({5, 4}, gen);
  int t = torch.add_script(std::string(kLoad) + R"(
m = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3),
                  nn.Softmax(1))
load(m, a)
out = m(torch.tensor(b)))",
                           {flat_params(*model), x});
  return [&torch, t, model, x] {
    SCOPED_TRACE("a Sequential nested in a functional model");
    ASSERT_EQ(torch.error(t), "");
    EXPECT_TRUE(matches((*model)(x), torch.result(t), 1e-5, 1e-6));
    // A chain, so Keras' plain layout; the nested model is one row.
    const std::string s = model->summary_string();
    EXPECT_NE(s.find(" inner (Sequential)          (None, 3)                 "), std::string::npos)
        << s;
    EXPECT_EQ(s.find("Connected to"), std::string::npos) << s;
  };
}

}  // namespace

TEST(KerasFunctional, MatchesTorch) {
  TorchOracle torch;
  std::vector<Check> checks = {small_resnet_case(torch), two_heads_case(torch), nested_case(torch)};
  torch.run();
  for (const Check& check : checks) check();
}

TEST(KerasFunctional, SharedLayerIsOneChildAndShowsEachCall) {
  reset_layer_names();
  auto dense = Dense(3);
  Symbol a = Input({4}), b = Input({4});
  auto model = Model::functional({a, b}, {Add()({dense(a), dense(b)})});
  EXPECT_EQ(model->children().size(), 2u);  // dense, add
  EXPECT_EQ(model->num_parameters(), dense->num_parameters());
  Generator gen(5);
  Tensor xa = randn({2, 4}, gen), xb = randn({2, 4}, gen);
  EXPECT_TRUE(matches(model->run({xa, xb})[0], dense(xa) + dense(xb)));
  const std::string s = model->summary_string();
  EXPECT_NE(s.find("['input_1[0][0]',"), std::string::npos) << s;
  EXPECT_NE(s.find(" 'input_2[0][0]']"), std::string::npos) << s;
  EXPECT_NE(s.find("['dense[0][0]',"), std::string::npos) << s;
  EXPECT_NE(s.find(" 'dense[1][0]']"), std::string::npos) << s;
}

TEST(KerasFunctional, GraphErrors) {
  reset_layer_names();
  Symbol in = Input({4});
  Symbol x = Dense(3, "", {}, "same")(in);
  Symbol y = Dense(3, "", {}, "same")(x);
  expect_error([&] { Model::functional(in, y); },
               {"two different layers are named \"same\"", "unique"});
  Symbol other = Input({4}, DType::Float32, "other");
  Symbol z = Add()({Dense(3)(in), Dense(3)(other)});
  expect_error([&] { Model::functional(in, z); },
               {"depend on Input \"other\"", "not among the model's inputs"});
  expect_error([&] { Model::functional(x, y); }, {"input 0", "expected a symbol made by Input()"});
  expect_error([&] { Model::functional({in, in}, {x}); }, {"given twice"});
  expect_error([&] { Model::functional(in, Symbol()); }, {"undefined"});
  auto model = Model::functional(in, x);
  expect_error([&] { model->build_input({5}); }, {"built for inputs (None, 4)"});
}
