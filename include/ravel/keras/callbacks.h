// Callbacks: code that fit() runs at the start and end of training, epochs and batches
// (keras.callbacks). They see the model, can read and add to the logs, change the learning rate,
// save the model, or stop training.
//
//   auto early = std::make_shared<EarlyStopping>(EarlyStoppingOptions{
//       .monitor = "val_loss", .patience = 3, .restore_best_weights = true});
//   auto best = std::make_shared<ModelCheckpoint>("best.ravel",
//       ModelCheckpointOptions{.monitor = "val_accuracy", .save_best_only = true});
//   model->fit(x, y, {.epochs = 50, .validation_split = 0.1, .callbacks = {early, best}});
//
//   struct PrintLr : Callback {                       // a user-defined callback
//     void on_epoch_end(int epoch, Logs& logs) override {
//       std::cout << epoch << " lr " << model().optimizer()->lr() << "\n";
//     }
//   };
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ravel/keras/model.h"

namespace ravel::keras {

class Callback {
 public:
  virtual ~Callback();
  void set_model(Model* model) { model_ = model; }
  Model& model() const;  // throws when not attached to a model

  virtual void on_train_begin(const Logs& logs) {}
  virtual void on_train_end(const Logs& logs) {}
  virtual void on_epoch_begin(int epoch, const Logs& logs) {}
  // logs holds the epoch's averages and validation values; callbacks may add entries ("lr").
  virtual void on_epoch_end(int epoch, Logs& logs) {}
  virtual void on_train_batch_begin(int64_t batch, const Logs& logs) {}
  virtual void on_train_batch_end(int64_t batch, const Logs& logs) {}  // running averages
  virtual void on_test_begin(const Logs& logs) {}
  virtual void on_test_end(const Logs& logs) {}

 private:
  Model* model_ = nullptr;
};

// "auto": "min" unless the name has "acc", "auc", "precision", "recall" or "f1" in it.
struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0.0;
  int patience = 0;
  std::string mode = "auto";  // "min", "max", "auto"
  std::optional<double> baseline = std::nullopt;
  bool restore_best_weights = false;
  int start_from_epoch = 0;
};
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  int stopped_epoch() const { return stopped_epoch_; }  // -1 if it did not stop training
  int best_epoch() const { return best_epoch_; }

 private:
  EarlyStoppingOptions o_;
  double best_ = 0;
  int wait_ = 0, stopped_epoch_ = -1, best_epoch_ = -1;
  nn::StateDict best_weights_;
};

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  bool save_weights_only = false;
  std::string mode = "auto";
};
// path may contain "{epoch}" (1-based, as Keras), replaced on each save.
class ModelCheckpoint : public Callback {
 public:
  ModelCheckpoint(std::string path, ModelCheckpointOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  double best() const { return best_; }

 private:
  std::string path_;
  ModelCheckpointOptions o_;
  double best_ = 0;
};

struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;
  int patience = 10;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int cooldown = 0;
  double min_lr = 0.0;
};
// Adds "lr" to the epoch's logs.
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;

 private:
  ReduceLROnPlateauOptions o_;
  double best_ = 0;
  int wait_ = 0, cooldown_counter_ = 0;
};

// Sets the learning rate at the start of each epoch: schedule(epoch, current_lr) -> new lr.
class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int epoch, double lr)>;
  explicit LearningRateScheduler(Schedule schedule);
  void on_epoch_begin(int epoch, const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;  // adds "lr"

 private:
  Schedule schedule_;
};

// One CSV row per epoch: "epoch" then the logs' keys in sorted order (Keras' format).
class CSVLogger : public Callback {
 public:
  CSVLogger(std::string path, char separator = ',', bool append = false);
  ~CSVLogger() override;
  void on_train_begin(const Logs& logs) override;
  void on_epoch_end(int epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;

 private:
  std::string path_;
  char separator_;
  bool append_;
  std::FILE* file_ = nullptr;
  std::vector<std::string> keys_;  // the first epoch's keys
  bool write_header_ = true;       // false when appending to a file that has lines
};

// Stops training when a batch's loss is NaN or infinite.
class TerminateOnNaN : public Callback {
 public:
  void on_train_batch_end(int64_t batch, const Logs& logs) override;
};

// A callback from lambdas (keras.callbacks.LambdaCallback); unset members do nothing.
struct LambdaCallback : Callback {
  std::function<void(const Logs&)> train_begin, train_end;
  std::function<void(int, const Logs&)> epoch_begin;
  std::function<void(int, Logs&)> epoch_end;
  std::function<void(int64_t, const Logs&)> batch_begin, batch_end;
  void on_train_begin(const Logs& l) override {
    if (train_begin) train_begin(l);
  }
  void on_train_end(const Logs& l) override {
    if (train_end) train_end(l);
  }
  void on_epoch_begin(int e, const Logs& l) override {
    if (epoch_begin) epoch_begin(e, l);
  }
  void on_epoch_end(int e, Logs& l) override {
    if (epoch_end) epoch_end(e, l);
  }
  void on_train_batch_begin(int64_t b, const Logs& l) override {
    if (batch_begin) batch_begin(b, l);
  }
  void on_train_batch_end(int64_t b, const Logs& l) override {
    if (batch_end) batch_end(b, l);
  }
};

}  // namespace ravel::keras
