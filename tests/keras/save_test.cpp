// save_model / load_model and save_weights / load_weights: round trips of Sequential,
// functional and zoo models give the same predictions; a compiled model resumes training
// bit-identically from its file; corrupt files throw errors naming the file and the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "ravel/checkpoint.h"
#include "ravel/keras/layers.h"
#include "ravel/keras/model.h"
#include "ravel/models/zoo.h"
#include "ravel/nn/linear.h"
#include "ravel/ops.h"
#include "ravel/optim/sgd.h"
#include "ravel/random.h"
#include "ravel/safetensors.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

using namespace ravel;
using namespace ravel::keras;
using ravel::testing::expect_error;
using ravel::testing::matches;

namespace {

class KerasSave : public ravel::testing::TempDirTest {};

void randomize(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard ng;
  for (Tensor& p : m.parameters()) p.copy_(randn(p.shape(), gen) * 0.5);
}

bool same(const Tensor& a, const Tensor& b) { return matches(a, b, 0.0, 0.0); }

void expect_same_state(const nn::Module& a, const nn::Module& b) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(same(sa[i].second, sb[i].second)) << sa[i].first;
  }
}

// A small CNN with batch statistics that a training-mode forward has moved.
std::shared_ptr<SequentialModel> make_cnn() {
  auto model = Sequential(
      {InputLayer({1, 8, 8}), Conv2D(4, 3, {.padding = "same", .activation = "relu"}),
       BatchNormalization(), MaxPooling2D(2), Flatten(), Dropout(0.3), Dense(5, "softmax")});
  randomize(*model, 11);
  Generator gen(12);
  (*model)(randn({4, 1, 8, 8}, gen));  // moves the moving mean/variance
  return model;
}

// Two inputs and a skip connection.
std::shared_ptr<Model> make_graph() {
  Symbol img = Input({2, 6, 6}), extra = Input({3});
  Symbol x = Conv2D(3, 3, {.padding = "same", .activation = "relu"})(img);
  Symbol y = BatchNormalization()(Conv2D(3, 3, {.padding = "same"})(x));
  Symbol z = GlobalAveragePooling2D()(Activation("relu")(Add()({x, y})));
  Symbol out = Dense(4)(Concatenate()({z, Dense(3, "tanh")(extra)}));
  auto model = Model::functional({img, extra}, {out}, "graph");
  randomize(*model, 13);
  return model;
}

void rewrite(const std::string& from, const std::string& to,
             const std::function<void(SafetensorsFile&)>& edit) {
  SafetensorsFile f = load_safetensors(from);
  edit(f);
  save_safetensors(to, f.tensors, f.metadata);
}

}  // namespace

TEST_F(KerasSave, SequentialCnnRoundTrip) {
  reset_layer_names();
  auto model = make_cnn();
  model->eval();
  Generator gen(14);
  Tensor x = randn({3, 1, 8, 8}, gen);
  Tensor y = (*model)(x);
  save_model(*model, path("cnn.ravel"));
  auto loaded = load_model(path("cnn.ravel"));
  auto seq = std::dynamic_pointer_cast<SequentialModel>(loaded);
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(loaded->name(), "sequential");
  EXPECT_EQ(loaded->to_config(), model->to_config());
  EXPECT_EQ(loaded->summary_string(), model->summary_string());
  expect_same_state(*loaded, *model);
  loaded->eval();
  EXPECT_TRUE(same((*loaded)(x), y));
  EXPECT_FALSE(loaded->is_compiled());
}

TEST_F(KerasSave, FunctionalSkipConnectionAndTwoInputsRoundTrip) {
  reset_layer_names();
  auto model = make_graph();
  model->eval();
  Generator gen(15);
  Tensor a = randn({2, 2, 6, 6}, gen), b = randn({2, 3}, gen);
  Tensor y = model->run({a, b})[0];
  save_model(*model, path("graph.ravel"));
  auto loaded = load_model(path("graph.ravel"));
  EXPECT_EQ(loaded->to_config(), model->to_config());
  EXPECT_EQ(loaded->summary_string(), model->summary_string());
  loaded->eval();
  EXPECT_TRUE(same(loaded->run({a, b})[0], y));
}

