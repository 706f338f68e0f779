// Keras' training API on keras::Model: losses by name, optimizers by name, compile, and the one
// loop behind fit / evaluate / predict / train_on_batch (keras.Model.fit and friends).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "ravel/autograd.h"
#include "ravel/compile.h"
#include "ravel/data/loader.h"
#include "ravel/keras/callbacks.h"
#include "ravel/keras/layers.h"
#include "ravel/keras/metrics.h"
#include "ravel/keras/model.h"
#include "ravel/nn/dropout.h"
#include "ravel/nn/functional/loss.h"
#include "ravel/ops.h"
#include "ravel/optim/adadelta.h"
#include "ravel/optim/adagrad.h"
#include "ravel/optim/adam.h"
#include "ravel/optim/lion.h"
#include "ravel/optim/rmsprop.h"
#include "ravel/optim/sgd.h"
#include "ravel/train/progress.h"

namespace ravel::keras {

namespace F = ravel::nn::functional;

// ================================================================ losses

namespace {

constexpr double kEpsilon = 1e-7;  // Keras' backend.epsilon(): probabilities are clipped to it

enum class LossKind { SparseCrossentropy, Crossentropy, BinaryCrossentropy, MSE, MAE, Huber };

struct LossName {
  const char* name;
  LossKind kind;
};
constexpr LossName kLossNames[] = {
    {"sparse_categorical_crossentropy", LossKind::SparseCrossentropy},
    {"categorical_crossentropy", LossKind::Crossentropy},
    {"binary_crossentropy", LossKind::BinaryCrossentropy},
    {"mean_squared_error", LossKind::MSE},
    {"mse", LossKind::MSE},
    {"mean_absolute_error", LossKind::MAE},
    {"mae", LossKind::MAE},
    {"huber", LossKind::Huber},
    {"huber_loss", LossKind::Huber},
};

bool is_crossentropy(LossKind k) {
  return k == LossKind::SparseCrossentropy || k == LossKind::Crossentropy ||
         k == LossKind::BinaryCrossentropy;
}

// The kind of a named loss; checks its settings. Not for custom (fn) losses.
LossKind loss_kind(const Loss& loss) {
  for (const LossName& n : kLossNames) {
    if (loss.name != n.name) continue;
    RAVEL_CHECK(is_crossentropy(n.kind) || (!loss.from_logits && loss.label_smoothing == 0.0),
                "Loss ", loss.name, ": from_logits and label_smoothing apply to the ",
                "crossentropies only, got from_logits=", loss.from_logits,
                " label_smoothing=", loss.label_smoothing);
    RAVEL_CHECK(loss.label_smoothing >= 0.0 && loss.label_smoothing <= 1.0, "Loss ", loss.name,
                ": label_smoothing ", loss.label_smoothing, " expected in [0, 1]");
    return n.kind;
  }
  std::ostringstream known;
  for (const LossName& n : kLossNames) known << (&n == kLossNames ? "" : ", ") << n.name;
  detail::throw_error("Loss: unknown loss '", loss.name, "', expected one of ", known.str(),
                      " or a function");
}

// Losses of rows [N, ...]: one per example (mean over the rest), or the mean of all of them.
Tensor reduce_rows(const Tensor& t, bool mean_all) {
  if (mean_all) return t.mean();
  return t.ndim() <= 1 ? t.reshape({t.numel()}) : t.reshape({t.size(0), -1}).mean(1);
}

// Class indices for scores y_pred [N, C, ...] (class axis 1, channels-first like PyTorch):
// shape [N, ...]; [N, 1] is taken for [N] as Keras does; float labels are cast.
Tensor sparse_labels(const std::string& loss, const Tensor& y_pred, Tensor y) {
  RAVEL_CHECK(y_pred.ndim() >= 2, "Loss ", loss, ": y_pred shape ", y_pred.shape(),
              " expected class scores [N, C, ...]");
  if (y.ndim() == y_pred.ndim() && y.size(1) == 1) y = y.squeeze(1);
  ravel::Shape expected = y_pred.shape();
  expected.erase(1);
  RAVEL_CHECK(
      y.shape() == expected, "Loss ", loss, ": y_true shape ", y.shape(),
      " does not fit y_pred shape ", y_pred.shape(), ", expected class indices of shape ", expected,
      y.shape() == y_pred.shape() ? " (one-hot targets need categorical_crossentropy)" : "");
  RAVEL_CHECK(y.dtype() != DType::Bool, "Loss ", loss,
              ": y_true dtype bool, expected class indices");
  return is_floating(y.dtype()) ? y.to(DType::Int64) : y;
}

// Targets of y_pred's shape and dtype ([N] is taken for [N, 1], as Keras expands it).
Tensor dense_targets(const std::string& loss, const Tensor& y_pred, Tensor y) {
  if (y.ndim() + 1 == y_pred.ndim() && y_pred.shape()[y_pred.ndim() - 1] == 1) y = y.unsqueeze(-1);
  RAVEL_CHECK(y.shape() == y_pred.shape(), "Loss ", loss, ": y_true shape ", y.shape(),
              " does not fit y_pred shape ", y_pred.shape(), ", expected the same shape",
              is_integral(y.dtype()) && y.ndim() + 1 == y_pred.ndim()
                  ? " (class indices need sparse_categorical_crossentropy)"
                  : "");
  return y.dtype() == y_pred.dtype() ? y : y.to(y_pred.dtype());
}

// The loss of a batch: per example [N] (mean_all false) or their mean.
Tensor compute_loss(const Loss& loss, const Tensor& y_pred, const Tensor& y_true, bool mean_all) {
  const std::string& name = loss.name;
  RAVEL_CHECK(y_pred.defined() && y_true.defined(), "Loss ", name,
              ": y_pred and y_true must be defined");
  RAVEL_CHECK(y_pred.ndim() >= 1 && y_true.ndim() >= 1 && y_pred.size(0) == y_true.size(0), "Loss ",
              name, ": y_pred shape ", y_pred.shape(), " and y_true shape ", y_true.shape(),
              " expected the same number of examples (first dimension)");
  if (loss.fn) {
    Tensor l = loss.fn(y_pred, y_true);
    RAVEL_CHECK(l.defined() && l.ndim() >= 1 && l.size(0) == y_pred.size(0), "Loss ", name,
                ": the function returned shape ", l.defined() ? l.shape() : ravel::Shape{},
                ", expected one loss per example [", y_pred.size(0), "]");
    return reduce_rows(l, mean_all);
  }
  const LossKind kind = loss_kind(loss);
  const std::string reduction = mean_all ? "mean" : "none";
  const double s = loss.label_smoothing;
  switch (kind) {
    case LossKind::SparseCrossentropy: {
      Tensor labels = sparse_labels(name, y_pred, y_true);
      // Keras takes log(clip(p)) as logits: softmax renormalises the clipped probabilities.
      Tensor logits =
          loss.from_logits ? y_pred : log(clip(y_pred, Scalar(kEpsilon), Scalar(1 - kEpsilon)));
      return reduce_rows(
          F::cross_entropy(logits, labels, {.label_smoothing = s, .reduction = reduction}),
          mean_all);
    }
    case LossKind::Crossentropy: {
      Tensor t = dense_targets(name, y_pred, y_true);
      RAVEL_CHECK(y_pred.ndim() >= 2, "Loss ", name, ": y_pred shape ", y_pred.shape(),
                  " expected class scores [N, C, ...]");
      if (loss.from_logits)
        return reduce_rows(
            F::cross_entropy(y_pred, t, {.label_smoothing = s, .reduction = reduction}), mean_all);
      if (s > 0) t = t * (1 - s) + s / static_cast<double>(y_pred.size(1));
      Tensor p = y_pred / sum(y_pred, Axes(1), true);
      p = clip(p, Scalar(kEpsilon), Scalar(1 - kEpsilon));
      return reduce_rows(-sum(t * log(p), Axes(1)), mean_all);
    }
    case LossKind::BinaryCrossentropy: {
      Tensor t = dense_targets(name, y_pred, y_true);
      if (s > 0) t = t * (1 - s) + 0.5 * s;
      if (loss.from_logits)
        return reduce_rows(F::binary_cross_entropy_with_logits(y_pred, t, {.reduction = reduction}),
                           mean_all);
      // Keras' formula: clipped, and epsilon inside the logs too.
      Tensor p = clip(y_pred, Scalar(kEpsilon), Scalar(1 - kEpsilon));
      Tensor l = -(t * log(p + kEpsilon) + (1 - t) * log((1 - p) + kEpsilon));
      return reduce_rows(l, mean_all);
    }
    case LossKind::MSE:
      return reduce_rows(F::mse_loss(y_pred, dense_targets(name, y_pred, y_true), reduction),
                         mean_all);
    case LossKind::MAE:
      return reduce_rows(F::l1_loss(y_pred, dense_targets(name, y_pred, y_true), reduction),
                         mean_all);
    case LossKind::Huber:
      return reduce_rows(F::huber_loss(y_pred, dense_targets(name, y_pred, y_true), reduction, 1.0),
                         mean_all);
  }
  return {};
}

// Checks a loss at compile time (name, settings).
void check_loss(const Loss& loss) {
  if (!loss.fn && !loss.name.empty()) loss_kind(loss);
}

}  // namespace

Tensor Loss::per_example(const Tensor& y_pred, const Tensor& y_true) const {
  return compute_loss(*this, y_pred, y_true, false);
}

// ================================================================ optimizers

namespace {

// Keras' spellings of the options: learning_rate, beta_1, beta_2, epsilon (and rmsprop's rho).
std::string option_alias(const std::string& optimizer, const std::string& key) {
  if (key == "learning_rate") return "lr";
  if (key == "beta_1") return "beta1";
  if (key == "beta_2") return "beta2";
  if (key == "epsilon") return "eps";
  if (key == "rho" && optimizer == "rmsprop") return "alpha";
  return key;
}

// Options struct from Keras' defaults (lr) and the given options; unknown names throw.
template <typename Options>
Options fill_options(const std::string& optimizer, double keras_lr,
                     const std::map<std::string, double>& given) {
  Options o;
  o.lr = keras_lr;
  for (const auto& entry : given) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in the lambda.
    const double value = entry.second;
    const std::string name = option_alias(optimizer, entry.first);
    bool found = false;
    o.fields([&](std::string_view n, auto& field) {
      if (n != name) return;
      if constexpr (std::is_same_v<std::remove_cvref_t<decltype(field)>, bool>)
        field = value != 0.0;
      else
        field = value;
      found = true;
    });
    if (found) continue;
    std::string known;
    o.fields([&](std::string_view n, auto&) {
      known += (known.empty() ? "" : ", ") + std::string(n);
      if (n == "lr") known += " (learning_rate)";
    });
    detail::throw_error("OptimizerSpec: ", optimizer, " has no option '", entry.first,
                        "', expected one of ", known);
  }
  return o;
}

struct OptimizerEntry {
  const char* name;
  double keras_lr;
  // Makes the optimizer; with no parameters only checks the options.
  std::unique_ptr<optim::Optimizer> (*make)(const std::string& name, double lr,
                                            const std::map<std::string, double>& options,
                                            std::vector<Tensor>* params);
};

template <typename Opt, typename Options>
std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, double lr,
                                                 const std::map<std::string, double>& options,
                                                 std::vector<Tensor>* params) {
  Options o = fill_options<Options>(name, lr, options);
  if (!params) return nullptr;
  return std::make_unique<Opt>(std::move(*params), o);
}

