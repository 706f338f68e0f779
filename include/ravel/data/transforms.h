// Image transforms for data augmentation (torchvision.transforms), composable, each drawing
// its randomness from the Generator it is given -- the DataLoader gives every example its own,
// seeded from the loader's seed, so an augmented run repeats exactly.
//
//   namespace T = ravel::data::transforms;
//   auto augment = std::make_shared<T::Compose>(std::vector<T::TransformPtr>{
//       std::make_shared<T::ToFloat>(),                  // uint8 -> [0, 1]
//       std::make_shared<T::RandomCrop>(28, 2),          // pad 2, crop 28
//       std::make_shared<T::RandomHorizontalFlip>(),
//       std::make_shared<T::Normalize>(std::vector{0.2860}, std::vector{0.3530})});
//   auto train = std::make_shared<data::TransformDataset>(base, T::on_input(augment));
//   Tensor out = (*augment)(image, gen);                 // or directly
//   Tensor flipped = T::functional::hflip(image);        // the deterministic operations
//
// Images are [C, H, W] tensors (a [H, W] image is treated as one channel and stays 2-D); any
// layout is accepted (made contiguous first); a transform returns a new contiguous image, or its
// input itself where it changes nothing (a flip not taken).
// Geometric transforms keep the dtype: flips, crops, pads and erase take any dtype; resize,
// rotate and affine take uint8, float32 or float64 (integers are rounded back, as torchvision
// does). ColorJitter, Normalize and RandomErasing need a floating image (apply ToFloat first)
// and say so otherwise. Interpolation follows torchvision on tensors: Resize is bilinear with
// half-pixel centres and no antialias (F.interpolate(align_corners=False)); rotations and affine
// maps are nearest-neighbour by default, bilinear on request, with `fill` outside the image.
//
// Random draws: each random class documents the values it draws from the Generator, in order.
// All but RandomErasing always draw the same count (also when p is 0 or 1, or a range is
// empty), so one transform's choice does not shift the numbers the next one sees.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ravel/data/dataset.h"

namespace ravel::data::transforms {

enum class PadMode { Constant, Edge, Reflect };  // reflect: d c b | a b c d | c b a (no repeat)
enum class Interpolation { Nearest, Bilinear };

// torchvision.transforms.functional on tensors: the deterministic operations the random
// transforms are made of. Each makes one output allocation; errors name the operation.
namespace functional {

Tensor hflip(const Tensor& img);  // mirror left-right
Tensor vflip(const Tensor& img);  // mirror top-bottom

// Pixels added on each side: Padding(2) on all four, Padding(l, t, r, b) each its own.
struct Padding {
  int64_t left = 0, top = 0, right = 0, bottom = 0;
  Padding(int64_t all) : left(all), top(all), right(all), bottom(all) {}  // NOLINT: implicit
  Padding(int64_t l, int64_t t, int64_t r, int64_t b) : left(l), top(t), right(r), bottom(b) {}
};
// Reflect needs each padding smaller than the side it mirrors (as torch.nn.functional.pad).
Tensor pad(const Tensor& img, Padding padding, PadMode mode = PadMode::Constant, double fill = 0.0);
// The height x width window at (top, left); parts outside the image are zeros (torchvision),
// or padded per `mode` (a crop of pad(img, ...) in one pass: RandomCrop).
Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
            PadMode mode = PadMode::Constant, double fill = 0.0);
// The central window, top = round((H - height) / 2) with Python's rounding (half to even);
// zero-padded like torchvision where the image is smaller.
Tensor center_crop(const Tensor& img, int64_t height, int64_t width);
// Bilinear, half-pixel centres, no antialias (F.interpolate(align_corners=False)).
Tensor resize(const Tensor& img, int64_t height, int64_t width);
// Counter-clockwise rotation about the centre; `fill` outside. With bilinear, a border pixel
// that is a fraction m inside the image is v * m + (1 - m) * fill, where v is the sample with
// zeros outside: torchvision's formula whenever a fill is given (RandomRotation always gives
// one), which we always follow.
Tensor rotate(const Tensor& img, double angle_degrees,
              Interpolation interp = Interpolation::Nearest, double fill = 0.0);
// torchvision's F.affine without shear: rotation by `angle` degrees (clockwise on screen, the
// opposite of rotate), zoom by `scale` about the centre, then a shift by translate = (tx, ty)
// pixels (right, down). Same sampling and fill as rotate.
Tensor affine(const Tensor& img, double angle, std::pair<double, double> translate, double scale,
              Interpolation interp = Interpolation::Nearest, double fill = 0.0);
// (x - mean[c]) / std[c]; mean and std hold one value or one per channel. Floating images.
Tensor normalize(const Tensor& img, const std::vector<double>& mean,
                 const std::vector<double>& std);
// x * factor, clamped to [0, 1] (floating) or [0, 255] then truncated (uint8), as torchvision.
Tensor adjust_brightness(const Tensor& img, double factor);
// Blend with the mean grey level m: factor * x + (1 - factor) * m, clamped like brightness.
// m is the mean of 0.2989 R + 0.587 G + 0.114 B for 3 channels, of the image for 1.
Tensor adjust_contrast(const Tensor& img, double factor);
// A copy with the height x width rectangle at (top, left) set to value (inside the image).
Tensor erase(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
             double value);

}  // namespace functional

