// Sequential models, wrapped modules and Keras' summary table. Output shapes and parameter counts
// come from the same model built in PyTorch (forward hooks, sum of numel); the table's layout is
// Keras' print_summary (Keras is not installed, so the layout is written from its source).
#include "ravel/keras/model.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ravel/keras/layers.h"
#include "ravel/nn/activation.h"
#include "ravel/nn/container.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/pool.h"
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

// A Keras table row whose fields fit their columns (stops at 29 and 55 of 65).
std::string row(const std::string& layer, const std::string& shape, const std::string& params) {
  std::string s = " " + layer;
  s += std::string(29 - s.size(), ' ') + shape;
  s += std::string(55 - s.size(), ' ') + params;
  return s + "\n";
}

std::string shape_of(const Tensor& t) {  // "(None, 4, 8, 8)" from an int64 list of dims
  std::string s = "(None";
  for (int64_t d : t.to_vector<int64_t>()) s += ", " + std::to_string(d);
  return s + ")";
}

std::string commas(int64_t v) {
  std::string d = std::to_string(v), out;
  for (size_t i = 0; i < d.size(); ++i)
    out += ((i && (d.size() - i) % 3 == 0) ? "," : "") + d.substr(i, 1);
  return out;
}

const std::string kRule(65, '_'), kDouble(65, '=');

// Per-layer output shapes and parameter counts of torch model `m` (its children in order), and
// its trainable and non-trainable totals (Keras counts float buffers as non-trainable).
const char* const kTorchCounts = R"(
shapes = []
for c in m.children():
    c.register_forward_hook(lambda mod, i, o: shapes.append(np.array(o.shape[1:])))
m.eval()
m(torch.zeros(*x_shape))
def count(mod, trainable):
    n = sum(p.numel() for p in mod.parameters() if p.requires_grad == trainable)
    if not trainable:
        n += sum(b.numel() for b in mod.buffers() if b.is_floating_point())
    return n
per_layer = np.array([count(c, True) + count(c, False) for c in m.children()])
out = [per_layer, np.array([count(m, True), count(m, False)])] + shapes
)";

// The whole table, from torch's shapes and counts (r as kTorchCounts gives them); `wrapped`:
// label lines Keras continues on the next line, by row.
std::string expected_summary(const std::string& name, const std::vector<std::string>& labels,
                             const std::vector<Tensor>& r,
                             const std::map<size_t, std::string>& wrapped = {}) {
  const auto per_layer = r[0].to_vector<int64_t>(), totals = r[1].to_vector<int64_t>();
  std::string s = "Model: \"" + name + "\"\n" + kRule + "\n" +
                  " Layer (type)                Output Shape              Param #\n" + kDouble +
                  "\n";
  for (size_t i = 0; i < labels.size(); ++i) {
    s += row(labels[i], shape_of(r[2 + i]), std::to_string(per_layer[i]));
    if (wrapped.count(i)) s += " " + wrapped.at(i) + "\n";
  }
  return s + kDouble + "\nTotal params: " + commas(totals[0] + totals[1]) +
         "\nTrainable params: " + commas(totals[0]) +
         "\nNon-trainable params: " + commas(totals[1]) + "\n" + kRule + "\n";
}

std::shared_ptr<nn::Sequential> small_torch_like_net() {
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Conv2d>(2, 3, 3));
  net->push_back(std::make_shared<nn::BatchNorm2d>(3));
  net->push_back(std::make_shared<nn::ReLU>());
  net->push_back(std::make_shared<nn::Flatten>());
  net->push_back(std::make_shared<nn::Linear>(3 * 4 * 4, 5));
  return net;
}

}  // namespace

TEST(KerasSummary, MatchesTorchShapesAndCounts) {
  reset_layer_names();
  auto seq =
      Sequential({InputLayer({1, 8, 8}), Conv2D(4, 3, {.padding = "same", .activation = "relu"}),
                  BatchNormalization(), MaxPooling2D(2), Flatten(), Dense(10), Dropout(0.5),
                  Dense(3, "softmax")});
  // A wrapped module: a row per top-level child, shapes from forward hooks.
  auto wrapped = Model::from_module(small_torch_like_net(), {2, 6, 6}, "net");
  TorchOracle torch;
  int hs = torch.add_script(
      "m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.MaxPool2d(2), "
      "nn.Flatten(), nn.Linear(64, 10), nn.Dropout(0.5), nn.Linear(10, 3))\n"
      "x_shape = (1, 1, 8, 8)\n" +
          std::string(kTorchCounts),
      {});
  int hw = torch.add_script(
      "m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), "
      "nn.Linear(48, 5))\n"
      "x_shape = (1, 2, 6, 6)\n" +
          std::string(kTorchCounts),
      {});
  torch.run();
  ASSERT_EQ(torch.error(hs), "");
  ASSERT_EQ(torch.error(hw), "");
  // Keras continues a name that does not fit its column on the next line.
  EXPECT_EQ(seq->summary_string(),
            expected_summary(
                "sequential",
                {"conv2d (Conv2D)", "batch_normalization (Batch", "max_pooling2d (MaxPooling2",
                 "flatten (Flatten)", "dense (Dense)", "dropout (Dropout)", "dense_1 (Dense)"},
                torch.results(hs), {{1, "Normalization)"}, {2, "D)"}}));
  EXPECT_GT(torch.results(hs)[1].to_vector<int64_t>()[1], 0);  // the moving mean and variance
  EXPECT_EQ(wrapped->summary_string(),
            expected_summary(
                "net", {"0 (Conv2d)", "1 (BatchNorm2d)", "2 (ReLU)", "3 (Flatten)", "4 (Linear)"},
                torch.results(hw)));
}