// Keras' default learning rates: 0.01 for SGD, 0.001 for the others.
constexpr OptimizerEntry kOptimizers[] = {
    {"sgd", 0.01, make_optimizer<optim::SGD, optim::SGDOptions>},
    {"adam", 1e-3, make_optimizer<optim::Adam, optim::AdamOptions>},
    {"adamw", 1e-3, make_optimizer<optim::AdamW, optim::AdamWOptions>},
    {"rmsprop", 1e-3, make_optimizer<optim::RMSprop, optim::RMSpropOptions>},
    {"adagrad", 1e-3, make_optimizer<optim::Adagrad, optim::AdagradOptions>},
    {"adadelta", 1e-3, make_optimizer<optim::Adadelta, optim::AdadeltaOptions>},
    {"lion", 1e-3, make_optimizer<optim::Lion, optim::LionOptions>},
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

const OptimizerEntry& optimizer_entry(const std::string& name) {
  const std::string key = lower(name);
  for (const OptimizerEntry& e : kOptimizers)
    if (key == e.name) return e;
  std::string known;
  for (const OptimizerEntry& e : kOptimizers)
    known += (known.empty() ? "" : ", ") + std::string(e.name);
  detail::throw_error("OptimizerSpec: unknown optimizer '", name, "', expected one of ", known,
                      " or a factory");
}

void check_optimizer(const OptimizerSpec& spec) {
  if (spec.factory) return;
  const OptimizerEntry& e = optimizer_entry(spec.name);
  e.make(e.name, e.keras_lr, spec.options, nullptr);
}

}  // namespace

