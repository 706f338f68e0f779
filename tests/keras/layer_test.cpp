// keras::Layer: automatic names, build on the first call, shape errors, symbolic calls and the
// nodes they record, weight sharing, configs and the registry.
#include "ravel/keras/layer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ravel/autograd.h"
#include "ravel/keras/layers.h"
#include "ravel/nn/norm.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"

namespace ravel::keras {
namespace {

using ravel::testing::expect_error;

TEST(KerasLayer, AutomaticNamesCountPerTypeLikeKeras) {
  reset_layer_names();
  EXPECT_EQ(Dense(4)->name(), "dense");
  EXPECT_EQ(Dense(4)->name(), "dense_1");
  EXPECT_EQ(Flatten()->name(), "flatten");
  EXPECT_EQ(Dense(4, "", {}, "head")->name(), "head");  // a given name takes no count
  EXPECT_EQ(Dense(4)->name(), "dense_2");
  EXPECT_EQ(unique_layer_name("BatchNormalization"), "batch_normalization");
  EXPECT_EQ(unique_layer_name("Conv2D"), "conv2d");
  EXPECT_EQ(unique_layer_name("MaxPooling2D"), "max_pooling2d");
  EXPECT_EQ(unique_layer_name("GlobalAveragePooling2D"), "global_average_pooling2d");
  EXPECT_EQ(unique_layer_name("LSTM"), "lstm");
  EXPECT_EQ(Input({3}).node()->input_name, "input_1");  // inputs count from 1, as Keras
  EXPECT_EQ(unique_layer_name("InputLayer"), "input_2");
  reset_layer_names();
  EXPECT_EQ(Dense(4)->name(), "dense");
  EXPECT_EQ(Input({3}).node()->input_name, "input_1");
}

TEST(KerasLayer, BuildsOnFirstCallAndChecksLaterShapes) {
  auto dense = Dense(3);
  EXPECT_FALSE(dense->built());
  EXPECT_TRUE(dense->parameters().empty());
  Tensor y = dense(randn({2, 5}));
  EXPECT_TRUE(dense->built());
  EXPECT_EQ(y.shape(), (ravel::Shape{2, 3}));
  EXPECT_EQ(dense->built_input_shapes(), (std::vector<Shape>{{2, 5}}));
  auto named = dense->named_parameters();
  ASSERT_EQ(named.size(), 2u);
  EXPECT_EQ(named[0].first, "linear.weight");
  EXPECT_EQ(named[1].first, "linear.bias");
  // A later batch of another size is fine; other features are not.
  EXPECT_EQ(dense(randn({7, 5})).shape(), (ravel::Shape{7, 3}));
  expect_error(
      [&] {
        dense(randn({2, 4}));
      },
      {"layer \"" + dense->name() + "\" (Dense)", "[2, 4]", "expected 5", "[2, 5]"});
  expect_error(
      [&] {
        dense->call({randn({2, 5}), randn({2, 5})});
      },
      {"(Dense)", "2 inputs", "expected 1"});
}

TEST(KerasLayer, ModulesMadeByBuildTakeTheLayersMode) {
  auto bn = BatchNormalization();
  bn->eval();
  Tensor y = bn(randn({1, 3}));  // a batch of one normalises with the running statistics
  EXPECT_FALSE(bn->bn->is_training());
  EXPECT_TRUE(bn->bn->running_mean.all_close(zeros({3})));
  bn->train();
  EXPECT_TRUE(bn->bn->is_training());
}

TEST(KerasLayer, SymbolicCallsInferShapesAndRecordNodes) {
  Symbol in = Input({2, 6, 6});
  EXPECT_EQ(in.shape(), (Shape{2, 6, 6}));
  EXPECT_EQ(in.node()->layer, nullptr);
  auto flatten = Flatten();
  auto dense = Dense(4, "relu");
  Symbol f = flatten(in);
  Symbol out = dense(f);
  EXPECT_EQ(f.shape(), (Shape{72}));
  EXPECT_EQ(out.shape(), (Shape{4}));
  EXPECT_EQ(out.dtype(), DType::Float32);
  ASSERT_EQ(out.node()->inputs.size(), 1u);
  EXPECT_EQ(out.node()->inputs[0].node(), f.node());
  EXPECT_EQ(out.node()->layer.get(), dense.get());
  EXPECT_TRUE(dense->built());
  // The dummy run leaves the mode as it was and records no graph.
  EXPECT_TRUE(dense->is_training());
  dense->eval();
  dense(Input({72}));
  EXPECT_FALSE(dense->is_training());
  // A layer called twice shares its weights: one set of parameters, two nodes.
  Symbol a = Input({72}), b = Input({72});
  Symbol ya = dense(a), yb = dense(b);
  EXPECT_EQ(ya.node()->layer, yb.node()->layer);
  EXPECT_EQ(dense->parameters().size(), 2u);
  // Several inputs.
  Symbol s = Add()({ya, yb});
  EXPECT_EQ(s.shape(), (Shape{4}));
  EXPECT_EQ(s.node()->inputs.size(), 2u);
  Symbol c = Concatenate()({ya, yb, s});
  EXPECT_EQ(c.shape(), (Shape{12}));
  Symbol ids = Input({5}, DType::Int64, "tokens");
  EXPECT_EQ(ids.node()->input_name, "tokens");
  EXPECT_EQ(ids.dtype(), DType::Int64);
}

TEST(KerasLayer, SymbolicErrors) {
  expect_error([] { Input({3, 0}); }, {"Input", "(3, 0)", "must be known"});
  auto dense = Dense(2);
  dense(Input({4}));
  expect_error([&] { dense(Input({5})); }, {"(Dense)", "expected 4"});
  expect_error([&] { dense(Symbol()); }, {"undefined"});
  layers::Dense on_stack(2);
  expect_error([&] { on_stack(Input({4})); }, {"std::shared_ptr"});
}

TEST(KerasLayer, ConfigRoundTripAndRegistry) {
  auto dense = Dense(5, "tanh", {.use_bias = false}, "proj");
  nlohmann::json c = dense->to_config();
  EXPECT_EQ(c["type"], "Dense");
  EXPECT_EQ(c["config"]["name"], "proj");
  EXPECT_EQ(c["config"]["units"], 5);
  auto again = layer_from_config(c);
  EXPECT_EQ(again->to_config(), c);
  EXPECT_EQ(again->type_name(), "Dense");
  expect_error(
      [] {
        layer_from_config({{"type", "NoSuchLayer"}, {"config", {}}});
      },
      {"NoSuchLayer", "register_layer", "Dense"});
  expect_error(
      [] {
        layer_from_config({{"type", "Dense"}, {"config", {{"name", "x"}}}});
      },
      {"Dense", "units"});
  expect_error([] { layer_from_config(nlohmann::json::array()); }, {"\"type\""});

  // A user layer.
  struct Double : Layer {
    Double(std::string name = "") : Layer("Double", std::move(name)) {}
    Tensor compute(const std::vector<Tensor>& in) override { return in[0] * 2.0; }
  };
  register_layer("Double",
                 [](const nlohmann::json& c) { return std::make_shared<Double>(c.at("name")); });
  auto d = layer_from_config({{"type", "Double"}, {"config", {{"name", "twice"}}}});
  EXPECT_EQ(d->name(), "twice");
  EXPECT_TRUE((*d)(ones({2})).all_close(full({2}, 2.0)));
}

}  // namespace
}  // namespace ravel::keras