class Transform {
 public:
  virtual ~Transform();
  virtual Tensor operator()(const Tensor& image, Generator& gen) const = 0;
  virtual std::string repr() const = 0;  // "RandomCrop(size=(28, 28), padding=2)"
};
using TransformPtr = std::shared_ptr<const Transform>;

// Applies a transform to each example's input (targets pass through).
TransformDataset::Fn on_input(TransformPtr t);

class Compose : public Transform {
 public:
  explicit Compose(std::vector<TransformPtr> transforms);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  std::vector<TransformPtr> transforms_;
};

// To float32 (or `dtype`), multiplied by scale: uint8 pixels to [0, 1] by default.
class ToFloat : public Transform {
 public:
  explicit ToFloat(double scale = 1.0 / 255.0, DType dtype = DType::Float32);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double scale_;
  DType dtype_;
};

// (x - mean[c]) / std[c] per channel; one value applies to every channel.
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  std::vector<double> mean_, std_;
};

// Pads every side by `padding` (fill for Constant), then crops a random size.h x size.w window.
// Draws: top = next_below(H' - h + 1), then left = next_below(W' - w + 1) (H', W' padded).
class RandomCrop : public Transform {
 public:
  RandomCrop(int64_t size, int64_t padding = 0, PadMode mode = PadMode::Constant,
             double fill = 0.0);
  RandomCrop(std::pair<int64_t, int64_t> size, int64_t padding = 0,
             PadMode mode = PadMode::Constant, double fill = 0.0);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  int64_t h_, w_, padding_;
  PadMode mode_;
  double fill_;
};

// The central h x w window (torchvision's rounding: top = round((H - h) / 2)); pads with zeros
// when the image is smaller.
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(int64_t size);
  explicit CenterCrop(std::pair<int64_t, int64_t> size);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  int64_t h_, w_;
};

// Bilinear resize to h x w (uint8 images are rounded back to uint8).
class Resize : public Transform {
 public:
  explicit Resize(std::pair<int64_t, int64_t> size);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  int64_t h_, w_;
};

// Draws: u = next_double(); flips when u < p.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double p_;
};

// Draws: u = next_double(); flips when u < p.
class RandomVerticalFlip : public Transform {
 public:
  explicit RandomVerticalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double p_;
};

// Rotation by an angle drawn uniformly from [-degrees, degrees] about the centre.
// Draws: angle = -degrees + 2 * degrees * next_double().
class RandomRotation : public Transform {
 public:
  explicit RandomRotation(double degrees, Interpolation interp = Interpolation::Nearest,
                          double fill = 0.0);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double degrees_;
  Interpolation interp_;
  double fill_;
};

struct RandomAffineOptions {
  double degrees = 0.0;                          // rotation in [-degrees, degrees]
  std::pair<double, double> translate = {0, 0};  // max shift as a fraction of width, height
  std::pair<double, double> scale = {1.0, 1.0};  // zoom drawn from [lo, hi]
  Interpolation interpolation = Interpolation::Nearest;
  double fill = 0.0;
};
// torchvision.transforms.RandomAffine (rotation, translation, scale; no shear).
// Draws four next_double()s, each mapped onto its range: the angle in [-degrees, degrees],
// tx in [-translate.first * W, +...] and ty in [-translate.second * H, +...] (each rounded to
// whole pixels, half to even as Python's round), then the scale in [scale.first, scale.second].
class RandomAffine : public Transform {
 public:
  explicit RandomAffine(RandomAffineOptions options);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  RandomAffineOptions o_;
};

// Brightness: x * b, b drawn from [max(0, 1 - brightness), 1 + brightness]; contrast: blend with
// the mean grey level, factor drawn likewise; applied in random order, results clamped to
// [0, 1] (images as floats in [0, 1], as torchvision). A zero amount skips that adjustment.
// Draws: u = next_double() (brightness first when u < 0.5), then the brightness factor, then
// the contrast factor (each lo + (hi - lo) * next_double()).
class ColorJitter : public Transform {
 public:
  explicit ColorJitter(double brightness = 0.0, double contrast = 0.0);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double brightness_, contrast_;
};

struct RandomErasingOptions {
  double p = 0.5;
  std::pair<double, double> scale = {0.02, 0.33};  // erased area / image area
  std::pair<double, double> ratio = {0.3, 3.3};    // aspect ratio, drawn log-uniformly
  double value = 0.0;
};
// With probability p, sets a random rectangle to `value` (torchvision's algorithm: up to 10
// tries to fit a rectangle, else the image is returned unchanged).
// Draws: u = next_double() (erases when u < p); then per try, the area fraction and the log
// aspect ratio (each one next_double() mapped onto its range); h = round(sqrt(area * ratio)),
// w = round(sqrt(area / ratio)); a rectangle that fits (h < H and w < W) draws top =
// next_below(H - h + 1) and left = next_below(W - w + 1) and ends the tries. The draws after u
// happen only when erasing (their count depends on the tries anyway).
class RandomErasing : public Transform {
 public:
  explicit RandomErasing(RandomErasingOptions options = {});
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  RandomErasingOptions o_;
};

}  // namespace ravel::data::transforms