TEST_F(KerasSave, NestedModelsRoundTrip) {
  reset_layer_names();
  auto inner = Sequential({Dense(4, "relu"), Dense(2)}, "inner");
  Symbol in = Input({3});
  auto model = Model::functional(in, (*inner)(Dense(3)(in)));
  randomize(*model, 16);
  Tensor x = randn({2, 3});
  save_model(*model, path("nested.ravel"));
  auto loaded = load_model(path("nested.ravel"));
  EXPECT_EQ(loaded->to_config(), model->to_config());
  EXPECT_TRUE(same(loaded->run({x})[0], model->run({x})[0]));

  // And the other way round: a functional model inside a Sequential one.
  auto outer = Sequential({InputLayer({3}), model, Dense(2, "", {}, "head")}, "outer");
  save_model(*outer, path("outer.ravel"));
  auto outer_loaded = load_model(path("outer.ravel"));
  EXPECT_EQ(outer_loaded->to_config(), outer->to_config());
  EXPECT_TRUE(same(outer_loaded->run({x})[0], outer->run({x})[0]));
  EXPECT_NE(outer_loaded->summary_string().find(" model (Functional)"), std::string::npos);
}

TEST_F(KerasSave, IntegerInputModelRoundTrip) {
  auto model = Sequential({Embedding(10, 4), Flatten(), Dense(2)});
  Tensor ids = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}).reshape({2, 3});
  Tensor y = (*model)(ids);  // built by its first batch
  save_model(*model, path("ids.ravel"));
  auto loaded = load_model(path("ids.ravel"));
  EXPECT_EQ(loaded->to_config(), model->to_config());
  EXPECT_TRUE(same((*loaded)(ids), y));
}

TEST_F(KerasSave, ZooResNet20RoundTrip) {
  auto model = Model::from_zoo("resnet20", {.num_classes = 10, .in_channels = 1});
  randomize(*model, 17);
  model->eval();
  Generator gen(18);
  Tensor x = randn({2, 1, 28, 28}, gen);
  Tensor y = (*model)(x);
  save_model(*model, path("resnet20.ravel"));
  auto loaded = load_model(path("resnet20.ravel"));
  EXPECT_EQ(loaded->to_config(), model->to_config());
  std::vector<std::string> keys, zoo_keys;
  for (const auto& [k, t] : loaded->state_dict()) keys.push_back(k);
  for (const auto& [k, t] : models::create("resnet20", {.in_channels = 1})->state_dict())
    zoo_keys.push_back(k);
  EXPECT_EQ(keys, zoo_keys);
  expect_same_state(*loaded, *model);
  loaded->eval();
  EXPECT_TRUE(same((*loaded)(x), y));
  // The file's weights are the zoo model's own state_dict, under "model.".
  SafetensorsFile f = load_safetensors(path("resnet20.ravel"));
  EXPECT_TRUE(f.contains("model.conv1.weight"));
}

TEST_F(KerasSave, CompiledModelResumesBitIdentically) {
  auto make = [] {
    reset_layer_names();
    auto m = Sequential({InputLayer({6}), Dense(8, "relu"), BatchNormalization(), Dense(3)});
    randomize(*m, 19);
    m->compile({.optimizer = OptimizerSpec("adam", {{"learning_rate", 0.01}}),
                .loss = Loss("sparse_categorical_crossentropy", true),
                .metrics = {"accuracy"}});
    return m;
  };
  Generator gen(20);
  Tensor x1 = randn({8, 6}, gen), x2 = randn({8, 6}, gen);
  Tensor y1 = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1});
  Tensor y2 = from_vector(std::vector<int64_t>{2, 2, 1, 0, 0, 1, 2, 1});

  auto straight = make();
  straight->train_on_batch({x1}, {y1});
  straight->train_on_batch({x2}, {y2});

  auto first = make();
  first->train_on_batch({x1}, {y1});
  save_model(*first, path("run.ravel"));
  auto resumed = load_model(path("run.ravel"));
  ASSERT_TRUE(resumed->is_compiled());
  ASSERT_NE(resumed->optimizer(), nullptr);
  EXPECT_EQ(std::string(resumed->optimizer()->name()), "Adam");
  EXPECT_EQ(resumed->optimizer()->lr(), 0.01);
  EXPECT_EQ(resumed->compile_options().loss.name, "sparse_categorical_crossentropy");
  EXPECT_TRUE(resumed->compile_options().loss.from_logits);
  ASSERT_EQ(resumed->compile_options().metrics.size(), 1u);
  EXPECT_EQ(resumed->compile_options().metrics[0].name, "accuracy");
  resumed->train_on_batch({x2}, {y2});
  expect_same_state(*resumed, *straight);

  // Without the optimizer state the file still loads compiled, with a fresh optimizer.
  // The options saved are the optimizer's current ones (a callback may have changed them).
  first->optimizer()->set_lr(0.005);
  save_model(*first, path("no_opt.ravel"), /*include_optimizer=*/false);
  auto fresh = load_model(path("no_opt.ravel"));
  EXPECT_TRUE(fresh->is_compiled());
  EXPECT_EQ(fresh->optimizer()->state(0).step, 0);
  EXPECT_EQ(fresh->optimizer()->lr(), 0.005);
}

