// The report's charts: line charts, the confusion matrix heat map, image grids. See
// ravel/train/report.h.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "ravel/error.h"
#include "ravel/train/report.h"

namespace ravel::train {
namespace {

constexpr int kTitleScale = 3, kLabelScale = 2;

// A step of 1, 2 or 5 times a power of ten giving about `target` intervals over `range`.
double nice_step(double range, int target) {
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

// A tick's number with as many decimals as the step needs.
std::string tick_text(double v, double step) {
  char buf[64];
  if (std::abs(v) >= 1e6 || (step < 1e-4 && v != 0))
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f",
                  std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9))),
                  std::abs(v) < step * 1e-6 ? 0.0 : v);
  return buf;
}

void centered_text(Canvas& c, int cx, int y, const std::string& s, Color col, int scale) {
  c.text(cx - Canvas::text_width(s, scale) / 2, y, s, col, scale);
}

// Linear interpolation between two colours, t in [0, 1].
Color mix(Color a, Color b, double t) {
  auto m = [&](uint8_t x, uint8_t y) {
    return static_cast<uint8_t>(std::lround(x + (y - x) * std::clamp(t, 0.0, 1.0)));
  };
  return {m(a.r, b.r), m(a.g, b.g), m(a.b, b.b)};
}

std::string shorten(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 2) + "..";
}

}  // namespace

