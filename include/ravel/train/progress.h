// A training progress bar: on a terminal, one line redrawn in place (step count, bar, rate,
// running metrics, ETA); otherwise -- a log file, CI -- plain lines at every 10% and at the end.
// ProgressStyle::Keras draws Keras' Progbar instead (what keras::Model::fit(verbose = 1) shows):
//
//   Epoch 3/10
//   118/469 [======>.......................] - ETA: 12s - loss: 0.5123 - accuracy: 0.8125
//   469/469 [==============================] - 14s 30ms/step - loss: 0.4100 - val_loss: 0.3800
//
// redrawn in place on a terminal; elsewhere only the title and the final line of each epoch.
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

enum class ProgressStyle { Ravel, Keras };

struct ProgressOptions {
  std::string title = "";    // shown first, e.g. "epoch 3/15" (Keras: on its own line)
  std::string unit = "img";  // what update()'s count counts, for the rate: "1850 img/s"
  int width = 30;            // characters of the bar
  int interactive = -1;      // -1: when the stream is a terminal; 0/1 force it
  std::FILE* stream = stdout;
  ProgressStyle style = ProgressStyle::Ravel;
  // true: update()'s metrics are already running values (fit's metric objects) and are shown as
  // given; false: the bar averages them over the steps (Keras' Progbar stateful_metrics).
  bool stateful_metrics = false;
};

using Metrics = std::vector<std::pair<std::string, double>>;

class ProgressBar {
 public:
  // total_steps 0: not known (Keras style shows "118/Unknown").
  ProgressBar(int64_t total_steps, ProgressOptions options = {});
  // One step done, covering `count` units; metrics are averaged over the steps so far
  // (weighted by count), as Keras shows them, unless options.stateful_metrics.
  void update(int64_t count, const Metrics& metrics = {});
  // Ends the line: total time, rate and the averages, then `extra` as they are given.
  void finish(const Metrics& extra = {});
  double average(const std::string& metric) const;  // NaN if never given
  double elapsed_seconds() const;

 private:
  void draw(bool final_line, const Metrics& extra);
  std::string ravel_line(bool final_line, const Metrics& extra) const;
  std::string keras_line(bool final_line, const Metrics& extra) const;
  int64_t total_, step_ = 0, units_ = 0;
  ProgressOptions o_;
  bool interactive_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_, first_step_end_;
  std::vector<std::pair<std::string, std::pair<double, double>>> sums_;  // name -> (sum, weight)
};

// "1:05", "1:02:03" for seconds.
std::string format_duration(double seconds);

}  // namespace ravel::train
