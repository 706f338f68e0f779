// Dataset readers: IDX (plain and gzip) against NumPy's reading of the same bytes, the real
// Fashion-MNIST files against gzip + NumPy, CIFAR batches against NumPy reshapes, CSV against
// numpy.loadtxt and Python's csv module; malformed files of every kind; the fuzz corpus and a
// deterministic mutation run (every input loads or throws ravel::Error).
#include "ravel/data/readers.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "support/expect_error.h"
#include "support/mutate.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel::data {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::matches;
using testing::NumpyOracle;

// ---------------------------------------------------------------- helpers
std::string gzip(const std::string& bytes, int level = Z_DEFAULT_COMPRESSION) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, bytes.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

uint8_t idx_code(DType t) {
  switch (t) {
    case DType::UInt8:
      return 0x08;
    case DType::Int8:
      return 0x09;
    case DType::Int16:
      return 0x0B;
    case DType::Int32:
      return 0x0C;
    case DType::Float32:
      return 0x0D;
    default:
      return 0x0E;
  }
}

// An IDX file holding t: magic, big-endian dims, big-endian data.
std::string idx_bytes(const Tensor& t) {
  std::string out = {0, 0, static_cast<char>(idx_code(t.dtype())), static_cast<char>(t.ndim())};
  for (int64_t d : t.shape())
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  Tensor c = t.contiguous();
  const char* p = static_cast<const char*>(c.raw_data());
  for (int64_t i = 0; i < c.numel(); ++i)
    for (size_t b = c.itemsize(); b-- > 0;) out += p[i * c.itemsize() + b];
  return out;
}

Tensor bytes_tensor(const std::string& s) {
  return from_buffer(s.data(), {static_cast<int64_t>(s.size())}, DType::UInt8);
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen() & 0xff);
  return s;
}

// Values with negatives and fractions, cast to dtype.
Tensor sample(const Shape& shape, DType dtype) {
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<double>(i * 37 % 101) - 50) * 1.25;
  return from_vector(v, shape).to(dtype);
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Python string literal for a path.
std::string py(const fs::path& p) { return "'" + p.string() + "'"; }

class Readers : public testing::TempDirTest {};

// ---------------------------------------------------------------- IDX
TEST_F(Readers, IdxEveryTypeMatchesNumpy) {
  struct Case {
    DType dtype;
    Shape shape;
    const char* np_type;  // big-endian NumPy type
  };
  std::vector<Case> cases = {{DType::UInt8, {2, 3}, "u1"},     {DType::Int8, {5}, "i1"},
                             {DType::Int16, {2, 2, 3}, ">i2"}, {DType::Int32, {3, 2}, ">i4"},
                             {DType::Float32, {4, 1}, ">f4"},  {DType::Float64, {2, 3}, ">f8"},
                             {DType::UInt8, {2, 0, 3}, "u1"}};
  NumpyOracle np;
  std::vector<int> handles;
  std::vector<std::string> files;
  for (const Case& c : cases) {
    std::string bytes = idx_bytes(sample(c.shape, c.dtype));
    files.push_back(bytes);
    std::string shape = "(";
    for (int64_t d : c.shape) shape += std::to_string(d) + ",";
    handles.push_back(np.add("np.frombuffer(a.tobytes(), np.dtype('" + std::string(c.np_type) +
                                 "'), offset=" + std::to_string(4 + 4 * c.shape.size()) +
                                 ").astype(np.dtype('" + c.np_type + "').newbyteorder('='))" +
                                 ".reshape(" + shape + "))",
                             {bytes_tensor(bytes)}));
  }
  // gzip written by Python's gzip module.
  int h_py_gz = np.add("np.frombuffer(__import__('gzip').compress(a.tobytes()), np.uint8)",
                       {bytes_tensor(files[2])});
  np.run();
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(dtype_name(cases[i].dtype));
    ASSERT_EQ(np.error(handles[i]), "");
    const Tensor& want = np.result(handles[i]);
    EXPECT_TRUE(matches(idx_from_bytes(files[i].data(), files[i].size()), want));
    std::string gz = gzip(files[i]);
    EXPECT_TRUE(matches(idx_from_bytes(gz.data(), gz.size()), want));
    write_file(path("x.idx"), files[i]);
    write_file(path("x.idx.gz"), gz);
    EXPECT_TRUE(matches(read_idx(path("x.idx")), want));
    EXPECT_TRUE(matches(read_idx(path("x.idx.gz")), want));
  }
  const Tensor& py_gz = np.result(h_py_gz);
  EXPECT_TRUE(matches(idx_from_bytes(py_gz.raw_data(), py_gz.nbytes()), np.result(handles[2])));
}

