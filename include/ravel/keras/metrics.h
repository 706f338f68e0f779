// Metrics: values accumulated over batches (keras.metrics). update() with each batch's
// predictions and targets, result() for the value so far, reset() between epochs.
//
//   keras::SparseCategoricalAccuracy acc;
//   acc.update(logits, labels);           // [N, C] scores, [N] int64 labels
//   double a = acc.result();
//   keras::ConfusionMatrix cm(10);
//   cm.update(logits, labels);
//   Tensor counts = cm.matrix();          // [10, 10] int64, rows = true class
//   keras::F1Score f1({.num_classes = 10, .average = "weighted"});
//   auto auc = keras::make_metric("auc");  // by Keras name
//
// Predictions may be probabilities or raw scores wherever only their argmax matters. Binary
// metrics (binary accuracy, precision/recall/F1 without num_classes, AUC) take one score per
// example ([N] or [N, 1]; [N, K] multi-label scores count as N * K decisions, as in Keras) and
// targets 0/1; thresholds apply to the score as given. Everything accumulates in double.
// sample_weight [N] weighs each example (all K values of a multi-output example alike).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::keras {

class Metric {
 public:
  explicit Metric(std::string name = "") : name_(std::move(name)) {}
  virtual ~Metric();
  // The key in logs: "accuracy", "precision", ...; make_metric() sets the name it was asked by.
  virtual std::string name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // sample_weight [N] (optional) weighs each example.
  virtual void update(const Tensor& y_pred, const Tensor& y_true,
                      const Tensor& sample_weight = {}) = 0;
  virtual double result() const = 0;  // 0 before any update, as Keras
  virtual void reset() = 0;

 protected:
  std::string name_;
};

// By Keras name (see MetricSpec in keras/model.h); "accuracy" resolves against the loss name:
// binary_crossentropy -> binary, categorical_crossentropy -> categorical, else sparse ("top5"
// likewise). "precision", "recall", "f1" are binary unless the loss is a categorical one: then
// macro averages over the classes of y_pred. from_logits (the loss's): binary thresholds at 0
// instead of 0.5. An unknown name throws, listing the known ones.
std::shared_ptr<Metric> make_metric(const std::string& name, const std::string& loss_name = "",
                                    bool from_logits = false);

// ---- means ----

// A running weighted mean of values (keras.metrics.Mean); fit() logs "loss" with one.
class Mean : public Metric {
 public:
  explicit Mean(std::string name = "mean") : Metric(std::move(name)) {}
  // y_pred holds the values [N, ...]; y_true is ignored; sample_weight [N] weighs the values of
  // each example.
  void update(const Tensor& y_pred, const Tensor& y_true = {},
              const Tensor& sample_weight = {}) override;
  void update(double value, double weight = 1.0);
  double result() const override;
  void reset() override;

 protected:
  // Adds values [N * k] (k per example) weighted by sample_weight [N] (empty: all 1).
  void accumulate(const std::vector<double>& values, int64_t n, const Tensor& sample_weight);
  double total_ = 0, weight_ = 0;
};

// The weighted mean of one value per example (Keras' MeanMetricWrapper): accuracies, errors.
class ExampleMean : public Mean {
 public:
  void update(const Tensor& y_pred, const Tensor& y_true,
              const Tensor& sample_weight = {}) override;
  using Mean::update;

 protected:
  using Mean::Mean;
  // One value per example of the batch.
  virtual std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const = 0;
};

// argmax(y_pred [N, C]) == y_true [N] (or [N, 1]) integer labels.
class SparseCategoricalAccuracy : public ExampleMean {
 public:
  explicit SparseCategoricalAccuracy(std::string name = "sparse_categorical_accuracy")
      : ExampleMean(std::move(name)) {}

 protected:
  std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const override;
};

// argmax(y_pred [N, C]) == argmax(y_true [N, C]) (one-hot or soft targets).
class CategoricalAccuracy : public ExampleMean {
 public:
  explicit CategoricalAccuracy(std::string name = "categorical_accuracy")
      : ExampleMean(std::move(name)) {}

 protected:
  std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const override;
};

// (y_pred > threshold) == y_true, averaged over each example's outputs.
class BinaryAccuracy : public ExampleMean {
 public:
  explicit BinaryAccuracy(double threshold = 0.5, std::string name = "binary_accuracy")
      : ExampleMean(std::move(name)), threshold_(threshold) {}

 protected:
  std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const override;
  double threshold_;
};

// The true class is among the k highest scores (tf.math.in_top_k: fewer than k classes score
// strictly higher, so ties at the boundary count as in). y_true one-hot [N, C].
class TopKCategoricalAccuracy : public ExampleMean {
 public:
  explicit TopKCategoricalAccuracy(int64_t k = 5, std::string name = "top_k_categorical_accuracy");

