// IDX (plain or gzip) and CIFAR binary readers. Every byte is untrusted: header sizes are checked
// for overflow and against the bytes really there (for gzip, against what the compressed bytes
// can inflate to) before anything is allocated, and a gzip stream is inflated straight into the
// tensor, never past the size its header implies, so a gzip bomb costs nothing
// (tests/fuzz/fuzz_idx.cpp and fuzz_cifar.cpp check this).
#include "ravel/data/readers.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "io/files.h"

namespace ravel::data {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- byte sources for IDX
// Plain bytes in memory.
class PlainSource {
 public:
  static constexpr bool kExact = true;  // max_remaining() is what is there
  PlainSource(const unsigned char* data, size_t size) : data_(data), size_(size) {}
  size_t read_some(void* dst, size_t n) {
    n = std::min(n, size_ - pos_);
    if (n) std::memcpy(dst, data_ + pos_, n);
    pos_ += n;
    return n;
  }
  uint64_t max_remaining() const { return size_ - pos_; }

 private:
  const unsigned char* data_;
  size_t size_, pos_ = 0;
};

// A gzip stream (RFC 1952, concatenated members allowed) inflated on demand.
class GzipSource {
 public:
  static constexpr bool kExact = false;  // max_remaining() is a bound
  GzipSource(const unsigned char* data, size_t size, const std::string& what)
      : data_(data), size_(size), what_(what) {
    std::memset(&zs_, 0, sizeof(zs_));
    RAVEL_CHECK(inflateInit2(&zs_, 16 + MAX_WBITS) == Z_OK, what_, ": zlib inflateInit failed");
  }
  ~GzipSource() { inflateEnd(&zs_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  // Inflates up to n bytes into dst; fewer only when the stream has ended cleanly. A corrupt or
  // truncated stream, or bytes after it that are not another gzip member, throw.
  size_t read_some(void* dst, size_t n) {
    size_t produced = 0;
    auto* out = static_cast<unsigned char*>(dst);
    while (produced < n) {
      if (zs_.avail_in == 0 && pos_ < size_) {  // feed in pieces: avail_in is 32-bit
        size_t chunk = std::min<size_t>(size_ - pos_, size_t{1} << 30);
        zs_.next_in = const_cast<unsigned char*>(data_ + pos_);
        zs_.avail_in = static_cast<uInt>(chunk);
        pos_ += chunk;
      }
      if (ended_) {
        const size_t at = zs_.avail_in ? static_cast<size_t>(zs_.next_in - data_) : pos_;
        if (at == size_) break;
        RAVEL_CHECK(size_ - at >= 2 && data_[at] == 0x1f && data_[at + 1] == 0x8b, what_, ": ",
                    size_ - at, " bytes of trailing garbage after the gzip stream");
        inflateReset(&zs_);  // another member follows (what `cat a.gz b.gz` makes)
        ended_ = false;
      }
      size_t chunk = std::min<size_t>(n - produced, size_t{1} << 30);
      zs_.next_out = out + produced;
      zs_.avail_out = static_cast<uInt>(chunk);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      produced += chunk - zs_.avail_out;
      if (rc == Z_STREAM_END) {
        ended_ = true;
      } else if (rc == Z_BUF_ERROR) {  // no progress possible: all input used, no end marker
        detail::throw_error(what_, ": the gzip stream is truncated (its ", size_,
                            " bytes end before the end of the compressed data)");
      } else if (rc != Z_OK) {
        detail::throw_error(what_, ": corrupt gzip data (zlib: ",
                            zs_.msg ? zs_.msg : "error " + std::to_string(rc), ")");
      }
    }
    return produced;
  }
  // Deflate expands at most 1032:1 (zlib's FAQ); inflate may hold back one match (<= 258 bytes)
  // of input already consumed. So this bounds what the stream can still give.
  uint64_t max_remaining() const {
    return (static_cast<uint64_t>(zs_.avail_in) + (size_ - pos_)) * 1032 + 1024;
  }

 private:
  const unsigned char* data_;
  size_t size_, pos_ = 0;
  std::string what_;
  z_stream zs_;
  bool ended_ = false;
};

// ---------------------------------------------------------------- IDX
DType idx_dtype(unsigned code, const std::string& what) {
  switch (code) {
    case 0x08:
      return DType::UInt8;
    case 0x09:
      return DType::Int8;
    case 0x0B:
      return DType::Int16;
    case 0x0C:
      return DType::Int32;
    case 0x0D:
      return DType::Float32;
    case 0x0E:
      return DType::Float64;
    default:
      detail::throw_error(what, ": unknown IDX type code 0x", std::hex, code,
                          "; expected 0x08 (uint8), 0x09 (int8), 0x0b (int16), 0x0c (int32), "
                          "0x0d (float32) or 0x0e (float64)");
  }
}

// IDX data is big-endian.
void big_endian_to_native(void* data, size_t count, size_t itemsize) {
  if constexpr (std::endian::native == std::endian::big) return;
  auto* p = static_cast<unsigned char*>(data);
  for (size_t i = 0; i < count; ++i, p += itemsize) std::reverse(p, p + itemsize);
}

template <typename Source>
Tensor parse_idx(Source& src, const std::string& what) {
  unsigned char magic[4];
  size_t got = src.read_some(magic, 4);
  RAVEL_CHECK(got == 4, what, ": ", got, " bytes is too short for an IDX header (4 bytes)");
  RAVEL_CHECK(magic[0] == 0 && magic[1] == 0, what, ": not an IDX file: its magic number starts ",
              int{magic[0]}, " ", int{magic[1]}, ", expected two zero bytes");
  DType dtype = idx_dtype(magic[2], what);
  const size_t ndim = magic[3];
  unsigned char dims[255 * 4];
  got = src.read_some(dims, 4 * ndim);
  RAVEL_CHECK(got == 4 * ndim, what, ": the IDX header is truncated: ", ndim, " dims need ",
              4 * ndim, " bytes after the magic number, only ", got, " are there");
  Shape shape(ndim, 0);
  // span: the product of the dims with 0 counted as 1, which the strides reach; it must fit
  // in int64 too, even when a zero dim makes the tensor empty.
  uint64_t numel = 1, span = ravel::itemsize(dtype);
  bool overflow = false;
  for (size_t d = 0; d < ndim; ++d) {
    const unsigned char* b = dims + 4 * d;
    uint32_t v = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    shape[d] = v;
    numel *= v;  // cannot overflow while span does not
    overflow = overflow || __builtin_mul_overflow(span, uint64_t{std::max(v, 1u)}, &span);
  }
  overflow = overflow || span > static_cast<uint64_t>(INT64_MAX);
  RAVEL_CHECK(!overflow, what, ": IDX dims ", shape, " overflow: more than 2^63 bytes of ",
              dtype_name(dtype));
  const uint64_t itemsize = ravel::itemsize(dtype), nbytes = numel * itemsize;
  if (nbytes > src.max_remaining()) {
    if (Source::kExact)
      detail::throw_error(what, ": IDX data is truncated: dims ", shape, " of ", dtype_name(dtype),
                          " need ", nbytes, " bytes, only ", src.max_remaining(), " are there");
    detail::throw_error(what, ": IDX dims ", shape, " of ", dtype_name(dtype), " need ", nbytes,
                        " bytes, more than the gzip stream can inflate to (at most ",
                        src.max_remaining(), ")");
  }
  Tensor t = empty(shape, dtype);
  got = src.read_some(t.raw_data(), nbytes);
  RAVEL_CHECK(got == nbytes, what, ": IDX data is truncated: dims ", shape, " of ",
              dtype_name(dtype), " need ", nbytes, " bytes, only ", got, " are there");
  unsigned char extra;
  RAVEL_CHECK(src.read_some(&extra, 1) == 0, what, ": more data than IDX dims ", shape, " of ",
              dtype_name(dtype), " account for (", nbytes, " bytes)");
  if (itemsize > 1) big_endian_to_native(t.raw_data(), numel, itemsize);
  return t;
}

// ---------------------------------------------------------------- MNIST layout
// dir/name, else dir/name.gz.
std::string find_plain_or_gz(const std::string& dir, const std::string& name, const char* op) {
  std::error_code ec;
  fs::path plain = fs::path(dir) / name, gz = fs::path(dir) / (name + ".gz");
  if (fs::exists(plain, ec)) return plain.string();
  if (fs::exists(gz, ec)) return gz.string();
  detail::throw_error(op, ": neither '", plain.string(), "' nor '", gz.string(), "' exists");
}

// ---------------------------------------------------------------- CIFAR
constexpr int64_t kCifarSide = 32;
constexpr size_t kCifarPixels = 3 * kCifarSide * kCifarSide;  // R plane, G plane, B plane

void check_cifar_labels(int labels_per_record, int label_index, const std::string& what) {
  RAVEL_CHECK(labels_per_record >= 1 && labels_per_record <= 16, what, ": labels_per_record is ",
              labels_per_record, ", expected 1 (CIFAR-10) or 2 (CIFAR-100)");
  RAVEL_CHECK(label_index >= 0 && label_index < labels_per_record, what, ": label_index ",
              label_index, " is out of range for ", labels_per_record, " label byte(s) a record");
}

int64_t cifar_record_count(size_t size, int labels_per_record, const std::string& what) {
  const size_t record = labels_per_record + kCifarPixels;
  RAVEL_CHECK(size > 0, what, ": empty: no CIFAR records");
  RAVEL_CHECK(size % record == 0, what, ": ", size, " bytes is not a whole number of ", record,
              "-byte CIFAR records (", labels_per_record, " label byte(s) + ", kCifarPixels,
              " pixel bytes)");
  return static_cast<int64_t>(size / record);
}

// Decodes n records into images[first..] and labels[first..]; a label >= num_classes
// (when num_classes > 0) throws naming the record. Returns the largest label seen.
int decode_cifar(const unsigned char* p, int64_t n, int labels_per_record, int label_index,
                 int num_classes, const std::string& what, LabelledImages& out, int64_t first) {
  auto* images = out.images.data_ptr<uint8_t>() + first * kCifarPixels;
  auto* labels = out.labels.data_ptr<int64_t>() + first;
  int max_label = -1;
  for (int64_t i = 0; i < n; ++i) {
    int label = p[label_index];
    RAVEL_CHECK(num_classes == 0 || label < num_classes, what, ": record ", i, " has label ", label,
                ", expected [0, ", num_classes, ")");
    max_label = std::max(max_label, label);
    labels[i] = label;
    std::memcpy(images + i * kCifarPixels, p + labels_per_record, kCifarPixels);
    p += labels_per_record + kCifarPixels;
  }
  return max_label;
}

LabelledImages empty_cifar(int64_t n) {
  return {empty({n, 3, kCifarSide, kCifarSide}, DType::UInt8), empty({n}, DType::Int64), 0, {}};
}

// The batch files one after another in one tensor: sizes first, so it is allocated once.
LabelledImages read_cifar_files(const std::string& dir, const std::vector<std::string>& names,
                                int labels_per_record, int label_index, int num_classes,
                                const char* op) {
  std::vector<std::string> paths;
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const std::string& name : names) {
    std::string path = (fs::path(dir) / name).string();
    struct stat st;
    RAVEL_CHECK(stat(path.c_str(), &st) == 0, op, ": cannot open '", path,
                "': ", std::strerror(errno));
    RAVEL_CHECK(S_ISREG(st.st_mode), op, ": '", path, "' is not a regular file");
    counts.push_back(cifar_record_count(static_cast<size_t>(st.st_size), labels_per_record,
                                        std::string(op) + ": '" + path + "'"));
    total += counts.back();
    paths.push_back(std::move(path));
  }
  LabelledImages out = empty_cifar(total);
  int64_t first = 0;
  for (size_t f = 0; f < paths.size(); ++f) {
    std::string what = std::string(op) + ": '" + paths[f] + "'";
    std::string bytes = io::read_file(paths[f], op);
    RAVEL_CHECK(cifar_record_count(bytes.size(), labels_per_record, what) == counts[f], what,
                ": the file changed size while being read");
    decode_cifar(reinterpret_cast<const unsigned char*>(bytes.data()), counts[f], labels_per_record,
                 label_index, num_classes, what, out, first);
    first += counts[f];
  }
  out.num_classes = num_classes;
  return out;
}

// One class name a line (CIFAR's batches.meta.txt and friends); nothing when the file is absent.
std::vector<std::string> read_class_names(const std::string& dir, const std::string& name,
                                          int expected, const char* op) {
  std::string path = (fs::path(dir) / name).string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return {};
  std::string text = io::read_file(path, op);
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = std::min(text.find('\n', start), text.size());
    std::string line = text.substr(start, end - start);
    size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
    if (b != std::string::npos) names.push_back(line.substr(b, e - b + 1));
    start = end + 1;
  }
  RAVEL_CHECK(static_cast<int>(names.size()) == expected, op, ": '", path, "' names ", names.size(),
              " classes, expected ", expected);
  return names;
}

}  // namespace