TEST_F(Readers, IdxGzipStreams) {
  Tensor t = sample({4, 5}, DType::Int16);
  std::string bytes = idx_bytes(t), gz = gzip(bytes);
  // Concatenated members (`cat a.gz b.gz`) are one stream.
  std::string two = gzip(bytes.substr(0, 7)) + gzip(bytes.substr(7));
  EXPECT_TRUE(matches(idx_from_bytes(two.data(), two.size()), t));
  expect_error([&] { idx_from_bytes((gz + "junk").data(), gz.size() + 4, "x.gz"); },
               {"x.gz", "4 bytes of trailing garbage"});
  for (size_t cut : {size_t{5}, size_t{20}, gz.size() / 2, gz.size() - 8, gz.size() - 1}) {
    SCOPED_TRACE(cut);
    expect_error([&] { idx_from_bytes(gz.data(), cut, "x.gz"); }, {"x.gz", "truncated"});
  }
  std::string bad_crc = gz;
  bad_crc[gz.size() - 6] ^= 0x40;  // in the CRC-32 trailer
  expect_error([&] { idx_from_bytes(bad_crc.data(), bad_crc.size()); },
               {"corrupt gzip data", "incorrect data check"});
  std::string bad_len = gz;
  bad_len[gz.size() - 2] ^= 0x01;  // in ISIZE, the length trailer
  expect_error([&] { idx_from_bytes(bad_len.data(), bad_len.size()); },
               {"corrupt gzip data", "incorrect length check"});
  // A gzip bomb: a header for 16 bytes, then 8 MiB of zeros. Inflating stops at byte 17.
  std::string bomb = std::string{0, 0, 8, 1, 0, 0, 0, 16} + std::string(size_t{8} << 20, '\0');
  std::string bomb_gz = gzip(bomb, 9);
  expect_error([&] { idx_from_bytes(bomb_gz.data(), bomb_gz.size()); },
               {"more data than IDX dims [16]", "(16 bytes)"});
  // Dims claiming far more than the compressed bytes can inflate to: refused before allocating.
  std::string huge = gzip(std::string{0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0});
  expect_error(
      [&] { idx_from_bytes(huge.data(), huge.size()); },
      {"[65536, 65536]", "need 4294967296 bytes, more than the gzip stream can inflate to"});
}

TEST_F(Readers, IdxMalformed) {
  auto bad = [](const std::string& bytes, const std::vector<std::string>& fragments) {
    expect_error([&] { idx_from_bytes(bytes.data(), bytes.size(), "bad.idx"); }, fragments);
  };
  std::string good = idx_bytes(sample({2, 3}, DType::Int32));
  bad("", {"bad.idx", "0 bytes is too short for an IDX header"});
  bad(std::string{0, 1, 8, 1}, {"not an IDX file", "0 1"});
  bad(std::string{0, 0, 0x0A, 1, 0, 0, 0, 1, 5}, {"unknown IDX type code 0xa", "0x08 (uint8)"});
  bad(good.substr(0, 9), {"IDX header is truncated: 2 dims need 8 bytes", "only 5"});
  bad(good.substr(0, good.size() - 1),
      {"IDX data is truncated: dims [2, 3] of int32 need 24 bytes, only 23 are there"});
  bad(good + "x", {"more data than IDX dims [2, 3] of int32"});
  bad(std::string{0, 0, 0x0E, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1},
      {"overflow", "[4294967295, 4294967295, 4294967295]"});
  // Empty (a zero dim), but the strides of the other dims would overflow int64.
  bad(std::string{0, 0, 8, 4, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 3},
      {"IDX dims [0, 4294967295, 4294967295, 3] overflow"});
  bad(std::string{0, 0, 8, 2, 0, 1, 0, 0, 0, 1, 0, 0, 1, 2},
      {"[65536, 65536] of uint8 need 4294967296 bytes, only 2 are there"});
  std::string missing = path("nope.idx");
  expect_error([&] { read_idx(missing); }, {"read_idx", missing, "No such file or directory"});
  expect_error([&] { read_idx(dir_.string()); }, {"not a regular file"});
}