 protected:
  TopKCategoricalAccuracy(int64_t k, std::string name, bool sparse);
  std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const override;
  int64_t k_;
  bool sparse_;
};

// The same with integer labels y_true [N].
class SparseTopKCategoricalAccuracy : public TopKCategoricalAccuracy {
 public:
  explicit SparseTopKCategoricalAccuracy(int64_t k = 5,
                                         std::string name = "sparse_top_k_categorical_accuracy")
      : TopKCategoricalAccuracy(k, std::move(name), true) {}
};

// Regression errors: per example, the mean over its outputs; then the weighted mean.
class MeanAbsoluteError : public ExampleMean {
 public:
  explicit MeanAbsoluteError(std::string name = "mean_absolute_error")
      : ExampleMean(std::move(name)) {}

 protected:
  std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const override;
};

class MeanSquaredError : public ExampleMean {
 public:
  explicit MeanSquaredError(std::string name = "mean_squared_error")
      : ExampleMean(std::move(name)) {}

 protected:
  std::vector<double> values(const Tensor& y_pred, const Tensor& y_true) const override;
};

// sqrt of the weighted mean squared error (not the mean of per-batch roots).
class RootMeanSquaredError : public MeanSquaredError {
 public:
  explicit RootMeanSquaredError(std::string name = "root_mean_squared_error")
      : MeanSquaredError(std::move(name)) {}
  double result() const override;
};

// ---- from a confusion matrix ----

struct ClassificationOptions {
  double threshold = 0.5;  // binary: a score > threshold predicts class 1
  // 0: binary (one score per example); C >= 2: the argmax of y_pred [N, C], or integer class
  // predictions y_pred [N]; -1: C from y_pred's last axis at the first update.
  int64_t num_classes = 0;
  std::string average = "macro";  // multi-class: "macro", "micro" or "weighted" (by support)
};

// Accumulates a weighted [C, C] confusion matrix (binary: C = 2). Targets are integer labels
// [N], or one-hot [N, C] (the same shape as y_pred) in multi-class mode.
class ConfusionMetric : public Metric {
 public:
  void update(const Tensor& y_pred, const Tensor& y_true,
              const Tensor& sample_weight = {}) override;
  void reset() override;
  int64_t num_classes() const { return c_; }  // -1 until inferred
  // Weighted counts, row-major [C, C], rows = true class.
  const std::vector<double>& counts() const { return counts_; }

 protected:
  ConfusionMetric(std::string name, ClassificationOptions options);
  enum class Score { Precision, Recall, F1 };
  // Binary: the positive class's; else averaged as options say (sklearn's zero_division = 0).
  double averaged(Score score) const;
  ClassificationOptions o_;
  int64_t c_;
  std::vector<double> counts_;
  bool weighted_ = false;  // a sample_weight was given
};

class Precision : public ConfusionMetric {
 public:
  explicit Precision(ClassificationOptions options = {}, std::string name = "precision")
      : ConfusionMetric(std::move(name), std::move(options)) {}
  double result() const override { return averaged(Score::Precision); }
};

class Recall : public ConfusionMetric {
 public:
  explicit Recall(ClassificationOptions options = {}, std::string name = "recall")
      : ConfusionMetric(std::move(name), std::move(options)) {}
  double result() const override { return averaged(Score::Recall); }
};

// Macro and weighted F1 average the per-class F1 scores (as sklearn and Keras' F1Score).
class F1Score : public ConfusionMetric {
 public:
  explicit F1Score(ClassificationOptions options = {}, std::string name = "f1_score")
      : ConfusionMetric(std::move(name), std::move(options)) {}
  double result() const override { return averaged(Score::F1); }
};

// matrix(): int64 counts [C, C] (float64 sums when sample weights were given, as sklearn's
// confusion_matrix); result(): the accuracy.
class ConfusionMatrix : public ConfusionMetric {
 public:
  explicit ConfusionMatrix(int64_t num_classes, std::string name = "confusion_matrix");
  Tensor matrix() const;
  double result() const override;
};

// ---- ranking ----

// Area under the ROC curve (curve "ROC"), or average precision (curve "PR", sklearn's
// average_precision_score), exact: every score is kept and sorted, tied scores form one
// threshold. 0 while the targets seen lack a class (Keras' value; sklearn raises).
class AUC : public Metric {
 public:
  explicit AUC(std::string curve = "ROC", std::string name = "auc");
  void update(const Tensor& y_pred, const Tensor& y_true,
              const Tensor& sample_weight = {}) override;
  double result() const override;
  void reset() override;

 private:
  bool pr_;
  std::vector<double> scores_, weights_;
  std::vector<uint8_t> labels_;
};

}  // namespace ravel::keras