TEST_F(KerasSave, WhatCannotBeSavedIsLeftOutWithAWarning) {
  reset_layer_names();
  auto model = Sequential({InputLayer({4}), Dense(2)});
  model->compile({.optimizer = OptimizerSpec([](std::vector<Tensor> params) {
                    return std::unique_ptr<optim::Optimizer>(std::make_unique<optim::SGD>(
                        std::move(params), optim::SGDOptions{.lr = 0.5}));
                  }),
                  .loss = Loss("mine", Loss::Fn([](const Tensor& p, const Tensor& t) {
                                 return ((p - t) * (p - t)).mean(1);
                               }))});
  save_model(*model, path("custom.ravel"));
  SafetensorsFile f = load_safetensors(path("custom.ravel"));
  ASSERT_TRUE(f.metadata.count("warnings"));
  EXPECT_NE(f.metadata["warnings"].find("custom function"), std::string::npos);
  EXPECT_NE(f.metadata["warnings"].find("saved as \\\"sgd\\\""), std::string::npos)
      << f.metadata["warnings"];
  auto loaded = load_model(path("custom.ravel"));  // the architecture and weights, uncompiled
  EXPECT_FALSE(loaded->is_compiled());
  expect_same_state(*loaded, *model);
}

TEST_F(KerasSave, WeightsOnly) {
  auto net = std::make_shared<nn::Linear>(3, 2);
  auto model = Model::from_module(net, {3});
  expect_error([&] { save_model(*model, path("m.ravel")); },
               {"save_model", "m.ravel", "custom nn::Module"});
  save_weights(*model, path("w.safetensors"));
  auto other = Model::from_module(std::make_shared<nn::Linear>(3, 2), {3});
  load_weights(*other, path("w.safetensors"));
  expect_same_state(*other, *model);

  // load_weights also reads the weights of a whole-model file.
  reset_layer_names();
  auto a = Sequential({InputLayer({3}), Dense(2)});
  randomize(*a, 21);
  save_model(*a, path("a.ravel"));
  reset_layer_names();
  auto b = Sequential({InputLayer({3}), Dense(2)});
  load_weights(*b, path("a.ravel"));
  expect_same_state(*b, *a);

  reset_layer_names();
  auto wrong = Sequential({InputLayer({3}), Dense(4)});
  expect_error([&] { load_weights(*wrong, path("a.ravel")); }, {"load_weights", "a.ravel", "size"});
  auto unbuilt = Sequential({Dense(2)});
  expect_error([&] { save_weights(*unbuilt, path("u")); }, {"not built"});
  expect_error([&] { save_model(*unbuilt, path("u")); }, {"save_model", "not built"});
}

