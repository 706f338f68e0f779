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
  interactive_ = o_.interactive >= 0 ? o_.interactive == 1 : isatty(fileno(o_.stream)) == 1;
  start_ = last_draw_ = std::chrono::steady_clock::now();
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
    it->second.first += value * static_cast<double>(count);
    it->second.second += static_cast<double>(count);
  }
  auto now = std::chrono::steady_clock::now();
  if (interactive_) {
    // Redraw at most ten times a second: printing costs more than a small step.
    if (now - last_draw_ < std::chrono::milliseconds(100) && step_ < total_) return;
    last_draw_ = now;
    draw(false, {});
  } else if (total_ > 0) {
    int decile = static_cast<int>(step_ * 10 / total_);
    if (decile > last_decile_ && decile < 10) {
      last_decile_ = decile;
      if (decile > 0) draw(false, {});
    }
  }
}

void ProgressBar::finish(const Metrics& extra) { draw(true, extra); }

void ProgressBar::draw(bool final_line, const Metrics& extra) {
  double secs = elapsed_seconds();
  std::string line = o_.title.empty() ? "" : o_.title + " ";
  char buf[128];
  std::snprintf(buf, sizeof buf, "%lld/%lld ", static_cast<long long>(step_),
                static_cast<long long>(total_));
  line += buf;
  if (interactive_ || final_line) {
    int filled = total_ > 0 ? static_cast<int>(o_.width * std::min(step_, total_) / total_) : 0;
    line += "[" + std::string(filled, '=') + (filled < o_.width ? ">" : "") +
            std::string(std::max(0, o_.width - filled - 1), '.') + "] ";
  }
  if (secs > 0) {
    std::snprintf(buf, sizeof buf, "%.0f %s/s", units_ / secs, o_.unit.c_str());
    line += buf;
  }
  for (const auto& [name, sw] : sums_) {
    std::snprintf(buf, sizeof buf, "  %s %.4f", name.c_str(), running_mean(sw));
    line += buf;
  }
  for (const auto& [name, value] : extra) {
    std::snprintf(buf, sizeof buf, "  %s %.4f", name.c_str(), value);
    line += buf;
  }
  if (final_line) {
    line += "  time " + format_duration(secs);
  } else if (step_ > 0 && step_ < total_) {
    line += "  ETA " + format_duration(secs / step_ * (total_ - step_));
  }
  if (interactive_)
    std::fprintf(o_.stream, "\r%s\033[K%s", line.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(o_.stream, "%s\n", line.c_str());
  std::fflush(o_.stream);
}

}  // namespace ravel::train
