// keras.callbacks: Keras 2.13's semantics (callbacks.py) unless a comment says otherwise.
#include "ravel/keras/callbacks.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "ravel/optim/optimizer.h"

namespace ravel::keras {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Whether larger values of `monitor` are better: mode "max"/"min", or for "auto" "max" when the
// name speaks of a score (accuracy, AUC, precision, recall, F1).
bool higher_is_better(const std::string& mode, const std::string& monitor, const char* who) {
  RAVEL_CHECK(mode == "auto" || mode == "min" || mode == "max", who, ": mode '", mode,
              "' expected \"auto\", \"min\" or \"max\"");
  if (mode != "auto") return mode == "max";
  for (const char* score : {"acc", "auc", "precision", "recall", "f1"})
    if (monitor.find(score) != std::string::npos) return true;
  return false;
}

// The monitored value; a missing key throws, listing the logged ones (Keras only warns, but a
// misspelt monitor would otherwise silently do nothing).
double monitored(const Logs& logs, const std::string& monitor, const char* who) {
  auto it = logs.find(monitor);
  if (it != logs.end()) return it->second;
  std::string known;
  for (const auto& [k, v] : logs) known += (known.empty() ? "" : ", ") + k;
  detail::throw_error(who, ": monitor '", monitor, "' is not in the logs (", known,
                      "); validation values need validation data");
}

optim::Optimizer& optimizer_of(const Model& m, const char* who) {
  RAVEL_CHECK(m.optimizer() != nullptr, who, ": model '", m.name(),
              "' has no optimizer yet, expected a compiled model inside fit()");
  return *m.optimizer();
}

// Python's str(float): the shortest text that reads back the same value.
std::string float_text(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // 2.0, not 2
  return s;
}

// Keras' file path formatting: "{epoch}" / "{epoch:02d}" (1-based) and "{val_loss:.2f}" from
// the logs.
std::string format_path(const std::string& pattern, int epoch, const Logs& logs) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      out += pattern[i];
      continue;
    }
    const size_t close = pattern.find('}', i);
    RAVEL_CHECK(close != std::string::npos, "ModelCheckpoint: path '", pattern,
                "' has an unclosed '{'");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const size_t colon = field.find(':');
    const std::string key = field.substr(0, colon);
    const std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
    char buf[128];
    if (key == "epoch") {
      RAVEL_CHECK(spec.empty() || spec.back() == 'd', "ModelCheckpoint: format '", spec,
                  "' for epoch, expected d or 0Nd");
      std::snprintf(buf, sizeof buf, ("%" + (spec.empty() ? "d" : spec)).c_str(), epoch + 1);
      out += buf;
    } else {
      double v = monitored(logs, key, "ModelCheckpoint (path)");
      if (spec.empty()) {
        out += float_text(v);
      } else {
        RAVEL_CHECK(spec.find_first_not_of("0123456789.") == spec.size() - 1 &&
                        std::string("fFeEgG").find(spec.back()) != std::string::npos,
                    "ModelCheckpoint: format '", spec, "' for ", key,
                    ", expected a float format such as .2f or .3e");
        std::snprintf(buf, sizeof buf, ("%" + spec).c_str(), v);
        out += buf;
      }
    }
    i = close;
  }
  return out;
}

}  // namespace

Callback::~Callback() = default;

Model& Callback::model() const {
  RAVEL_CHECK(model_ != nullptr, "Callback: not attached to a model, expected fit() or ",
              "set_model() first");
  return *model_;
}

// ---------------------------------------------------------------- EarlyStopping

EarlyStopping::EarlyStopping(EarlyStoppingOptions options) : o_(std::move(options)) {
  higher_is_better(o_.mode, o_.monitor, "EarlyStopping");
  RAVEL_CHECK(o_.patience >= 0, "EarlyStopping: patience ", o_.patience, " expected >= 0");
}