std::unique_ptr<optim::Optimizer> OptimizerSpec::create(std::vector<Tensor> params) const {
  if (factory) {
    auto opt = factory(std::move(params));
    RAVEL_CHECK(opt != nullptr, "OptimizerSpec: the factory returned no optimizer");
    return opt;
  }
  const OptimizerEntry& e = optimizer_entry(name);
  return e.make(e.name, e.keras_lr, options, &params);
}

// ================================================================ metrics, history

MetricSpec::MetricSpec(std::shared_ptr<Metric> m) : metric(std::move(m)) {
  RAVEL_CHECK(metric != nullptr, "MetricSpec: null metric");
  name = metric->name();
}

const std::vector<double>& History::operator[](const std::string& key) const {
  auto it = history.find(key);
  if (it != history.end()) return it->second;
  std::string known;
  for (const auto& [k, v] : history) known += (known.empty() ? "" : ", ") + k;
  detail::throw_error("History: no key '", key, "', expected one of: ", known);
}

// ================================================================ the loops

namespace {

// Sets train/eval mode for a scope and restores the previous one.
class ModeGuard {
 public:
  ModeGuard(nn::Module& m, bool training) : m_(m), was_(m.is_training()) {
    if (was_ != training) m_.train(training);
  }
  ~ModeGuard() {
    if (m_.is_training() != was_) m_.train(was_);
  }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  nn::Module& m_;
  bool was_;
};

// Where batches come from: rows of tensors (all with the same first dimension), or a dataset's
// (input, target) examples.
struct Source {
  std::vector<Tensor> xs, ys;
  data::DatasetPtr dataset;
  bool defined() const { return dataset != nullptr || !xs.empty(); }
  int64_t size() const { return dataset ? dataset->size() : xs[0].size(0); }
};

// The row numbers 0..n-1 as a dataset, so a DataLoader batches (and shuffles) tensor rows in the
// same order as it would a TensorDataset of them.
class IndexDataset : public data::Dataset {
 public:
  explicit IndexDataset(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  data::Example get(int64_t index, Generator&) const override { return {scalar_tensor(index), {}}; }

 private:
  int64_t n_;
};

data::Batch collate_indices(std::vector<data::Example>&& examples) {
  std::vector<int64_t> idx;
  idx.reserve(examples.size());
  for (const data::Example& e : examples) idx.push_back(e.input.item<int64_t>());
  return {from_vector(idx), {}};
}

// Checks tensors given to fit/evaluate/predict: the counts the model takes, and one row count.
void check_tensors(const char* op, const Model& m, const std::vector<Tensor>& xs,
                   const std::vector<Tensor>* ys) {
  RAVEL_CHECK(xs.size() == m.num_model_inputs(), op, ": got ", xs.size(),
              " input tensors, expected ", m.num_model_inputs(), " (one per model input)");
  if (ys)
    RAVEL_CHECK(ys->size() == m.num_model_outputs(), op, ": got ", ys->size(),
                " target tensors, expected ", m.num_model_outputs(), " (one per model output)");
  int64_t rows = -1;
  std::string first;
  auto check = [&](const Tensor& t, const std::string& what) {
    RAVEL_CHECK(t.defined(), op, ": ", what, " is undefined");
    RAVEL_CHECK(t.ndim() >= 1, op, ": ", what, " has shape ", t.shape(),
                ", expected examples along a first dimension");
    if (rows < 0) {
      rows = t.size(0);
      std::ostringstream os;
      os << what << " shape " << t.shape();
      first = os.str();
    }
    RAVEL_CHECK(t.size(0) == rows, op, ": ", first, " and ", what, " shape ", t.shape(),
                " differ in their number of examples (first dimension), expected the same");
  };
  for (size_t i = 0; i < xs.size(); ++i)
    check(xs[i], xs.size() == 1 ? "x" : "x[" + std::to_string(i) + "]");
  if (ys)
    for (size_t i = 0; i < ys->size(); ++i)
      check((*ys)[i], ys->size() == 1 ? "y" : "y[" + std::to_string(i) + "]");
  RAVEL_CHECK(rows > 0, op, ": no examples (x has 0 rows)");
}

// Keras' number format in progress lines: 4 decimals, or 4 significant digits when small.
std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::abs(v) > 1e-3 || v == 0 ? "%.4f" : "%.4e", v);
  return buf;
}