Canvas line_chart(const std::vector<Series>& series, const std::string& title,
                  const std::string& x_label, const std::string& y_label, int width, int height) {
  RAVEL_CHECK(width >= 200 && height >= 150, "line_chart: size ", width, "x", height,
              ", expected at least 200x150");
  // Data ranges: x = 1..n, y over the finite values.
  size_t n = 0;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : series) {
    n = std::max(n, s.values.size());
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (lo > hi) lo = 0, hi = 1;  // nothing to draw
  if (lo == hi) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  const double ystep = nice_step(hi - lo, 5);
  const double ymin = std::floor(lo / ystep) * ystep, ymax = std::ceil(hi / ystep) * ystep;
  const double xmin = n <= 1 ? 0 : 1, xmax = n <= 1 ? 2 : static_cast<double>(n);
  const double xstep = std::max(1.0, std::round(nice_step(std::max(xmax - xmin, 1.0), 8)));

  // Layout: the widest y tick label and the y label on the left, the title on top, x ticks and
  // the x label below.
  int tick_w = 0;
  for (double v = ymin; v <= ymax + ystep / 2; v += ystep)
    tick_w = std::max(tick_w, Canvas::text_width(tick_text(v, ystep), kLabelScale));
  const int th = Canvas::text_height("0", kLabelScale);
  const int left = 12 + (y_label.empty() ? 0 : th + 12) + tick_w + 10;
  const int top = title.empty() ? 16 : Canvas::text_height(title, kTitleScale) + 24;
  const int bottom = 10 + th + 12 + (x_label.empty() ? 0 : th + 10);
  const Rect plot{left, top, width - left - 24, height - top - bottom};
  RAVEL_CHECK(plot.w > 20 && plot.h > 20, "line_chart: size ", width, "x", height,
              " leaves no room to plot");
  Canvas c(width, height);
  c.set_plot_area(plot);
  auto px = [&](double x) { return plot.x + (x - xmin) / (xmax - xmin) * (plot.w - 1); };
  auto py = [&](double y) { return plot.y + (ymax - y) / (ymax - ymin) * (plot.h - 1); };

  if (!title.empty()) centered_text(c, width / 2, 10, title, kBlack, kTitleScale);
  for (double v = ymin; v <= ymax + ystep / 2; v += ystep) {  // y grid, ticks, numbers
    const int y = static_cast<int>(std::lround(py(v)));
    c.fill_rect(plot.x, y, plot.w, 1, kLightGray);
    c.fill_rect(plot.x - 6, y, 6, 1, kBlack);
    const std::string t = tick_text(v, ystep);
    c.text(plot.x - 10 - Canvas::text_width(t, kLabelScale), y - th / 2, t, kBlack, kLabelScale);
  }
  for (double v = std::ceil(xmin / xstep) * xstep; v <= xmax + 1e-9; v += xstep) {
    if (n <= 1 && v != 1) continue;  // one point: only its tick
    const int x = static_cast<int>(std::lround(px(v)));
    c.fill_rect(x, plot.y + plot.h, 1, 6, kBlack);
    centered_text(c, x, plot.y + plot.h + 10, tick_text(v, 1), kBlack, kLabelScale);
  }
  c.fill_rect(plot.x - 1, plot.y, 1, plot.h + 1, kBlack);  // axes
  c.fill_rect(plot.x - 1, plot.y + plot.h, plot.w + 1, 1, kBlack);
  if (!x_label.empty())
    centered_text(c, plot.x + plot.w / 2, height - th - 8, x_label, kBlack, kLabelScale);
  if (!y_label.empty())
    c.text(12, plot.y + plot.h / 2 + Canvas::text_width(y_label, kLabelScale) / 2, y_label, kBlack,
           kLabelScale, /*vertical=*/true);

  // Curves: segments between finite neighbours; a point without one is a dot, and every point
  // gets a small marker when there are few.
  for (const Series& s : series) {
    const auto& v = s.values;
    auto ok = [&](size_t i) { return i < v.size() && std::isfinite(v[i]); };
    for (size_t i = 0; i < v.size(); ++i) {
      if (!ok(i)) continue;
      const double x = px(static_cast<double>(i + 1)), y = py(v[i]);
      if (ok(i + 1)) c.line(x, y, px(static_cast<double>(i + 2)), py(v[i + 1]), s.color, 3);
      const bool alone = !(i > 0 && ok(i - 1)) && !ok(i + 1);
      if (alone || v.size() <= 40) c.dot(x, y, alone ? 4.5 : 3.5, s.color);
    }
  }

  // Legend: in the corner of the plot that the curves cross least.
  std::vector<const Series*> named;
  for (const Series& s : series)
    if (!s.label.empty()) named.push_back(&s);
  if (!named.empty()) {
    int label_w = 0;
    for (const Series* s : named) label_w = std::max(label_w, Canvas::text_width(s->label, 2));
    const int row = th + 8, box_w = 12 + 28 + 8 + label_w + 12;
    const int box_h = 8 + row * static_cast<int>(named.size());
    const Rect corners[] = {
        {plot.x + plot.w - box_w - 10, plot.y + 10, box_w, box_h},
        {plot.x + plot.w - box_w - 10, plot.y + plot.h - box_h - 10, box_w, box_h},
        {plot.x + 10, plot.y + 10, box_w, box_h},
        {plot.x + 10, plot.y + plot.h - box_h - 10, box_w, box_h}};
    Rect best = corners[0];
    int fewest = std::numeric_limits<int>::max();
    for (const Rect& r : corners) {
      int hits = 0;
      for (const Series& s : series)
        for (size_t i = 0; i < s.values.size(); ++i)
          for (int k = 0; k < 16 && std::isfinite(s.values[i]); ++k) {
            // Samples along the segment to the next point (or the point itself).
            const bool seg = i + 1 < s.values.size() && std::isfinite(s.values[i + 1]);
            const double t = seg ? k / 16.0 : 0;
            const double x = px(i + 1 + t);
            const double y = py(s.values[i] + (seg ? (s.values[i + 1] - s.values[i]) * t : 0));
            hits += x >= r.x - 4 && x <= r.x + r.w + 4 && y >= r.y - 4 && y <= r.y + r.h + 4;
          }
      if (hits < fewest) fewest = hits, best = r;
    }
    c.fill_rect(best.x, best.y, best.w, best.h, kWhite);
    c.rect(best.x, best.y, best.w, best.h, kGray);
    for (size_t i = 0; i < named.size(); ++i) {
      const int y = best.y + 8 + static_cast<int>(i) * row;
      c.line(best.x + 12, y + th / 2, best.x + 40, y + th / 2, named[i]->color, 3);
      c.text(best.x + 48, y, named[i]->label, kBlack, 2);
    }
  }
  return c;
}

