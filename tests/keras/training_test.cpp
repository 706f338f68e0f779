// compile / fit / evaluate / predict: every named loss against PyTorch (Keras' formulas written
// in torch), optimizers by name, fit's bookkeeping (batch-size-weighted loss, sample and class
// weights, validation split, modes, resuming), errors, and the key property: fit() and a
// hand-written loop over the same model give identical weights.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/data/dataset.h"
#include "ravel/data/loader.h"
#include "ravel/keras/callbacks.h"
#include "ravel/keras/layers.h"
#include "ravel/keras/metrics.h"
#include "ravel/keras/model.h"
#include "ravel/nn/container.h"
#include "ravel/nn/functional.h"
#include "ravel/nn/linear.h"
#include "ravel/ops.h"
#include "ravel/optim/adam.h"
#include "ravel/optim/sgd.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

namespace ravel::keras {
namespace {

using ravel::testing::expect_error;
using ravel::testing::matches;
using ravel::testing::TorchOracle;
namespace F = ravel::nn::functional;

// ---------------------------------------------------------------- helpers

// A small classifier: 4 features -> 8 -> 3 classes (raw scores).
std::shared_ptr<SequentialModel> classifier(uint64_t seed, bool input_layer = true) {
  manual_seed(seed);
  std::vector<std::shared_ptr<Layer>> layers;
  if (input_layer) layers.push_back(InputLayer({4}));
  layers.push_back(Dense(8, "relu"));
  layers.push_back(Dense(3));
  return Sequential(layers);
}

struct Data {
  Tensor x, y;
};
// n examples of 4 features, labels from a fixed linear rule (learnable).
Data toy_data(int64_t n, uint64_t seed = 3) {
  Generator gen(seed);
  Tensor x = randn({n, 4}, gen);
  Tensor y = argmax(x.index({Slice(), Slice(0, 3)}) + x.index({Slice(), Slice(1, 4)}), 1);
  return {x, y};
}

// Same values (the layers' automatic names differ between copies).
void expect_same_weights(nn::Module& a, nn::Module& b, double tol = 0) {
  auto sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_TRUE(matches(sa[i].second, sb[i].second, 0, tol)) << sa[i].first;
}

Tensor one_hot(const Tensor& labels, int64_t classes) {
  return (labels.unsqueeze(1) == arange(classes)).to(DType::Float32);
}

// A module that records the mode and grad mode it ran in.
struct Recorder : nn::Module {
  std::shared_ptr<nn::Linear> fc;
  std::vector<bool> training, grad;
  Recorder() { fc = register_module("fc", std::make_shared<nn::Linear>(4, 3)); }
  Tensor forward(const Tensor& x) override {
    training.push_back(is_training());
    grad.push_back(is_grad_enabled());
    return (*fc)(x);
  }
};

// ---------------------------------------------------------------- losses

struct LossCase {
  Loss loss;
  Tensor y_pred, y_true;
  std::string torch;  // per-example losses from a (y_pred) and b (y_true)
};

TEST(KerasTrainingLoss, EveryNamedLossMatchesKerasFormulaInTorch) {
  Generator gen(11);
  const int64_t n = 6, c = 5;
  Tensor logits = randn({n, c}, gen) * 2.0;
  Tensor probs = F::softmax(logits, 1);
  // Exact zeros and ones exercise the clipping to [1e-7, 1 - 1e-7].
  Tensor labels = randint(0, c, {n}, gen);
  Tensor onehot = one_hot(labels, c);
  Tensor hard = one_hot(randint(0, c, {n}, gen), c);
  Tensor soft = F::softmax(randn({n, c}, gen), 1);
  Tensor bin_logits = randn({n, 3}, gen) * 2.0;
  Tensor bin_probs = sigmoid(bin_logits);
  Tensor bin_targets = (rand({n, 3}, gen) > 0.5).to(DType::Float32);
  Tensor reg_pred = randn({n, 3}, gen) * 2.0, reg_true = randn({n, 3}, gen);
  Tensor seg_logits = randn({n, c, 4}, gen), seg_labels = randint(0, c, {n, 4}, gen);

  const std::string sparse_probs =
      "F.cross_entropy(torch.log(torch.clamp(torch.tensor(a), 1e-7, 1 - 1e-7)), "
      "torch.tensor(b).long(), reduction='none', label_smoothing=%s)";
  auto fill = [](std::string s, const std::string& v) { return s.replace(s.find("%s"), 2, v); };
  const std::string cce_probs =
      "p = torch.tensor(a); p = p / p.sum(1, keepdim=True); p = torch.clamp(p, 1e-7, 1 - 1e-7)\n"
      "t = torch.tensor(b) * (1 - %s) + %s / p.shape[1]\n"
      "out = -(t * torch.log(p)).sum(1)";
  auto fill2 = [&](std::string s, const std::string& v) { return fill(fill(s, v), v); };
  const std::string bce_probs =
      "p = torch.clamp(torch.tensor(a), 1e-7, 1 - 1e-7)\n"
      "t = torch.tensor(b) * (1 - %s) + 0.5 * %s\n"
      "out = -(t * torch.log(p + 1e-7) + (1 - t) * torch.log(1 - p + 1e-7)).mean(1)";

  std::vector<LossCase> cases = {
      {"sparse_categorical_crossentropy", probs, labels, "out = " + fill(sparse_probs, "0.0")},
      {"sparse_categorical_crossentropy", hard, labels, "out = " + fill(sparse_probs, "0.0")},
      {Loss("sparse_categorical_crossentropy", false, 0.1), probs, labels,
       "out = " + fill(sparse_probs, "0.1")},
      {Loss("sparse_categorical_crossentropy", true), logits, labels,
       "out = F.cross_entropy(torch.tensor(a), torch.tensor(b).long(), reduction='none')"},
      {Loss("sparse_categorical_crossentropy", true, 0.2), logits, labels.to(DType::Float32),
       "out = F.cross_entropy(torch.tensor(a), torch.tensor(b).long(), reduction='none', "
       "label_smoothing=0.2)"},
      {Loss("sparse_categorical_crossentropy", true), logits, labels.reshape({n, 1}),
       "out = F.cross_entropy(torch.tensor(a), torch.tensor(b).long().view(-1), "
       "reduction='none')"},
      {Loss("sparse_categorical_crossentropy", true), seg_logits, seg_labels,
       "out = F.cross_entropy(torch.tensor(a), torch.tensor(b).long(), reduction='none')"
       ".mean(1)"},
      {"categorical_crossentropy", probs, soft, fill2(cce_probs, "0.0")},
      {"categorical_crossentropy", hard, onehot, fill2(cce_probs, "0.0")},
      {"categorical_crossentropy", probs * 3.0, onehot, fill2(cce_probs, "0.0")},  // unnormalised
      {Loss("categorical_crossentropy", false, 0.1), probs, onehot, fill2(cce_probs, "0.1")},
      {Loss("categorical_crossentropy", true), logits, soft,
       "out = F.cross_entropy(torch.tensor(a), torch.tensor(b), reduction='none')"},
      {Loss("categorical_crossentropy", true, 0.3), logits, onehot,
       "out = F.cross_entropy(torch.tensor(a), torch.tensor(b), reduction='none', "
       "label_smoothing=0.3)"},
      {"binary_crossentropy", bin_probs, bin_targets, fill2(bce_probs, "0.0")},
      {"binary_crossentropy", bin_targets, bin_targets, fill2(bce_probs, "0.0")},  // p = 0 and 1
      {Loss("binary_crossentropy", false, 0.2), bin_probs, bin_targets, fill2(bce_probs, "0.2")},
      {Loss("binary_crossentropy", true), bin_logits, bin_targets,
       "out = F.binary_cross_entropy_with_logits(torch.tensor(a), torch.tensor(b), "
       "reduction='none').mean(1)"},
      {Loss("binary_crossentropy", true, 0.1), bin_logits, bin_targets,
       "out = F.binary_cross_entropy_with_logits(torch.tensor(a), torch.tensor(b) * 0.9 + 0.05, "
       "reduction='none').mean(1)"},
      {Loss("binary_crossentropy", true), bin_logits.index({Slice(), Slice(0, 1)}),
       bin_targets.index({Slice(), 0}),  // [N] targets for [N, 1] scores, as Keras expands them
       "out = F.binary_cross_entropy_with_logits(torch.tensor(a), torch.tensor(b)[:, None], "
       "reduction='none').mean(1)"},
      {"mean_squared_error", reg_pred, reg_true,
       "out = F.mse_loss(torch.tensor(a), torch.tensor(b), reduction='none').mean(1)"},
      {"mse", reg_pred, reg_true,
       "out = F.mse_loss(torch.tensor(a), torch.tensor(b), reduction='none').mean(1)"},
      {"mean_absolute_error", reg_pred, reg_true,
       "out = F.l1_loss(torch.tensor(a), torch.tensor(b), reduction='none').mean(1)"},
      {"mae", reg_pred, reg_true.to(DType::Float64),
       "out = F.l1_loss(torch.tensor(a), torch.tensor(b).float(), reduction='none').mean(1)"},
      {"huber", reg_pred, reg_true,
       "out = F.huber_loss(torch.tensor(a), torch.tensor(b), reduction='none', delta=1.0)"
       ".mean(1)"},
      {"mse", reg_pred.index({Slice(), Slice(0, 1)}), reg_true.index({Slice(), 0}),
       "out = F.mse_loss(torch.tensor(a)[:, 0], torch.tensor(b), reduction='none')"},
  };
  TorchOracle torch;
  std::vector<int> handles;
  for (const LossCase& lc : cases)
    handles.push_back(torch.add_script(lc.torch, {lc.y_pred, lc.y_true}));
  torch.run();
  for (size_t i = 0; i < cases.size(); ++i) {
    const LossCase& lc = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + ": " + lc.loss.name +
                 (lc.loss.from_logits ? " from_logits" : "") + " smoothing " +
                 std::to_string(lc.loss.label_smoothing));
    ASSERT_EQ(torch.error(handles[i]), "");
    Tensor ours = lc.loss.per_example(lc.y_pred, lc.y_true);
    EXPECT_TRUE(matches(ours, torch.result(handles[i]).to(DType::Float32), 2e-5, 2e-6));
  }
}

TEST(KerasTrainingLoss, CustomFunctionAndErrors) {
  Tensor pred = tensor({{1.0, 2.0}, {3.0, 5.0}}), target = tensor({{1.0, 1.0}, {1.0, 1.0}});
  Loss sq("squared", [](const Tensor& p, const Tensor& t) { return square(p - t); });
  EXPECT_TRUE(matches(sq.per_example(pred, target), tensor({0.5, 10.0}), 0, 1e-6));  // row means

  expect_error([&] { Loss("hinge").per_example(pred, target); },
               {"unknown loss 'hinge'", "sparse_categorical_crossentropy", "mse", "huber"});
  expect_error([&] { Loss("mse", true).per_example(pred, target); },
               {"mse", "from_logits", "crossentropies"});
  expect_error([&] { Loss("categorical_crossentropy", false, 1.5).per_example(pred, target); },
               {"label_smoothing 1.5", "[0, 1]"});
  expect_error(
      [&] {
        Loss("mse").per_example(pred, tensor({1.0, 2.0, 3.0}));
      },
      {"mse", "[2, 2]", "[3]", "number of examples"});
  expect_error(
      [&] {
        Loss("mse").per_example(pred, tensor({{1.0, 2.0, 3.0}, {1.0, 2.0, 3.0}}));
      },
      {"mse", "y_true shape [2, 3]", "y_pred shape [2, 2]"});
  expect_error([&] { Loss("sparse_categorical_crossentropy").per_example(pred, target); },
               {"y_true shape [2, 2]", "class indices of shape [2]", "categorical_crossentropy"});
  expect_error(
      [&] {
        Loss("categorical_crossentropy").per_example(pred, tensor({0, 1}));
      },
      {"y_true shape [2]", "sparse_categorical_crossentropy"});
  Loss scalar("bad", [](const Tensor& p, const Tensor& t) { return (p - t).sum(); });
  expect_error([&] { scalar.per_example(pred, target); }, {"bad", "one loss per example [2]"});
}

// ---------------------------------------------------------------- optimizers

TEST(KerasTrainingOptimizer, NamesKerasDefaultsAliasesAndErrors) {
  Tensor w = zeros({3}).requires_grad_();
  auto sgd = OptimizerSpec("sgd").create({w});
  EXPECT_STREQ(sgd->name(), "SGD");
  EXPECT_DOUBLE_EQ(sgd->lr(), 0.01);  // Keras' default, not PyTorch's
  for (const char* name : {"adam", "adamw", "rmsprop", "adagrad", "adadelta", "lion"})
    EXPECT_DOUBLE_EQ(OptimizerSpec(name).create({w})->lr(), 1e-3) << name;
  EXPECT_STREQ(OptimizerSpec("Adam").create({w})->name(), "Adam");  // Keras accepts class names
  EXPECT_STREQ(OptimizerSpec().create({w})->name(), "RMSprop");     // Keras' default optimizer

  auto m = OptimizerSpec("sgd", {{"learning_rate", 0.5}, {"momentum", 0.9}, {"nesterov", 1}})
               .create({w});
  EXPECT_DOUBLE_EQ(m->lr(), 0.5);
  EXPECT_DOUBLE_EQ(m->option(0, "momentum"), 0.9);
  EXPECT_DOUBLE_EQ(m->option(0, "nesterov"), 1.0);
  auto adam = OptimizerSpec("adam", {{"lr", 0.1}, {"beta_1", 0.8}, {"epsilon", 1e-7}}).create({w});
  EXPECT_DOUBLE_EQ(adam->option(0, "beta1"), 0.8);
  EXPECT_DOUBLE_EQ(adam->option(0, "eps"), 1e-7);
  EXPECT_DOUBLE_EQ(OptimizerSpec("rmsprop", {{"rho", 0.9}}).create({w})->option(0, "alpha"), 0.9);

  OptimizerSpec factory([](std::vector<Tensor> ps) -> std::unique_ptr<optim::Optimizer> {
    return std::make_unique<optim::SGD>(std::move(ps), optim::SGDOptions{.lr = 0.25});
  });
  EXPECT_DOUBLE_EQ(factory.create({w})->lr(), 0.25);

  expect_error(
      [&] { OptimizerSpec("adamax").create({w}); },
      {"unknown optimizer 'adamax'", "sgd, adam, adamw, rmsprop, adagrad, adadelta, lion"});
  expect_error(
      [&] {
        OptimizerSpec("adam", {{"momentum", 0.9}}).create({w});
      },
      {"adam has no option 'momentum'", "lr (learning_rate)", "beta1", "weight_decay"});
  expect_error(
      [&] {
        OptimizerSpec("sgd", {{"lr", -1}}).create({w});
      },
      {"SGD", "learning rate -1"});
}

// ---------------------------------------------------------------- fit

// THE KEY PROPERTY: fit() is a hand-written loop. Two copies of one model, one trained by fit,
// one by DataLoader + F::cross_entropy + the optimizer over model->module(), end with identical
// weights (and the same logged losses).
TEST(KerasTrainingFit, IdenticalToHandWrittenLoop) {
  Data d = toy_data(50);
  const int64_t batch = 8;
  const int epochs = 3;
  const uint64_t seed = 1234;
  auto a = classifier(7), b = classifier(7);
  expect_same_weights(*a, *b);

  a->compile({.optimizer = OptimizerSpec("adam", {{"lr", 0.01}}),
              .loss = Loss("sparse_categorical_crossentropy", true)});
  History h = a->fit(d.x, d.y, {.epochs = epochs, .batch_size = batch, .verbose = 0, .seed = seed});

  auto module = b->module();
  module->train();
  optim::Adam opt(module->parameters(), {.lr = 0.01});
  data::DataLoader loader(std::make_shared<data::TensorDataset>(d.x, d.y),
                          {.batch_size = batch, .shuffle = true, .seed = seed});
  std::vector<double> losses;
  for (int e = 0; e < epochs; ++e) {
    double sum = 0;
    for (data::Batch& bt : loader) {
      opt.zero_grad();
      Tensor loss = F::cross_entropy((*module)(bt.input), bt.target);
      loss.backward();
      opt.step();
      sum += loss.item<double>() * static_cast<double>(bt.input.size(0));
    }
    losses.push_back(sum / 50.0);
  }
  expect_same_weights(*a, *b);
  ASSERT_EQ(h["loss"].size(), 3u);
  for (int e = 0; e < epochs; ++e) EXPECT_DOUBLE_EQ(h["loss"][e], losses[e]) << "epoch " << e;
  EXPECT_EQ(h.epochs, (std::vector<int>{0, 1, 2}));
}

// fit(dataset) batches a TensorDataset exactly as fit(x, y) batches the tensors; a run resumed
// with initial_epoch continues the same shuffles and optimizer state.
TEST(KerasTrainingFit, DatasetAndResumedRunsMatchOneRun) {
  Data d = toy_data(40);
  auto compile = [](Model& m) {
    m.compile({.optimizer = OptimizerSpec("sgd", {{"lr", 0.1}, {"momentum", 0.9}}),
               .loss = Loss("sparse_categorical_crossentropy", true),
               .metrics = {"accuracy"}});
  };
  auto a = classifier(5), b = classifier(5), c = classifier(5);
  compile(*a), compile(*b), compile(*c);
  History ha = a->fit(d.x, d.y, {.epochs = 3, .batch_size = 16, .verbose = 0, .seed = 9});
  b->fit(std::make_shared<data::TensorDataset>(d.x, d.y),
         {.epochs = 3, .batch_size = 16, .verbose = 0, .seed = 9, .workers = 2});
  expect_same_weights(*a, *b);
  c->fit(d.x, d.y, {.epochs = 2, .batch_size = 16, .verbose = 0, .seed = 9});
  History hc = c->fit(d.x, d.y,
                      {.epochs = 3, .batch_size = 16, .verbose = 0, .initial_epoch = 2, .seed = 9});
  expect_same_weights(*a, *c);
  EXPECT_EQ(hc.epochs, std::vector<int>{2});
  EXPECT_DOUBLE_EQ(hc["loss"][0], ha["loss"][2]);
  EXPECT_DOUBLE_EQ(hc["accuracy"][0], ha["accuracy"][2]);
}

// With a zero learning rate the weights stay put, so every logged value can be recomputed from
// the per-example losses: "loss" is their mean (batches weighted by size), sample weights and
// class weights multiply them, validation_split holds out the LAST rows, accuracy accumulates
// over the epoch.
TEST(KerasTrainingFit, LoggedValuesAreKerasMeans) {
  Data d = toy_data(10);
  auto m = classifier(3);
  Loss loss("sparse_categorical_crossentropy", true);
  m->compile(
      {.optimizer = OptimizerSpec("sgd", {{"lr", 0.0}}), .loss = loss, .metrics = {"accuracy"}});
  Tensor logits = m->predict(d.x);
  Tensor per = loss.per_example(logits, d.y);
  Tensor correct = (argmax(logits, 1) == d.y).to(DType::Float64);
  auto mean_of = [](const Tensor& t, int64_t from, int64_t to) {
    return t.slice(0, from, to).to(DType::Float64).mean().item<double>();
  };

  // batches of 4, 4, 2 (not shuffled: any order gives the same means)
  History h = m->fit(d.x, d.y, {.epochs = 2, .batch_size = 4, .verbose = 0});
  EXPECT_NEAR(h["loss"][0], mean_of(per, 0, 10), 1e-6);
  EXPECT_NEAR(h["loss"][1], mean_of(per, 0, 10), 1e-6);
  EXPECT_DOUBLE_EQ(h["accuracy"][0], mean_of(correct, 0, 10));

  Logs ev = m->evaluate(d.x, d.y, {.batch_size = 3});
  EXPECT_NEAR(ev["loss"], mean_of(per, 0, 10), 1e-6);
  EXPECT_DOUBLE_EQ(ev["accuracy"], mean_of(correct, 0, 10));

  // A metric object logs under its own name, next to the named ones.
  auto mine = std::make_shared<SparseCategoricalAccuracy>("my_acc");
  m->compile({.optimizer = OptimizerSpec("sgd", {{"lr", 0.0}}),
              .loss = loss,
              .metrics = {"accuracy", MetricSpec(mine)}});
  h = m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .verbose = 0});
  EXPECT_DOUBLE_EQ(h["my_acc"][0], mean_of(correct, 0, 10));
  EXPECT_DOUBLE_EQ(mine->result(), mean_of(correct, 0, 10));

  // validation_split 0.3: the first 7 rows train, the last 3 validate (before any shuffling).
  h = m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .validation_split = 0.3, .verbose = 0});
  EXPECT_NEAR(h["loss"][0], mean_of(per, 0, 7), 1e-6);
  EXPECT_NEAR(h["val_loss"][0], mean_of(per, 7, 10), 1e-6);
  EXPECT_DOUBLE_EQ(h["val_accuracy"][0], mean_of(correct, 7, 10));

  // validation_x / validation_y
  h = m->fit(d.x, d.y,
             {.epochs = 1,
              .validation_x = {d.x.slice(0, 0, 5)},
              .validation_y = {d.y.slice(0, 0, 5)},
              .verbose = 0});
  EXPECT_NEAR(h["val_loss"][0], mean_of(per, 0, 5), 1e-6);

  // class_weight: each example weighs its class's weight; the loss is mean(w * l).
  std::map<int64_t, double> cw = {{0, 2.0}, {1, 0.5}};
  std::vector<double> w;
  for (int64_t label : d.y.to_vector<int64_t>()) w.push_back(cw.count(label) ? cw[label] : 1.0);
  double expected = (per.to(DType::Float64) * from_vector(w)).mean().item<double>();
  h = m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .class_weight = cw, .verbose = 0});
  EXPECT_NEAR(h["loss"][0], expected, 1e-6);

  // train_on_batch with sample weights: this batch's loss, before its (zero) step. Metrics are
  // not weighted (Keras weighs only `weighted_metrics`).
  Tensor sw = tensor({1.0, 0.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0});
  Logs tb = m->train_on_batch({d.x}, {d.y}, sw);
  EXPECT_NEAR(tb["loss"], (per.to(DType::Float64) * sw.to(DType::Float64)).mean().item<double>(),
              1e-6);
  EXPECT_DOUBLE_EQ(tb["accuracy"], mean_of(correct, 0, 10));
}