// Keras' order in progress lines: losses first, then metrics; validation values after training.
train::Metrics to_metrics(const Logs& logs) {
  train::Metrics out(logs.begin(), logs.end());
  auto rank = [](const std::string& k) {
    const bool val = k.rfind("val_", 0) == 0;
    const bool loss = k.size() >= 4 && k.compare(k.size() - 4, 4, "loss") == 0;
    return 2 * val + !loss;
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  return out;
}

// Keras' Progbar; the values given to it are running values already (fit's metric objects).
std::unique_ptr<train::ProgressBar> keras_bar(int64_t steps, const std::string& title) {
  return std::make_unique<train::ProgressBar>(
      steps, train::ProgressOptions{.title = title,
                                    .unit = "step",
                                    .style = train::ProgressStyle::Keras,
                                    .stateful_metrics = true});
}

}  // namespace

// Friend of Model: fit / evaluate / predict / train_on_batch share these.
struct TrainingLoop {
  static void check_compiled(const Model& m, const char* op) {
    RAVEL_CHECK(m.compiled_, op, ": model '", m.name(),
                "' is not compiled, expected compile({.optimizer, .loss}) first");
    const CompileOptions& c = m.compile_options_;
    RAVEL_CHECK(!c.losses.empty() || c.loss.fn || !c.loss.name.empty(), op, ": model '", m.name(),
                "' was compiled without a loss, expected compile({.loss = ...})");
  }

  static const Loss& output_loss(const Model& m, size_t i) {
    const CompileOptions& c = m.compile_options_;
    return c.losses.empty() ? c.loss : c.losses[i];
  }

  // The batch's loss: sum over outputs of weight * mean(sample_weight * example loss).
  // output_losses gets each output's unweighted loss.
  static Tensor total_loss(const Model& m, const std::vector<Tensor>& outs,
                           const std::vector<Tensor>& ys, const Tensor& sample_weight,
                           std::vector<double>* output_losses) {
    RAVEL_CHECK(outs.size() == ys.size(), "model '", m.name(), "' gave ", outs.size(),
                " outputs for ", ys.size(), " targets, expected one target per output");
    const CompileOptions& c = m.compile_options_;
    Tensor total;
    for (size_t i = 0; i < outs.size(); ++i) {
      const Loss& loss = output_loss(m, i);
      Tensor l;
      if (sample_weight.defined()) {
        Tensor w = sample_weight.to(outs[i].dtype());
        RAVEL_CHECK(w.ndim() == 1 && w.size(0) == outs[i].size(0), "sample_weight shape ",
                    w.shape(), " expected [", outs[i].size(0), "] (one weight per example)");
        l = (compute_loss(loss, outs[i], ys[i], false) * w).mean();
      } else {
        l = compute_loss(loss, outs[i], ys[i], true);
      }
      if (output_losses) output_losses->push_back(l.item<double>());
      if (!c.loss_weights.empty()) l = l * c.loss_weights[i];
      total = total.defined() ? total + l : l;
    }
    return total;
  }

  // Keras weighs only `weighted_metrics` by sample (and class) weights; compile's metrics are not.
  static void update_metrics(Model& m, const std::vector<Tensor>& outs,
                             const std::vector<Tensor>& ys) {
    NoGradGuard no_grad;
    for (Model::CompiledMetric& cm : m.metrics_)
      cm.metric->update(outs[cm.output].detach(), ys[cm.output]);
  }

  static void reset_metrics(Model& m) {
    for (Model::CompiledMetric& cm : m.metrics_) cm.metric->reset();
  }

  // Running sums of a pass over batches: loss (and each output's) weighted by batch size.
  struct Totals {
    double loss = 0;
    std::vector<double> output_losses;
    int64_t examples = 0;
    void add(double l, const std::vector<double>& outs, int64_t n) {
      loss += l * static_cast<double>(n);
      output_losses.resize(outs.size(), 0.0);
      for (size_t i = 0; i < outs.size(); ++i) output_losses[i] += outs[i] * static_cast<double>(n);
      examples += n;
    }
    // {"loss", "output_<i>_loss" (several outputs), metrics}, with a key prefix ("val_").
    Logs logs(const Model& m, const std::string& prefix = "") const {
      Logs out;
      const double n = examples > 0 ? static_cast<double>(examples) : 1.0;
      out[prefix + "loss"] = loss / n;
      if (output_losses.size() > 1)
        for (size_t i = 0; i < output_losses.size(); ++i)
          out[prefix + "output_" + std::to_string(i + 1) + "_loss"] = output_losses[i] / n;
      for (const Model::CompiledMetric& cm : m.metrics_) out[prefix + cm.key] = cm.metric->result();
      return out;
    }
  };

