#include "ravel/keras/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "ravel/error.h"

namespace ravel::keras {

Metric::~Metric() = default;

namespace {

// A tensor's values in C order as double, outside autograd.
std::vector<double> values_of(const Tensor& t) { return t.detach().to_vector<double>(); }

int64_t num_examples(const Tensor& y_pred, const std::string& metric) {
  RAVEL_CHECK(y_pred.defined(), metric, ": y_pred is undefined");
  RAVEL_CHECK(y_pred.ndim() >= 1, metric, ": y_pred must have an examples axis [N, ...], got ",
              y_pred.shape());
  return y_pred.shape()[0];
}

void check_same_examples(const Tensor& y_pred, const Tensor& y_true, const std::string& metric) {
  RAVEL_CHECK(y_true.defined(), metric, ": y_true is undefined");
  RAVEL_CHECK(y_true.ndim() >= 1 && y_true.shape()[0] == y_pred.shape()[0], metric, ": y_pred ",
              y_pred.shape(), " and y_true ", y_true.shape(),
              " have different numbers of examples");
}

// sample_weight [N] or [N, 1] as n weights; all 1 when undefined.
std::vector<double> example_weights(const Tensor& sample_weight, int64_t n,
                                    const std::string& metric) {
  if (!sample_weight.defined()) return std::vector<double>(static_cast<size_t>(n), 1.0);
  RAVEL_CHECK(sample_weight.numel() == n && sample_weight.ndim() >= 1 &&
                  sample_weight.ndim() <= 2 && sample_weight.shape()[0] == n,
              metric, ": sample_weight ", sample_weight.shape(), " does not match the ", n,
              " examples; expected [", n, "]");
  return values_of(sample_weight);
}

// y_pred [N, C] class scores, row-major.
struct Scores {
  std::vector<double> v;
  int64_t n, c;
  double at(int64_t i, int64_t j) const { return v[static_cast<size_t>(i * c + j)]; }
};

Scores class_scores(const Tensor& y_pred, const std::string& metric) {
  num_examples(y_pred, metric);
  RAVEL_CHECK(y_pred.ndim() == 2, metric, ": y_pred must be class scores [N, C], got ",
              y_pred.shape());
  return {values_of(y_pred), y_pred.shape()[0], y_pred.shape()[1]};
}

// The first largest entry of each row (NumPy's argmax).
std::vector<int64_t> argmax_rows(const Scores& s) {
  std::vector<int64_t> out(static_cast<size_t>(s.n), 0);
  for (int64_t i = 0; i < s.n; ++i)
    for (int64_t j = 1; j < s.c; ++j)
      if (s.at(i, j) > s.at(i, out[i])) out[i] = j;
  return out;
}

// Integer classes [N] or [N, 1] in [0, c); `what` names the tensor ("y_true", "y_pred").
std::vector<int64_t> sparse_classes(const Tensor& t, const char* what, const Tensor& y_pred,
                                    int64_t c, const std::string& metric) {
  int64_t n = y_pred.shape()[0];
  RAVEL_CHECK(t.numel() == n && t.ndim() <= 2, metric, ": ", what,
              " must be integer classes [N] or [N, 1], got ", t.shape(), " for y_pred ",
              y_pred.shape());
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(n));
  for (double x : values_of(t)) {
    RAVEL_CHECK(x == std::floor(x) && x >= 0 && x < static_cast<double>(c), metric, ": ", what,
                " class ", x, " out of range for ", c, " classes (y_pred ", y_pred.shape(),
                "); expected integers in [0, ", c, ")");
    out.push_back(static_cast<int64_t>(x));
  }
  return out;
}

// Targets as classes: integer labels [N] (or [N, 1]); with allow_one_hot, also one-hot or soft
// targets of y_pred's shape [N, C] (their argmax).
std::vector<int64_t> target_classes(const Tensor& y_true, const Tensor& y_pred, int64_t c,
                                    bool one_hot, const std::string& metric) {
  check_same_examples(y_pred, y_true, metric);
  if (!one_hot) return sparse_classes(y_true, "y_true", y_pred, c, metric);
  RAVEL_CHECK(y_true.shape() == y_pred.shape(), metric, ": one-hot y_true ", y_true.shape(),
              " must have y_pred's shape ", y_pred.shape());
  return argmax_rows({values_of(y_true), y_pred.shape()[0], c});
}

// Element-wise pairs for binary and regression metrics: y_pred and y_true with N examples of k
// values each.
struct Paired {
  std::vector<double> pred, truth;
  int64_t n, k;
};

Paired paired(const Tensor& y_pred, const Tensor& y_true, const std::string& metric) {
  int64_t n = num_examples(y_pred, metric);
  check_same_examples(y_pred, y_true, metric);
  RAVEL_CHECK(y_true.numel() == y_pred.numel(), metric, ": y_pred ", y_pred.shape(), " and y_true ",
              y_true.shape(), " must have the same number of values");
  return {values_of(y_pred), values_of(y_true), n, n > 0 ? y_pred.numel() / n : 0};
}

// Per example, the mean over its k values of f(pred, truth).
template <typename F>
std::vector<double> example_means(const Paired& p, F f) {
  std::vector<double> out(static_cast<size_t>(p.n), 0.0);
  for (int64_t i = 0; i < p.n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < p.k; ++j) s += f(p.pred[i * p.k + j], p.truth[i * p.k + j]);
    out[i] = p.k > 0 ? s / static_cast<double>(p.k) : 0.0;
  }
  return out;
}

