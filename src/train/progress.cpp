#include "ravel/train/progress.h"

#include <unistd.h>

#include <cmath>
#include <limits>

#include "ravel/error.h"

namespace ravel::train {

namespace {
// A metric's running average from its (weighted sum, total weight); steps of zero units leave
// the weight at 0, and then the sum is the answer.
double running_mean(const std::pair<double, double>& sum_weight) {
  return sum_weight.second > 0 ? sum_weight.first / sum_weight.second : sum_weight.first;
}

template <typename... Args>
std::string format(const char* fmt, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// Keras' Progbar formats, so logs read the same as Keras': ETA "12s", "1:05", "1:02:03" (whole
// seconds, truncated); a step's time in s, ms or us; values with 4 decimals, tiny ones in
// scientific notation.
std::string keras_eta(double seconds) {
  auto s = static_cast<long long>(seconds);
  if (seconds > 3600) return format("%lld:%02lld:%02lld", s / 3600, s % 3600 / 60, s % 60);
  if (seconds > 60) return format("%lld:%02lld", s / 60, s % 60);
  return format("%llds", s);
}

std::string keras_step_time(double seconds) {
  if (seconds >= 1 || seconds == 0) return format("%.0fs/step", seconds);
  if (seconds >= 1e-3) return format("%.0fms/step", seconds * 1e3);
  return format("%.0fus/step", seconds * 1e6);
}

std::string keras_value(double v) { return format(std::abs(v) > 1e-3 ? "%.4f" : "%.4e", v); }
}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  return buf;
}

ProgressBar::ProgressBar(int64_t total_steps, ProgressOptions options)
    : total_(total_steps), o_(std::move(options)) {
  RAVEL_CHECK(total_steps >= 0, "ProgressBar: total_steps must be >= 0, got ", total_steps);
  RAVEL_CHECK(o_.width >= 0, "ProgressBar: width must be >= 0, got ", o_.width);
  interactive_ = o_.interactive >= 0 ? o_.interactive == 1 : isatty(fileno(o_.stream)) == 1;
  start_ = last_draw_ = first_step_end_ = std::chrono::steady_clock::now();
  if (o_.style == ProgressStyle::Keras && !o_.title.empty()) {
    std::fprintf(o_.stream, "%s\n", o_.title.c_str());  // "Epoch 3/10" (Keras' ProgbarLogger)
    std::fflush(o_.stream);
  }
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::average(const std::string& metric) const {
  for (const auto& [name, sw] : sums_)
    if (name == metric) return running_mean(sw);
  return std::numeric_limits<double>::quiet_NaN();
}

void ProgressBar::update(int64_t count, const Metrics& metrics) {
  ++step_;
  units_ += count;
  for (const auto& [name, value] : metrics) {
    auto it = sums_.begin();
    while (it != sums_.end() && it->first != name) ++it;
    if (it == sums_.end()) it = sums_.insert(sums_.end(), {name, {0.0, 0.0}});
    if (o_.stateful_metrics)
      it->second = {value, 0.0};  // weight 0: running_mean gives the value itself
    else
      it->second = {it->second.first + value * static_cast<double>(count),
                    it->second.second + static_cast<double>(count)};
  }
  auto now = std::chrono::steady_clock::now();
  if (step_ == 1) first_step_end_ = now;
  if (interactive_) {
    // Redraw at most ten times a second: printing costs more than a small step.
    if (now - last_draw_ < std::chrono::milliseconds(100) && step_ < total_) return;
    last_draw_ = now;
    draw(false, {});
  } else if (o_.style == ProgressStyle::Ravel && total_ > 0) {
    int decile = static_cast<int>(step_ * 10 / total_);
    if (decile > last_decile_ && decile < 10) {
      last_decile_ = decile;
      if (decile > 0) draw(false, {});
    }
  }
}

void ProgressBar::finish(const Metrics& extra) { draw(true, extra); }

void ProgressBar::draw(bool final_line, const Metrics& extra) {
  std::string line = o_.style == ProgressStyle::Keras ? keras_line(final_line, extra)
                                                      : ravel_line(final_line, extra);
  if (interactive_)
    std::fprintf(o_.stream, "\r%s\033[K%s", line.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(o_.stream, "%s\n", line.c_str());
  std::fflush(o_.stream);
}

std::string ProgressBar::ravel_line(bool final_line, const Metrics& extra) const {
  double secs = elapsed_seconds();
  std::string line = o_.title.empty() ? "" : o_.title + " ";
  line += format("%lld/%lld ", static_cast<long long>(step_), static_cast<long long>(total_));
  if (interactive_ || final_line) {
    int filled = total_ > 0 ? static_cast<int>(o_.width * std::min(step_, total_) / total_) : 0;
    line += "[" + std::string(filled, '=') + (filled < o_.width ? ">" : "") +
            std::string(std::max(0, o_.width - filled - 1), '.') + "] ";
  }
  if (secs > 0) line += format("%.0f %s/s", units_ / secs, o_.unit.c_str());
  for (const auto& [name, sw] : sums_) line += format("  %s %.4f", name.c_str(), running_mean(sw));
  for (const auto& [name, value] : extra) line += format("  %s %.4f", name.c_str(), value);
  if (final_line) {
    line += "  time " + format_duration(secs);
  } else if (step_ > 0 && step_ < total_) {
    line += "  ETA " + format_duration(secs / step_ * (total_ - step_));
  }
  return line;
}

// Keras' Progbar.update (verbose 1): "118/469 [======>....] - ETA: 12s - loss: 0.5123", and at
// the end "469/469 [=====] - 14s 30ms/step - loss: ...".
std::string ProgressBar::keras_line(bool final_line, const Metrics& extra) const {
  auto now = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(now - start_).count();
  std::string line;
  if (total_ > 0) {
    int digits = static_cast<int>(std::to_string(total_).size());
    line = format("%*lld/%lld [", digits, static_cast<long long>(step_),
                  static_cast<long long>(total_));
    int filled = static_cast<int>(o_.width * std::min(step_, total_) / total_);
    if (filled > 0) line += std::string(filled - 1, '=') + (step_ < total_ ? ">" : "=");
    line += std::string(o_.width - filled, '.') + "]";
  } else {
    line = format("%7lld/Unknown", static_cast<long long>(step_));
  }
  // Time per step leaves out the first step (graph building, warm-up), as Keras estimates it.
  double per_step = step_ > 1
                        ? std::chrono::duration<double>(now - first_step_end_).count() / (step_ - 1)
                        : (step_ > 0 ? secs / step_ : 0.0);
  if (final_line || total_ == 0 || step_ >= total_)
    line += format(" - %.0fs ", secs) + keras_step_time(per_step);
  else
    line += " - ETA: " + keras_eta(per_step * static_cast<double>(total_ - step_));
  for (const auto& [name, sw] : sums_) line += " - " + name + ": " + keras_value(running_mean(sw));
  for (const auto& [name, value] : extra) line += " - " + name + ": " + keras_value(value);
  return line;
}

}  // namespace ravel::train