TEST(KerasTrainingFit, TrainModeForTrainingEvalAndNoGradElsewhereRestored) {
  auto rec = std::make_shared<Recorder>();
  auto m = Model::from_module(rec, {4});
  m->compile({.optimizer = "sgd", .loss = Loss("sparse_categorical_crossentropy", true)});
  Data d = toy_data(8);
  m->eval();
  rec->training.clear(), rec->grad.clear();
  m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .validation_split = 0.5, .verbose = 0});
  // two training batches (4 rows, batch 4 -> 1 batch), then validation
  ASSERT_EQ(rec->training.size(), 2u);
  EXPECT_TRUE(rec->training[0]);
  EXPECT_TRUE(rec->grad[0]);
  EXPECT_FALSE(rec->training[1]);
  EXPECT_FALSE(rec->grad[1]);
  EXPECT_FALSE(m->is_training());  // restored
  EXPECT_FALSE(rec->is_training());

  m->train();
  rec->training.clear(), rec->grad.clear();
  m->predict(d.x, 3);
  m->evaluate(d.x, d.y);
  for (size_t i = 0; i < rec->training.size(); ++i) {
    EXPECT_FALSE(rec->training[i]);
    EXPECT_FALSE(rec->grad[i]);
  }
  EXPECT_EQ(rec->training.size(), 4u);  // predict: 3 + 3 + 2, evaluate: one batch of 8
  EXPECT_TRUE(m->is_training());
  EXPECT_TRUE(rec->is_training());
}

