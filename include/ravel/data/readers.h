// Readers for the common dataset files: IDX (MNIST, Fashion-MNIST; plain or gzip), CIFAR-10/100
// binary batches, and numeric CSV.
//
//   auto train = data::load_fashion_mnist(data::Split::Train);  // Debian's dataset-fashion-mnist
//   // train.images: uint8 [60000, 1, 28, 28]; train.labels: int64 [60000]
//   auto test = data::load_cifar10("cifar-10-batches-bin", data::Split::Test);
//   auto table = data::read_csv("iris.csv", {.label_column = "species"});
//
// Malformed input -- a wrong magic number, a truncated file, dimensions that do not match the
// bytes present, a label out of range, a non-numeric CSV cell -- throws ravel::Error naming the
// file and what was wrong (the readers are fuzzed). Sizes are checked against the bytes really
// there before anything is allocated.
#pragma once
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::data {

enum class Split { Train, Test };

struct LabelledImages {
  Tensor images;  // uint8 [N, C, H, W]
  Tensor labels;  // int64 [N]
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // empty when the format has none
};

// One IDX file (http://yann.lecun.com/exdb/mnist/): a tensor of the dtype its type code names
// (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64; big-endian data
// converted) and the shape its header gives. gzip files (magic 1f 8b) are decompressed.
Tensor read_idx(const std::string& path);
Tensor idx_from_bytes(const void* data, size_t size, const std::string& what = "IDX data");

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// MNIST-layout directory: {train,t10k}-{images-idx3,labels-idx1}-ubyte, each plain or .gz.
// Checks that images and labels agree in count and labels lie in [0, 10).
LabelledImages load_mnist(const std::string& dir, Split split);
// load_mnist plus Fashion-MNIST's class names ("T-shirt/top", "Trouser", ...).
LabelledImages load_fashion_mnist(Split split, const std::string& dir = kFashionMnistDir);

// CIFAR binary version: records of <label byte(s)><3072 bytes: 1024 R, 1024 G, 1024 B>.
// load_cifar10 reads data_batch_{1..5}.bin (Train) or test_batch.bin (Test) from the
// cifar-10-batches-bin directory, with batches.meta.txt's class names when present.
// load_cifar100 reads train.bin / test.bin (coarse label byte, then fine label byte).
// read_cifar_batch's num_classes is the largest label + 1 (the file does not say); the loaders
// check labels against 10, 100 or 20 classes.
LabelledImages read_cifar_batch(const std::string& path, int labels_per_record = 1,
                                int label_index = 0);
LabelledImages cifar_from_bytes(const void* data, size_t size, int labels_per_record = 1,
                                int label_index = 0, const std::string& what = "CIFAR data");
LabelledImages load_cifar10(const std::string& dir, Split split);
LabelledImages load_cifar100(const std::string& dir, Split split, bool fine_labels = true);

struct CsvOptions {
  bool header = true;  // first row holds column names
  char delimiter = ',';
  std::string label_column = "";   // name (with header) or index as text ("0", "-1" = last);
                                   // empty: no labels
  bool labels_are_classes = true;  // labels -> int64 class indices: integers as they are,
                                   // else each distinct text a class, numbered in order of
                                   // first appearance (class_names);
                                   // false: labels as float32 values (regression)
};
struct CsvTable {
  Tensor features;  // float32 [rows, columns other than the label]
  Tensor labels;    // int64 or float32 [rows]; undefined without labels
  std::vector<std::string> feature_names;
  std::vector<std::string> class_names;  // text labels, by class index (when mapped)
};
// Numeric CSV: RFC 4180 quoting (quoted cells may hold the delimiter, line ends and doubled
// quotes), "\n" or "\r\n" line ends, blank lines (empty or only spaces) skipped, spaces around
// cells ignored; numbers as numpy.loadtxt reads them (sign, exponent, inf, nan). Every row must
// have as many cells as the first; a ragged row, an empty or non-numeric feature cell throws
// naming the line (1-based, as an editor shows it), the column and the text.
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});
CsvTable csv_from_string(const std::string& text, const CsvOptions& options = {},
                         const std::string& what = "CSV data");

}  // namespace ravel::data