// Sizes far beyond memory in the config: a named error, not std::bad_alloc or a crash.
TEST_F(KerasSave, HugeSizesInTheConfigThrow) {
  reset_layer_names();
  auto model = make_graph();
  const std::string good = path("good.ravel"), bad = path("bad.ravel");
  save_model(*model, good);
  rewrite(good, bad, [](SafetensorsFile& f) {
    auto c = nlohmann::json::parse(f.metadata["model_config"]);
    c["config"]["inputs"][0]["shape"] = {100000, 100000, 1000};
    f.metadata["model_config"] = c.dump();
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel"});
  rewrite(good, bad, [](SafetensorsFile& f) {
    auto c = nlohmann::json::parse(f.metadata["model_config"]);
    for (auto& l : c["config"]["layers"])
      if (l["type"] == "Dense") l["config"]["units"] = int64_t{1} << 40;
    f.metadata["model_config"] = c.dump();
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel"});
}

// Random edits of the saved architecture: every file loads or throws ravel::Error.
TEST_F(KerasSave, MutatedConfigsLoadOrThrow) {
  reset_layer_names();
  auto model = make_graph();
  const std::string good = path("good.ravel"), bad = path("bad.ravel");
  save_model(*model, good);
  const std::string config = load_safetensors(good).metadata.at("model_config");
  std::mt19937 gen(7);
  const std::string digits = "0123456789-[]{},:\"";
  int loaded = 0;
  for (int m = 0; m < 400; ++m) {
    std::string c = config;
    for (int k = 0; k < 1 + m % 3; ++k) {
      const size_t at = gen() % c.size();
      if (m % 2 == 0)
        c[at] = digits[gen() % digits.size()];  // numbers and structure
      else
        c.erase(at, 1 + gen() % 8);
    }
    rewrite(good, bad, [&](SafetensorsFile& f) { f.metadata["model_config"] = c; });
    try {
      load_model(bad);
      ++loaded;
    } catch (const Error&) {
    }
  }
  EXPECT_LT(loaded, 400);  // most edits break something, and each break was a ravel::Error
}

TEST_F(KerasSave, CorruptFilesThrowClearErrors) {
  reset_layer_names();
  auto model = make_graph();
  const std::string good = path("good.ravel"), bad = path("bad.ravel");
  save_model(*model, good);

  // Truncated.
  {
    std::string bytes(std::filesystem::file_size(good), '\0');
    std::ifstream(good, std::ios::binary)
        .read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(bad, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    expect_error([&] { load_model(bad); }, {"bad.ravel"});
  }
  // Not JSON.
  rewrite(good, bad, [](SafetensorsFile& f) { f.metadata["model_config"] = "{\"type\": "; });
  expect_error([&] { load_model(bad); },
               {"load_model", "bad.ravel", "model_config", "not valid JSON"});
  // An unknown layer type.
  rewrite(good, bad, [](SafetensorsFile& f) {
    auto c = nlohmann::json::parse(f.metadata["model_config"]);
    c["config"]["layers"][1]["type"] = "Conv7D";
    f.metadata["model_config"] = c.dump();
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "unknown layer type \"Conv7D\""});
  // A wrong field type and a node that reads a node after it.
  rewrite(good, bad, [](SafetensorsFile& f) {
    auto c = nlohmann::json::parse(f.metadata["model_config"]);
    c["config"]["inputs"][0]["shape"] = "big";
    f.metadata["model_config"] = c.dump();
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "model_config", "Functional"});
  rewrite(good, bad, [](SafetensorsFile& f) {
    auto c = nlohmann::json::parse(f.metadata["model_config"]);
    c["config"]["nodes"][0]["inputs"][0] = 99;
    f.metadata["model_config"] = c.dump();
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "node 2", "refers to node 99"});
  // Nesting deep enough to overflow the stack while rebuilding.
  rewrite(good, bad, [](SafetensorsFile& f) {
    f.metadata["model_config"] = std::string(100000, '[') + std::string(100000, ']');
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "model_config", "nests deeper"});
  // A missing weight; an extra tensor.
  rewrite(good, bad, [](SafetensorsFile& f) {
    std::erase_if(f.tensors, [](const auto& t) { return t.first == "model.dense.linear.bias"; });
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "weights", "missing", "dense.linear.bias"});
  rewrite(good, bad, [](SafetensorsFile& f) { f.tensors.emplace_back("stray", zeros({1})); });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "unexpected tensor 'stray'"});
  // Compile settings that do not compile.
  rewrite(good, bad, [](SafetensorsFile& f) {
    f.metadata["compile_config"] = R"({"optimizer": {"name": "adamx", "options": {}},
        "loss": {"name": "mse", "from_logits": false, "label_smoothing": 0},
        "losses": [], "loss_weights": [], "metrics": []})";
  });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "compile_config", "adamx"});
  rewrite(good, bad, [](SafetensorsFile& f) { f.metadata["compile_config"] = R"({"loss": 1})"; });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "compile_config"});
  // Other kinds of file.
  save(*model, bad);
  expect_error([&] { load_model(bad); }, {"bad.ravel", "ravel-model", "load_weights"});
  rewrite(good, bad, [](SafetensorsFile& f) { f.metadata["version"] = "9"; });
  expect_error([&] { load_model(bad); }, {"bad.ravel", "'version' is '9'"});
  expect_error([&] { load_model(path("missing.ravel")); }, {"missing.ravel"});
}