TEST(KerasTrainingFit, LazyBuildCreatesTheOptimizerBeforeTraining) {
  auto m = classifier(2, /*input_layer=*/false);
  m->compile({.optimizer = "adam", .loss = Loss("sparse_categorical_crossentropy", true)});
  EXPECT_EQ(m->optimizer(), nullptr);  // not built: no parameters yet
  Data d = toy_data(12);
  m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .verbose = 0});
  ASSERT_NE(m->optimizer(), nullptr);
  EXPECT_EQ(m->optimizer()->all_params().size(), 4u);

  auto built = classifier(2);
  built->compile({.optimizer = "adam", .loss = "mse"});
  EXPECT_NE(built->optimizer(), nullptr);  // built at compile time

  auto tob = classifier(2, false);
  tob->compile({.optimizer = "sgd", .loss = Loss("sparse_categorical_crossentropy", true)});
  tob->train_on_batch({d.x}, {d.y});  // the first batch builds it
  EXPECT_NE(tob->optimizer(), nullptr);
}

TEST(KerasTrainingFit, PredictConcatenatesBatchesAndStepsPerEpochLimits) {
  Data d = toy_data(11);
  auto m = classifier(4);
  Tensor full;
  {
    NoGradGuard g;
    m->eval();
    full = (*m->module())(d.x);
    m->train();
  }
  EXPECT_TRUE(matches(m->predict(d.x, 4), full, 1e-6, 1e-6));
  EXPECT_EQ(m->predict_all({d.x}, 100).size(), 1u);

  m->compile({.optimizer = "sgd", .loss = Loss("sparse_categorical_crossentropy", true)});
  int64_t batches = 0;
  auto counter = std::make_shared<LambdaCallback>();
  counter->batch_end = [&](int64_t, const Logs&) { ++batches; };
  m->fit(
      d.x, d.y,
      {.epochs = 2, .batch_size = 2, .callbacks = {counter}, .verbose = 0, .steps_per_epoch = 3});
  EXPECT_EQ(batches, 6);
}