void check_binary_target(double t, const std::string& metric) {
  RAVEL_CHECK(t == 0 || t == 1, metric, ": binary targets must be 0 or 1, got ", t);
}

double ratio(double a, double b) { return b != 0 ? a / b : 0.0; }

}  // namespace

// ---- means ----

void Mean::update(const Tensor& y_pred, const Tensor& y_true, const Tensor& sample_weight) {
  RAVEL_CHECK(y_pred.defined(), name(), ": values are undefined");
  accumulate(values_of(y_pred), y_pred.ndim() == 0 ? 1 : y_pred.shape()[0], sample_weight);
}

void Mean::update(double value, double weight) {
  total_ += value * weight;
  weight_ += weight;
}

void Mean::accumulate(const std::vector<double>& values, int64_t n, const Tensor& sample_weight) {
  std::vector<double> w = example_weights(sample_weight, n, name());
  size_t k = n > 0 ? values.size() / static_cast<size_t>(n) : 0;
  for (size_t i = 0; i < w.size(); ++i)
    for (size_t j = 0; j < k; ++j) update(values[i * k + j], w[i]);
}

double Mean::result() const { return ratio(total_, weight_); }

void Mean::reset() { total_ = weight_ = 0; }

void ExampleMean::update(const Tensor& y_pred, const Tensor& y_true, const Tensor& sample_weight) {
  int64_t n = num_examples(y_pred, name());
  accumulate(values(y_pred, y_true), n, sample_weight);
}

