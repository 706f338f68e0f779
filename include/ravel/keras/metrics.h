// Metrics: values accumulated over batches (keras.metrics). update() with each batch's
// predictions and targets, result() for the value so far, reset() between epochs.
//
//   keras::SparseCategoricalAccuracy acc;
//   acc.update(logits, labels);           // [N, C] scores, [N] int64 labels
//   double a = acc.result();
//   keras::ConfusionMatrix cm(10);
//   cm.update(logits, labels);
//   Tensor counts = cm.matrix();          // [10, 10] int64, rows = true class
//
// Predictions may be probabilities or raw scores wherever only their argmax matters. Binary
// metrics (binary accuracy, precision/recall/F1 without num_classes, AUC) take one score per
// example ([N] or [N, 1]) and targets 0/1; thresholds apply to the score as given.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::keras {

class Metric {
 public:
  virtual ~Metric();
  virtual std::string name() const = 0;  // the key in logs: "accuracy", "precision", ...
  // sample_weight [N] (optional) weighs each example.
  virtual void update(const Tensor& y_pred, const Tensor& y_true,
                      const Tensor& sample_weight = {}) = 0;
  virtual double result() const = 0;
  virtual void reset() = 0;
};

// By Keras name (see MetricSpec in keras/model.h); "accuracy" resolves against the loss name:
// binary_crossentropy -> binary, categorical_crossentropy -> categorical, else sparse.
// An unknown name throws, listing the known ones.
std::shared_ptr<Metric> make_metric(const std::string& name, const std::string& loss_name = "");

// (The concrete metrics are declared below by their implementer.)

}  // namespace ravel::keras
