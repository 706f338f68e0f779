// data::ImageFolder against torchvision's DatasetFolder (ImageFolder's logic with our
// extensions) on a temporary tree: classes, class indices and the sample order (hidden class
// folders, nested folders, upper-case extensions, os.walk's sort), the decoded pixels against
// PIL; resizing, channel conversion, threads, a DataLoader, and the errors.
#include "ravel/data/image_folder.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "ravel/data/loader.h"
#include "ravel/data/transforms.h"
#include "ravel/image.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel::data {
namespace {

using testing::expect_error;
using testing::matches;
namespace fs = std::filesystem;

class ImageFolderTest : public testing::TempDirTest {
 protected:
  // Writes a random PNG of the given shape at dir_/rel (folders created).
  Tensor put_png(const std::string& rel, const Shape& shape) {
    fs::create_directories((dir_ / rel).parent_path());
    std::vector<uint8_t> v(static_cast<size_t>(shape_numel(shape)));
    for (auto& x : v) x = static_cast<uint8_t>(gen_());
    Tensor img = from_vector(v, shape);
    write_png(path(rel), img);
    return img;
  }
  void put_text(const std::string& rel, const std::string& text) {
    fs::create_directories((dir_ / rel).parent_path());
    std::ofstream(path(rel)) << text;
  }
  std::mt19937 gen_{11};
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : "\n") + x;
  return s;
}
std::string text_of(const Tensor& bytes) {
  auto v = bytes.to_vector<uint8_t>();
  return std::string(v.begin(), v.end());
}

TEST_F(ImageFolderTest, MatchesTorchvision) {
  // Classes: "a_class", "b_class", ".hidden" (torchvision keeps hidden folders) and "c-class";
  // a loose file at the root and a .txt are not samples.
  put_png("root/b_class/x.png", {3, 6, 8});
  put_png("root/b_class/sub/z.png", {3, 6, 8});
  put_png("root/b_class/UPPER.PNG", {1, 6, 8});  // gray: converted to RGB
  put_text("root/b_class/notes.txt", "not an image");
  put_png("root/a_class/1.png", {3, 6, 8});
  put_png("root/a_class/10.png", {4, 6, 8});  // RGBA: alpha dropped
  put_png("root/a_class/2.png", {3, 6, 8});
  put_png("root/a_class/nested/deeper/3.png", {3, 6, 8});
  put_png("root/.hidden/h.png", {3, 6, 8});
  put_png("root/c-class/a/b/1.png", {3, 6, 8});  // os.walk roots sort as strings:
  put_png("root/c-class/a-b/2.png", {3, 6, 8});  // "a" < "a-b" < "a/b"
  put_png("root/c-class/a/3.png", {3, 6, 8});
  put_png("root/loose.png", {3, 6, 8});
  // A JPEG (written by PIL below, into the tree before the dataset is built).
  const std::string root = path("root");
  testing::TorchOracle tv;
  int h = tv.add_script(R"(
import torchvision
from PIL import Image
root = ")" + root + R"("
Image.fromarray(np.full((6, 8, 3), 90, np.uint8)).save(root + "/b_class/photo.JPEG", quality=95)
ds = torchvision.datasets.DatasetFolder(root, loader=lambda p: p,
                                        extensions=(".png", ".jpg", ".jpeg"))
paths = "\n".join(p[len(root) + 1:] for p, _ in ds.samples)
pixels = [np.asarray(Image.open(p).convert("RGB")).transpose(2, 0, 1) for p, _ in ds.samples]
out = [np.frombuffer("\n".join(ds.classes).encode(), np.uint8),
       np.array([ds.class_to_idx[c] for c in ds.classes]),
       np.frombuffer(paths.encode(), np.uint8), np.array([t for _, t in ds.samples])] + pixels
)",
                        {});
  tv.run();
  ASSERT_EQ(tv.error(h), "");
  const auto& ref = tv.results(h);

  auto ds = std::make_shared<ImageFolder>(root);
  EXPECT_EQ(join(ds->class_names()), text_of(ref[0]));
  EXPECT_EQ(ds->class_names(),
            (std::vector<std::string>{".hidden", "a_class", "b_class", "c-class"}));
  EXPECT_TRUE(matches(arange(ds->num_classes()), ref[1]));
  std::vector<std::string> rel;
  std::vector<int64_t> targets;
  for (const auto& [p, t] : ds->samples()) {
    rel.push_back(p.substr(root.size() + 1));
    targets.push_back(t);
  }
  EXPECT_EQ(join(rel), text_of(ref[2]));
  EXPECT_TRUE(matches(from_vector(targets), ref[3]));
  ASSERT_EQ(ds->size(), 12);
  ASSERT_EQ(ref.size(), 4u + 12u);
  EXPECT_EQ(ds->example_shape(), (Shape{3, 6, 8}));  // the first image is RGB

  for (int64_t i = 0; i < ds->size(); ++i) {
    SCOPED_TRACE(ds->samples()[static_cast<size_t>(i)].first);
    Example e = ds->get(i);
    EXPECT_EQ(e.target.dtype(), DType::Int64);
    EXPECT_EQ(e.target.ndim(), 0);
    EXPECT_EQ(e.target.item<int64_t>(), targets[static_cast<size_t>(i)]);
    if (rel[static_cast<size_t>(i)].find("photo") != std::string::npos)  // JPEG: +-2
      EXPECT_LE(
          (e.input.to(DType::Int32) - ref[4 + i].to(DType::Int32)).abs().max().item<int32_t>(), 2);
    else
      EXPECT_TRUE(matches(e.input, ref[4 + i]));
  }

  // Several threads at once get the same examples; so does a DataLoader.
  std::vector<std::vector<Tensor>> seen(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int64_t i = 0; i < ds->size(); ++i) seen[t].push_back(ds->get(i).input);
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t)
    for (int64_t i = 0; i < ds->size(); ++i)
      EXPECT_TRUE(matches(seen[t][static_cast<size_t>(i)], ds->get(i).input));
  DataLoader loader(ds, {.batch_size = 5, .num_workers = 2});
  int64_t n = 0;
  for (Batch& b : loader) {
    EXPECT_EQ(b.input.shape(), (Shape{b.target.shape()[0], 3, 6, 8}));
    EXPECT_TRUE(matches(b.input.select(0, 0), ds->get(n).input));
    n += b.target.shape()[0];
  }
  EXPECT_EQ(n, 12);
}