TEST(KerasSequential, BuildsOnTheFirstBatchAndRecordsShapes) {
  auto model = Sequential({Dense(5, "relu"), Dense(2)});
  EXPECT_FALSE(model->is_built());
  expect_error([&] { model->summary_string(); }, {"not built", "build_input"});
  Tensor x = randn({3, 4});
  Tensor y = (*model)(x);
  EXPECT_TRUE(model->is_built());
  EXPECT_EQ(y.shape(), (ravel::Shape{3, 2}));
  EXPECT_EQ(model->input_shapes(), (std::vector<keras::Shape>{{4}}));
  EXPECT_EQ(model->output_shapes(), (std::vector<keras::Shape>{{2}}));
  EXPECT_EQ(model->shapes(), (std::vector<keras::Shape>{{4}, {5}, {2}}));
  // run() and the layers by hand give the same result; the model is its own module.
  EXPECT_TRUE(matches(model->run({x})[0], (*model->layers()[1])((*model->layers()[0])(x))));
  EXPECT_EQ(model->module().get(), model.get());
  // Adding to a built model builds the new layer at once (Keras).
  model->add(Dense(7));
  EXPECT_EQ(model->output_shapes(), (std::vector<keras::Shape>{{7}}));
  EXPECT_EQ(model->layers().back()->built(), true);
  EXPECT_EQ(model->num_parameters(), (4 * 5 + 5) + (5 * 2 + 2) + (2 * 7 + 7));
}

TEST(KerasSequential, BuildInputsUsesAZeroBatchInEvalModeWithoutAutograd) {
  auto model = Sequential({Dense(3), BatchNormalization(), Dropout(0.5)});
  model->build_input({4});
  EXPECT_TRUE(model->is_built());
  EXPECT_TRUE(model->is_training());  // the mode is given back
  // On images a batch of one has enough values per channel to train on: the statistics must
  // still stay as they were made.
  auto cnn = Sequential({InputLayer({1, 4, 4}), Conv2D(3, 3), BatchNormalization()});
  for (auto* m : {model.get(), cnn.get()}) {
    for (const auto& [name, b] : m->named_buffers()) {
      SCOPED_TRACE(name);
      if (name.find("running_mean") != std::string::npos) {
        EXPECT_TRUE(matches(b, zeros({3})));
      } else if (name.find("running_var") != std::string::npos) {
        EXPECT_TRUE(matches(b, ones({3})));
      } else if (name.find("num_batches") != std::string::npos) {
        EXPECT_EQ(b.item<int64_t>(), 0);
      }
    }
  }
  expect_error([&] { model->build_input({5}); }, {"already built", "(None, 4)", "(None, 5)"});
}

TEST(KerasSequential, IntegerInputsBuildWithTheirDtype) {
  Tensor ids = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}).reshape({2, 3});
  auto built_by_batch = Sequential({Embedding(10, 4), Flatten(), Dense(2)});
  EXPECT_EQ((*built_by_batch)(ids).shape(), (ravel::Shape{2, 2}));
  auto built_by_shape = Sequential({Embedding(10, 4), Flatten(), Dense(2)});
  built_by_shape->build_inputs({{3}}, {DType::Int64});
  EXPECT_EQ(built_by_shape->output_shapes(), (std::vector<keras::Shape>{{2}}));
  EXPECT_EQ(built_by_shape->config()["input_dtype"], "int64");
}

TEST(KerasSequential, StateDictKeysUseLayerNames) {
  reset_layer_names();
  auto model = Sequential({InputLayer({4}), Dense(3), Dense(2, "", {}, "head")});
  std::vector<std::string> keys;
  for (const auto& [k, t] : model->state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"dense.linear.weight", "dense.linear.bias",
                                            "head.linear.weight", "head.linear.bias"}));
  EXPECT_EQ(model->layers().size(), 2u);  // the InputLayer is not a layer (Keras' model.layers)
  // Keras' column stops scale with the line length.
  const std::string wide = model->summary_string(80);
  EXPECT_EQ(wide.substr(wide.find('\n') + 1, 81), std::string(80, '_') + "\n");
  // Stops at int(0.45 * 80) = 36 and int(0.85 * 80) = 68.
  const std::string dense_row = " dense (Dense)" + std::string(36 - 14, ' ') + "(None, 3)" +
                                std::string(68 - 45, ' ') + "15\n";
  EXPECT_NE(wide.find(dense_row), std::string::npos) << wide;
  expect_error([&] { model->summary_string(20); }, {"line_length 20", "at least 40"});
  EXPECT_EQ(model->top_layers().size(), 2u);
}

