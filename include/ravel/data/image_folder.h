// A dataset of image files laid out one folder per class (torchvision.datasets.ImageFolder):
//
//   root/cat/001.png, root/cat/more/002.jpg, root/dog/003.png, ...
//
//   auto ds = std::make_shared<data::ImageFolder>("photos", data::ImageFolderOptions{
//       .height = 64, .width = 64, .channels = 3});
//   ds->class_names();                 // {"cat", "dog"}: sorted, index = class
//   data::Example e = ds->get(0);      // e.input uint8 [3, 64, 64], e.target int64 0-d
//
// As torchvision: classes are the sub-folders of root in sorted (byte) order, including hidden
// ones; each class's images are found recursively (following links; sorted by folder, then by
// name) and kept when their name ends in one of `extensions` (case-insensitive); a class with
// no image is an error. Images are decoded in get() (safe from several threads), by their magic
// bytes (PNG or JPEG, see ravel/image.h).
//
// Size: with height and width set, every image is resized to them (bilinear, as
// transforms::Resize); with both 0, every image must have the size of the first one, and one
// that differs is an error naming the file and both sizes. channels 0 takes the first image's
// colour (1 for gray, 3 for colour; alpha is dropped) and converts the others to it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ravel/data/dataset.h"

namespace ravel::data {

struct ImageFolderOptions {
  int64_t height = 0, width = 0;  // both 0: keep (all images must agree), else resize
  int channels = 0;               // 0: the first image's (1 or 3); or 1, 2, 3, 4
  std::vector<std::string> extensions = {".png", ".jpg", ".jpeg"};
};

class ImageFolder : public Dataset {
 public:
  explicit ImageFolder(std::string root, ImageFolderOptions options = {});
  int64_t size() const override { return static_cast<int64_t>(samples_.size()); }
  Example get(int64_t index, Generator& gen) const override;
  using Dataset::get;  // get(index) too

  const std::vector<std::string>& class_names() const { return classes_; }
  int64_t num_classes() const { return static_cast<int64_t>(classes_.size()); }
  // (path, class index) in dataset order, as torchvision's `samples`.
  const std::vector<std::pair<std::string, int64_t>>& samples() const { return samples_; }
  // The shape every get() returns: [channels, height, width].
  Shape example_shape() const { return {channels_, height_, width_}; }

 private:
  std::string root_;
  ImageFolderOptions options_;
  std::vector<std::string> classes_;
  std::vector<std::pair<std::string, int64_t>> samples_;
  int64_t channels_ = 0, height_ = 0, width_ = 0;
};

}  // namespace ravel::data