Canvas confusion_chart(const Tensor& confusion, const std::vector<std::string>& class_names,
                       const std::string& title) {
  RAVEL_CHECK(confusion.defined() && confusion.ndim() == 2 &&
                  confusion.shape()[0] == confusion.shape()[1] && confusion.shape()[0] > 0,
              "confusion_chart: confusion ", confusion.defined() ? confusion.shape() : Shape{},
              ", expected a square [C, C] matrix with C > 0");
  RAVEL_CHECK(!is_floating(confusion.dtype()) && confusion.dtype() != DType::Bool,
              "confusion_chart: confusion dtype ", dtype_name(confusion.dtype()),
              ", expected integer counts");
  const int64_t n = confusion.shape()[0];
  RAVEL_CHECK(class_names.empty() || static_cast<int64_t>(class_names.size()) == n,
              "confusion_chart: ", class_names.size(), " class names for a ", n, "x", n,
              " matrix, expected ", n, " (or none)");
  RAVEL_CHECK(n <= 1000, "confusion_chart: ", n, " classes, expected at most 1000");
  const std::vector<int64_t> counts = confusion.to(DType::Int64).contiguous().to_vector<int64_t>();
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i)
    names.push_back(shorten(class_names.empty() ? std::to_string(i) : class_names[i], 14));

  const int cell = static_cast<int>(std::clamp<int64_t>(600 / n, 2, 60));
  const int name_scale = cell >= 18 ? 2 : 1;
  const bool show_names = cell >= 8;
  int name_w = 0;
  for (const auto& s : names) name_w = std::max(name_w, Canvas::text_width(s, name_scale));
  if (!show_names) name_w = 0;
  const int th = Canvas::text_height("0", kLabelScale);
  const int left = 12 + th + 12 + name_w + 8;
  const int top = Canvas::text_height(title, kTitleScale) + 24;
  const int grid = cell * static_cast<int>(n);
  const int width = std::max(left + grid + 24, Canvas::text_width(title, kTitleScale) + 24);
  const int height = top + grid + 8 + name_w + 12 + th + 12;
  Canvas c(width, height);
  const Rect area{left, top, grid, grid};
  c.set_plot_area(area);
  centered_text(c, width / 2, 10, title, kBlack, kTitleScale);

  const Color dark{8, 48, 107};  // matplotlib's "Blues" at 1
  for (int64_t i = 0; i < n; ++i) {
    int64_t row_sum = 0;
    for (int64_t j = 0; j < n; ++j) row_sum += counts[i * n + j];
    for (int64_t j = 0; j < n; ++j) {
      const int64_t v = counts[i * n + j];
      const double share = row_sum > 0 ? static_cast<double>(v) / row_sum : 0.0;
      const int x = area.x + static_cast<int>(j) * cell, y = area.y + static_cast<int>(i) * cell;
      c.fill_rect(x, y, cell, cell, mix(kWhite, dark, share));
      const std::string t = std::to_string(v);
      for (int scale : {2, 1}) {  // the count, at the largest size that fits
        if (Canvas::text_width(t, scale) > cell - 4 || Canvas::text_height(t, scale) > cell - 4)
          continue;
        c.text(x + (cell - Canvas::text_width(t, scale)) / 2,
               y + (cell - Canvas::text_height(t, scale)) / 2, t, share > 0.5 ? kWhite : kBlack,
               scale);
        break;
      }
    }
  }
  c.rect(area.x - 1, area.y - 1, grid + 2, grid + 2, kGray);
  if (show_names) {
    const int nh = Canvas::text_height("0", name_scale);
    for (int64_t i = 0; i < n; ++i) {
      const int mid = static_cast<int>(i) * cell + cell / 2;
      const int w = Canvas::text_width(names[i], name_scale);
      c.text(area.x - 8 - w, area.y + mid - nh / 2, names[i], kBlack, name_scale);
      c.text(area.x + mid - nh / 2, area.y + grid + 8 + w, names[i], kBlack, name_scale, true);
    }
  }
  c.text(12, area.y + grid / 2 + Canvas::text_width("true", kLabelScale) / 2, "true", kBlack,
         kLabelScale, /*vertical=*/true);
  centered_text(c, area.x + grid / 2, height - th - 10, "predicted", kBlack, kLabelScale);
  return c;
}

