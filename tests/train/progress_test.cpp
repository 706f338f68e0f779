// The progress bar: plain lines at every 10% when not on a terminal, one redrawn line when it
// is, running averages weighted by the units each step covers; and the Keras style, whose lines
// must read as Keras' Progbar writes them (Keras is not installed: the layout below is Keras
// 2.x's generic_utils.Progbar).
#include "ravel/train/progress.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>

#include "ravel/error.h"

namespace {
using namespace ravel::train;

// Runs fn with a memory stream and returns what it wrote.
template <typename Fn>
std::string captured(Fn&& fn) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  fn(f);
  std::fclose(f);
  std::string out(buf, size);
  std::free(buf);
  return out;
}

int count(const std::string& s, const std::string& what) {
  int n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

TEST(ProgressBar, PlainLinesAtEveryTenthAndAFinalLine) {
  std::string out = captured([](std::FILE* f) {
    ProgressBar bar(20, {.title = "epoch 1/2", .interactive = 0, .stream = f});
    for (int i = 0; i < 20; ++i) bar.update(10, {{"loss", i < 10 ? 1.0 : 3.0}});
    EXPECT_DOUBLE_EQ(bar.average("loss"), 2.0);
    EXPECT_TRUE(std::isnan(bar.average("accuracy")));
    bar.finish({{"test_acc", 0.5}});
  });
  EXPECT_EQ(count(out, "\n"), 10) << out;  // 10%, ..., 90%, then the final line
  EXPECT_EQ(count(out, "\r"), 0) << out;
  EXPECT_EQ(count(out, "epoch 1/2"), 10) << out;
  EXPECT_NE(out.find("2/20 "), std::string::npos) << out;
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  EXPECT_NE(last.find("20/20 [==="), std::string::npos) << last;
  EXPECT_NE(last.find("loss 2.0000"), std::string::npos) << last;
  EXPECT_NE(last.find("test_acc 0.5000"), std::string::npos) << last;
  EXPECT_NE(last.find("time 0:00"), std::string::npos) << last;
}

TEST(ProgressBar, TerminalModeRedrawsOneLine) {
  std::string out = captured([](std::FILE* f) {
    ProgressBar bar(3, {.interactive = 1, .stream = f});
    for (int i = 0; i < 3; ++i) bar.update(1);
    bar.finish();
  });
  EXPECT_EQ(count(out, "\n"), 1) << out;  // only the final line ends
  EXPECT_GE(count(out, "\r"), 2) << out;  // the last step's draw and the final line
  EXPECT_NE(out.find("3/3 [==="), std::string::npos) << out;
}

TEST(ProgressBar, StatefulMetricsAreShownAsGiven) {
  std::string out = captured([](std::FILE* f) {
    ProgressBar bar(4, {.interactive = 0, .stream = f, .stateful_metrics = true});
    for (int i = 1; i <= 4; ++i) bar.update(10 * i, {{"accuracy", 0.25 * i}});
    EXPECT_DOUBLE_EQ(bar.average("accuracy"), 1.0);
    bar.finish();
  });
  EXPECT_NE(out.find("accuracy 1.0000"), std::string::npos) << out;
}

// The title on its own line, then only the final line: no \r in a log file.
TEST(ProgressBar, KerasStyleInALogFile) {
  std::string out = captured([](std::FILE* f) {
    ProgressBar bar(
        20, {.title = "Epoch 3/10", .interactive = 0, .stream = f, .style = ProgressStyle::Keras});
    for (int i = 0; i < 20; ++i) bar.update(32, {{"loss", i < 10 ? 1.0 : 3.0}, {"tiny", 1e-4}});
    bar.finish({{"val_loss", 0.38}, {"val_accuracy", 0.86}});
  });
  EXPECT_EQ(count(out, "\r"), 0) << out;
  EXPECT_TRUE(std::regex_match(out, std::regex("Epoch 3/10\n"
                                               "20/20 \\[={30}\\] - [0-9]+s [0-9]+(s|ms|us)/step"
                                               " - loss: 2\\.0000 - tiny: 1\\.0000e-04"
                                               " - val_loss: 0\\.3800 - val_accuracy: 0\\.8600\n")))
      << out;
}

// On a terminal each draw rewrites the line; counts are right-aligned to the total's width.
TEST(ProgressBar, KerasStyleOnATerminal) {
  std::string out = captured([](std::FILE* f) {
    ProgressBar bar(469, {.title = "Epoch 1/1",
                          .interactive = 1,
                          .stream = f,
                          .style = ProgressStyle::Keras,
                          .stateful_metrics = true});
    for (int i = 1; i <= 469; ++i) {
      // Draws are at most 10 a second: wait so that steps 5 and 118 are drawn.
      if (i == 5 || i == 118) std::this_thread::sleep_for(std::chrono::milliseconds(110));
      bar.update(32, {{"loss", 0.5123}, {"accuracy", i == 469 ? 0.85 : 0.8125}});
    }
    bar.finish({{"val_loss", 0.38}});
  });
  EXPECT_EQ(count(out, "\n"), 2) << out;  // the title and the final line
  EXPECT_TRUE(std::regex_search(out, std::regex("\r  5/469 \\[\\.{30}\\] - ETA: [0-9:]+s? - "
                                                "loss: 0\\.5123 - accuracy: 0\\.8125\033\\[K")))
      << out;
  EXPECT_TRUE(std::regex_search(
      out, std::regex("\r118/469 \\[======>\\.{23}\\] - ETA: [0-9:]+s? - loss: 0\\.5123")))
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("\r469/469 \\[={30}\\] - [0-9]+s [0-9]+(s|ms|us)/"
                                                "step - loss: 0\\.5123 - accuracy: 0\\.8500 - "
                                                "val_loss: 0\\.3800\033\\[K\n$")))
      << out;
}

TEST(ProgressBar, KerasStyleWithUnknownTotal) {
  std::string out = captured([](std::FILE* f) {
    ProgressBar bar(0, {.interactive = 0, .stream = f, .style = ProgressStyle::Keras});
    for (int i = 0; i < 5; ++i) bar.update(1, {{"loss", 0.0}});
    bar.finish();
  });
  EXPECT_TRUE(std::regex_match(
      out, std::regex("      5/Unknown - [0-9]+s [0-9]+(s|ms|us)/step - loss: 0\\.0000e\\+00\n")))
      << out;
}

TEST(ProgressBar, DurationsAndErrors) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(NAN), "?");
  EXPECT_THROW(ProgressBar(-1), ravel::Error);
  EXPECT_THROW(ProgressBar(1, {.width = -1}), ravel::Error);
}

}  // namespace