  // Why jit_compile cannot take the model, before ravel::compile looks at its ops ("" if none):
  // several inputs or outputs, inputs that are not float32, or a layer whose training forward
  // the compiled step would leave out (it is traced from the eval forward, where dropout and
  // augmentation do nothing).
  static std::string jit_obstacle(Model& m, const std::vector<Tensor>& xs) {
    if (m.num_model_inputs() != 1 || m.num_model_outputs() != 1)
      return "the model has " + std::to_string(m.num_model_inputs()) + " inputs and " +
             std::to_string(m.num_model_outputs()) +
             " outputs, the compiled step takes one of each";
    if (xs[0].dtype() != DType::Float32)
      return std::string("the inputs are ") + dtype_name(xs[0].dtype()) +
             ", the compiled step takes float32";
    for (const auto& [name, mod] : m.named_modules()) {
      const nn::Module* p = mod.get();
      const auto* kd = dynamic_cast<const layers::Dropout*>(p);
      const auto* d = dynamic_cast<const nn::Dropout*>(p);
      const auto* d2 = dynamic_cast<const nn::Dropout2d*>(p);
      if ((kd && kd->rate() > 0) || (d && d->p > 0) || (d2 && d2->p > 0) ||
          dynamic_cast<const layers::RandomLayer*>(p))
        return "'" + name + "' (" + mod->type_name() +
               ") acts in training only, and the compiled step would leave it out";
    }
    return "";
  }

  // The outputs of a training batch: through jit_compile's compiled step (made at the first
  // batch, its example) when it covers the model, else the model's own run.
  static std::vector<Tensor> train_outputs(Model& m, const std::vector<Tensor>& xs) {
    const CompileOptions& c = m.compile_options_;
    if (!c.jit_compile || !m.is_built()) return m.run(xs);  // the first run builds it
    if (!m.jit_ && m.jit_eager_reason_.empty()) {
      m.jit_eager_reason_ = jit_obstacle(m, xs);
      if (!m.jit_eager_reason_.empty()) {
        std::fprintf(stderr, "ravel: jit_compile: %s; the model trains eagerly\n",
                     m.jit_eager_reason_.c_str());
      } else {
        // Not owning: the model owns its compiled step (an owning pointer would be a cycle).
        std::shared_ptr<nn::Module> self(std::shared_ptr<nn::Module>(), &m);
        m.jit_ = ravel::compile(self, xs[0], {.dtype = c.mixed_precision});
      }
    }
    if (!m.jit_ || !m.jit_->is_compiled()) return m.run(xs);
    return {(*m.jit_)(xs[0])};
  }

  // One optimisation step; returns the loss and adds the batch to metrics.
  static double train_step(Model& m, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                           const Tensor& sample_weight, std::vector<double>* output_losses) {
    m.zero_grad();
    std::vector<Tensor> outs = train_outputs(m, xs);
    Tensor loss = total_loss(m, outs, ys, sample_weight, output_losses);
    loss.backward();
    m.ensure_optimizer();  // a model built by this first batch gets its optimizer now
    m.optimizer_->step();
    update_metrics(m, outs, ys);
    return loss.item<double>();
  }

  // Sample weights from class_weight, by the first target's class of each example (argmax of
  // one-hot rows); classes not in the map weigh 1.
  static Tensor class_weights(const std::map<int64_t, double>& cw, const Tensor& y) {
    if (cw.empty()) return {};
    Tensor labels = y.ndim() >= 2 && y.size(1) > 1 ? argmax(y, 1) : y.reshape({y.size(0)});
    std::vector<float> w;
    for (int64_t c : labels.to_vector<int64_t>()) {
      auto it = cw.find(c);
      w.push_back(it == cw.end() ? 1.0f : static_cast<float>(it->second));
    }
    return from_vector(w);
  }

  // A DataLoader over the source (its rows' indices for tensors).
  static std::unique_ptr<data::DataLoader> loader(const Source& s, int64_t batch_size, bool shuffle,
                                                  uint64_t seed, int workers) {
    data::DataLoaderOptions o{.batch_size = batch_size, .shuffle = shuffle, .seed = seed};
    if (s.dataset) {
      o.num_workers = workers;
      return std::make_unique<data::DataLoader>(s.dataset, o);
    }
    o.collate = collate_indices;
    return std::make_unique<data::DataLoader>(std::make_shared<IndexDataset>(s.size()), o);
  }

  // The batch's tensors: a dataset's (input, target), or the rows of the source's tensors.
  static void batch_tensors(const Source& s, const data::Batch& b, bool in_order,
                            std::vector<Tensor>& xs, std::vector<Tensor>& ys) {
    xs.clear(), ys.clear();
    if (s.dataset) {
      xs.push_back(b.input);
      if (b.target.defined()) ys.push_back(b.target);
      return;
    }
    auto rows = [&](const Tensor& t) {
      if (!in_order) return take(t, b.input, 0);
      const int64_t first = b.input.data_ptr<int64_t>()[0];
      return t.slice(0, first, first + b.input.numel());
    };
    for (const Tensor& x : s.xs) xs.push_back(rows(x));
    for (const Tensor& y : s.ys) ys.push_back(rows(y));
  }

  // Builds an unbuilt model from the first example's shapes, so the optimizer exists before the
  // callbacks (learning-rate schedules) run.
  static void build_from(Model& m, const Source& s) {
    if (m.optimizer_) return;
    if (!m.is_built()) {
      std::vector<keras::Shape> shapes;
      std::vector<DType> dtypes;
      if (s.dataset) {
        Tensor x = s.dataset->get(0).input;
        shapes.emplace_back(x.shape().begin(), x.shape().end());
        dtypes.push_back(x.dtype());
      } else {
        for (const Tensor& x : s.xs) {
          shapes.emplace_back(x.shape().begin() + 1, x.shape().end());
          dtypes.push_back(x.dtype());
        }
      }
      NoGradGuard no_grad;
      m.build_inputs(shapes, dtypes);
    }
    m.ensure_optimizer();
  }

