// The progress bar: plain lines at every 10% when not on a terminal, one redrawn line when it
// is, running averages weighted by the units each step covers.
#include "ravel/train/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

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

TEST(ProgressBar, DurationsAndErrors) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(65), "1:05");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(NAN), "?");
  EXPECT_THROW(ProgressBar(-1), ravel::Error);
}

}  // namespace
