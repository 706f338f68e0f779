// Image transforms for data augmentation (torchvision.transforms), composable, each drawing
// its randomness from the Generator it is given -- the DataLoader gives every example its own,
// seeded from the loader's seed, so an augmented run repeats exactly.
//
//   namespace T = ravel::data::transforms;
//   auto augment = T::Compose({std::make_shared<T::ToFloat>(),               // uint8 -> [0, 1]
//                              std::make_shared<T::RandomCrop>(28, 2),        // pad 2, crop 28
//                              std::make_shared<T::RandomHorizontalFlip>(),
//                              std::make_shared<T::Normalize>({0.2860}, {0.3530})});
//   auto train = std::make_shared<data::TransformDataset>(base, T::on_input(augment));
//   Tensor out = augment(image, gen);                                         // or directly
//
// Images are [C, H, W] tensors (a [H, W] image is treated as one channel and stays 2-D).
// Geometric transforms keep the dtype (uint8 or floating); ColorJitter, Normalize and
// RandomErasing need a floating image (apply ToFloat first) and say so otherwise. Interpolation
// follows torchvision on tensors: Resize is bilinear with half-pixel centres and no antialias
// (F.interpolate(align_corners=False)); rotations and affine maps are nearest-neighbour by
// default, bilinear on request, with `fill` outside the image.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ravel/data/dataset.h"

namespace ravel::data::transforms {

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

enum class PadMode { Constant, Edge, Reflect };

// Pads every side by `padding` (fill for Constant), then crops a random size.h x size.w window.
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

class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double p_;
};

class RandomVerticalFlip : public Transform {
 public:
  explicit RandomVerticalFlip(double p = 0.5);
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  double p_;
};

enum class Interpolation { Nearest, Bilinear };

// Rotation by an angle drawn uniformly from [-degrees, degrees] about the centre.
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
  double degrees = 0.0;                           // rotation in [-degrees, degrees]
  std::pair<double, double> translate = {0, 0};   // max shift as a fraction of width, height
  std::pair<double, double> scale = {1.0, 1.0};   // zoom drawn from [lo, hi]
  Interpolation interpolation = Interpolation::Nearest;
  double fill = 0.0;
};
// torchvision.transforms.RandomAffine (rotation, translation, scale; no shear).
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
// [0, 1] (images as floats in [0, 1], as torchvision).
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
class RandomErasing : public Transform {
 public:
  explicit RandomErasing(RandomErasingOptions options = {});
  Tensor operator()(const Tensor& image, Generator& gen) const override;
  std::string repr() const override;

 private:
  RandomErasingOptions o_;
};

}  // namespace ravel::data::transforms
