// The training report: metrics as CSV, loss and accuracy curves, a confusion matrix and the
// worst-classified images as PNG files, and one HTML page that shows them (`ravel train`
// writes one after every run). The charts are drawn on a small RGB canvas with a built-in
// 5x7 pixel font, so nothing outside ravel is needed to make them.
//
//   train::ReportData r;
//   r.title = "resnet20 on fashion-mnist";
//   r.facts = {{"test accuracy", "91.2%"}, {"epochs", "15"}};
//   r.history = {{"loss", losses}, {"val_loss", val_losses}, {"accuracy", accs}};
//   r.class_names = test.class_names;
//   r.confusion = confusion;                      // int64 [C, C], rows = true class
//   std::string page = train::write_report("runs/resnet20", r);   // runs/resnet20/index.html
//
//   // The charts on their own:
//   train::Canvas c = train::line_chart({{"loss", losses, train::kBlue}}, "loss");
//   c.save_png("loss.png");
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::train {

struct Color {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Color&) const = default;
};
inline constexpr Color kBlack{0, 0, 0}, kWhite{255, 255, 255}, kGray{128, 128, 128},
    kLightGray{225, 225, 225};
// matplotlib's first colours: the series of a chart take them in turn.
inline constexpr Color kBlue{31, 119, 180}, kOrange{255, 127, 14}, kGreen{44, 160, 44},
    kRed{214, 39, 40}, kPurple{148, 103, 189}, kBrown{140, 86, 75};

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;
};

// An RGB raster, (0, 0) at the top left. Drawing outside it is clipped.
class Canvas {
 public:
  Canvas(int width, int height, Color background = kWhite);
  int width() const { return width_; }
  int height() const { return height_; }
  Color pixel(int x, int y) const;  // inside only
  void set_pixel(int x, int y, Color c);
  void fill_rect(int x, int y, int w, int h, Color c);
  void rect(int x, int y, int w, int h, Color c, int thickness = 1);  // outline, inside the box
  // A straight line of the given thickness (pixels) between two points (pixel centres).
  void line(double x0, double y0, double x1, double y1, Color c, int thickness = 1);
  void dot(double x, double y, double radius, Color c);  // a filled disc
  // Text in the built-in 5x7 font: each character a 6x8 cell (a column and a row of spacing),
  // times `scale`. (x, y) is the top left of the first cell; '\n' starts a new line. Characters
  // outside ASCII 32..126 draw as '?'. vertical: turned 90 degrees counter-clockwise (reading
  // upwards), (x, y) then the bottom left of the first cell.
  void text(int x, int y, const std::string& s, Color c, int scale = 1, bool vertical = false);
  static int text_width(const std::string& s, int scale = 1);  // widest line, without its gap
  static int text_height(const std::string& s, int scale = 1);
  // A uint8 image [C, H, W] (C = 1 or 3) or [H, W], each pixel a scale x scale square.
  void draw_image(const Tensor& image, int x, int y, int scale = 1);
  Tensor to_tensor() const;  // uint8 [3, H, W]
  void save_png(const std::string& path) const;
  // Where a chart put its data (the plot box, the matrix cells, the grid); set by the charts.
  Rect plot_area() const { return plot_area_; }
  void set_plot_area(Rect r) { plot_area_ = r; }

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;  // [H, W, 3]
  Rect plot_area_;
};

struct Series {
  std::string label;           // the legend entry; a chart whose labels are all empty has no legend
  std::vector<double> values;  // values[i] is drawn at x = i + 1 (epochs); NaN/inf skipped
  Color color = kBlue;
};

// Curves with axes, tick marks with numbers, light grid lines and a legend (in the corner the
// curves leave freest). Points between NaNs are dots; so is a series of one point.
Canvas line_chart(const std::vector<Series>& series, const std::string& title,
                  const std::string& x_label = "epoch", const std::string& y_label = "",
                  int width = 800, int height = 500);
// A heat map of `confusion` (integers [C, C], rows = true class, columns = predicted): each
// cell coloured by its share of the row (white 0 to dark blue 1) with its count written in it
// (when it fits), class names along both axes, titled "true" and "predicted". class_names may
// be empty (then 0, 1, ...). plot_area() is the C x C cells.
Canvas confusion_chart(const Tensor& confusion, const std::vector<std::string>& class_names,
                       const std::string& title = "confusion matrix");
// images uint8 [K, C, H, W] (C = 1 or 3; floating images are taken as 0 to 1) in a grid of
// `columns` (0: up to 8), each scaled up (nearest) to about 112 pixels a side, its caption ('\n'
// for several lines) under it. plot_area() is the grid.
Canvas image_grid(const Tensor& images, const std::vector<std::string>& captions = {},
                  int columns = 0);

struct ReportData {
  std::string title;                                       // "resnet20 on fashion-mnist"
  std::vector<std::pair<std::string, std::string>> facts;  // ("test accuracy", "91.2%"), ...
  std::map<std::string, std::vector<double>> history;      // "loss", "accuracy", "val_loss", ...
  std::vector<std::string> class_names;
  Tensor confusion;     // [C, C] int64, rows = true class (may be undefined)
  Tensor worst_images;  // [K, C, H, W] uint8 (may be undefined)
  std::vector<int64_t> worst_true, worst_pred;
  std::vector<double> worst_confidence;  // probability given to worst_pred (may be empty)
};

// Writes into `folder` (created if needed): metrics.csv (epoch + history keys), loss.png (keys
// containing "loss"), accuracy.png (keys containing "acc", when any), confusion.png and
// worst.png (when given), index.html (title, facts table, the pictures, the metrics table).
// Every file is written through a temporary file and renamed. Returns index.html's path.
std::string write_report(const std::string& folder, const ReportData& data);

}  // namespace ravel::train