TEST(KerasTrainingFit, SeveralInputsAndOutputsWithLossWeights) {
  Symbol in1 = Input({3}), in2 = Input({2});
  Symbol h = Concatenate()({Dense(4, "relu")(in1), in2});
  Symbol out1 = Dense(2)(h), out2 = Dense(3)(h);
  manual_seed(8);
  auto m = Model::functional({in1, in2}, {out1, out2});
  m->compile({.optimizer = OptimizerSpec("sgd", {{"lr", 0.0}}),
              .metrics = {"accuracy"},
              .losses = {Loss("sparse_categorical_crossentropy", true),
                         Loss("sparse_categorical_crossentropy", true, 0.1)},
              .loss_weights = {1.0, 0.5}});
  Generator gen(4);
  Tensor x1 = randn({6, 3}, gen), x2 = randn({6, 2}, gen);
  Tensor y1 = randint(0, 2, {6}, gen), y2 = randint(0, 3, {6}, gen);
  std::vector<Tensor> outs = m->predict_all({x1, x2});
  ASSERT_EQ(outs.size(), 2u);
  double l1 =
      Loss("sparse_categorical_crossentropy", true).per_example(outs[0], y1).mean().item<double>();
  double l2 = Loss("sparse_categorical_crossentropy", true, 0.1)
                  .per_example(outs[1], y2)
                  .mean()
                  .item<double>();
  Logs ev = m->evaluate({x1, x2}, {y1, y2});
  EXPECT_NEAR(ev["output_1_loss"], l1, 1e-6);
  EXPECT_NEAR(ev["output_2_loss"], l2, 1e-6);
  EXPECT_NEAR(ev["loss"], l1 + 0.5 * l2, 1e-6);
  // A flat metrics list applies to every output, as Keras does.
  Tensor hits = (argmax(outs[1], 1) == y2).to(DType::Float64);
  EXPECT_DOUBLE_EQ(ev["output_2_accuracy"], hits.mean().item<double>());
  EXPECT_TRUE(ev.count("output_1_accuracy"));
  History hist = m->fit({x1, x2}, {y1, y2}, {.epochs = 1, .batch_size = 6, .verbose = 0});
  EXPECT_NEAR(hist["loss"][0], l1 + 0.5 * l2, 1e-6);
  expect_error([&] { m->predict(x1); }, {"predict", "got 1 input tensors, expected 2"});
  expect_error([&] { m->fit({x1}, {y1, y2}); }, {"fit", "got 1 input tensors, expected 2"});
}