// ---------------------------------------------------------------- MNIST layout
bool have_fashion_mnist() { return fs::is_directory(kFashionMnistDir); }

std::string gz_path(const char* name) { return py(fs::path(kFashionMnistDir) / name); }

TEST(ReadersFashionMnist, TestSplitMatchesNumpy) {
  if (!have_fashion_mnist())
    GTEST_SKIP() << kFashionMnistDir << " is missing (apt-get install dataset-fashion-mnist)";
  LabelledImages test = load_fashion_mnist(Split::Test);
  ASSERT_EQ(test.images.dtype(), DType::UInt8);
  ASSERT_EQ(test.images.shape(), (Shape{10000, 1, 28, 28}));
  ASSERT_EQ(test.labels.dtype(), DType::Int64);
  EXPECT_EQ(test.num_classes, 10);
  ASSERT_EQ(test.class_names.size(), 10u);
  EXPECT_EQ(test.class_names[0], "T-shirt/top");
  EXPECT_EQ(test.class_names[9], "Ankle boot");
  NumpyOracle np;
  const std::string read = "np.frombuffer(__import__('gzip').open(";
  int sums = np.add(read + gz_path("t10k-images-idx3-ubyte.gz") +
                        ").read(), np.uint8, offset=16).reshape(-1, 784).sum(1, dtype=np.int64)",
                    {});
  int labels = np.add(read + gz_path("t10k-labels-idx1-ubyte.gz") +
                          ").read(), np.uint8, offset=8).astype(np.int64)",
                      {});
  np.run();
  EXPECT_TRUE(matches(test.images.to(DType::Int64).reshape({10000, 784}).sum(1), np.result(sums)));
  EXPECT_TRUE(matches(test.labels, np.result(labels)));
}

TEST(ReadersFashionMnist, TrainSplitShapes) {
  if (!have_fashion_mnist())
    GTEST_SKIP() << kFashionMnistDir << " is missing (apt-get install dataset-fashion-mnist)";
  LabelledImages train = load_fashion_mnist(Split::Train);
  EXPECT_EQ(train.images.shape(), (Shape{60000, 1, 28, 28}));
  NumpyOracle np;
  int labels =
      np.add("np.frombuffer(__import__('gzip').open(" + gz_path("train-labels-idx1-ubyte.gz") +
                 ").read(), np.uint8, offset=8).astype(np.int64)",
             {});
  np.run();
  EXPECT_TRUE(matches(train.labels, np.result(labels)));
}

TEST_F(Readers, MnistDirectoryAndErrors) {
  Tensor images = sample({3, 4, 5}, DType::UInt8);
  Tensor labels = from_vector<uint8_t>({7, 0, 9});
  write_file(path("train-images-idx3-ubyte"), idx_bytes(images));  // plain
  write_file(path("train-labels-idx1-ubyte.gz"), gzip(idx_bytes(labels)));
  LabelledImages train = load_mnist(dir_.string(), Split::Train);
  EXPECT_TRUE(matches(train.images, images.reshape({3, 1, 4, 5})));
  EXPECT_TRUE(matches(train.labels, labels.to(DType::Int64)));
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_TRUE(train.class_names.empty());

  expect_error([&] { load_mnist(dir_.string(), Split::Test); },
               {"load_mnist", (dir_ / "t10k-images-idx3-ubyte").string(),
                "t10k-images-idx3-ubyte.gz' exists"});
  expect_error([&] { load_fashion_mnist(Split::Test, path("missing")); },
               {"missing/t10k-images-idx3-ubyte"});
  write_file(path("t10k-images-idx3-ubyte"), idx_bytes(images));
  write_file(path("t10k-labels-idx1-ubyte"), idx_bytes(from_vector<uint8_t>({1, 10, 2})));
  expect_error([&] { load_mnist(dir_.string(), Split::Test); },
               {"label 1 is 10, expected [0, 10)"});
  write_file(path("t10k-labels-idx1-ubyte"), idx_bytes(from_vector<uint8_t>({1, 2})));
  expect_error([&] { load_mnist(dir_.string(), Split::Test); }, {"has 2 labels", "has 3 images"});
  write_file(path("t10k-images-idx3-ubyte"), idx_bytes(sample({2, 3}, DType::Int32)));
  expect_error([&] { load_mnist(dir_.string(), Split::Test); },
               {"holds int32 [2, 3], expected uint8 [N, H, W]"});
}

