// The training report: the canvas and its font, the charts checked by decoding the PNGs they
// are saved as and looking at their pixels (a rising curve rises, a diagonal-heavy confusion
// matrix has dark diagonal cells, the image grid holds each image scaled up), and the report
// folder (metrics.csv read back, index.html's contents, every picture decodes).
#include "ravel/train/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "ravel/image.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace ravel::train {
namespace {

using testing::expect_error;
namespace fs = std::filesystem;

class ReportTest : public testing::TempDirTest {
 protected:
  // The canvas as PNG and back: what a viewer would see.
  Tensor render(const Canvas& c, const std::string& name) {
    c.save_png(path(name));
    Tensor img = read_image(path(name));
    EXPECT_EQ(img.shape(), (Shape{3, c.height(), c.width()}));
    return img;
  }
};

Color at(const Tensor& img, int64_t x, int64_t y) {
  const uint8_t* p = img.data_ptr<uint8_t>();
  const int64_t plane = img.shape()[1] * img.shape()[2], i = y * img.shape()[2] + x;
  return {p[i], p[plane + i], p[2 * plane + i]};
}
int luminance(Color c) { return (299 * c.r + 587 * c.g + 114 * c.b) / 1000; }

// Per column of `area`, the mean row of the pixels of colour c (NaN where none).
std::vector<double> column_means(const Tensor& img, Rect area, Color c) {
  std::vector<double> out;
  for (int x = area.x; x < area.x + area.w; ++x) {
    double sum = 0;
    int n = 0;
    for (int y = area.y; y < area.y + area.h; ++y)
      if (at(img, x, y) == c) sum += y, ++n;
    out.push_back(n ? sum / n : std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

int count_color(const Tensor& img, Rect r, Color c) {
  int n = 0;
  for (int y = r.y; y < r.y + r.h; ++y)
    for (int x = r.x; x < r.x + r.w; ++x) n += at(img, x, y) == c;
  return n;
}

TEST_F(ReportTest, CanvasDrawsShapesAndText) {
  Canvas c(60, 40);
  EXPECT_EQ(c.pixel(0, 0), kWhite);
  c.fill_rect(2, 3, 4, 5, kRed);
  EXPECT_EQ(c.pixel(2, 3), kRed);
  EXPECT_EQ(c.pixel(5, 7), kRed);
  EXPECT_EQ(c.pixel(6, 7), kWhite);
  c.fill_rect(-10, -10, 5, 5, kRed);  // clipped, no crash
  c.line(10, 30, 50, 30, kBlue, 3);   // horizontal, 3 thick: rows 29..31
  EXPECT_EQ(c.pixel(30, 29), kBlue);
  EXPECT_EQ(c.pixel(30, 31), kBlue);
  EXPECT_EQ(c.pixel(30, 32), kWhite);
  c.dot(55, 5, 2, kGreen);
  EXPECT_EQ(c.pixel(55, 5), kGreen);
  EXPECT_EQ(c.pixel(55, 8), kWhite);
  // "I" is a full-height bar in its middle column; text_width is 5 per glyph + 1 between.
  Canvas t(40, 20);
  t.text(1, 1, "I", kBlack, 2);
  EXPECT_EQ(t.pixel(1 + 2 * 2, 1), kBlack);
  EXPECT_EQ(t.pixel(1 + 2 * 2, 1 + 13), kBlack);
  EXPECT_EQ(t.pixel(1, 1 + 6), kWhite);
  EXPECT_EQ(Canvas::text_width("ab", 1), 11);
  EXPECT_EQ(Canvas::text_width("ab\nwxyz", 2), 46);
  EXPECT_EQ(Canvas::text_height("a\nb", 1), 15);
  // Every printable character draws something (but the space), each within its cell.
  for (int ch = 33; ch <= 126; ++ch) {
    Canvas g(6, 8);
    g.text(0, 0, std::string(1, static_cast<char>(ch)), kBlack);
    Tensor img = g.to_tensor();
    EXPECT_GT(count_color(img, {0, 0, 5, 7}, kBlack), 0) << static_cast<char>(ch);
    EXPECT_EQ(count_color(img, {5, 0, 1, 8}, kBlack) + count_color(img, {0, 7, 5, 1}, kBlack), 0)
        << static_cast<char>(ch);
  }
  // Vertical text reads upwards from (x, y): it lies above y, 7 pixels wide.
  Canvas v(20, 40);
  v.text(2, 30, "ab", kBlack, 1, /*vertical=*/true);
  Tensor vi = v.to_tensor();
  EXPECT_GT(count_color(vi, {2, 19, 7, 11}, kBlack), 10);
  EXPECT_EQ(count_color(vi, {0, 30, 20, 10}, kBlack), 0);
  EXPECT_EQ(count_color(vi, {9, 0, 11, 40}, kBlack), 0);
  // draw_image scales each pixel to a square; to_tensor is [3, H, W].
  Canvas d(10, 10);
  d.draw_image(tensor({{0, 255}, {128, 64}}, DType::UInt8), 1, 1, 3);
  EXPECT_EQ(d.pixel(1, 1), kBlack);
  EXPECT_EQ(d.pixel(6, 3), kWhite);
  EXPECT_EQ(d.pixel(3, 6), (Color{128, 128, 128}));
  EXPECT_EQ(d.to_tensor().shape(), (Shape{3, 10, 10}));
  expect_error([&] { Canvas(0, 5); }, {"Canvas: size 0x5", "expected positive"});
  expect_error(
      [&] {
        d.draw_image(zeros({2, 2, 2}, DType::UInt8), 0, 0);
      },
      {"draw_image", "[2, 2, 2]", "C = 1 or 3"});
}

TEST_F(ReportTest, LineChartCurvesRise) {
  std::vector<double> rising;
  for (int i = 0; i < 12; ++i) rising.push_back(0.5 + 0.04 * i + 0.01 * std::sin(i));
  Canvas c = line_chart({{"", rising, kBlue}}, "accuracy", "epoch", "accuracy");
  Tensor img = render(c, "rising.png");
  const Rect area = c.plot_area();
  ASSERT_GT(area.w, 400);
  ASSERT_GT(area.h, 300);
  // The curve's pixels, column by column, climb from the bottom left to the top right, spanning
  // most of the plot.
  std::vector<double> ys = column_means(img, area, kBlue);
  std::vector<std::pair<int, double>> seen;
  for (size_t x = 0; x < ys.size(); ++x)
    if (!std::isnan(ys[x])) seen.emplace_back(static_cast<int>(x), ys[x]);
  ASSERT_GT(seen.size(), ys.size() * 9 / 10);  // no gaps
  EXPECT_LT(seen.front().first, 10);
  EXPECT_GT(seen.back().first, area.w - 10);
  EXPECT_GT(seen.front().second, area.y + area.h * 0.7);
  EXPECT_LT(seen.back().second, area.y + area.h * 0.3);
  int falls = 0;
  for (size_t i = 8; i < seen.size(); ++i) falls += seen[i].second > seen[i - 8].second + 2;
  EXPECT_EQ(falls, 0);
  // Dark pixels: the title above the plot, tick numbers left of it and below it.
  auto dark = [](const Tensor& im, Rect r) {
    int n = 0;
    for (int y = r.y; y < r.y + r.h; ++y)
      for (int x = r.x; x < r.x + r.w; ++x) n += luminance(at(im, x, y)) < 60;
    return n;
  };
  EXPECT_GT(dark(img, {c.width() / 2 - 60, 0, 120, area.y - 4}), 50);  // title
  EXPECT_GT(dark(img, {0, area.y, area.x - 8, area.h}), 100);          // y ticks, y label
  EXPECT_GT(dark(img, {area.x, area.y + area.h + 4, area.w, c.height() - area.y - area.h - 4}),
            100);
  EXPECT_EQ(dark(img, {area.x + 4, area.y + 4, area.w - 8, area.h - 8}), 0);  // no legend

  // A legend appears with labels, in a corner the rising curve leaves free (not top right),
  // holding a swatch of each series' colour and its label.
  std::vector<double> lower = rising;
  for (double& x : lower) x -= 0.05;
  Canvas l = line_chart({{"accuracy", rising, kBlue}, {"val_accuracy", lower, kOrange}}, "two",
                        "epoch", "");
  Tensor li = render(l, "legend.png");
  const Rect la = l.plot_area();
  const Rect top_right{la.x + la.w / 2, la.y + 4, la.w / 2 - 4, la.h / 3};
  const Rect bottom_left{la.x + 4, la.y + la.h * 2 / 3, la.w / 2 - 4, la.h / 3 - 4};
  const Rect top_left{la.x + 4, la.y + 4, la.w / 2 - 4, la.h / 3};
  const Rect bottom_right{la.x + la.w / 2, la.y + la.h * 2 / 3, la.w / 2 - 4, la.h / 3 - 4};
  // Both curves rise through the bottom left and top right; the legend takes another corner.
  EXPECT_EQ(dark(li, top_right) + dark(li, bottom_left), 0);
  EXPECT_GT(dark(li, top_left) + dark(li, bottom_right), 100);  // the labels' text
  EXPECT_GT(count_color(li, top_left, kOrange) + count_color(li, bottom_right, kOrange), 0);
}

TEST_F(ReportTest, LineChartNanGapsAndSinglePoints) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Canvas c = line_chart({{"", {1, 2, 3, nan, nan, nan, 7, 8, 9}, kGreen}}, "gap");
  Tensor img = render(c, "gap.png");
  std::vector<double> ys = column_means(img, c.plot_area(), kGreen);
  // A run of empty columns where the NaNs are, curve on both sides.
  int longest = 0, run = 0;
  for (size_t x = 0; x < ys.size(); ++x) {
    run = std::isnan(ys[x]) ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_GT(longest, c.plot_area().w / 4);
  EXPECT_FALSE(std::isnan(ys[ys.size() / 8]));
  EXPECT_FALSE(std::isnan(ys[ys.size() * 7 / 8]));

  // One point: a dot, in the middle of the plot.
  Canvas one = line_chart({{"", {0.25}, kRed}}, "one point");
  Tensor oi = render(one, "one.png");
  const Rect a = one.plot_area();
  int n = 0, x0 = a.x + a.w, x1 = 0, y0 = a.y + a.h, y1 = 0;
  for (int y = a.y; y < a.y + a.h; ++y)
    for (int x = a.x; x < a.x + a.w; ++x)
      if (at(oi, x, y) == kRed) {
        ++n;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  EXPECT_GT(n, 20);
  EXPECT_LE(x1 - x0, 10);
  EXPECT_LE(y1 - y0, 10);
  EXPECT_NEAR((x0 + x1) / 2.0, a.x + a.w / 2.0, 3);
  // Nothing finite, or nothing at all: axes only, no crash.
  render(line_chart({{"nan", {nan, nan}, kBlue}}, "empty"), "empty.png");
  render(line_chart({}, ""), "none.png");
  expect_error([&] { line_chart({}, "t", "x", "y", 100, 100); }, {"line_chart: size 100x100"});
}

TEST_F(ReportTest, ConfusionChartDiagonalIsDark) {
  Tensor m = tensor({{50, 2, 1, 0}, {3, 40, 5, 2}, {0, 4, 60, 1}, {9, 0, 0, 30}}, DType::Int64);
  Canvas c = confusion_chart(m, {"T-shirt/top", "Trouser", "Pullover", "Dress"});
  Tensor img = render(c, "confusion.png");
  const Rect a = c.plot_area();
  ASSERT_EQ(a.w, a.h);
  const int cell = a.w / 4;
  auto fill = [&](int i, int j) {  // a cell's colour, sampled in its corner (away from the text)
    return luminance(at(img, a.x + j * cell + 2, a.y + i * cell + 2));
  };
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j)
      if (i != j) {
        EXPECT_LT(fill(i, i) + 80, fill(i, j)) << i << "," << j;
      }
  EXPECT_EQ(fill(0, 3), 255);  // a zero count is white
  // Counts are written in the cells: white on the dark diagonal, dark elsewhere.
  auto has = [&](int i, int j, auto pred) {
    int n = 0;
    for (int y = a.y + i * cell + 4; y < a.y + (i + 1) * cell - 4; ++y)
      for (int x = a.x + j * cell + 4; x < a.x + (j + 1) * cell - 4; ++x) n += pred(at(img, x, y));
    return n;
  };
  EXPECT_GT(has(2, 2, [](Color p) { return p == kWhite; }), 10);
  EXPECT_GT(has(1, 2, [](Color p) { return luminance(p) < 60; }), 10);
  // Class names and axis titles: dark pixels left of and below the cells.
  int left = 0, below = 0;
  for (int y = a.y; y < a.y + a.h; ++y)
    for (int x = 0; x < a.x - 2; ++x) left += luminance(at(img, x, y)) < 60;
  for (int y = a.y + a.h + 2; y < c.height(); ++y)
    for (int x = a.x; x < a.x + a.w; ++x) below += luminance(at(img, x, y)) < 60;
  EXPECT_GT(left, 200);
  EXPECT_GT(below, 200);
  // Many classes: counts and names drop out rather than overflow.
  render(confusion_chart(ones({150, 150}, DType::Int64), {}), "many.png");
  expect_error(
      [&] {
        confusion_chart(ones({2, 3}, DType::Int64), {});
      },
      {"confusion_chart", "[2, 3]", "square"});
  expect_error([&] { confusion_chart(ones({2, 2}), {}); }, {"confusion_chart", "float32"});
  expect_error([&] { confusion_chart(m, {"a"}); }, {"confusion_chart: 1 class names", "4x4"});
}

TEST_F(ReportTest, ImageGridHoldsEachImageScaled) {
  std::mt19937 gen(3);
  std::vector<uint8_t> v(5 * 1 * 7 * 6);
  for (auto& x : v) x = static_cast<uint8_t>(gen());
  Tensor images = from_vector(v, Shape{5, 1, 7, 6});
  Canvas c =
      image_grid(images, {"true: Shirt\npred: T-shirt/top\np = 0.97", "b", "c", "d", "e"}, 3);
  Tensor img = render(c, "grid.png");
  const int scale = 112 / 7;
  // Finds each image, scaled, somewhere on the canvas: row-major cells, 3 columns.
  auto find = [&](int64_t k) -> std::pair<int, int> {
    const uint8_t* p = images.select(0, k).contiguous().data_ptr<uint8_t>();
    for (int y = 0; y + 7 * scale <= c.height(); ++y)
      for (int x = 0; x + 6 * scale <= c.width(); ++x) {
        bool ok = true;
        for (int i = 0; i < 7 * scale && ok; ++i)
          for (int j = 0; j < 6 * scale && ok; ++j)
            ok = at(img, x + j, y + i) == Color{p[i / scale * 6 + j / scale],
                                                p[i / scale * 6 + j / scale],
                                                p[i / scale * 6 + j / scale]};
        if (ok) return {x, y};
      }
    return {-1, -1};
  };
  std::vector<std::pair<int, int>> at_k;
  for (int64_t k = 0; k < 5; ++k) {
    at_k.push_back(find(k));
    ASSERT_GE(at_k.back().first, 0) << "image " << k << " not found";
  }
  EXPECT_LT(at_k[0].first, at_k[1].first);
  EXPECT_LT(at_k[1].first, at_k[2].first);
  EXPECT_EQ(at_k[0].second, at_k[2].second);
  EXPECT_EQ(at_k[3].first, at_k[0].first);
  EXPECT_GT(at_k[3].second, at_k[0].second + 7 * scale);
  // The caption under the first image: dark pixels there.
  int dark = 0;
  for (int y = at_k[0].second + 7 * scale + 2; y < at_k[3].second; ++y)
    for (int x = at_k[0].first - 6; x < at_k[1].first; ++x) dark += luminance(at(img, x, y)) < 60;
  EXPECT_GT(dark, 100);
  // RGB images too; errors.
  render(image_grid(zeros({2, 3, 4, 4}, DType::UInt8)), "rgb.png");
  // Floating images are 0 to 1 (clamped).
  Tensor halves = full({1, 1, 2, 2}, 0.5);
  halves.index_put_({0, 0, 1, 1}, Scalar(7.0));
  Canvas fc = image_grid(halves);
  Tensor fi = render(fc, "float.png");
  const Rect fa = fc.plot_area();
  EXPECT_EQ(at(fi, fa.x + 1, fa.y + 1), (Color{128, 128, 128}));
  EXPECT_EQ(at(fi, fa.x + fa.w - 2, fa.y + fa.h - 2), kWhite);
  expect_error([&] { image_grid(zeros({2, 3, 4, 4}, DType::Int32), {}); }, {"image_grid", "int32"});
  expect_error(
      [&] {
        image_grid(zeros({2, 3, 4, 4}, DType::UInt8), {"one"});
      },
      {"image_grid: 1 captions for 2 images"});
}

TEST_F(ReportTest, WritesTheReportFolder) {
  ReportData r;
  r.title = "resnet20 <on> fashion-mnist";
  r.facts = {{"test accuracy", "91.2%"}, {"epochs", "4"}};
  r.history = {{"loss", {1.2, 0.7, 0.5, 0.4}},
               {"val_loss", {1.0, 0.8, std::numeric_limits<double>::quiet_NaN(), 0.6}},
               {"accuracy", {0.6, 0.75, 0.8, 0.85}},
               {"val_accuracy", {0.62, 0.7, 0.78}}};
  r.class_names = {"T-shirt/top", "Trouser", "Pullover"};
  r.confusion = tensor({{8, 1, 1}, {0, 10, 0}, {2, 0, 8}}, DType::Int64);
  r.worst_images = zeros({2, 1, 28, 28}, DType::UInt8);
  r.worst_true = {0, 2};
  r.worst_pred = {2, 0};
  r.worst_confidence = {0.97, 0.8};
  const std::string folder = path("runs/one");
  std::string index = write_report(folder, r);
  EXPECT_EQ(index, folder + "/index.html");
  for (const char* png : {"loss.png", "accuracy.png", "confusion.png", "worst.png"}) {
    SCOPED_TRACE(png);
    Tensor img = read_image(folder + "/" + png);
    EXPECT_EQ(img.shape()[0], 3);
    EXPECT_GT(img.shape()[1], 100);
  }
  std::ifstream csv(folder + "/metrics.csv");
  std::string text((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text,
            "epoch,accuracy,loss,val_accuracy,val_loss\n"
            "1,0.6,1.2,0.62,1\n"
            "2,0.75,0.7,0.7,0.8\n"
            "3,0.8,0.5,0.78,nan\n"
            "4,0.85,0.4,,0.6\n");
  std::ifstream page(index);
  std::string html((std::istreambuf_iterator<char>(page)), std::istreambuf_iterator<char>());
  for (const char* part :
       {"<title>resnet20 &lt;on&gt; fashion-mnist</title>", "<td class=\"key\">test accuracy</td>",
        "<td>91.2%</td>", "src=\"loss.png\"", "src=\"accuracy.png\"", "src=\"confusion.png\"",
        "src=\"worst.png\"", "<th>val_loss</th>", "<td>0.85</td>", "href=\"metrics.csv\""})
    EXPECT_NE(html.find(part), std::string::npos) << part;

  // Only what is there: no accuracy, no confusion, no images.
  ReportData bare;
  bare.title = "bare";
  bare.history = {{"loss", {0.5}}};
  write_report(path("bare"), bare);
  EXPECT_TRUE(fs::exists(path("bare/loss.png")));
  for (const char* f : {"accuracy.png", "confusion.png", "worst.png"})
    EXPECT_FALSE(fs::exists(path("bare/") + f)) << f;

  ReportData wrong = r;
  wrong.worst_pred = {1};
  expect_error([&] { write_report(path("w"), wrong); },
               {"write_report", "2 worst images but 2 true labels, 1 predictions"});
  std::ofstream(path("file")) << "x";
  expect_error([&] { write_report(path("file"), bare); }, {"write_report", "cannot create"});
}

}  // namespace
}  // namespace ravel::train