TEST(KerasTrainingFit, VerboseOutputFollowsKeras) {
  Data d = toy_data(8);
  auto m = classifier(1);
  m->compile({.optimizer = "sgd",
              .loss = Loss("sparse_categorical_crossentropy", true),
              .metrics = {"accuracy"}});
  ::testing::internal::CaptureStdout();
  m->fit(d.x, d.y, {.epochs = 2, .batch_size = 4, .verbose = 0});
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");

  ::testing::internal::CaptureStdout();
  m->fit(d.x, d.y, {.epochs = 2, .batch_size = 4, .validation_split = 0.5, .verbose = 2});
  std::string two = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(two.find("Epoch 1/2\n1/1 - "), std::string::npos) << two;
  EXPECT_NE(two.find("Epoch 2/2\n"), std::string::npos) << two;
  EXPECT_NE(two.find(" - loss: "), std::string::npos) << two;
  EXPECT_NE(two.find(" - val_accuracy: "), std::string::npos) << two;
  EXPECT_NE(two.find("ms/step\n"), std::string::npos) << two;

  ::testing::internal::CaptureStdout();
  m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .verbose = 1});
  std::string one = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(one.find("Epoch 1/1"), std::string::npos) << one;
  EXPECT_NE(one.find("2/2 ["), std::string::npos) << one;
  EXPECT_NE(one.find("loss: "), std::string::npos) << one;
}