// ---------------------------------------------------------------- public API
Tensor idx_from_bytes(const void* data, size_t size, const std::string& what) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  if (size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b) {
    GzipSource src(bytes, size, what);
    return parse_idx(src, what);
  }
  PlainSource src(bytes, size);
  return parse_idx(src, what);
}

Tensor read_idx(const std::string& path) {
  std::string bytes = io::read_file(path, "read_idx");
  return idx_from_bytes(bytes.data(), bytes.size(), "read_idx: '" + path + "'");
}

LabelledImages load_mnist(const std::string& dir, Split split) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  std::string image_path = find_plain_or_gz(dir, prefix + "-images-idx3-ubyte", "load_mnist");
  std::string label_path = find_plain_or_gz(dir, prefix + "-labels-idx1-ubyte", "load_mnist");
  Tensor images = read_idx(image_path);
  Tensor labels = read_idx(label_path);
  RAVEL_CHECK(images.dtype() == DType::UInt8 && images.ndim() == 3, "load_mnist: '", image_path,
              "' holds ", images.dtype(), " ", images.shape(), ", expected uint8 [N, H, W]");
  RAVEL_CHECK(labels.dtype() == DType::UInt8 && labels.ndim() == 1, "load_mnist: '", label_path,
              "' holds ", labels.dtype(), " ", labels.shape(), ", expected uint8 [N]");
  RAVEL_CHECK(labels.size(0) == images.size(0), "load_mnist: '", label_path, "' has ",
              labels.size(0), " labels but '", image_path, "' has ", images.size(0), " images");
  constexpr int64_t kClasses = 10;
  const int64_t n = labels.size(0);
  Tensor classes = empty({n}, DType::Int64);
  const uint8_t* src = labels.data_ptr<uint8_t>();
  int64_t* dst = classes.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    RAVEL_CHECK(src[i] < kClasses, "load_mnist: '", label_path, "': label ", i, " is ", int{src[i]},
                ", expected [0, ", kClasses, ")");
    dst[i] = src[i];
  }
  return {images.view({n, 1, images.size(1), images.size(2)}), classes, kClasses, {}};
}