  // Prefixes errors of a step with the operation and the batch shapes.
  [[noreturn]] static void rethrow(const char* op, const Error& e, const std::vector<Tensor>& xs,
                                   const std::vector<Tensor>& ys) {
    std::ostringstream os;
    os << op << ": " << e.what() << " (batch:";
    for (const Tensor& x : xs) os << " x " << x.shape() << " " << x.dtype();
    for (const Tensor& y : ys) os << " y " << y.shape() << " " << y.dtype();
    os << ")";
    throw Error(os.str());
  }

  // Loss of a batch without training; adds it to the metrics.
  static double test_step(Model& m, const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                          std::vector<double>* output_losses) {
    std::vector<Tensor> outs = m.run(xs);
    double l = total_loss(m, outs, ys, {}, output_losses).item<double>();
    update_metrics(m, outs, ys);
    return l;
  }

  // Loss and metrics over a whole source, in eval mode without autograd.
  static Logs evaluate(Model& m, const Source& s, int64_t batch_size,
                       const std::vector<std::shared_ptr<Callback>>& callbacks, int verbose,
                       const std::string& prefix, const char* op) {
    RAVEL_CHECK(batch_size > 0, op, ": batch_size ", batch_size, " expected > 0");
    for (const auto& cb : callbacks) cb->on_test_begin({});
    ModeGuard mode(m, false);
    NoGradGuard no_grad;
    reset_metrics(m);
    auto ld = loader(s, batch_size, false, 0, 0);
    std::unique_ptr<train::ProgressBar> bar;
    if (verbose == 1) bar = keras_bar(ld->num_batches(), "");
    Totals totals;
    std::vector<Tensor> xs, ys;
    for (data::Batch& b : *ld) {
      batch_tensors(s, b, true, xs, ys);
      std::vector<double> outs;
      double l = 0;
      try {
        l = test_step(m, xs, ys, &outs);
      } catch (const Error& e) {
        rethrow(op, e, xs, ys);
      }
      totals.add(l, outs, xs[0].size(0));
      if (bar) bar->update(xs[0].size(0), to_metrics(totals.logs(m, prefix)));
    }
    Logs logs = totals.logs(m, prefix);
    if (bar) bar->finish();
    for (const auto& cb : callbacks) cb->on_test_end(logs);
    return logs;
  }

  // The validation data of fit: validation_x/y, validation_dataset, or the last
  // validation_split of the training tensors (taken off `train`).
  static Source validation(const Model& m, const FitOptions& o, Source& train) {
    const int given = (o.validation_split > 0) +
                      (!o.validation_x.empty() || !o.validation_y.empty()) +
                      (o.validation_dataset != nullptr);
    RAVEL_CHECK(given <= 1, "fit: give one of validation_split, validation_x/validation_y and ",
                "validation_dataset, got ", given);
    RAVEL_CHECK(o.validation_split >= 0 && o.validation_split < 1, "fit: validation_split ",
                o.validation_split, " expected in [0, 1)");
    Source val;
    if (o.validation_split > 0) {
      RAVEL_CHECK(!train.dataset, "fit: validation_split needs tensor inputs, expected ",
                  "validation_dataset with a dataset");
      // Keras: the training part is the first floor(n * (1 - split)) rows.
      const int64_t n = train.size();
      const auto split_at =
          static_cast<int64_t>(std::floor(static_cast<double>(n) * (1.0 - o.validation_split)));
      RAVEL_CHECK(split_at > 0 && split_at < n, "fit: validation_split ", o.validation_split,
                  " of ", n, " examples leaves ", split_at, " to train on and ", n - split_at,
                  " to validate, expected both > 0");
      auto split = [&](std::vector<Tensor>& ts, std::vector<Tensor>& held_out) {
        for (Tensor& t : ts) {
          held_out.push_back(t.slice(0, split_at, n));
          t = t.slice(0, 0, split_at);
        }
      };
      split(train.xs, val.xs);
      split(train.ys, val.ys);
    } else if (!o.validation_x.empty() || !o.validation_y.empty()) {
      check_tensors("fit (validation data)", m, o.validation_x, &o.validation_y);
      val.xs = o.validation_x, val.ys = o.validation_y;
    } else if (o.validation_dataset) {
      RAVEL_CHECK(o.validation_dataset->size() > 0, "fit: validation_dataset is empty");
      val.dataset = o.validation_dataset;
    }
    return val;
  }

  // Keras' progress output of an epoch: a Progbar titled "Epoch 3/10" (verbose 1), or the title
  // and one line when the epoch ends (verbose 2).
  class EpochReport {
   public:
    EpochReport(int verbose, int epoch, int epochs, int64_t steps)
        : verbose_(verbose), steps_(steps), start_(std::chrono::steady_clock::now()) {
      const std::string title = "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs);
      if (verbose_ == 1) bar_ = keras_bar(steps, title);
      if (verbose_ != 2) return;
      std::printf("%s\n", title.c_str());
      std::fflush(stdout);
    }
    // logs: the running values after this batch.
    void batch(int64_t n, const Logs& logs) {
      if (bar_) bar_->update(n, to_metrics(logs));
      shown_ = logs;
    }
    void end(const Logs& logs) {
      if (bar_) {
        Logs extra;  // what the batches did not show: val_*, lr
        for (const auto& [k, v] : logs)
          if (!shown_.count(k)) extra[k] = v;
        bar_->finish(to_metrics(extra));
      }
      if (verbose_ != 2) return;
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      std::string line = std::to_string(steps_) + "/" + std::to_string(steps_) + " - " +
                         std::to_string(static_cast<int64_t>(std::lround(secs))) + "s";
      for (const auto& [k, v] : to_metrics(logs)) line += " - " + k + ": " + format_value(v);
      const double per_step = steps_ > 0 ? secs * 1000 / static_cast<double>(steps_) : 0;
      line += " - " + std::to_string(static_cast<int64_t>(std::lround(per_step))) + "ms/step";
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }

