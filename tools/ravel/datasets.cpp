// Dataset selection for `ravel train` and `ravel evaluate`: the built-in datasets, image folders
// and CSV files, split into train / validation / test parts.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "common.h"
#include "ravel/data/image_folder.h"
#include "ravel/data/loader.h"
#include "ravel/data/readers.h"
#include "ravel/data/transforms.h"
#include "ravel/nn/functional.h"
#include "ravel/ops.h"

namespace ravel::cli {

namespace fs = std::filesystem;
namespace T = ravel::data::transforms;

const CLI::Validator& positive() {
  static const CLI::Validator v(
      [](std::string& text) -> std::string {
        double x = 0;
        size_t pos = 0;
        try {
          x = std::stod(text, &pos);
        } catch (const std::logic_error&) {
          pos = 0;
        }
        if (pos == 0 || pos != text.size() || !(x > 0))
          return "expected a number > 0, got '" + text + "'";
        return "";
      },
      "POSITIVE");
  return v;
}

void add_data_options(CLI::App& app, DataSpec& spec) {
  app.add_option("--data", spec.source,
                 "fashion-mnist, mnist, cifar10, a folder of images (one sub-folder per class, "
                 "optionally under train/ and test/) or a CSV file")
      ->capture_default_str();
  app.add_option(
      "--data-dir", spec.dir,
      "where mnist or cifar10 live (fashion-mnist: " + std::string(data::kFashionMnistDir) + ")");
  app.add_option("--label-column", spec.label_column,
                 "CSV: the label column's name or index (default \"label\", else the last)");
  app.add_option("--image-size", spec.image_size,
                 "image folders: resize to HxW (default: the first image's size)");
  app.add_option("--seed", spec.seed, "random seed (splits, shuffling, augmentation)")
      ->capture_default_str();
  app.add_option("--train-limit", spec.train_limit, "use the first N training examples")
      ->check(positive());
  app.add_option("--test-limit", spec.test_limit, "use the first N test examples")
      ->check(positive());
}

keras::Shape parse_shape(const std::string& option, const std::string& text) {
  keras::Shape shape;
  std::stringstream ss(text);
  for (std::string part; std::getline(ss, part, ',');) {
    size_t pos = 0;
    int64_t v = 0;
    try {
      v = std::stoll(part, &pos);
    } catch (const std::logic_error&) {
      pos = 0;
    }
    if (pos == 0 || pos != part.size() || v <= 0)
      throw UsageError(option + ": expected positive sizes like 1,28,28, got '" + text + "'");
    shape.push_back(v);
  }
  if (shape.empty()) throw UsageError(option + ": empty");
  return shape;
}

std::pair<int64_t, int64_t> parse_size(const std::string& option, const std::string& text) {
  int64_t h = 0, w = 0;
  size_t pos = 0;
  try {
    h = std::stoll(text, &pos);
    if (pos == text.size()) {
      w = h;
    } else {
      if (text[pos] != 'x' && text[pos] != 'X' && text[pos] != ',') throw std::invalid_argument("");
      std::string rest = text.substr(pos + 1);
      w = std::stoll(rest, &pos);
      if (pos != rest.size()) throw std::invalid_argument("");
    }
  } catch (const std::logic_error&) {
    throw UsageError(option + ": expected HxW (e.g. 32x32), got '" + text + "'");
  }
  if (h <= 0 || w <= 0 || h > 16384 || w > 16384)
    throw UsageError(option + ": sizes must be in [1, 16384], got '" + text + "'");
  return {h, w};
}

namespace {

// The first `limit` examples (all when limit is 0 or not smaller than the size).
data::DatasetPtr head(data::DatasetPtr ds, int64_t limit) {
  if (limit <= 0 || limit >= ds->size()) return ds;
  std::vector<int64_t> idx(static_cast<size_t>(limit));
  for (int64_t i = 0; i < limit; ++i) idx[static_cast<size_t>(i)] = i;
  return std::make_shared<data::Subset>(ds, std::move(idx));
}

// A random (seeded) split of `ds` into a part of 1 - fraction and one of fraction.
std::pair<data::DatasetPtr, data::DatasetPtr> split(data::DatasetPtr ds, double fraction,
                                                    uint64_t seed, const std::string& what) {
  const int64_t n = ds->size();
  int64_t held = static_cast<int64_t>(std::llround(static_cast<double>(n) * fraction));
  held = std::clamp<int64_t>(held, 1, n - 1);
  RAVEL_CHECK(n >= 2, what, ": needs at least 2 examples to split, the data has ", n);
  Generator gen(seed);
  auto parts = data::random_split(ds, std::vector<int64_t>{n - held, held}, gen);
  return {parts[0], parts[1]};
}

data::DatasetPtr as_dataset(const data::LabelledImages& d) {
  return std::make_shared<data::TensorDataset>(d.images, d.labels);
}

void from_labelled(LoadedData& out, data::LabelledImages train, data::LabelledImages test,
                   bool need_train) {
  out.input_shape = {test.images.shape()[1], test.images.shape()[2], test.images.shape()[3]};
  out.num_classes = test.num_classes > 0 ? test.num_classes : 10;
  out.class_names = test.class_names;
  if (need_train) out.train = as_dataset(train);
  out.test = as_dataset(test);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void load_csv(LoadedData& out, const DataSpec& spec) {
  data::CsvOptions o;
  o.label_column = spec.label_column;
  if (o.label_column.empty()) {
    // "label" when the header has it, else the last column.
    std::ifstream f(spec.source);
    RAVEL_CHECK(f, "--data: cannot open CSV file '", spec.source, "'");
    std::string header;
    std::getline(f, header);
    std::vector<std::string> names;
    std::stringstream ss(header);
    for (std::string cell; std::getline(ss, cell, ',');) {
      cell.erase(0, cell.find_first_not_of(" \t\"\r"));
      cell.erase(cell.find_last_not_of(" \t\"\r") + 1);
      names.push_back(cell);
    }
    o.label_column = std::find(names.begin(), names.end(), "label") != names.end() ? "label" : "-1";
  }
  data::CsvTable t = data::read_csv(spec.source, o);
  RAVEL_CHECK(t.features.shape()[0] >= 2, "--data: ", spec.source, " has ", t.features.shape()[0],
              " rows, expected at least 2");
  Tensor labels = t.labels;
  int64_t min_label = labels.min().item<int64_t>();
  RAVEL_CHECK(min_label >= 0, "--data: ", spec.source, ": class labels must be >= 0, found ",
              min_label);
  out.images = false;
  out.flip_ok = false;
  out.input_shape = {t.features.shape()[1]};
  out.num_classes = std::max<int64_t>(labels.max().item<int64_t>() + 1,
                                      static_cast<int64_t>(t.class_names.size()));
  out.class_names = t.class_names;
  auto all = std::make_shared<data::TensorDataset>(t.features, labels);
  auto [train, test] = split(all, 0.2, spec.seed, "--data " + spec.source);
  out.train = train;
  out.test = test;
  out.test_split_off = true;
}

void load_folder(LoadedData& out, const DataSpec& spec) {
  fs::path root = spec.source;
  const bool has_splits = fs::is_directory(root / "train") && fs::is_directory(root / "test");
  fs::path train_root = has_splits ? root / "train" : root;
  data::ImageFolderOptions o;
  if (!spec.image_size.empty()) {
    std::tie(o.height, o.width) = parse_size("--image-size", spec.image_size);
  } else {
    // The first image's size and channels; the others are resized to it.
    Shape first = data::ImageFolder(train_root.string(), o).example_shape();
    o.height = first[1];
    o.width = first[2];
    o.channels = static_cast<int>(first[0]);
  }
  auto train = std::make_shared<data::ImageFolder>(train_root.string(), o);
  Shape shape = train->example_shape();
  out.input_shape = {shape[0], shape[1], shape[2]};
  out.class_names = train->class_names();
  out.num_classes = train->num_classes();
  if (has_splits) {
    o.channels = static_cast<int>(shape[0]);
    auto test = std::make_shared<data::ImageFolder>((root / "test").string(), o);
    RAVEL_CHECK(test->class_names() == out.class_names, "--data: the class folders of ",
                (root / "test").string(), " differ from those of ", train_root.string());
    out.train = train;
    out.test = test;
  } else {
    std::tie(out.train, out.test) = split(train, 0.2, spec.seed, "--data " + spec.source);
    out.test_split_off = true;
  }
}

}  // namespace

LoadedData load_data(const DataSpec& spec, bool need_train) {
  LoadedData out;
  const std::string src = spec.source;
  if (src == "fashion-mnist" || src == "mnist" || src == "cifar10") {
    out.name = src;
    std::string dir = spec.dir;
    if (dir.empty()) {
      RAVEL_CHECK(src == "fashion-mnist", "--data ", src,
                  " needs --data-dir DIR (the folder with its files)");
      dir = data::kFashionMnistDir;
    }
    using Loader = data::LabelledImages (*)(const std::string&, data::Split);
    Loader load = src == "mnist"     ? &data::load_mnist
                  : src == "cifar10" ? &data::load_cifar10
                                     : +[](const std::string& d, data::Split s) {
                                         return data::load_fashion_mnist(s, d);
                                       };
    data::LabelledImages train;
    if (need_train) train = load(dir, data::Split::Train);
    from_labelled(out, std::move(train), load(dir, data::Split::Test), need_train);
    out.flip_ok = src != "mnist";
    if (src == "mnist")
      for (int i = 0; i < 10; ++i) out.class_names.push_back(std::to_string(i));
  } else if (fs::is_directory(src)) {
    out.name = fs::path(src).lexically_normal().filename().string();
    if (out.name.empty())
      out.name = fs::path(src).lexically_normal().parent_path().filename().string();
    load_folder(out, spec);
  } else if (lower(fs::path(src).extension().string()) == ".csv") {
    RAVEL_CHECK(fs::is_regular_file(src), "--data: no such file: ", src);
    out.name = fs::path(src).stem().string();
    load_csv(out, spec);
  } else {
    throw UsageError("--data: '" + src +
                     "' is not fashion-mnist, mnist, cifar10, a folder or a .csv file");
  }
  if (need_train) {
    out.train = head(out.train, spec.train_limit);
    if (spec.validation_split > 0) {
      auto [tr, val] = split(out.train, spec.validation_split, spec.seed + 1, "--validation-split");
      out.train = tr;
      out.validation = val;
    }
  } else {
    out.train = nullptr;
  }
  out.test = head(out.test, spec.test_limit);
  return out;
}

data::DatasetPtr model_inputs(data::DatasetPtr raw, bool images, bool augment, bool flip) {
  if (!images) return raw;
  std::vector<T::TransformPtr> tf = {std::make_shared<T::ToFloat>()};
  if (augment) {
    // Fashion-MNIST recipe (examples/fashion_mnist.cpp): pad 2 (per 28 pixels) and crop back.
    Tensor first = raw->get(0).input;
    const int64_t h = first.shape()[1], w = first.shape()[2];
    tf.push_back(std::make_shared<T::RandomCrop>(std::pair{h, w}, std::max<int64_t>(1, h / 14)));
    if (flip) tf.push_back(std::make_shared<T::RandomHorizontalFlip>());
  }
  return std::make_shared<data::TransformDataset>(
      raw, T::on_input(std::make_shared<T::Compose>(std::move(tf))));
}

std::pair<Tensor, Tensor> materialize(const data::Dataset& ds) {
  std::vector<data::Example> all;
  all.reserve(static_cast<size_t>(ds.size()));
  for (int64_t i = 0; i < ds.size(); ++i) all.push_back(ds.get(i));
  data::Batch b = data::default_collate(std::move(all));
  return {b.input, b.target};
}

}  // namespace ravel::cli