Canvas image_grid(const Tensor& input, const std::vector<std::string>& captions, int columns) {
  RAVEL_CHECK(input.defined() && input.ndim() == 4 &&
                  (input.shape()[1] == 1 || input.shape()[1] == 3) && input.shape()[0] > 0 &&
                  (input.dtype() == DType::UInt8 || is_floating(input.dtype())),
              "image_grid: images ", input.defined() ? dtype_name(input.dtype()) : "", " ",
              input.defined() ? input.shape() : Shape{},
              ", expected uint8 (or floating, 0 to 1) [K, C, H, W] with K > 0 and C = 1 or 3");
  Tensor images = input;
  if (is_floating(input.dtype())) {  // what a model takes: [0, 1] -> 0..255
    std::vector<double> v = input.to(DType::Float64).contiguous().to_vector<double>();
    std::vector<uint8_t> px(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      px[i] = static_cast<uint8_t>(
          std::lround(std::clamp(std::isnan(v[i]) ? 0.0 : v[i], 0.0, 1.0) * 255));
    images = from_vector(px, input.shape());
  }
  const int64_t k = images.shape()[0], h = images.shape()[2], w = images.shape()[3];
  RAVEL_CHECK(captions.empty() || static_cast<int64_t>(captions.size()) == k,
              "image_grid: ", captions.size(), " captions for ", k, " images, expected ", k,
              " (or none)");
  RAVEL_CHECK(columns >= 0, "image_grid: columns ", columns, ", expected >= 0");
  RAVEL_CHECK(h <= 4096 && w <= 4096 && k <= 4096, "image_grid: images ", images.shape(),
              ", expected at most 4096 images of at most 4096x4096");
  const int cols =
      static_cast<int>(columns > 0 ? std::min<int64_t>(columns, k) : std::min<int64_t>(k, 8));
  const int rows = static_cast<int>((k + cols - 1) / cols);
  const int scale = static_cast<int>(std::max<int64_t>(1, 112 / std::max(h, w)));
  const int img_w = static_cast<int>(w) * scale, img_h = static_cast<int>(h) * scale;
  int cap_w = 0, cap_h = 0;
  for (const auto& s : captions) {
    cap_w = std::max(cap_w, Canvas::text_width(s, 1));
    cap_h = std::max(cap_h, Canvas::text_height(s, 1));
  }
  const int pad = 12;
  const int cell_w = std::max(img_w, cap_w) + pad, cell_h = img_h + (cap_h ? cap_h + 8 : 0) + pad;
  Canvas c(cols * cell_w + pad, rows * cell_h + pad);
  c.set_plot_area({pad, pad, cols * cell_w - pad, rows * cell_h - pad});
  for (int64_t i = 0; i < k; ++i) {
    const int x = pad + static_cast<int>(i % cols) * cell_w,
              y = pad + static_cast<int>(i / cols) * cell_h;
    const int ix = x + (cell_w - pad - img_w) / 2;
    c.rect(ix - 1, y - 1, img_w + 2, img_h + 2, kGray);
    c.draw_image(images.select(0, i), ix, y, scale);
    if (!captions.empty()) c.text(x, y + img_h + 6, captions[static_cast<size_t>(i)], kBlack, 1);
  }
  return c;
}

}  // namespace ravel::train