   private:
    int verbose_;
    int64_t steps_;
    std::chrono::steady_clock::time_point start_;
    std::unique_ptr<train::ProgressBar> bar_;
    Logs shown_;
  };

  static History fit(Model& m, const Source& train, const Source& val, const FitOptions& o) {
    RAVEL_CHECK(o.batch_size > 0, "fit: batch_size ", o.batch_size, " expected > 0");
    RAVEL_CHECK(o.epochs >= 0 && o.initial_epoch >= 0, "fit: epochs ", o.epochs,
                " and initial_epoch ", o.initial_epoch, " expected >= 0");
    RAVEL_CHECK(o.steps_per_epoch >= 0, "fit: steps_per_epoch ", o.steps_per_epoch,
                " expected >= 0 (0: the whole training set)");
    RAVEL_CHECK(o.verbose >= 0 && o.verbose <= 2, "fit: verbose ", o.verbose,
                " expected 0, 1 or 2");
    for (const auto& cb : o.callbacks) {
      RAVEL_CHECK(cb != nullptr, "fit: a callback is null");
      cb->set_model(&m);
    }
    build_from(m, train);
    m.stop_training = false;
    auto ld = loader(train, o.batch_size, o.shuffle, o.seed, o.workers);
    const int64_t steps =
        o.steps_per_epoch > 0 ? std::min(o.steps_per_epoch, ld->num_batches()) : ld->num_batches();
    History history;
    Logs logs;
    for (const auto& cb : o.callbacks) cb->on_train_begin({});
    for (int epoch = o.initial_epoch; epoch < o.epochs && !m.stop_training; ++epoch) {
      for (const auto& cb : o.callbacks) cb->on_epoch_begin(epoch, {});
      EpochReport report(o.verbose, epoch, o.epochs, steps);
      Totals totals;
      {
        ModeGuard mode(m, true);
        reset_metrics(m);
        ld->set_epoch(epoch);  // shuffles repeat from (seed, epoch), resumed runs included
        std::vector<Tensor> xs, ys;
        int64_t step = 0;
        for (data::Batch& b : *ld) {
          if (step == steps) break;
          for (const auto& cb : o.callbacks) cb->on_train_batch_begin(step, {});
          batch_tensors(train, b, !o.shuffle, xs, ys);
          RAVEL_CHECK(ys.size() == m.num_model_outputs(), "fit: the batch has ", ys.size(),
                      " targets, expected ", m.num_model_outputs(),
                      " (a dataset's examples need targets)");
          std::vector<double> outs;
          double l = 0;
          try {
            l = train_step(m, xs, ys, class_weights(o.class_weight, ys[0]), &outs);
          } catch (const Error& e) {
            rethrow("fit", e, xs, ys);
          }
          const int64_t n = xs[0].size(0);
          totals.add(l, outs, n);
          Logs batch_logs = totals.logs(m);
          report.batch(n, batch_logs);
          for (const auto& cb : o.callbacks) cb->on_train_batch_end(step, batch_logs);
          ++step;
          if (m.stop_training) break;  // TerminateOnNaN: after this batch
        }
      }
      logs = totals.logs(m);
      if (val.defined()) {
        Logs v = evaluate(m, val, o.batch_size, o.callbacks, 0, "val_", "fit (validation)");
        logs.insert(v.begin(), v.end());
      }
      for (const auto& cb : o.callbacks) cb->on_epoch_end(epoch, logs);
      for (const auto& [k, v] : logs) history.history[k].push_back(v);
      history.epochs.push_back(epoch);
      report.end(logs);
    }
    for (const auto& cb : o.callbacks) cb->on_train_end(logs);
    return history;
  }
};

// ================================================================ Model's training API

void Model::compile(CompileOptions options) {
  check_optimizer(options.optimizer);
  check_loss(options.loss);
  for (const Loss& l : options.losses) check_loss(l);
  const size_t outputs = num_model_outputs();
  RAVEL_CHECK(options.losses.empty() || options.losses.size() == outputs,
              "compile: ", options.losses.size(), " losses for a model with ", outputs,
              " outputs, expected one per output (or `loss` for all)");
  RAVEL_CHECK(options.loss_weights.empty() || options.loss_weights.size() == outputs,
              "compile: ", options.loss_weights.size(), " loss_weights for a model with ", outputs,
              " outputs, expected one per output");
  std::vector<CompiledMetric> metrics;
  for (size_t out = 0; out < outputs; ++out) {
    const Loss& loss = options.losses.empty() ? options.loss : options.losses[out];
    for (const MetricSpec& spec : options.metrics) {
      if (spec.metric && out > 0) continue;  // a metric object watches the first output only
      std::string key =
          outputs > 1 ? "output_" + std::to_string(out + 1) + "_" + spec.name : spec.name;
      for (const CompiledMetric& c : metrics)
        RAVEL_CHECK(c.key != key, "compile: metric '", key, "' given twice");
      RAVEL_CHECK(key != "loss", "compile: a metric may not be named 'loss'");
      metrics.push_back(
          {key, out,
           spec.metric ? spec.metric : make_metric(spec.name, loss.name, loss.from_logits)});
    }
  }
  RAVEL_CHECK(
      options.mixed_precision == DType::Float32 || options.mixed_precision == DType::BFloat16,
      "compile: mixed_precision ", dtype_name(options.mixed_precision),
      " is not supported, expected float32 or bfloat16");
  RAVEL_CHECK(options.jit_compile || options.mixed_precision == DType::Float32,
              "compile: mixed_precision ", dtype_name(options.mixed_precision),
              " needs jit_compile = true (mixed precision runs in the compiled training step)");
  compile_options_ = std::move(options);
  metrics_ = std::move(metrics);
  reset_jit();
  optimizer_.reset();
  compiled_ = true;
  if (is_built()) ensure_optimizer();
}