std::vector<double> SparseCategoricalAccuracy::values(const Tensor& y_pred,
                                                      const Tensor& y_true) const {
  Scores s = class_scores(y_pred, name());
  std::vector<int64_t> truth = target_classes(y_true, y_pred, s.c, false, name());
  std::vector<int64_t> pred = argmax_rows(s);
  std::vector<double> out(pred.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = pred[i] == truth[i];
  return out;
}

std::vector<double> CategoricalAccuracy::values(const Tensor& y_pred, const Tensor& y_true) const {
  Scores s = class_scores(y_pred, name());
  std::vector<int64_t> truth = target_classes(y_true, y_pred, s.c, true, name());
  std::vector<int64_t> pred = argmax_rows(s);
  std::vector<double> out(pred.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = pred[i] == truth[i];
  return out;
}

std::vector<double> BinaryAccuracy::values(const Tensor& y_pred, const Tensor& y_true) const {
  // Keras compares the thresholded prediction with y_true as a number: soft targets never match.
  return example_means(paired(y_pred, y_true, name()), [this](double p, double t) {
    return (p > threshold_ ? 1.0 : 0.0) == t ? 1.0 : 0.0;
  });
}

TopKCategoricalAccuracy::TopKCategoricalAccuracy(int64_t k, std::string name)
    : TopKCategoricalAccuracy(k, std::move(name), false) {}

TopKCategoricalAccuracy::TopKCategoricalAccuracy(int64_t k, std::string name, bool sparse)
    : ExampleMean(std::move(name)), k_(k), sparse_(sparse) {
  RAVEL_CHECK(k >= 1, name_, ": k must be >= 1, got ", k);
}

std::vector<double> TopKCategoricalAccuracy::values(const Tensor& y_pred,
                                                    const Tensor& y_true) const {
  Scores s = class_scores(y_pred, name());
  RAVEL_CHECK(k_ <= s.c, name(), ": k = ", k_, " exceeds the ", s.c, " classes of y_pred ",
              y_pred.shape());
  std::vector<int64_t> truth = target_classes(y_true, y_pred, s.c, !sparse_, name());
  std::vector<double> out(truth.size());
  for (int64_t i = 0; i < s.n; ++i) {
    int64_t higher = 0;
    for (int64_t j = 0; j < s.c; ++j) higher += s.at(i, j) > s.at(i, truth[i]);
    out[i] = higher < k_;
  }
  return out;
}

std::vector<double> MeanAbsoluteError::values(const Tensor& y_pred, const Tensor& y_true) const {
  return example_means(paired(y_pred, y_true, name()),
                       [](double p, double t) { return std::abs(p - t); });
}

std::vector<double> MeanSquaredError::values(const Tensor& y_pred, const Tensor& y_true) const {
  return example_means(paired(y_pred, y_true, name()),
                       [](double p, double t) { return (p - t) * (p - t); });
}

double RootMeanSquaredError::result() const { return std::sqrt(MeanSquaredError::result()); }

// ---- from a confusion matrix ----

ConfusionMetric::ConfusionMetric(std::string name, ClassificationOptions options)
    : Metric(std::move(name)), o_(std::move(options)) {
  RAVEL_CHECK(o_.num_classes == 0 || o_.num_classes == -1 || o_.num_classes >= 2, name_,
              ": num_classes must be 0 (binary), -1 (from y_pred) or >= 2, got ", o_.num_classes);
  RAVEL_CHECK(o_.average == "macro" || o_.average == "micro" || o_.average == "weighted", name_,
              ": average must be \"macro\", \"micro\" or \"weighted\", got \"", o_.average, "\"");
  c_ = o_.num_classes == 0 ? 2 : o_.num_classes;
  reset();
}

void ConfusionMetric::reset() {
  counts_.assign(c_ > 0 ? static_cast<size_t>(c_ * c_) : 0, 0.0);
  weighted_ = false;
}

void ConfusionMetric::update(const Tensor& y_pred, const Tensor& y_true,
                             const Tensor& sample_weight) {
  int64_t n = num_examples(y_pred, name());
  std::vector<double> w = example_weights(sample_weight, n, name());
  std::vector<int64_t> truth, pred;
  int64_t per_example = 1;  // decisions per example: k outputs of a binary multi-label model
  if (o_.num_classes == 0) {
    Paired p = paired(y_pred, y_true, name());
    per_example = p.k;
    for (size_t i = 0; i < p.pred.size(); ++i) {
      check_binary_target(p.truth[i], name());
      truth.push_back(static_cast<int64_t>(p.truth[i]));
      pred.push_back(p.pred[i] > o_.threshold ? 1 : 0);
    }
  } else {
    RAVEL_CHECK(y_pred.ndim() <= 2, name(),
                ": y_pred must be class scores [N, C] or classes [N], got ", y_pred.shape());
    bool scores = y_pred.ndim() == 2 && y_pred.shape()[1] != 1;  // else classes [N] or [N, 1]
    if (c_ == -1) {
      RAVEL_CHECK(scores, name(), ": y_pred must be class scores [N, C] to infer C, got ",
                  y_pred.shape());
      c_ = y_pred.shape()[1];
      RAVEL_CHECK(c_ >= 2, name(), ": y_pred ", y_pred.shape(), " has fewer than 2 classes");
      reset();
    }
    if (scores) {
      RAVEL_CHECK(y_pred.shape()[1] == c_, name(), ": y_pred ", y_pred.shape(), " has ",
                  y_pred.shape()[1], " classes, expected ", c_);
      pred = argmax_rows(class_scores(y_pred, name()));
    } else {
      pred = sparse_classes(y_pred, "y_pred", y_pred, c_, name());
    }
    bool one_hot = scores && y_true.defined() && y_true.shape() == y_pred.shape();
    truth = target_classes(y_true, y_pred, c_, one_hot, name());
  }
  weighted_ = weighted_ || sample_weight.defined();
  for (size_t i = 0; i < truth.size(); ++i)
    counts_[static_cast<size_t>(truth[i] * c_ + pred[i])] += w[i / per_example];
}

double ConfusionMetric::averaged(Score score) const {
  if (c_ <= 0) return 0.0;
  auto value = [score](double tp, double fp, double fn) {
    switch (score) {
      case Score::Precision:
        return ratio(tp, tp + fp);
      case Score::Recall:
        return ratio(tp, tp + fn);
      case Score::F1:
        return ratio(2 * tp, 2 * tp + fp + fn);  // 2PR / (P + R), 0 where that is 0 / 0
    }
    return 0.0;
  };
  std::vector<double> tp(c_, 0.0), fp(c_, 0.0), fn(c_, 0.0);
  for (int64_t t = 0; t < c_; ++t)
    for (int64_t p = 0; p < c_; ++p) {
      double v = counts_[static_cast<size_t>(t * c_ + p)];
      if (t == p)
        tp[t] += v;
      else {
        fp[p] += v;
        fn[t] += v;
      }
    }
  if (o_.num_classes == 0) return value(tp[1], fp[1], fn[1]);
  auto sum = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); };
  if (o_.average == "micro") return value(sum(tp), sum(fp), sum(fn));
  double total = 0, support = 0;
  for (int64_t c = 0; c < c_; ++c) {
    double weight = o_.average == "weighted" ? tp[c] + fn[c] : 1.0;
    total += weight * value(tp[c], fp[c], fn[c]);
    support += weight;
  }
  return ratio(total, support);
}