// ---------------------------------------------------------------- CIFAR
// n random records with labels_per_record label bytes each below `classes`.
std::string cifar_records(int n, int labels_per_record, int classes, uint32_t seed) {
  std::string s = random_bytes(static_cast<size_t>(n) * (labels_per_record + 3072), seed);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < labels_per_record; ++k) {
      auto& b = s[static_cast<size_t>(i) * (labels_per_record + 3072) + k];
      b = static_cast<char>(static_cast<uint8_t>(b) % (k == 0 ? classes : 100));
    }
  return s;
}

// NumPy's view of CIFAR records: images [N, 3, 32, 32] and label byte k.
std::pair<int, int> numpy_cifar(NumpyOracle& np, const std::string& bytes, int per_record, int k) {
  std::string rec = "a.reshape(-1, " + std::to_string(per_record + 3072) + ")";
  return {np.add(rec + "[:, " + std::to_string(per_record) + ":].reshape(-1, 3, 32, 32)",
                 {bytes_tensor(bytes)}),
          np.add(rec + "[:, " + std::to_string(k) + "].astype(np.int64)", {bytes_tensor(bytes)})};
}

TEST_F(Readers, Cifar10LayoutMatchesNumpy) {
  std::string all_train;
  const int counts[] = {1, 2, 1, 1, 3};
  for (int i = 0; i < 5; ++i) {
    std::string b = cifar_records(counts[i], 1, 10, 10 + i);
    write_file(path("data_batch_" + std::to_string(i + 1) + ".bin"), b);
    all_train += b;
  }
  std::string test_bytes = cifar_records(2, 1, 10, 99);
  write_file(path("test_batch.bin"), test_bytes);
  write_file(path("batches.meta.txt"),
             "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n\n");
  NumpyOracle np;
  auto [train_images, train_labels] = numpy_cifar(np, all_train, 1, 0);
  auto [test_images, test_labels] = numpy_cifar(np, test_bytes, 1, 0);
  np.run();
  LabelledImages train = load_cifar10(dir_.string(), Split::Train);
  EXPECT_EQ(train.images.shape(), (Shape{8, 3, 32, 32}));
  EXPECT_TRUE(matches(train.images, np.result(train_images)));
  EXPECT_TRUE(matches(train.labels, np.result(train_labels)));
  EXPECT_EQ(train.num_classes, 10);
  ASSERT_EQ(train.class_names.size(), 10u);
  EXPECT_EQ(train.class_names[9], "truck");
  LabelledImages test = load_cifar10(dir_.string(), Split::Test);
  EXPECT_TRUE(matches(test.images, np.result(test_images)));
  EXPECT_TRUE(matches(test.labels, np.result(test_labels)));
  LabelledImages batch = read_cifar_batch(path("test_batch.bin"));
  EXPECT_TRUE(matches(batch.images, test.images));
  EXPECT_EQ(batch.num_classes, test.labels.max().item<int64_t>() + 1);
}

TEST_F(Readers, Cifar100CoarseAndFine) {
  std::string bytes = cifar_records(3, 2, 20, 7);
  write_file(path("train.bin"), bytes);
  write_file(path("coarse_label_names.txt"),
             "c0\nc1\nc2\nc3\nc4\nc5\nc6\nc7\nc8\nc9\n"
             "c10\nc11\nc12\nc13\nc14\nc15\nc16\nc17\nc18\nc19\n");
  NumpyOracle np;
  auto [images, coarse] = numpy_cifar(np, bytes, 2, 0);
  auto [images2, fine] = numpy_cifar(np, bytes, 2, 1);
  np.run();
  LabelledImages f = load_cifar100(dir_.string(), Split::Train);
  EXPECT_TRUE(matches(f.images, np.result(images)));
  EXPECT_TRUE(matches(f.labels, np.result(fine)));
  EXPECT_EQ(f.num_classes, 100);
  EXPECT_TRUE(f.class_names.empty());  // no fine_label_names.txt
  LabelledImages c = load_cifar100(dir_.string(), Split::Train, false);
  EXPECT_TRUE(matches(c.images, np.result(images2)));
  EXPECT_TRUE(matches(c.labels, np.result(coarse)));
  EXPECT_EQ(c.num_classes, 20);
  ASSERT_EQ(c.class_names.size(), 20u);
  EXPECT_EQ(c.class_names[19], "c19");
}