TEST(KerasTrainingFit, ClearErrors) {
  Data d = toy_data(10);
  auto m = classifier(1);
  expect_error([&] { m->fit(d.x, d.y); }, {"fit", "not compiled", "compile("});
  expect_error([&] { m->evaluate(d.x, d.y); }, {"evaluate", "not compiled"});
  m->compile({.optimizer = "sgd", .loss = Loss("sparse_categorical_crossentropy", true)});
  expect_error([&] { m->fit(d.x, d.y.slice(0, 0, 7), {.verbose = 0}); },
               {"fit", "x shape [10, 4]", "y shape [7]", "number of examples"});
  expect_error([&] { m->fit(d.x, one_hot(d.y, 3), {.verbose = 0}); },
               {"fit", "y_true shape", "[10, 3]", "categorical_crossentropy", "batch"});
  expect_error([&] { m->fit(d.x.slice(1, 0, 3), d.y, {.verbose = 0}); }, {"fit", "[10, 3]"});
  expect_error([&] { m->fit(d.x, d.y, {.batch_size = 0, .verbose = 0}); }, {"batch_size 0"});
  expect_error([&] { m->fit(d.x, d.y, {.validation_split = 1.0, .verbose = 0}); },
               {"validation_split 1", "[0, 1)"});
  expect_error([&] { m->fit(d.x.slice(0, 0, 0), d.y.slice(0, 0, 0)); }, {"fit", "no examples"});
  expect_error(
      [&] { m->fit(std::make_shared<data::TensorDataset>(d.x, d.y), {.validation_split = 0.2}); },
      {"validation_split needs tensor inputs"});
  expect_error(
      [&] {
        m->compile({.loss = "mse", .metrics = {"accuracy", "accuracy"}});
      },
      {"metric 'accuracy' given twice"});
  expect_error([&] { m->compile({.optimizer = "nadam", .loss = "mse"}); }, {"unknown optimizer"});
  expect_error([&] { m->compile({.loss = "cross"}); }, {"unknown loss 'cross'"});
  expect_error(
      [&] {
        m->compile({.loss = "mse", .losses = {"mse", "mae"}});
      },
      {"2 losses for a model with 1 outputs"});
  expect_error([&] { m->compile({.loss = "mse", .metrics = {"accurcy"}}); }, {"accurcy"});
  m->compile({.optimizer = "sgd"});
  expect_error([&] { m->fit(d.x, d.y); }, {"fit", "without a loss"});
  History h;
  expect_error([&] { h["loss"]; }, {"History: no key 'loss'"});
}

}  // namespace
}  // namespace ravel::keras