void EarlyStopping::on_train_begin(const Logs&) {
  wait_ = 0, stopped_epoch_ = -1, best_epoch_ = -1;
  best_ = higher_is_better(o_.mode, o_.monitor, "EarlyStopping") ? -kInf : kInf;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(int epoch, Logs& logs) {
  if (epoch < o_.start_from_epoch) return;
  const double current = monitored(logs, o_.monitor, "EarlyStopping");
  const bool max = higher_is_better(o_.mode, o_.monitor, "EarlyStopping");
  // Better by more than min_delta.
  auto improves = [&](double value, double reference) {
    const double delta = std::abs(o_.min_delta);
    return max ? value - delta > reference : value + delta < reference;
  };
  auto snapshot = [&] {
    best_weights_.clear();
    for (auto& [name, t] : model().state_dict()) best_weights_.emplace_back(name, t.clone());
  };
  // Keep the first epoch's weights in case no epoch ever improves.
  if (o_.restore_best_weights && best_weights_.empty()) snapshot();
  ++wait_;
  if (improves(current, best_)) {
    best_ = current, best_epoch_ = epoch;
    if (o_.restore_best_weights) snapshot();
    // The count restarts only when the baseline is beaten too.
    if (!o_.baseline || improves(current, *o_.baseline)) wait_ = 0;
    return;
  }
  if (wait_ >= o_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    model().stop_training = true;
  }
}

// Keras 2.13 restores the best weights in on_epoch_end when it stops (and not when training ends
// without stopping); restoring here, at the end of training and only when it stopped, gives the
// same model and lets the other callbacks of that last epoch see its final weights.
void EarlyStopping::on_train_end(const Logs&) {
  if (stopped_epoch_ >= 0 && o_.restore_best_weights && !best_weights_.empty())
    model().load_state_dict(best_weights_);
}

// ---------------------------------------------------------------- ModelCheckpoint

ModelCheckpoint::ModelCheckpoint(std::string path, ModelCheckpointOptions options)
    : path_(std::move(path)), o_(std::move(options)) {
  RAVEL_CHECK(!path_.empty(), "ModelCheckpoint: empty path");
  higher_is_better(o_.mode, o_.monitor, "ModelCheckpoint");
}

void ModelCheckpoint::on_train_begin(const Logs&) {
  best_ = higher_is_better(o_.mode, o_.monitor, "ModelCheckpoint") ? -kInf : kInf;
}

void ModelCheckpoint::on_epoch_end(int epoch, Logs& logs) {
  if (o_.save_best_only) {
    const double current = monitored(logs, o_.monitor, "ModelCheckpoint");
    const bool max = higher_is_better(o_.mode, o_.monitor, "ModelCheckpoint");
    if (!(max ? current > best_ : current < best_)) return;
    best_ = current;
  }
  const std::string path = format_path(path_, epoch, logs);
  if (o_.save_weights_only)
    save_weights(model(), path);
  else
    save_model(model(), path);
}

// ---------------------------------------------------------------- learning rates

ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options) : o_(std::move(options)) {
  RAVEL_CHECK(o_.factor > 0 && o_.factor < 1, "ReduceLROnPlateau: factor ", o_.factor,
              " expected in (0, 1)");
  RAVEL_CHECK(o_.patience >= 0 && o_.cooldown >= 0, "ReduceLROnPlateau: patience ", o_.patience,
              " and cooldown ", o_.cooldown, " expected >= 0");
  higher_is_better(o_.mode, o_.monitor, "ReduceLROnPlateau");
}

