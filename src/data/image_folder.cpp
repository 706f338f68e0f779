// One folder per class of image files (torchvision.datasets.ImageFolder). See
// ravel/data/image_folder.h.
#include "ravel/data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <system_error>

#include "ravel/data/transforms.h"
#include "ravel/error.h"
#include "ravel/image.h"

namespace ravel::data {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool has_extension(const std::string& name, const std::vector<std::string>& lowered) {
  const std::string l = lower(name);
  return std::any_of(lowered.begin(), lowered.end(), [&](const std::string& e) {
    return l.size() >= e.size() && l.compare(l.size() - e.size(), e.size(), e) == 0;
  });
}

// The folders under `dir` (itself included), following links, each once: os.walk's roots.
void walk_dirs(const fs::path& dir, std::set<fs::path>& seen, std::vector<fs::path>& out) {
  std::error_code ec;
  fs::path canonical = fs::canonical(dir, ec);
  if (ec || !seen.insert(canonical).second) return;  // unreadable, or a link cycle
  out.push_back(dir);
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_directory(ec)) walk_dirs(entry.path(), seen, out);
}

std::string size_text(int64_t h, int64_t w) {
  return std::to_string(h) + "x" + std::to_string(w) + " (height x width)";
}

}  // namespace

ImageFolder::ImageFolder(std::string root, ImageFolderOptions options)
    : root_(std::move(root)), options_(std::move(options)) {
  const auto& o = options_;
  RAVEL_CHECK((o.height == 0) == (o.width == 0) && o.height >= 0 && o.width >= 0,
              "ImageFolder: height ", o.height, " and width ", o.width,
              ": expected both 0 (keep the size) or both positive (resize)");
  RAVEL_CHECK(o.channels >= 0 && o.channels <= 4, "ImageFolder: channels ", o.channels,
              ", expected 0 (as the first image), 1, 2, 3 or 4");
  RAVEL_CHECK(!o.extensions.empty(), "ImageFolder: no file extensions given");
  std::error_code ec;
  RAVEL_CHECK(fs::is_directory(root_, ec), "ImageFolder: '", root_, "' is not a directory");

  std::error_code ignored;  // an entry that cannot be examined (a broken link) is no class
  for (const auto& entry : fs::directory_iterator(root_, ec))
    if (entry.is_directory(ignored)) classes_.push_back(entry.path().filename().string());
  RAVEL_CHECK(!ec, "ImageFolder: cannot list '", root_, "': ", ec.message());
  std::sort(classes_.begin(), classes_.end());
  RAVEL_CHECK(!classes_.empty(), "ImageFolder: '", root_,
              "' has no class folders (expected one sub-folder of images per class)");

  std::vector<std::string> exts;
  for (const auto& e : o.extensions) exts.push_back(lower(e));
  for (size_t k = 0; k < classes_.size(); ++k) {
    std::vector<fs::path> dirs;
    std::set<fs::path> seen;
    walk_dirs(fs::path(root_) / classes_[k], seen, dirs);
    std::sort(dirs.begin(), dirs.end(),
              [](const fs::path& a, const fs::path& b) { return a.string() < b.string(); });
    const size_t before = samples_.size();
    for (const fs::path& d : dirs) {
      std::vector<std::string> names;
      for (const auto& entry : fs::directory_iterator(d, ignored))
        if (!entry.is_directory(ignored) && has_extension(entry.path().filename().string(), exts))
          names.push_back(entry.path().filename().string());
      std::sort(names.begin(), names.end());
      for (const auto& n : names) samples_.emplace_back((d / n).string(), static_cast<int64_t>(k));
    }
    if (samples_.size() == before) {
      std::string list;
      for (const auto& e : o.extensions) list += (list.empty() ? "" : ", ") + e;
      detail::throw_error("ImageFolder: class folder '", (fs::path(root_) / classes_[k]).string(),
                          "' has no image (extensions ", list, ")");
    }
  }

  ImageInfo first = read_image_info(samples_[0].first);
  channels_ = o.channels ? o.channels : (first.channels <= 2 ? 1 : 3);
  height_ = o.height ? o.height : first.height;
  width_ = o.width ? o.width : first.width;
}

Example ImageFolder::get(int64_t index, Generator&) const {
  RAVEL_CHECK(index >= 0 && index < size(), "ImageFolder: index ", index,
              " out of range for a dataset of size ", size());
  const auto& [path, target] = samples_[static_cast<size_t>(index)];
  Tensor image = read_image(path, {.channels = static_cast<int>(channels_)});
  const int64_t h = image.shape()[1], w = image.shape()[2];
  if (h != height_ || w != width_) {
    RAVEL_CHECK(options_.height != 0, "ImageFolder: '", path, "' is ", size_text(h, w),
                ", expected ", size_text(height_, width_), " as '", samples_[0].first,
                "' (set height and width to resize every image)");
    image = transforms::functional::resize(image, height_, width_);
  }
  return {image, scalar_tensor(target, DType::Int64)};
}

}  // namespace ravel::data
