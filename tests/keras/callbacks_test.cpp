// Callbacks: the order fit() calls the hooks in (Keras'), and each built-in callback on crafted
// logs (its decision rule) and inside fit() on a tiny problem.
#include "ravel/keras/callbacks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/keras/layers.h"
#include "ravel/ops.h"
#include "ravel/optim/sgd.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

namespace ravel::keras {
namespace {

using ravel::testing::expect_error;
using ravel::testing::matches;
namespace fs = std::filesystem;

std::shared_ptr<SequentialModel> tiny_model(const std::string& optimizer = "sgd",
                                            std::map<std::string, double> options = {}) {
  manual_seed(21);
  auto m = Sequential({InputLayer({3}), Dense(4, "relu"), Dense(2)});
  m->compile({.optimizer = OptimizerSpec(optimizer, std::move(options)),
              .loss = Loss("sparse_categorical_crossentropy", true),
              .metrics = {"accuracy"}});
  return m;
}

struct Toy {
  Tensor x, y;
};
Toy toy(int64_t n) {
  Generator gen(5);
  Tensor x = randn({n, 3}, gen);
  return {x, (x.index({Slice(), 0}) > 0).to(DType::Int64)};
}

// A fresh directory under the system's temporary one, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("ravel_callbacks_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Records every hook as "name(arg)".
struct HookRecorder : Callback {
  std::vector<std::string> calls;
  void on_train_begin(const Logs&) override { calls.push_back("train_begin"); }
  void on_train_end(const Logs& l) override {
    calls.push_back("train_end" + std::string(l.count("val_loss") ? "(val_loss)" : ""));
  }
  void on_epoch_begin(int e, const Logs&) override {
    calls.push_back("epoch_begin(" + std::to_string(e) + ")");
  }
  void on_epoch_end(int e, Logs& l) override {
    calls.push_back("epoch_end(" + std::to_string(e) + (l.count("val_loss") ? ",val" : "") + ")");
  }
  void on_train_batch_begin(int64_t b, const Logs&) override {
    calls.push_back("batch_begin(" + std::to_string(b) + ")");
  }
  void on_train_batch_end(int64_t b, const Logs& l) override {
    calls.push_back("batch_end(" + std::to_string(b) + (l.count("accuracy") ? ",acc" : "") + ")");
  }
  void on_test_begin(const Logs&) override { calls.push_back("test_begin"); }
  void on_test_end(const Logs& l) override {
    calls.push_back("test_end" + std::string(l.count("val_loss") ? "(val_loss)" : ""));
  }
};

TEST(KerasCallbacks, HooksRunInKerasOrder) {
  auto m = tiny_model();
  Toy d = toy(10);
  auto rec = std::make_shared<HookRecorder>();
  m->fit(d.x, d.y,
         {.epochs = 2, .batch_size = 4, .validation_split = 0.2, .callbacks = {rec}, .verbose = 0});
  // 8 training rows in batches of 4; validation after each epoch's batches, before its end.
  std::vector<std::string> expected = {"train_begin"};
  for (int e = 0; e < 2; ++e) {
    expected.push_back("epoch_begin(" + std::to_string(e) + ")");
    for (int b = 0; b < 2; ++b) {
      expected.push_back("batch_begin(" + std::to_string(b) + ")");
      expected.push_back("batch_end(" + std::to_string(b) + ",acc)");
    }
    expected.push_back("test_begin");
    expected.push_back("test_end(val_loss)");
    expected.push_back("epoch_end(" + std::to_string(e) + ",val)");
  }
  expected.push_back("train_end(val_loss)");
  EXPECT_EQ(rec->calls, expected);

  // evaluate() runs the test hooks of its own callbacks.
  rec->calls.clear();
  m->evaluate(d.x, d.y, {.callbacks = {rec}});
  EXPECT_EQ(rec->calls, (std::vector<std::string>{"test_begin", "test_end"}));

  Callback lone;
  expect_error([&] { lone.model(); }, {"Callback", "not attached"});
}

TEST(KerasCallbacks, LambdaCallbackAndBatchLogsAreRunningMeans) {
  auto m = tiny_model("sgd", {{"lr", 0.0}});
  Toy d = toy(10);
  std::vector<double> batch_losses;
  int epochs_ended = 0;
  auto cb = std::make_shared<LambdaCallback>();
  cb->batch_end = [&](int64_t, const Logs& l) { batch_losses.push_back(l.at("loss")); };
  cb->epoch_end = [&](int, Logs& l) {
    ++epochs_ended;
    l["custom"] = 42;  // callbacks may add to the logs; History keeps it
  };
  History h = m->fit(d.x, d.y, {.epochs = 1, .batch_size = 4, .callbacks = {cb}, .verbose = 0});
  EXPECT_EQ(epochs_ended, 1);
  EXPECT_EQ(h["custom"], std::vector<double>{42});
  ASSERT_EQ(batch_losses.size(), 3u);
  EXPECT_DOUBLE_EQ(batch_losses.back(), h["loss"][0]);  // the last running mean is the epoch's
}

// ---------------------------------------------------------------- EarlyStopping

// Feeds monitored values to a callback's on_epoch_end; returns the epoch fit would stop after.
int run_epochs(Callback& cb, Model& m, const std::string& key, const std::vector<double>& values) {
  cb.set_model(&m);
  m.stop_training = false;
  cb.on_train_begin({});
  for (size_t e = 0; e < values.size(); ++e) {
    Logs logs{{key, values[e]}};
    cb.on_epoch_end(static_cast<int>(e), logs);
    if (m.stop_training) {
      cb.on_train_end(logs);
      return static_cast<int>(e);
    }
  }
  cb.on_train_end({});
  return -1;
}

TEST(KerasCallbacks, EarlyStoppingDecisions) {
  auto m = tiny_model();
  {
    EarlyStopping es({.monitor = "val_loss", .patience = 2});
    EXPECT_EQ(run_epochs(es, *m, "val_loss", {1.0, 0.9, 0.95, 0.97, 0.5}), 3);
    EXPECT_EQ(es.stopped_epoch(), 3);
    EXPECT_EQ(es.best_epoch(), 1);
  }
  {  // patience 0: the first epoch without improvement stops (not epoch 0)
    EarlyStopping es({.monitor = "val_loss"});
    EXPECT_EQ(run_epochs(es, *m, "val_loss", {1.0, 1.0}), 1);
  }
  {  // min_delta: improvements smaller than it do not count
    EarlyStopping es({.monitor = "loss", .min_delta = 0.1, .patience = 2});
    EXPECT_EQ(run_epochs(es, *m, "loss", {1.0, 0.95, 0.92, 0.5}), 2);
    EarlyStopping plain({.monitor = "loss", .patience = 2});
    EXPECT_EQ(run_epochs(plain, *m, "loss", {1.0, 0.95, 0.92, 0.5}), -1);
  }
  {  // "auto" is "max" for accuracy
    EarlyStopping es({.monitor = "val_accuracy", .patience = 1});
    EXPECT_EQ(run_epochs(es, *m, "val_accuracy", {0.5, 0.6, 0.7, 0.65, 0.66}), 3);
    EarlyStopping es_min({.monitor = "val_accuracy", .patience = 1, .mode = "min"});
    EXPECT_EQ(run_epochs(es_min, *m, "val_accuracy", {0.5, 0.6, 0.7}), 1);
  }
  {  // baseline (Keras 2.13): an improvement that does not beat it leaves the count running, so
     // the next epoch without improvement stops
    EarlyStopping es({.monitor = "val_loss", .patience = 2, .baseline = 0.5});
    EXPECT_EQ(run_epochs(es, *m, "val_loss", {1.0, 0.9, 0.95}), 2);
    EarlyStopping beaten({.monitor = "val_loss", .patience = 2, .baseline = 0.95});
    EXPECT_EQ(run_epochs(beaten, *m, "val_loss", {1.0, 0.9, 0.95}), -1);
  }
  {  // start_from_epoch: earlier epochs are not watched
    EarlyStopping es({.monitor = "val_loss", .patience = 0, .start_from_epoch = 2});
    EXPECT_EQ(run_epochs(es, *m, "val_loss", {1.0, 2.0, 3.0, 4.0}), 3);
  }
  EarlyStopping missing({.monitor = "val_loss"});
  missing.set_model(m.get());
  missing.on_train_begin({});
  Logs logs{{"loss", 1.0}};
  expect_error([&] { missing.on_epoch_end(0, logs); }, {"EarlyStopping", "'val_loss'", "loss"});
  expect_error([] { EarlyStopping({.mode = "up"}); }, {"mode 'up'"});
}

TEST(KerasCallbacks, EarlyStoppingRestoresBestWeightsOnlyWhenItStopped) {
  auto m = tiny_model();
  Tensor w = m->parameters()[0];
  auto set_w = [&](double v) {
    NoGradGuard g;
    w.fill_(v);
  };
  // The weights at each epoch's end are v = epoch; val_loss is best at epoch 1.
  auto run = [&](const std::vector<double>& losses, int patience) {
    EarlyStopping es({.monitor = "val_loss", .patience = patience, .restore_best_weights = true});
    es.set_model(m.get());
    m->stop_training = false;
    es.on_train_begin({});
    for (size_t e = 0; e < losses.size() && !m->stop_training; ++e) {
      set_w(static_cast<double>(e));
      Logs l{{"val_loss", losses[e]}};
      es.on_epoch_end(static_cast<int>(e), l);
    }
    es.on_train_end({});
    return w.to_vector<float>()[0];
  };
  EXPECT_EQ(run({1.0, 0.5, 0.7, 0.8}, 1), 1.0f);  // stopped at epoch 2: back to epoch 1's
  EXPECT_EQ(run({1.0, 0.5, 0.7}, 2), 2.0f);       // Keras 2.13: did not stop, weights stay
  EXPECT_EQ(run({1.0, 2.0, 3.0}, 1), 0.0f);       // stopped at 1; best epoch 0

  // Inside fit: lr 0 never improves the loss, so training stops after patience + 1 epochs.
  auto still = tiny_model("sgd", {{"lr", 0.0}});
  Toy d = toy(8);
  auto es = std::make_shared<EarlyStopping>(EarlyStoppingOptions{.monitor = "loss", .patience = 2});
  History h =
      still->fit(d.x, d.y, {.epochs = 20, .batch_size = 4, .callbacks = {es}, .verbose = 0});
  EXPECT_EQ(h.epochs, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(es->stopped_epoch(), 2);
}

// ---------------------------------------------------------------- ModelCheckpoint

TEST(KerasCallbacks, ModelCheckpointSavesEachEpochOrTheBest) {
  TempDir dir;
  auto m = tiny_model();
  Toy d = toy(8);
  auto every = std::make_shared<ModelCheckpoint>(dir / "model_{epoch}.ravel",
                                                 ModelCheckpointOptions{.monitor = "loss"});
  auto weights =
      std::make_shared<ModelCheckpoint>(dir / "w_{epoch:02d}_{loss:.2f}.safetensors",
                                        ModelCheckpointOptions{.save_weights_only = true});
  m->fit(d.x, d.y, {.epochs = 2, .batch_size = 4, .callbacks = {every, weights}, .verbose = 0});
  EXPECT_TRUE(fs::exists(dir / "model_1.ravel"));
  EXPECT_TRUE(fs::exists(dir / "model_2.ravel"));
  int weight_files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("w_0", 0) == 0) ++weight_files;
  }
  EXPECT_EQ(weight_files, 2);
  // The last file holds the final model.
  auto loaded = load_model(dir / "model_2.ravel");
  EXPECT_TRUE(matches(loaded->predict(d.x), m->predict(d.x), 0, 1e-6));