void ReduceLROnPlateau::on_train_begin(const Logs&) {
  best_ = higher_is_better(o_.mode, o_.monitor, "ReduceLROnPlateau") ? -kInf : kInf;
  wait_ = 0, cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(int, Logs& logs) {
  optim::Optimizer& opt = optimizer_of(model(), "ReduceLROnPlateau");
  logs["lr"] = opt.lr();  // the rate this epoch ran with, as Keras logs it
  const double current = monitored(logs, o_.monitor, "ReduceLROnPlateau");
  const bool max = higher_is_better(o_.mode, o_.monitor, "ReduceLROnPlateau");
  if (cooldown_counter_ > 0) --cooldown_counter_, wait_ = 0;
  if (max ? current > best_ + o_.min_delta : current < best_ - o_.min_delta) {
    best_ = current, wait_ = 0;
    return;
  }
  if (cooldown_counter_ > 0 || ++wait_ < o_.patience) return;
  // Every parameter group, each from its own rate.
  bool reduced = false;
  for (size_t g = 0; g < opt.num_param_groups(); ++g) {
    const double lr = opt.lr(g);
    if (lr <= o_.min_lr) continue;
    opt.set_lr(g, std::max(lr * o_.factor, o_.min_lr));
    reduced = true;
  }
  if (reduced) cooldown_counter_ = o_.cooldown, wait_ = 0;
}

LearningRateScheduler::LearningRateScheduler(Schedule schedule) : schedule_(std::move(schedule)) {
  RAVEL_CHECK(schedule_ != nullptr, "LearningRateScheduler: empty schedule");
}

void LearningRateScheduler::on_epoch_begin(int epoch, const Logs&) {
  optim::Optimizer& opt = optimizer_of(model(), "LearningRateScheduler");
  const double lr = schedule_(epoch, opt.lr());
  RAVEL_CHECK(std::isfinite(lr) && lr >= 0, "LearningRateScheduler: the schedule gave ", lr,
              " for epoch ", epoch, ", expected a finite rate >= 0");
  opt.set_lr(lr);  // every group
}

void LearningRateScheduler::on_epoch_end(int, Logs& logs) {
  logs["lr"] = optimizer_of(model(), "LearningRateScheduler").lr();
}

// ---------------------------------------------------------------- CSVLogger

CSVLogger::CSVLogger(std::string path, char separator, bool append)
    : path_(std::move(path)), separator_(separator), append_(append) {}

CSVLogger::~CSVLogger() {
  if (file_) std::fclose(file_);
}

void CSVLogger::on_train_begin(const Logs&) {
  if (file_) std::fclose(file_);
  // Appending to a file that has lines already: no second header.
  write_header_ = true;
  if (append_) {
    if (std::FILE* f = std::fopen(path_.c_str(), "r")) {
      write_header_ = std::fgetc(f) == EOF;
      std::fclose(f);
    }
  }
  file_ = std::fopen(path_.c_str(), append_ ? "a" : "w");
  RAVEL_CHECK(file_ != nullptr, "CSVLogger: cannot open '", path_, "' for writing");
  keys_.clear();
}

void CSVLogger::on_epoch_end(int epoch, Logs& logs) {
  RAVEL_CHECK(file_ != nullptr, "CSVLogger: on_epoch_end before on_train_begin");
  if (keys_.empty()) {
    for (const auto& [k, v] : logs) keys_.push_back(k);  // sorted: Logs is a std::map
    if (write_header_) {
      std::string line = "epoch";
      for (const std::string& k : keys_) line += separator_ + k;
      std::fprintf(file_, "%s\n", line.c_str());
    }
  }
  std::string line = std::to_string(epoch);
  for (const std::string& k : keys_) {
    auto it = logs.find(k);
    line += separator_ + (it == logs.end() ? std::string("NA") : float_text(it->second));
  }
  std::fprintf(file_, "%s\n", line.c_str());
  std::fflush(file_);  // every row reaches the file, so a crash loses nothing
}

void CSVLogger::on_train_end(const Logs&) {
  if (file_) std::fclose(file_);
  file_ = nullptr;
}

// ---------------------------------------------------------------- TerminateOnNaN

void TerminateOnNaN::on_train_batch_end(int64_t batch, const Logs& logs) {
  auto it = logs.find("loss");
  if (it == logs.end() || std::isfinite(it->second)) return;
  std::printf("Batch %lld: Invalid loss, terminating training\n", static_cast<long long>(batch));
  std::fflush(stdout);
  model().stop_training = true;
}

}  // namespace ravel::keras