LabelledImages load_fashion_mnist(Split split, const std::string& dir) {
  LabelledImages out = load_mnist(dir, split);
  out.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return out;
}

LabelledImages cifar_from_bytes(const void* data, size_t size, int labels_per_record,
                                int label_index, const std::string& what) {
  check_cifar_labels(labels_per_record, label_index, what);
  int64_t n = cifar_record_count(size, labels_per_record, what);
  LabelledImages out = empty_cifar(n);
  out.num_classes = 1 + decode_cifar(static_cast<const unsigned char*>(data), n, labels_per_record,
                                     label_index, 0, what, out, 0);
  return out;
}

LabelledImages read_cifar_batch(const std::string& path, int labels_per_record, int label_index) {
  std::string bytes = io::read_file(path, "read_cifar_batch");
  return cifar_from_bytes(bytes.data(), bytes.size(), labels_per_record, label_index,
                          "read_cifar_batch: '" + path + "'");
}

LabelledImages load_cifar10(const std::string& dir, Split split) {
  std::vector<std::string> names;
  if (split == Split::Train) {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }
  LabelledImages out = read_cifar_files(dir, names, 1, 0, 10, "load_cifar10");
  out.class_names = read_class_names(dir, "batches.meta.txt", 10, "load_cifar10");
  return out;
}

LabelledImages load_cifar100(const std::string& dir, Split split, bool fine_labels) {
  const int classes = fine_labels ? 100 : 20;
  LabelledImages out = read_cifar_files(dir, {split == Split::Train ? "train.bin" : "test.bin"}, 2,
                                        fine_labels ? 1 : 0, classes, "load_cifar100");
  out.class_names =
      read_class_names(dir, fine_labels ? "fine_label_names.txt" : "coarse_label_names.txt",
                       classes, "load_cifar100");
  return out;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  return csv_from_string(io::read_file(path, "read_csv"), options, "read_csv: '" + path + "'");
}

}  // namespace ravel::data