  // save_best_only on crafted logs: saves at epochs 0 and 2 only.
  ModelCheckpoint best(dir / "best_{epoch}.ravel",
                       {.monitor = "val_accuracy", .save_best_only = true});
  best.set_model(m.get());
  best.on_train_begin({});
  std::vector<double> acc = {0.5, 0.4, 0.7, 0.7};
  for (int e = 0; e < 4; ++e) {
    Logs l{{"val_accuracy", acc[e]}};
    best.on_epoch_end(e, l);
  }
  EXPECT_TRUE(fs::exists(dir / "best_1.ravel"));
  EXPECT_FALSE(fs::exists(dir / "best_2.ravel"));
  EXPECT_TRUE(fs::exists(dir / "best_3.ravel"));
  EXPECT_FALSE(fs::exists(dir / "best_4.ravel"));
  EXPECT_DOUBLE_EQ(best.best(), 0.7);

  ModelCheckpoint bad(dir / "x_{nope}.ravel");
  bad.set_model(m.get());
  bad.on_train_begin({});
  Logs l{{"loss", 1.0}};
  expect_error([&] { bad.on_epoch_end(0, l); }, {"ModelCheckpoint", "'nope'"});
}

// ---------------------------------------------------------------- learning rates

TEST(KerasCallbacks, ReduceLROnPlateauDecisions) {
  auto m = tiny_model("sgd", {{"lr", 1.0}});
  ReduceLROnPlateau cb(
      {.monitor = "val_loss", .factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.2});
  cb.set_model(m.get());
  cb.on_train_begin({});
  std::vector<double> lrs;
  for (int e = 0; e < 9; ++e) {
    Logs l{{"val_loss", 1.0}};  // never improves after epoch 0
    cb.on_epoch_end(e, l);
    lrs.push_back(l.at("lr"));  // the rate the epoch ran with
  }
  // Keras' counting: epoch 0 sets the best; epochs 1, 2 wait -> halve after 2, cooldown 1. Epoch
  // 3 ends the cooldown and, in the same call, starts waiting again: halve after 4 (to 0.25),
  // and after 6 to 0.2 (min_lr, not 0.125); then it stays.
  EXPECT_EQ(lrs, (std::vector<double>{1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2}));
  EXPECT_DOUBLE_EQ(m->optimizer()->lr(), 0.2);
  expect_error([] { ReduceLROnPlateau({.factor = 1.5}); }, {"factor 1.5", "(0, 1)"});
}

TEST(KerasCallbacks, LearningRateSchedulerSetsEveryGroupAndLogsLr) {
  manual_seed(3);
  auto m = Sequential({InputLayer({3}), Dense(4), Dense(2)});
  // Two parameter groups: the schedule sets both.
  m->compile(
      {.optimizer = OptimizerSpec([](std::vector<Tensor> ps) -> std::unique_ptr<optim::Optimizer> {
         std::vector<Tensor> first(ps.begin(), ps.begin() + 2), rest(ps.begin() + 2, ps.end());
         auto opt = std::make_unique<optim::SGD>(first, optim::SGDOptions{.lr = 0.1});
         opt->add_param_group(rest, optim::SGDOptions{.lr = 0.3});
         return opt;
       }),
       .loss = Loss("sparse_categorical_crossentropy", true)});
  Toy d = toy(8);
  std::vector<double> seen_lr;
  auto sched = std::make_shared<LearningRateScheduler>([&](int epoch, double lr) {
    seen_lr.push_back(lr);
    return 0.01 * (epoch + 1);
  });
  History h = m->fit(d.x, d.y, {.epochs = 3, .batch_size = 4, .callbacks = {sched}, .verbose = 0});
  EXPECT_EQ(seen_lr, (std::vector<double>{0.1, 0.01, 0.02}));
  EXPECT_EQ(h["lr"], (std::vector<double>{0.01, 0.02, 0.03}));
  EXPECT_DOUBLE_EQ(m->optimizer()->lr(0), 0.03);
  EXPECT_DOUBLE_EQ(m->optimizer()->lr(1), 0.03);
}

// ---------------------------------------------------------------- CSVLogger, TerminateOnNaN

TEST(KerasCallbacks, CSVLoggerWritesKerasRows) {
  TempDir dir;
  auto m = tiny_model();
  Toy d = toy(10);
  const std::string path = dir / "log.csv";
  auto csv = std::make_shared<CSVLogger>(path);
  // Checks each row is on disk when its epoch ends.
  std::vector<size_t> lines_at_epoch_end;
  auto after = std::make_shared<LambdaCallback>();
  after->epoch_begin = [&](int e, const Logs&) {
    if (e > 0) {
      std::string text = read_file(path);
      lines_at_epoch_end.push_back(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')));
    }
  };
  History h = m->fit(d.x, d.y,
                     {.epochs = 3,
                      .batch_size = 4,
                      .validation_split = 0.2,
                      .callbacks = {csv, after},
                      .verbose = 0});
  EXPECT_EQ(lines_at_epoch_end, (std::vector<size_t>{2, 3}));  // flushed every row
  std::istringstream in(read_file(path));
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "epoch,accuracy,loss,val_accuracy,val_loss");
  for (int e = 0; e < 3; ++e) {
    ASSERT_TRUE(std::getline(in, line));
    std::vector<std::string> f;
    std::stringstream ls(line);
    for (std::string cell; std::getline(ls, cell, ',');) f.push_back(cell);
    ASSERT_EQ(f.size(), 5u) << line;
    EXPECT_EQ(f[0], std::to_string(e));
    EXPECT_EQ(std::stod(f[1]), h["accuracy"][e]);  // round-trip exact
    EXPECT_EQ(std::stod(f[2]), h["loss"][e]);
    EXPECT_EQ(std::stod(f[4]), h["val_loss"][e]);
  }
  EXPECT_FALSE(std::getline(in, line));

  // append: a second run adds rows, no second header; ';' as the separator.
  auto more = std::make_shared<CSVLogger>(path, ',', true);
  m->fit(d.x, d.y, {.epochs = 1, .validation_split = 0.2, .callbacks = {more}, .verbose = 0});
  std::string text = read_file(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5);
  auto semi = std::make_shared<CSVLogger>(dir / "semi.csv", ';');
  m->fit(d.x, d.y, {.epochs = 1, .callbacks = {semi}, .verbose = 0});
  EXPECT_EQ(read_file(dir / "semi.csv").substr(0, 20), "epoch;accuracy;loss\n");
}

TEST(KerasCallbacks, TerminateOnNaNStopsAfterTheBatch) {
  auto m = tiny_model();
  Toy d = toy(12);
  Tensor x = d.x.clone();
  x.index_put_({5, 0}, std::numeric_limits<double>::quiet_NaN());  // in the second batch of 4
  int64_t batches = 0;
  auto count = std::make_shared<LambdaCallback>();
  count->batch_end = [&](int64_t, const Logs&) { ++batches; };
  ::testing::internal::CaptureStdout();
  History h = m->fit(x, d.y,
                     {.epochs = 3,
                      .batch_size = 4,
                      .shuffle = false,
                      .callbacks = {std::make_shared<TerminateOnNaN>(), count},
                      .verbose = 0});
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(batches, 2);
  EXPECT_EQ(h.epochs, std::vector<int>{0});  // the epoch ends (Keras), no further epoch runs
  EXPECT_TRUE(std::isnan(h["loss"][0]));
  EXPECT_NE(out.find("Batch 1: Invalid loss, terminating training"), std::string::npos) << out;
}

}  // namespace
}  // namespace ravel::keras