TEST_F(ImageFolderTest, ResizeChannelsAndErrors) {
  Tensor first = put_png("mixed/a/1.png", {1, 6, 8});  // gray first: channels 0 -> 1
  Tensor other = put_png("mixed/b/2.png", {3, 5, 7});  // another size and RGB
  const std::string bad_size = path("mixed/b/2.png");
  auto keep = std::make_shared<ImageFolder>(path("mixed"));
  EXPECT_EQ(keep->example_shape(), (Shape{1, 6, 8}));
  EXPECT_TRUE(matches(keep->get(0).input, first));
  expect_error([&] { keep->get(1); },
               {"ImageFolder", bad_size, "is 5x7 (height x width), expected 6x8",
                path("mixed/a/1.png"), "set height and width to resize"});
  expect_error([&] { keep->get(2); }, {"ImageFolder: index 2 out of range", "size 2"});

  ImageFolder resized(path("mixed"), {.height = 4, .width = 5, .channels = 3});
  EXPECT_EQ(resized.example_shape(), (Shape{3, 4, 5}));
  EXPECT_TRUE(matches(resized.get(1).input, transforms::functional::resize(other, 4, 5)));
  EXPECT_TRUE(matches(
      resized.get(0).input,
      transforms::functional::resize(read_image(path("mixed/a/1.png"), {.channels = 3}), 4, 5)));
  ImageFolder gray(path("mixed"), {.height = 5, .width = 7, .channels = 1});
  EXPECT_TRUE(matches(gray.get(1).input, read_image(bad_size, {.channels = 1})));  // no resize

  put_text("corrupt/a/ok.txt", "");
  put_png("corrupt/a/0.png", {3, 4, 4});
  put_text("corrupt/a/1.png", "this is not a PNG");
  ImageFolder corrupt(path("corrupt"));
  EXPECT_EQ(corrupt.size(), 2);
  expect_error([&] { corrupt.get(1); },
               {"read_image", path("corrupt/a/1.png"), "not a PNG or JPEG image"});
  put_text("first_bad/a/0.png", "junk");
  expect_error([&] { ImageFolder x(path("first_bad")); }, {path("first_bad/a/0.png"), "not a PNG"});

  expect_error([&] { ImageFolder x(path("nothing")); },
               {"ImageFolder", path("nothing"), "is not a directory"});
  fs::create_directories(path("flat"));
  put_png("flat/1.png", {3, 4, 4});
  expect_error([&] { ImageFolder x(path("flat")); },
               {"ImageFolder", path("flat"), "has no class folders"});
  put_png("empty_class/a/1.png", {3, 4, 4});
  put_text("empty_class/b/readme.txt", "no images here");
  expect_error(
      [&] { ImageFolder x(path("empty_class")); },
      {"ImageFolder: class folder", path("empty_class/b"), "has no image", ".png, .jpg, .jpeg"});
  expect_error([&] { ImageFolder x(path("mixed"), {.height = 4}); },
               {"ImageFolder: height 4 and width 0", "both 0", "both positive"});
  expect_error([&] { ImageFolder x(path("mixed"), {.channels = 7}); },
               {"ImageFolder: channels 7", "expected 0"});
  // Only the listed extensions count (case-insensitive); the bytes decide the format.
  put_png("exts/a/x.img", {3, 4, 4});
  put_png("exts/a/y.png", {3, 4, 4});
  ImageFolder only_img(path("exts"), {.extensions = {".IMG"}});
  EXPECT_EQ(only_img.size(), 1);
  EXPECT_EQ(only_img.get(0).input.shape(), (Shape{3, 4, 4}));
}

}  // namespace
}  // namespace ravel::data
