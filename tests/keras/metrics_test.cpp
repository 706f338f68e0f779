// Every metric against scikit-learn on random data (one python run for all of them): each value is
// accumulated over three uneven update() calls, which must equal one update() on everything, with
// and without sample weights. Then the errors and the metrics by name.
#include "ravel/keras/metrics.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using namespace ravel::keras;
using ravel::testing::expect_error;
using ravel::testing::matches;
using ravel::testing::NumpyOracle;

namespace {

constexpr int64_t kN = 60;
// sklearn.metrics without importing torch (an expression case, not a script).
const std::string sk = "__import__('sklearn.metrics').metrics.";

// The metric's result after update() on three uneven chunks; it must equal one update() on
// everything, and reset() must forget all of it.
double chunked(Metric& m, const Tensor& p, const Tensor& t, const Tensor& w = {}) {
  m.reset();
  m.update(p, t, w);
  double once = m.result();
  m.reset();
  EXPECT_EQ(m.result(), 0.0) << m.name();
  const int64_t cuts[] = {0, 13, 37, kN};
  for (int i = 0; i < 3; ++i) {
    auto part = [&](const Tensor& x) { return x.defined() ? x.slice(0, cuts[i], cuts[i + 1]) : x; };
    m.update(part(p), part(t), part(w));
  }
  EXPECT_NEAR(m.result(), once, 1e-12) << m.name();
  return m.result();
}

// Sums are compared in float64 (sklearn computes in its inputs' dtype).
struct Data {
  Generator gen{2024};
  Tensor scores = randn({kN, 4}, gen);       // 4 classes
  Tensor labels = randint(0, 4, {kN}, gen);  // int64
  Tensor one_hot = (labels.unsqueeze(1) == arange(4)).to(DType::Float32);
  Tensor weights = rand({kN}, gen, DType::Float64) + 0.1;                  // > 0
  Tensor prob = rand({kN}, gen);                                           // binary scores
  Tensor target = randint(0, 2, {kN}, gen);                                // 0/1
  Tensor tied = (prob * 5.0f).to(DType::Int64).to(DType::Float32) / 5.0f;  // 5 distinct scores
  Tensor prob3 = rand({kN, 3}, gen, DType::Float64);  // multi-label / regression
  Tensor target3 = randint(0, 2, {kN, 3}, gen);
  Tensor truth3 = randn({kN, 3}, gen, DType::Float64);
  Tensor scores5 = randn({kN, 5}, gen);  // class 4 never predicted nor true
  Data() { scores5.index_put_({Slice(), 4}, Scalar(-10.0)); }
};

TEST(KerasMetrics, AgainstSklearn) {
  Data d;
  NumpyOracle np;
  struct Check {
    std::string what;
    double ours;
    int handle;
  };
  std::vector<Check> checks;
  auto check = [&](std::string what, double ours, const std::string& expr,
                   const std::vector<Tensor>& inputs) {
    checks.push_back({std::move(what), ours, np.add(expr, inputs)});
  };
  const Tensor &a = d.scores, &y = d.labels, &w = d.weights;

  // Accuracies.
  SparseCategoricalAccuracy sparse_acc;
  check("sparse accuracy", chunked(sparse_acc, a, y), sk + "accuracy_score(b, a.argmax(1))",
        {a, y});
  check("sparse accuracy, weighted", chunked(sparse_acc, a, y.unsqueeze(1), w),
        sk + "accuracy_score(b, a.argmax(1), sample_weight=c)", {a, y, w});
  CategoricalAccuracy cat_acc;
  check("categorical accuracy, weighted", chunked(cat_acc, a, d.one_hot, w),
        sk + "accuracy_score(b, a.argmax(1), sample_weight=c)", {a, y, w});
  SparseTopKCategoricalAccuracy top2(2);
  check("sparse top-2, weighted", chunked(top2, a, y, w),
        sk + "top_k_accuracy_score(b, a, k=2, labels=range(4), sample_weight=c)", {a, y, w});
  TopKCategoricalAccuracy top3(3);
  check("top-3", chunked(top3, a, d.one_hot),
        sk + "top_k_accuracy_score(b, a, k=3, labels=range(4))", {a, y});
  BinaryAccuracy bin_acc;
  check("binary accuracy, weighted", chunked(bin_acc, d.prob, d.target, w),
        sk + "accuracy_score(b, a > 0.5, sample_weight=c)", {d.prob, d.target, w});
  BinaryAccuracy bin_acc3(0.3);
  check("binary accuracy [N, 1], threshold 0.3",
        chunked(bin_acc3, d.prob.unsqueeze(1), d.target.unsqueeze(1)),
        sk + "accuracy_score(b, a > 0.3)", {d.prob, d.target});

  // Binary precision, recall, F1; also N x 3 multi-label decisions (Keras flattens them).
  const std::vector<
      std::pair<std::string, std::function<std::shared_ptr<Metric>(ClassificationOptions)>>>
      scores = {{"precision_score", [](auto o) { return std::make_shared<Precision>(o); }},
                {"recall_score", [](auto o) { return std::make_shared<Recall>(o); }},
                {"f1_score", [](auto o) { return std::make_shared<F1Score>(o); }}};
  for (const auto& [fn, make] : scores) {
    auto m = make({});
    check(fn + " binary, weighted", chunked(*m, d.prob, d.target, w),
          sk + fn + "(b, a > 0.5, sample_weight=c)", {d.prob, d.target, w});
    check(fn + " multi-label, weighted", chunked(*m, d.prob3, d.target3, w),
          sk + fn + "(b.ravel(), a.ravel() > 0.5, sample_weight=np.repeat(c, 3))",
          {d.prob3, d.target3, w});
    for (std::string avg : {"macro", "micro", "weighted"}) {
      // Class 4 appears nowhere: macro counts it as 0 (zero_division = 0), as Keras' F1Score.
      auto mc = make({.num_classes = 5, .average = avg});
      std::string expr = sk + fn + "(b, a.argmax(1), labels=range(5), average='" + avg +
                         "', zero_division=0, sample_weight=c)";
      check(fn + " " + avg + ", weighted", chunked(*mc, d.scores5, y, w), expr, {d.scores5, y, w});
      auto inferred = make({.num_classes = -1, .average = avg});
      Tensor one_hot5 = (y.unsqueeze(1) == arange(5)).to(DType::Float32);
      check(fn + " " + avg + ", one-hot, C inferred", chunked(*inferred, d.scores5, one_hot5, w),
            expr, {d.scores5, y, w});
    }
  }

  // Ranking: ROC AUC and average precision, with distinct and tied scores.
  AUC roc, pr("PR");
  check("roc auc, weighted", chunked(roc, d.prob, d.target, w),
        sk + "roc_auc_score(b, a, sample_weight=c)", {d.prob, d.target, w});
  check("roc auc, ties", chunked(roc, d.tied, d.target), sk + "roc_auc_score(b, a)",
        {d.tied, d.target});
  check("roc auc, multi-label", chunked(roc, d.prob3, d.target3),
        sk + "roc_auc_score(b.ravel(), a.ravel())", {d.prob3, d.target3});
  check("average precision, weighted", chunked(pr, d.prob, d.target, w),
        sk + "average_precision_score(b, a, sample_weight=c)", {d.prob, d.target, w});
  check("average precision, ties, weighted", chunked(pr, d.tied, d.target, w),
        sk + "average_precision_score(b, a, sample_weight=c)", {d.tied, d.target, w});

  // Confusion matrix: int64 counts, float64 weighted sums.
  ConfusionMatrix cm(4), cm_classes(4);
  check("confusion matrix accuracy, weighted", chunked(cm, a, y, w),
        sk + "accuracy_score(b, a.argmax(1), sample_weight=c)", {a, y, w});
  int cm_weighted = np.add(sk + "confusion_matrix(b, a.argmax(1), labels=range(4), "
                                "sample_weight=c)",
                           {a, y, w});
  Tensor cm_weighted_ours = cm.matrix();
  Tensor predicted = argmax(a, 1);
  chunked(cm_classes, predicted, y);  // class predictions [N] instead of scores
  int cm_counts = np.add(sk + "confusion_matrix(b, a, labels=range(4))", {predicted, y});

  // Regression errors: [N] and [N, 3] (per example the mean over its outputs).
  MeanAbsoluteError mae;
  MeanSquaredError mse;
  RootMeanSquaredError rmse;
  Tensor p1 = d.prob3.select(1, 0), t1 = d.truth3.select(1, 0);
  check("mae", chunked(mae, p1, t1), sk + "mean_absolute_error(b, a)", {p1, t1});
  check("mae [N, 3], weighted", chunked(mae, d.prob3, d.truth3, w),
        sk + "mean_absolute_error(b, a, sample_weight=c)", {d.prob3, d.truth3, w});
  check("mse [N, 3], weighted", chunked(mse, d.prob3, d.truth3, w),
        sk + "mean_squared_error(b, a, sample_weight=c)", {d.prob3, d.truth3, w});
  check("rmse [N, 3], weighted", chunked(rmse, d.prob3, d.truth3, w),
        "np.sqrt(" + sk + "mean_squared_error(b, a, sample_weight=c))", {d.prob3, d.truth3, w});
  Mean mean;
  check("mean [N, 3], weighted", chunked(mean, d.truth3, {}, w),
        "np.average(a, weights=np.broadcast_to(b[:, None], a.shape))", {d.truth3, w});

  np.run();
  for (const Check& c : checks) {
    ASSERT_EQ(np.error(c.handle), "") << c.what;
    EXPECT_NEAR(c.ours, np.result(c.handle).item<double>(), 1e-9) << c.what;
  }
  EXPECT_TRUE(matches(cm_weighted_ours, np.result(cm_weighted), 1e-9, 1e-9));
  EXPECT_EQ(cm_classes.matrix().dtype(), DType::Int64);
  EXPECT_TRUE(matches(cm_classes.matrix(), np.result(cm_counts)));
}

TEST(KerasMetrics, EmptyAndScalarUpdates) {
  Mean loss("loss");
  EXPECT_EQ(loss.result(), 0.0);  // Keras: 0 before any value
  loss.update(2.0, 32);
  loss.update(4.0, 16);
  EXPECT_DOUBLE_EQ(loss.result(), (2.0 * 32 + 4.0 * 16) / 48);
  AUC auc;
  auc.update(tensor({0.2, 0.7}), tensor({1, 1}));
  EXPECT_EQ(auc.result(), 0.0);  // one class only: Keras' 0 (sklearn raises)
  Precision p;
  p.update(tensor({0.1, 0.2}), tensor({0, 1}));
  EXPECT_EQ(p.result(), 0.0);  // nothing predicted positive: zero_division = 0
  ConfusionMatrix cm(-1);
  expect_error([&] { cm.matrix(); }, {"confusion_matrix", "not known"});
  cm.update(zeros({2, 3}), tensor({0, 2}));
  EXPECT_EQ(cm.num_classes(), 3);
  EXPECT_DOUBLE_EQ(cm.result(), 0.5);
}

TEST(KerasMetrics, Errors) {
  SparseCategoricalAccuracy acc;
  expect_error(
      [&] {
        acc.update(zeros({4, 3}), tensor({0, 1, 2}));
      },
      {"sparse_categorical_accuracy", "[4, 3]", "[3]", "numbers of examples"});
  expect_error(
      [&] {
        acc.update(zeros({2, 3}), tensor({0, 3}));
      },
      {"sparse_categorical_accuracy", "class 3 out of range for 3 classes", "[2, 3]"});
  expect_error(
      [&] {
        acc.update(zeros({2, 3}), tensor({0, 1}), ones({3}));
      },
      {"sample_weight [3]", "2 examples"});
  expect_error([&] { acc.update(zeros({3}), tensor({0, 1, 2})); }, {"[N, C]", "[3]"});
  TopKCategoricalAccuracy top5;
  expect_error(
      [&] {
        top5.update(zeros({2, 3}), zeros({2, 3}));
      },
      {"top_k_categorical_accuracy", "k = 5", "3 classes", "[2, 3]"});
  expect_error([&] { TopKCategoricalAccuracy(0); }, "k must be >= 1");
  CategoricalAccuracy cat;
  expect_error([&] { cat.update(zeros({2, 3}), tensor({0, 1})); }, {"one-hot", "[2]", "[2, 3]"});
  Precision p;
  expect_error(
      [&] {
        p.update(zeros({2}), tensor({0, 2}));
      },
      {"precision", "binary targets must be 0 or 1", "2"});
  expect_error(
      [&] {
        p.update(zeros({2}), zeros({2, 2}));
      },
      {"precision", "[2]", "[2, 2]", "same number of values"});
  F1Score f1({.num_classes = 4});
  expect_error(
      [&] {
        f1.update(zeros({2, 3}), tensor({0, 1}));
      },
      {"f1_score", "[2, 3]", "3 classes, expected 4"});
  expect_error([&] { F1Score({.num_classes = 1}); }, "num_classes");
  expect_error([&] { F1Score({.num_classes = 3, .average = "samples"}); }, {"average", "samples"});
  AUC auc;
  expect_error([&] { auc.update(tensor({NAN, 0.5}), tensor({0, 1})); }, {"auc", "NaN"});
  expect_error([&] { AUC("DET"); }, {"curve", "DET"});
  // A rejected batch leaves the metric as it was.
  auc.update(tensor({0.1, 0.9}), tensor({0, 1}));
  expect_error([&] { auc.update(tensor({0.3, 0.4}), tensor({1, 5})); }, "0 or 1");
  EXPECT_EQ(auc.result(), 1.0);
  MeanAbsoluteError mae;
  expect_error(
      [&] {
        mae.update(zeros({2, 2}), zeros({2, 3}));
      },
      {"mean_absolute_error", "[2, 2]", "[2, 3]"});
}

TEST(KerasMetrics, ByName) {
  auto kind = [](const std::shared_ptr<Metric>& m) -> std::string {
    if (std::dynamic_pointer_cast<BinaryAccuracy>(m)) return "binary";
    if (std::dynamic_pointer_cast<CategoricalAccuracy>(m)) return "categorical";
    if (std::dynamic_pointer_cast<SparseCategoricalAccuracy>(m)) return "sparse";
    if (std::dynamic_pointer_cast<SparseTopKCategoricalAccuracy>(m)) return "sparse_top_k";
    if (std::dynamic_pointer_cast<TopKCategoricalAccuracy>(m)) return "top_k";
    if (std::dynamic_pointer_cast<RootMeanSquaredError>(m)) return "rmse";
    if (std::dynamic_pointer_cast<MeanSquaredError>(m)) return "mse";
    if (std::dynamic_pointer_cast<MeanAbsoluteError>(m)) return "mae";
    if (std::dynamic_pointer_cast<Precision>(m)) return "precision";
    if (std::dynamic_pointer_cast<Recall>(m)) return "recall";
    if (std::dynamic_pointer_cast<F1Score>(m)) return "f1";
    if (std::dynamic_pointer_cast<AUC>(m)) return "auc";
    return "?";
  };
  const std::vector<std::array<std::string, 3>> cases = {
      {"accuracy", "sparse_categorical_crossentropy", "sparse"},
      {"acc", "", "sparse"},
      {"accuracy", "categorical_crossentropy", "categorical"},
      {"accuracy", "binary_crossentropy", "binary"},
      {"binary_accuracy", "", "binary"},
      {"top5", "categorical_crossentropy", "top_k"},
      {"top5", "sparse_categorical_crossentropy", "sparse_top_k"},
      {"top_k_categorical_accuracy", "", "top_k"},
      {"sparse_top_k_categorical_accuracy", "", "sparse_top_k"},
      {"precision", "", "precision"},
      {"recall", "", "recall"},
      {"f1", "", "f1"},
      {"auc", "", "auc"},
      {"mae", "", "mae"},
      {"mse", "", "mse"},
      {"rmse", "", "rmse"}};
  for (const auto& [name, loss, expected] : cases) {
    auto m = make_metric(name, loss);
    EXPECT_EQ(kind(m), expected) << name << " with " << loss;
    EXPECT_EQ(m->name(), name);  // the key in logs is the name asked for, as Keras
  }
  // With a multi-class loss, F1 averages over the classes of y_pred.
  auto f1 = make_metric("f1", "sparse_categorical_crossentropy");
  f1->update(tensor({{0.9, 0.1, 0.0}, {0.1, 0.8, 0.1}}), tensor({0, 2}));
  EXPECT_EQ(std::dynamic_pointer_cast<F1Score>(f1)->num_classes(), 3);
  EXPECT_NEAR(f1->result(), 1.0 / 3, 1e-12);  // classes 0: F1 1, 1: 0, 2: 0
  // Logits: thresholds at 0.
  auto logit_acc = make_metric("accuracy", "binary_crossentropy", true);
  logit_acc->update(tensor({-0.5, 0.2}), tensor({0, 1}));
  EXPECT_EQ(logit_acc->result(), 1.0);
  expect_error([] { make_metric("accurasy"); }, {"unknown metric \"accurasy\"", "precision"});
}

}  // namespace