TEST_F(Readers, CifarErrors) {
  std::string first = (dir_ / "data_batch_1.bin").string();
  expect_error([&] { load_cifar10(dir_.string(), Split::Train); },
               {"load_cifar10", first, "No such file or directory"});
  expect_error([&] { load_cifar10(path("none"), Split::Test); },
               {"none/test_batch.bin", "No such file"});
  expect_error([&] { load_cifar100(dir_.string(), Split::Test); }, {"load_cifar100", "test.bin"});
  write_file(path("test_batch.bin"), cifar_records(2, 1, 10, 1) + "x");
  expect_error([&] { load_cifar10(dir_.string(), Split::Test); },
               {"test_batch.bin", "6147 bytes is not a whole number of 3073-byte CIFAR records"});
  std::string labels_11 = cifar_records(2, 1, 10, 1);
  labels_11[3073] = 11;
  write_file(path("test_batch.bin"), labels_11);
  expect_error([&] { load_cifar10(dir_.string(), Split::Test); },
               {"test_batch.bin", "record 1 has label 11, expected [0, 10)"});
  write_file(path("test_batch.bin"), cifar_records(1, 1, 10, 1));
  write_file(path("batches.meta.txt"), "a\nb\n");
  expect_error([&] { load_cifar10(dir_.string(), Split::Test); },
               {"batches.meta.txt' names 2 classes, expected 10"});
  write_file(path("empty.bin"), "");
  expect_error([&] { read_cifar_batch(path("empty.bin")); }, {"empty.bin", "empty"});
  expect_error([&] { read_cifar_batch(path("test_batch.bin"), 2, 2); },
               {"label_index 2 is out of range for 2 label byte(s)"});
}

