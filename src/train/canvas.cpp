// The report's raster canvas and its 5x7 pixel font. See ravel/train/report.h.
#include <algorithm>
#include <cmath>

#include "ravel/error.h"
#include "ravel/image.h"
#include "ravel/train/report.h"

namespace ravel::train {
namespace {

// ASCII 32..126, 5 columns each, bit r of a column = row r (top row bit 0): the classic
// HD44780-style 5x7 font.
constexpr uint8_t kFont[95][5] = {
    {0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x00, 0x00, 0x5F, 0x00, 0x00},  // !
    {0x00, 0x07, 0x00, 0x07, 0x00},  // "
    {0x14, 0x7F, 0x14, 0x7F, 0x14},  // #
    {0x24, 0x2A, 0x7F, 0x2A, 0x12},  // $
    {0x23, 0x13, 0x08, 0x64, 0x62},  // %
    {0x36, 0x49, 0x55, 0x22, 0x50},  // &
    {0x00, 0x05, 0x03, 0x00, 0x00},  // '
    {0x00, 0x1C, 0x22, 0x41, 0x00},  // (
    {0x00, 0x41, 0x22, 0x1C, 0x00},  // )
    {0x14, 0x08, 0x3E, 0x08, 0x14},  // *
    {0x08, 0x08, 0x3E, 0x08, 0x08},  // +
    {0x00, 0x50, 0x30, 0x00, 0x00},  // ,
    {0x08, 0x08, 0x08, 0x08, 0x08},  // -
    {0x00, 0x60, 0x60, 0x00, 0x00},  // .
    {0x20, 0x10, 0x08, 0x04, 0x02},  // /
    {0x3E, 0x51, 0x49, 0x45, 0x3E},  // 0
    {0x00, 0x42, 0x7F, 0x40, 0x00},  // 1
    {0x42, 0x61, 0x51, 0x49, 0x46},  // 2
    {0x21, 0x41, 0x45, 0x4B, 0x31},  // 3
    {0x18, 0x14, 0x12, 0x7F, 0x10},  // 4
    {0x27, 0x45, 0x45, 0x45, 0x39},  // 5
    {0x3C, 0x4A, 0x49, 0x49, 0x30},  // 6
    {0x01, 0x71, 0x09, 0x05, 0x03},  // 7
    {0x36, 0x49, 0x49, 0x49, 0x36},  // 8
    {0x06, 0x49, 0x49, 0x29, 0x1E},  // 9
    {0x00, 0x36, 0x36, 0x00, 0x00},  // :
    {0x00, 0x56, 0x36, 0x00, 0x00},  // ;
    {0x08, 0x14, 0x22, 0x41, 0x00},  // <
    {0x14, 0x14, 0x14, 0x14, 0x14},  // =
    {0x00, 0x41, 0x22, 0x14, 0x08},  // >
    {0x02, 0x01, 0x51, 0x09, 0x06},  // ?
    {0x32, 0x49, 0x79, 0x41, 0x3E},  // @
    {0x7E, 0x11, 0x11, 0x11, 0x7E},  // A
    {0x7F, 0x49, 0x49, 0x49, 0x36},  // B
    {0x3E, 0x41, 0x41, 0x41, 0x22},  // C
    {0x7F, 0x41, 0x41, 0x22, 0x1C},  // D
    {0x7F, 0x49, 0x49, 0x49, 0x41},  // E
    {0x7F, 0x09, 0x09, 0x09, 0x01},  // F
    {0x3E, 0x41, 0x49, 0x49, 0x7A},  // G
    {0x7F, 0x08, 0x08, 0x08, 0x7F},  // H
    {0x00, 0x41, 0x7F, 0x41, 0x00},  // I
    {0x20, 0x40, 0x41, 0x3F, 0x01},  // J
    {0x7F, 0x08, 0x14, 0x22, 0x41},  // K
    {0x7F, 0x40, 0x40, 0x40, 0x40},  // L
    {0x7F, 0x02, 0x0C, 0x02, 0x7F},  // M
    {0x7F, 0x04, 0x08, 0x10, 0x7F},  // N
    {0x3E, 0x41, 0x41, 0x41, 0x3E},  // O
    {0x7F, 0x09, 0x09, 0x09, 0x06},  // P
    {0x3E, 0x41, 0x51, 0x21, 0x5E},  // Q
    {0x7F, 0x09, 0x19, 0x29, 0x46},  // R
    {0x46, 0x49, 0x49, 0x49, 0x31},  // S
    {0x01, 0x01, 0x7F, 0x01, 0x01},  // T
    {0x3F, 0x40, 0x40, 0x40, 0x3F},  // U
    {0x1F, 0x20, 0x40, 0x20, 0x1F},  // V
    {0x3F, 0x40, 0x38, 0x40, 0x3F},  // W
    {0x63, 0x14, 0x08, 0x14, 0x63},  // X
    {0x07, 0x08, 0x70, 0x08, 0x07},  // Y
    {0x61, 0x51, 0x49, 0x45, 0x43},  // Z
    {0x00, 0x7F, 0x41, 0x41, 0x00},  // [
    {0x02, 0x04, 0x08, 0x10, 0x20},  // backslash
    {0x00, 0x41, 0x41, 0x7F, 0x00},  // ]
    {0x04, 0x02, 0x01, 0x02, 0x04},  // ^
    {0x40, 0x40, 0x40, 0x40, 0x40},  // _
    {0x00, 0x01, 0x02, 0x04, 0x00},  // `
    {0x20, 0x54, 0x54, 0x54, 0x78},  // a
    {0x7F, 0x48, 0x44, 0x44, 0x38},  // b
    {0x38, 0x44, 0x44, 0x44, 0x20},  // c
    {0x38, 0x44, 0x44, 0x48, 0x7F},  // d
    {0x38, 0x54, 0x54, 0x54, 0x18},  // e
    {0x08, 0x7E, 0x09, 0x01, 0x02},  // f
    {0x0C, 0x52, 0x52, 0x52, 0x3E},  // g
    {0x7F, 0x08, 0x04, 0x04, 0x78},  // h
    {0x00, 0x44, 0x7D, 0x40, 0x00},  // i
    {0x20, 0x40, 0x44, 0x3D, 0x00},  // j
    {0x7F, 0x10, 0x28, 0x44, 0x00},  // k
    {0x00, 0x41, 0x7F, 0x40, 0x00},  // l
    {0x7C, 0x04, 0x18, 0x04, 0x78},  // m
    {0x7C, 0x08, 0x04, 0x04, 0x78},  // n
    {0x38, 0x44, 0x44, 0x44, 0x38},  // o
    {0x7C, 0x14, 0x14, 0x14, 0x08},  // p
    {0x08, 0x14, 0x14, 0x18, 0x7C},  // q
    {0x7C, 0x08, 0x04, 0x04, 0x08},  // r
    {0x48, 0x54, 0x54, 0x54, 0x20},  // s
    {0x04, 0x3F, 0x44, 0x40, 0x20},  // t
    {0x3C, 0x40, 0x40, 0x20, 0x7C},  // u
    {0x1C, 0x20, 0x40, 0x20, 0x1C},  // v
    {0x3C, 0x40, 0x30, 0x40, 0x3C},  // w
    {0x44, 0x28, 0x10, 0x28, 0x44},  // x
    {0x0C, 0x50, 0x50, 0x50, 0x3C},  // y
    {0x44, 0x64, 0x54, 0x4C, 0x44},  // z
    {0x00, 0x08, 0x36, 0x41, 0x00},  // {
    {0x00, 0x00, 0x7F, 0x00, 0x00},  // |
    {0x00, 0x41, 0x36, 0x08, 0x00},  // }
    {0x08, 0x04, 0x08, 0x10, 0x08},  // ~
};
constexpr int kCellW = 6, kCellH = 8;  // a glyph and its spacing

const uint8_t* glyph(char ch) {
  auto c = static_cast<unsigned char>(ch);
  return kFont[(c >= 32 && c <= 126) ? c - 32 : '?' - 32];
}

}  // namespace

Canvas::Canvas(int width, int height, Color background) : width_(width), height_(height) {
  RAVEL_CHECK(width > 0 && height > 0 && int64_t{width} * height <= (int64_t{1} << 28),
              "Canvas: size ", width, "x", height, ", expected positive and at most 2^28 pixels");
  rgb_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Color Canvas::pixel(int x, int y) const {
  RAVEL_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_, "Canvas::pixel: (", x, ", ", y,
              ") outside the ", width_, "x", height_, " canvas");
  const uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::set_pixel(int x, int y, Color c) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  uint8_t* p = &rgb_[(static_cast<size_t>(y) * width_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

void Canvas::fill_rect(int x, int y, int w, int h, Color c) {
  const int x0 = std::max(x, 0), y0 = std::max(y, 0);
  const int x1 = std::min(x + w, width_), y1 = std::min(y + h, height_);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set_pixel(xx, yy, c);
}

void Canvas::rect(int x, int y, int w, int h, Color c, int thickness) {
  fill_rect(x, y, w, thickness, c);
  fill_rect(x, y + h - thickness, w, thickness, c);
  fill_rect(x, y, thickness, h, c);
  fill_rect(x + w - thickness, y, thickness, h, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Color c, int thickness) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  // Stamps a thickness x thickness square every half pixel along the line.
  const double len = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  const int steps = static_cast<int>(std::min(2.0 * len, 1e6)) + 1;
  const int lo = (thickness - 1) / 2;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int x = static_cast<int>(std::lround(x0 + (x1 - x0) * t)) - lo;
    const int y = static_cast<int>(std::lround(y0 + (y1 - y0) * t)) - lo;
    fill_rect(x, y, thickness, thickness, c);
  }
}

void Canvas::dot(double x, double y, double radius, Color c) {
  const int x0 = static_cast<int>(std::floor(x - radius)),
            x1 = static_cast<int>(std::ceil(x + radius));
  const int y0 = static_cast<int>(std::floor(y - radius)),
            y1 = static_cast<int>(std::ceil(y + radius));
  for (int yy = y0; yy <= y1; ++yy)
    for (int xx = x0; xx <= x1; ++xx)
      if ((xx - x) * (xx - x) + (yy - y) * (yy - y) <= radius * radius + 0.5) set_pixel(xx, yy, c);
}

void Canvas::text(int x, int y, const std::string& s, Color c, int scale, bool vertical) {
  int col = 0, row = 0;
  for (char ch : s) {
    if (ch == '\n') {
      col = 0;
      ++row;
      continue;
    }
    const uint8_t* g = glyph(ch);
    for (int gx = 0; gx < 5; ++gx)
      for (int gy = 0; gy < 7; ++gy) {
        if (!((g[gx] >> gy) & 1)) continue;
        // Offsets along the text (u) and down the glyph (v), then placed upright or turned.
        const int u = (col * kCellW + gx) * scale, v = (row * kCellH + gy) * scale;
        if (vertical)
          fill_rect(x + v, y - u - scale, scale, scale, c);
        else
          fill_rect(x + u, y + v, scale, scale, c);
      }
    ++col;
  }
}

int Canvas::text_width(const std::string& s, int scale) {
  int widest = 0, n = 0;
  for (char ch : s) {
    n = ch == '\n' ? 0 : n + 1;
    widest = std::max(widest, n);
  }
  return widest ? (widest * kCellW - 1) * scale : 0;
}

int Canvas::text_height(const std::string& s, int scale) {
  const int lines = 1 + static_cast<int>(std::count(s.begin(), s.end(), '\n'));
  return (lines * kCellH - 1) * scale;
}

void Canvas::draw_image(const Tensor& image, int x, int y, int scale) {
  RAVEL_CHECK(image.defined() && image.dtype() == DType::UInt8 &&
                  (image.ndim() == 2 ||
                   (image.ndim() == 3 && (image.shape()[0] == 1 || image.shape()[0] == 3))),
              "Canvas::draw_image: image ", image.defined() ? dtype_name(image.dtype()) : "", " ",
              image.defined() ? image.shape() : Shape{},
              ", expected uint8 [C, H, W] with C = 1 or 3, or [H, W]");
  Tensor chw = (image.ndim() == 2 ? image.unsqueeze(0) : image).contiguous();
  const int64_t c = chw.shape()[0], h = chw.shape()[1], w = chw.shape()[2];
  const uint8_t* p = chw.data_ptr<uint8_t>();
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      const int64_t k = i * w + j;
      const Color col =
          c == 1 ? Color{p[k], p[k], p[k]} : Color{p[k], p[h * w + k], p[2 * h * w + k]};
      fill_rect(x + static_cast<int>(j) * scale, y + static_cast<int>(i) * scale, scale, scale,
                col);
    }
}

Tensor Canvas::to_tensor() const {
  return from_buffer(rgb_.data(), {height_, width_, 3}, DType::UInt8)
      .permute({2, 0, 1})
      .contiguous();
}

void Canvas::save_png(const std::string& path) const { write_png(path, to_tensor()); }

}  // namespace ravel::train
