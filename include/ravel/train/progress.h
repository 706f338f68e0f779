// A training progress bar: on a terminal, one line redrawn in place (step count, bar, rate,
// running metrics, ETA); otherwise -- a log file, CI -- plain lines at every 10% and at the end.
//
//   train::ProgressBar bar(loader.num_batches(), {.title = "epoch 1/15", .unit = "img"});
//   for (data::Batch& b : loader) {
//     ...
//     bar.update(b.input.shape()[0], {{"loss", loss.item<double>()}});
//   }
//   bar.finish({{"test_acc", acc}});   // final line with the epoch's time and averages
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ravel::train {

struct ProgressOptions {
  std::string title = "";    // shown first, e.g. "epoch 3/15"
  std::string unit = "img";  // what update()'s count counts, for the rate: "1850 img/s"
  int width = 30;            // characters of the bar
  int interactive = -1;      // -1: when the stream is a terminal; 0/1 force it
  std::FILE* stream = stdout;
};

using Metrics = std::vector<std::pair<std::string, double>>;

class ProgressBar {
 public:
  ProgressBar(int64_t total_steps, ProgressOptions options = {});
  // One step done, covering `count` units; metrics are averaged over the steps so far
  // (weighted by count), as Keras shows them.
  void update(int64_t count, const Metrics& metrics = {});
  // Ends the line: total time, rate and the averages, then `extra` as they are given.
  void finish(const Metrics& extra = {});
  double average(const std::string& metric) const;  // NaN if never given
  double elapsed_seconds() const;

 private:
  void draw(bool final_line, const Metrics& extra);
  int64_t total_, step_ = 0, units_ = 0;
  ProgressOptions o_;
  bool interactive_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::vector<std::pair<std::string, std::pair<double, double>>> sums_;  // name -> (sum, weight)
};

// "1:05", "1:02:03" for seconds.
std::string format_duration(double seconds);

}  // namespace ravel::train