ConfusionMatrix::ConfusionMatrix(int64_t num_classes, std::string name)
    : ConfusionMetric(std::move(name), {.num_classes = num_classes}) {
  RAVEL_CHECK(num_classes != 0, name_, ": num_classes must be >= 2 (or -1 to infer), got 0");
}

Tensor ConfusionMatrix::matrix() const {
  RAVEL_CHECK(c_ > 0, name(), ": the number of classes is not known before the first update");
  Tensor m = from_vector(counts_, Shape{c_, c_});
  return weighted_ ? m : m.to(DType::Int64);
}

double ConfusionMatrix::result() const {
  double diagonal = 0;
  for (int64_t c = 0; c < c_; ++c) diagonal += counts_[static_cast<size_t>(c * c_ + c)];
  return ratio(diagonal, std::accumulate(counts_.begin(), counts_.end(), 0.0));
}

// ---- ranking ----

AUC::AUC(std::string curve, std::string name) : Metric(std::move(name)), pr_(curve == "PR") {
  RAVEL_CHECK(curve == "ROC" || curve == "PR", name_, ": curve must be \"ROC\" or \"PR\", got \"",
              curve, "\"");
}

void AUC::update(const Tensor& y_pred, const Tensor& y_true, const Tensor& sample_weight) {
  Paired p = paired(y_pred, y_true, name());
  std::vector<double> w = example_weights(sample_weight, p.n, name());
  for (size_t i = 0; i < p.pred.size(); ++i) {
    check_binary_target(p.truth[i], name());
    // Sorting needs an order: NaN has none.
    RAVEL_CHECK(!std::isnan(p.pred[i]), name(), ": y_pred holds NaN scores");
  }
  for (size_t i = 0; i < p.pred.size(); ++i) {
    scores_.push_back(p.pred[i]);
    labels_.push_back(static_cast<uint8_t>(p.truth[i]));
    weights_.push_back(w[i / static_cast<size_t>(p.k)]);
  }
}