TEST(KerasSequential, Errors) {
  reset_layer_names();
  auto model = Sequential({InputLayer({4}), Dense(3)});
  expect_error([&] { model->add(InputLayer({4})); }, {"must come first"});
  expect_error([&] { model->add(Dense(2, "", {}, "dense")); },
               {"already has a layer named \"dense\""});
  expect_error([&] { model->add(nullptr); }, {"null layer"});
  expect_error([&] { (*model)(randn({2, 5})); }, {"sequential", "[2, 5]", "(None, 4)"});
  expect_error([&] { InputLayer({4, 0}); }, {"not positive"});
  auto empty = Sequential();
  expect_error([&] { empty->pop(); }, {"without layers"});
}

TEST(KerasSequential, PopRemovesTheLastLayer) {
  reset_layer_names();
  auto model = Sequential({InputLayer({4}), Dense(3), Dense(2)});
  const int64_t before = model->num_parameters();
  model->pop();  // Keras' transfer-learning idiom: drop the head, add another
  EXPECT_EQ(model->layers().size(), 1u);
  EXPECT_EQ(model->output_shapes()[0], (keras::Shape{3}));
  EXPECT_EQ(model->num_parameters(), before - (3 * 2 + 2));
  model->add(Dense(5, "", {}, "head"));
  EXPECT_EQ(model->output_shapes()[0], (keras::Shape{5}));
  EXPECT_EQ((*model)(randn({2, 4})).shape(), (ravel::Shape{2, 5}));
  std::vector<std::string> keys;
  for (const auto& [k, t] : model->state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"dense.linear.weight", "dense.linear.bias",
                                            "head.linear.weight", "head.linear.bias"}));
}

TEST(KerasModel, WrappedModuleSharesTheModulesTensors) {
  auto net = small_torch_like_net();
  auto model = Model::from_module(net, {2, 6, 6}, "net");
  // The wrapper trains the same tensors, under the module's own keys.
  EXPECT_EQ(model->module().get(), net.get());
  auto ours = model->named_parameters(), theirs = net->named_parameters();
  for (const auto& [name, t] : model->named_buffers()) ours.emplace_back(name, t);
  for (const auto& [name, t] : net->named_buffers()) theirs.emplace_back(name, t);
  ASSERT_EQ(ours.size(), theirs.size());
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].first, theirs[i].first);
    EXPECT_TRUE(ours[i].second.is_same(theirs[i].second)) << ours[i].first;
  }
  model->eval();
  EXPECT_FALSE(net->is_training());
  Tensor x = randn({2, 2, 6, 6});
  EXPECT_TRUE(matches((*model)(x), (*net)(x)));
  expect_error([&] { model->config(); }, {"net", "custom nn::Module", "save_weights"});
}

TEST(KerasModel, WrappedModuleBuildsOnTheFirstBatch) {
  auto model = Model::from_module(std::make_shared<nn::Linear>(4, 2));
  EXPECT_FALSE(model->is_built());
  expect_error([&] { model->summary_string(); }, {"not built"});
  Tensor y = model->run({randn({3, 4})})[0];
  EXPECT_EQ(y.shape(), (ravel::Shape{3, 2}));
  EXPECT_EQ(model->input_shapes(), (std::vector<keras::Shape>{{4}}));
  EXPECT_EQ(model->output_shapes(), (std::vector<keras::Shape>{{2}}));
  EXPECT_EQ(model->num_parameters(), 10);
}

TEST(KerasModel, ZooModelSummary) {
  auto model = Model::from_zoo("resnet20", {.num_classes = 10, .in_channels = 1});
  auto net = model->module();
  EXPECT_NE(net.get(), model.get());
  EXPECT_EQ(model->name().rfind("resnet20", 0), 0u);  // "resnet20", "resnet20_1", ...
  std::string s = model->summary_string();
  // A row per top-level child, with the shape its forward hook saw.
  for (const auto& [name, child] : net->named_children())
    EXPECT_NE(s.find(" " + name + " (" + child->type_name() + ")"), std::string::npos) << name;
  int64_t trainable = net->num_parameters(true), floats = 0;
  for (const auto& [name, b] : net->named_buffers())
    if (is_floating(b.dtype())) floats += b.numel();
  EXPECT_NE(s.find("Trainable params: " + commas(trainable) + "\n"), std::string::npos) << s;
  EXPECT_NE(s.find("Non-trainable params: " + commas(floats) + "\n"), std::string::npos) << s;
  EXPECT_EQ(model->output_shapes(), (std::vector<keras::Shape>{{10}}));
  EXPECT_EQ(model->config()["zoo"], "resnet20");
}