// ---------------------------------------------------------------- CSV
TEST_F(Readers, CsvNumericMatchesNumpy) {
  // CRLF, blank lines, spaces around cells, signs, exponents, inf and nan.
  const std::string text =
      "a,b,c,label\r\n"
      "1.5, -2 ,3e2,0\r\n"
      "\r\n"
      "+4,0.001,-1.25E-3,2\r\n"
      "  \r\n"
      "inf,-inf,nan,1\r\n"
      "1e39,7,-0,1\r\n";
  write_file(path("n.csv"), text);
  // numpy.loadtxt reads a line of spaces as a row of one cell; ravel skips it as blank.
  std::string for_numpy = text;
  for_numpy.erase(for_numpy.find("  \r\n"), 4);
  write_file(path("n_np.csv"), for_numpy);
  // No header, ';' delimiter, label first; no line end at the end.
  const std::string text2 = "3;1;2\n\n1;-4.5;6\n0;7;8.25";
  write_file(path("m.csv"), text2);
  NumpyOracle np;
  std::string load = "np.loadtxt(" + py(path("n_np.csv")) + ", delimiter=',', skiprows=1)";
  int features = np.add(load + "[:, :-1].astype(np.float32)", {});
  int labels = np.add(load + "[:, -1].astype(np.int64)", {});
  std::string load2 = "np.genfromtxt(" + py(path("m.csv")) + ", delimiter=';')";
  int features2 = np.add(load2 + "[:, 1:].astype(np.float32)", {});
  int labels2 = np.add(load2 + "[:, 0].astype(np.int64)", {});
  np.run();
  for (const char* label : {"label", "-1", "3"}) {
    CsvTable t = read_csv(path("n.csv"), {.label_column = label});
    EXPECT_TRUE(matches(t.features, np.result(features)));
    EXPECT_TRUE(matches(t.labels, np.result(labels)));
    EXPECT_EQ(t.feature_names, (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(t.class_names.empty());  // numeric labels are the class indices
  }
  CsvTable t2 = read_csv(path("m.csv"), {.header = false, .delimiter = ';', .label_column = "0"});
  EXPECT_TRUE(matches(t2.features, np.result(features2)));
  EXPECT_TRUE(matches(t2.labels, np.result(labels2)));
  EXPECT_EQ(t2.feature_names, (std::vector<std::string>{"1", "2"}));
  CsvTable t3 = csv_from_string(text2, {.header = false, .delimiter = ';', .label_column = "-3"});
  EXPECT_TRUE(matches(t3.labels, np.result(labels2)));
}

TEST_F(Readers, CsvQuotingAndTextLabels) {
  const std::string text =
      "\"x, first\",\"y \"\"q\"\"\",species\n"
      "1,2,\"virginica, \"\"big\"\"\"\n"
      "3,\"4\",setosa\n"
      "5,6,\"virginica, \"\"big\"\"\"\n"
      "7,8,\"multi\nline\"\n"
      "9,10,setosa\n";
  write_file(path("q.csv"), text);
  NumpyOracle np;
  // Python's csv module reads the cells; classes numbered in order of first appearance.
  std::string rows = "list(__import__('csv').reader(open(" + py(path("q.csv")) + ", newline='')))";
  int features = np.add(
      "(lambda r: np.array([[float(x) for x in row[:2]] for row in r[1:]], "
      "np.float32))(" +
          rows + ")",
      {});
  int labels = np.add(
      "(lambda r: np.array([list(dict.fromkeys(row[2] for row in r[1:]))"
      ".index(row[2]) for row in r[1:]], np.int64))(" +
          rows + ")",
      {});
  np.run();
  CsvTable t = read_csv(path("q.csv"), {.label_column = "species"});
  EXPECT_TRUE(matches(t.features, np.result(features)));
  EXPECT_TRUE(matches(t.labels, np.result(labels)));
  EXPECT_EQ(t.feature_names, (std::vector<std::string>{"x, first", "y \"q\""}));
  EXPECT_EQ(t.class_names,
            (std::vector<std::string>{"virginica, \"big\"", "setosa", "multi\nline"}));
  // No label column: every column is a feature, and labels stay undefined.
  CsvTable all = csv_from_string("a,b\n1,2\n", {});
  EXPECT_EQ(all.features.shape(), (Shape{1, 2}));
  EXPECT_FALSE(all.labels.defined());
  // Regression targets are float32 values.
  CsvTable reg =
      csv_from_string("x,y\n1,0.5\n2,-1.5\n", {.label_column = "y", .labels_are_classes = false});
  EXPECT_TRUE(matches(reg.labels, from_vector<float>({0.5f, -1.5f})));
  // A header only: no rows.
  CsvTable none = csv_from_string("a,b,c\n", {.label_column = "b"});
  EXPECT_EQ(none.features.shape(), (Shape{0, 2}));
  EXPECT_EQ(none.labels.shape(), (Shape{0}));
}

TEST_F(Readers, CsvErrors) {
  auto bad = [](const std::string& text, const CsvOptions& o,
                const std::vector<std::string>& fragments) {
    expect_error([&] { csv_from_string(text, o, "t.csv"); }, fragments);
  };
  bad("a,b,c\n1,2,3\n\n4,5\n", {}, {"t.csv", "line 4 has 2 cells, expected 3"});
  bad("1,2\n1,2,3\n", {.header = false}, {"line 2 has 3 cells, expected 2"});
  bad("a,b\n1,2\n3,abc\n", {}, {"line 3, column 'b': 'abc' is not a number"});
  bad("a,b\n1,\n", {}, {"line 2, column 'b': empty cell"});
  bad("", {}, {"t.csv", "empty"});
  bad("\n \r\n\n", {.header = false}, {"empty: no rows"});
  bad("a,b\n1,2\n", {.label_column = "c"}, {"label column 'c' is not in the header ('a', 'b')"});
  bad("1,2\n", {.header = false, .label_column = "c"}, {"'c' is not a column index"});
  bad("a,b\n1,2\n", {.label_column = "-3"}, {"label column index -3 is out of range for 2"});
  bad("a,b\n1,\"2\n", {}, {"line 2: a quoted cell is never closed"});
  bad("a,b\n1,\"2\"x\n", {}, {"line 2: 'x' after a closing quote"});
  bad("a,b\n1,-1\n", {.label_column = "b"}, {"line 2, label column 'b': class -1 is negative"});
  bad("a,b\n1,x\n2,\n", {.label_column = "b"}, {"line 3, label column 'b': empty label"});
  bad("a,b\n1,x\n", {.label_column = "b", .labels_are_classes = false},
      {"line 2, column 'b': 'x' is not a number"});
  bad("a\"b\n", {.delimiter = '"'}, {"delimiter cannot be a quote"});
  std::string missing = path("no.csv");
  expect_error([&] { read_csv(missing); }, {"read_csv", missing, "No such file or directory"});
}

// ---------------------------------------------------------------- fuzz corpus and mutations
// Each reader on one input: loads (and its result prints) or throws ravel::Error. Returns how
// many readers loaded it.
int load_any(const std::string& kind, const std::string& bytes) {
  int loaded = 0;
  auto attempt = [&](auto&& fn) {
    try {
      fn();
      ++loaded;
    } catch (const Error&) {
    }
  };
  if (kind == "idx") {
    attempt([&] { (void)idx_from_bytes(bytes.data(), bytes.size()).to_string(); });
  } else if (kind == "cifar") {
    const std::pair<int, int> specs[] = {{1, 0}, {2, 0}, {2, 1}};  // CIFAR-10, -100 coarse/fine
    for (auto [per, k] : specs)
      attempt(
          [&] { (void)cifar_from_bytes(bytes.data(), bytes.size(), per, k).labels.to_string(); });
  } else {
    for (bool header : {true, false})
      for (const char* label : {"", "-1", "0"})
        attempt([&] {
          CsvTable t = csv_from_string(bytes, {.header = header, .label_column = label});
          (void)t.features.to_string();
        });
  }
  return loaded;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// tests/fuzz/corpus/{idx,cifar,csv}: seeds must load, bad-* (one per class of error) must throw
// ravel::Error, past crashers (crash-*) may do either (see tests/fuzz/README.md).
TEST(ReadersFuzz, CorpusLoadsOrThrows) {
  for (const std::string kind : {"idx", "cifar", "csv"}) {
    fs::path dir = fs::path(RAVEL_TEST_DIR) / "fuzz" / "corpus" / kind;
    ASSERT_TRUE(fs::is_directory(dir)) << dir;
    int seeds = 0, bad = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      SCOPED_TRACE(entry.path().string());
      int loaded = load_any(kind, read_bytes(entry.path()));
      if (name.rfind("bad-", 0) == 0) {
        EXPECT_EQ(loaded, 0);
        ++bad;
      } else if (name.rfind("crash-", 0) != 0) {
        EXPECT_GT(loaded, 0);
        ++seeds;
      }
    }
    EXPECT_GE(seeds, 3) << kind;
    EXPECT_GE(bad, 2) << kind;
  }
}

// Deterministic mutations of a valid input of each kind: truncations, byte flips, random dims,
// inserted and deleted runs. Each must load or throw ravel::Error (an escaped exception of
// another type, or a crash under the sanitizers, fails).
TEST(ReadersFuzz, MutationsLoadOrThrow) {
  std::string idx = idx_bytes(sample({3, 4}, DType::Int16));
  std::vector<std::pair<std::string, std::string>> seeds = {
      {"idx", idx},
      {"idx", gzip(idx)},
      {"idx", idx_bytes(sample({2, 3, 2}, DType::Float64))},
      {"cifar", cifar_records(2, 2, 20, 3)},
      {"csv", "a,\"b,c\",label\r\n1,2,x\n\n3,\"4\"\"\",y\n5,6e3,x\n"},
  };
  std::mt19937 gen(1234);
  int loaded = 0, total = 0;
  for (const auto& [kind, seed] : seeds) {
    for (int m = 0; m < 400; ++m, ++total) {
      // A random dim (or other 4-byte field) near the front.
      const std::string s = ravel::testing::mutate(
          seed, m, gen, {.field_start = 4, .field_span = 12, .field_writes = 4});
      SCOPED_TRACE(kind + " mutation " + std::to_string(m));
      try {
        loaded += load_any(kind, s) > 0;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw a non-ravel exception: " << e.what();
      }
    }
  }
  EXPECT_EQ(total, 2000);
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace ravel::data