double AUC::result() const {
  std::vector<size_t> order(scores_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [this](size_t a, size_t b) { return scores_[a] > scores_[b]; });
  // Walk the thresholds from the highest score down; tied scores are one threshold, so the
  // curve moves diagonally across them (sklearn's roc_curve / precision_recall_curve).
  double tp = 0, fp = 0, area = 0, prev_tp = 0, prev_fp = 0;
  for (size_t r = 0; r < order.size(); ++r) {
    size_t i = order[r];
    (labels_[i] ? tp : fp) += weights_[i];
    if (r + 1 < order.size() && scores_[order[r + 1]] == scores_[i]) continue;
    if (pr_)
      area += (tp - prev_tp) * ratio(tp, tp + fp);  // recall step x precision
    else
      area += (fp - prev_fp) * (tp + prev_tp) / 2;  // trapezoid in (fp, tp)
    prev_tp = tp;
    prev_fp = fp;
  }
  if (pr_) return tp > 0 ? area / tp : 0.0;
  return tp > 0 && fp > 0 ? area / (tp * fp) : 0.0;
}

void AUC::reset() {
  scores_.clear();
  labels_.clear();
  weights_.clear();
}

// ---- by name ----

std::shared_ptr<Metric> make_metric(const std::string& name, const std::string& loss_name,
                                    bool from_logits) {
  // A logit > 0 is a probability > 0.5.
  double threshold = from_logits ? 0.0 : 0.5;
  bool binary = loss_name == "binary_crossentropy";
  bool categorical = loss_name == "categorical_crossentropy";
  bool multi_class = categorical || loss_name == "sparse_categorical_crossentropy";
  ClassificationOptions classes{.threshold = threshold, .num_classes = multi_class ? -1 : 0};
  std::shared_ptr<Metric> m;
  if (name == "accuracy" || name == "acc") {
    if (binary)
      m = std::make_shared<BinaryAccuracy>(threshold);
    else if (categorical)
      m = std::make_shared<CategoricalAccuracy>();
    else
      m = std::make_shared<SparseCategoricalAccuracy>();
  } else if (name == "sparse_categorical_accuracy") {
    m = std::make_shared<SparseCategoricalAccuracy>();
  } else if (name == "categorical_accuracy") {
    m = std::make_shared<CategoricalAccuracy>();
  } else if (name == "binary_accuracy") {
    m = std::make_shared<BinaryAccuracy>(threshold);
  } else if (name == "top_k_categorical_accuracy" || (name == "top5" && categorical)) {
    m = std::make_shared<TopKCategoricalAccuracy>();
  } else if (name == "sparse_top_k_categorical_accuracy" || name == "top5") {
    m = std::make_shared<SparseTopKCategoricalAccuracy>();
  } else if (name == "precision") {
    m = std::make_shared<Precision>(classes);
  } else if (name == "recall") {
    m = std::make_shared<Recall>(classes);
  } else if (name == "f1" || name == "f1_score") {
    m = std::make_shared<F1Score>(classes);
  } else if (name == "auc") {
    m = std::make_shared<AUC>();
  } else if (name == "mae" || name == "mean_absolute_error") {
    m = std::make_shared<MeanAbsoluteError>();
  } else if (name == "mse" || name == "mean_squared_error") {
    m = std::make_shared<MeanSquaredError>();
  } else if (name == "rmse" || name == "root_mean_squared_error") {
    m = std::make_shared<RootMeanSquaredError>();
  } else {
    ::ravel::detail::throw_error(
        "make_metric: unknown metric \"", name,
        "\"; known: accuracy (acc), sparse_categorical_accuracy, categorical_accuracy, "
        "binary_accuracy, top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, top5, "
        "precision, recall, f1 (f1_score), auc, mae (mean_absolute_error), mse "
        "(mean_squared_error), rmse (root_mean_squared_error)");
  }
  m->set_name(name);
  return m;
}

}  // namespace ravel::keras