void Model::reset_jit() {
  jit_.reset();
  jit_eager_reason_.clear();
}

std::string Model::jit_describe() const {
  if (!jit_eager_reason_.empty()) return "eager: " + jit_eager_reason_ + "\n";
  return jit_ ? jit_->describe() : "";
}

void Model::ensure_optimizer() {
  if (optimizer_) return;
  RAVEL_CHECK(compiled_, "model '", name(), "' is not compiled, expected compile() first");
  RAVEL_CHECK(is_built(), "model '", name(),
              "' is not built, expected build() or a first batch before its optimizer");
  optimizer_ = compile_options_.optimizer.create(parameters());
}

Logs Model::train_on_batch(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                           const Tensor& sample_weight) {
  TrainingLoop::check_compiled(*this, "train_on_batch");
  check_tensors("train_on_batch", *this, xs, &ys);
  ModeGuard mode(*this, true);
  TrainingLoop::reset_metrics(*this);  // Keras' reset_metrics=True: this batch's values
  TrainingLoop::Totals totals;
  std::vector<double> outs;
  double l = 0;
  try {
    l = TrainingLoop::train_step(*this, xs, ys, sample_weight, &outs);
  } catch (const Error& e) {
    TrainingLoop::rethrow("train_on_batch", e, xs, ys);
  }
  totals.add(l, outs, xs[0].size(0));
  return totals.logs(*this);
}

History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  return fit(std::vector<Tensor>{x}, std::vector<Tensor>{y}, options);
}

History Model::fit(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                   const FitOptions& options) {
  TrainingLoop::check_compiled(*this, "fit");
  check_tensors("fit", *this, xs, &ys);
  Source train{xs, ys, nullptr};
  Source val = TrainingLoop::validation(*this, options, train);
  return TrainingLoop::fit(*this, train, val, options);
}

History Model::fit(data::DatasetPtr train, const FitOptions& options) {
  TrainingLoop::check_compiled(*this, "fit");
  RAVEL_CHECK(train != nullptr && train->size() > 0, "fit: the training dataset is ",
              train ? "empty" : "null", ", expected examples");
  RAVEL_CHECK(num_model_inputs() == 1 && num_model_outputs() == 1, "fit: a dataset gives one ",
              "input and one target per example, but the model has ", num_model_inputs(),
              " inputs and ", num_model_outputs(), " outputs; expected tensors instead");
  Source source{{}, {}, std::move(train)};
  Source val = TrainingLoop::validation(*this, options, source);
  return TrainingLoop::fit(*this, source, val, options);
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& options) {
  return evaluate(std::vector<Tensor>{x}, std::vector<Tensor>{y}, options);
}

Logs Model::evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                     const EvaluateOptions& options) {
  TrainingLoop::check_compiled(*this, "evaluate");
  check_tensors("evaluate", *this, xs, &ys);
  for (const auto& cb : options.callbacks) cb->set_model(this);
  return TrainingLoop::evaluate(*this, Source{xs, ys, nullptr}, options.batch_size,
                                options.callbacks, options.verbose, "", "evaluate");
}

Logs Model::evaluate(data::DatasetPtr dataset, const EvaluateOptions& options) {
  TrainingLoop::check_compiled(*this, "evaluate");
  RAVEL_CHECK(dataset != nullptr && dataset->size() > 0, "evaluate: the dataset is ",
              dataset ? "empty" : "null", ", expected examples");
  for (const auto& cb : options.callbacks) cb->set_model(this);
  return TrainingLoop::evaluate(*this, Source{{}, {}, std::move(dataset)}, options.batch_size,
                                options.callbacks, options.verbose, "", "evaluate");
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  std::vector<Tensor> outs = predict_all({x}, batch_size);
  RAVEL_CHECK(outs.size() == 1, "predict: model '", name(), "' has ", outs.size(),
              " outputs, expected predict_all() for several");
  return outs[0];
}

std::vector<Tensor> Model::predict_all(const std::vector<Tensor>& xs, int64_t batch_size) {
  check_tensors("predict", *this, xs, nullptr);
  RAVEL_CHECK(batch_size > 0, "predict: batch_size ", batch_size, " expected > 0");
  ModeGuard mode(*this, false);
  NoGradGuard no_grad;
  const int64_t n = xs[0].size(0);
  std::vector<std::vector<Tensor>> parts;  // per output, per batch
  for (int64_t first = 0; first < n; first += batch_size) {
    std::vector<Tensor> batch;
    for (const Tensor& x : xs) batch.push_back(x.slice(0, first, std::min(n, first + batch_size)));
    std::vector<Tensor> outs = run(batch);
    parts.resize(outs.size());
    for (size_t i = 0; i < outs.size(); ++i) parts[i].push_back(outs[i]);
  }
  std::vector<Tensor> result;
  for (auto& p : parts) result.push_back(p.size() == 1 ? p[0] : concatenate(p, 0));
  return result;
}

}  // namespace ravel::keras
