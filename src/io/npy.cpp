// .npy and .npz files (NumPy's format, https://numpy.org/neps/nep-0001-npy-format.html).
//
// Reading treats every byte as untrusted: sizes are checked against what is really there before
// anything is allocated, so a malformed file gives a ravel::Error naming the file and the
// problem, never a crash or a huge allocation (tests/fuzz/fuzz_npy.cpp checks this).
// Writing goes to a temporary file in the target's directory that is renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string_view>

#include "core/dispatch.h"
#include "io/files.h"
#include "io/zip.h"
#include "ravel/io.h"

namespace ravel {
namespace {

using io::atomic_write;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeaderLen = size_t{1} << 20;  // NumPy's own limit is 10000 by default
constexpr size_t kMaxDims = 64;                    // NumPy's NPY_MAXDIMS (2.x)

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw Error(what + ": " + msg);
}

// ---------------------------------------------------------------- byte sources
// Where npy bytes come from: memory, or a file read lazily so a large array is read straight
// into its tensor.
class Source {
 public:
  virtual ~Source() = default;
  virtual size_t size() const = 0;
  // Copies [offset, offset + n) to dst; the caller has checked the range.
  virtual void read(size_t offset, size_t n, void* dst) const = 0;
};

class MemorySource : public Source {
 public:
  MemorySource(const void* data, size_t size)
      : data_(static_cast<const char*>(data)), size_(size) {}
  size_t size() const override { return size_; }
  void read(size_t offset, size_t n, void* dst) const override {
    if (n) std::memcpy(dst, data_ + offset, n);
  }

 private:
  const char* data_;
  size_t size_;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_for_reading(const std::string& path, const char* op) {
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f)
    fail(std::string(op) + ": '" + path + "'", std::string("cannot open: ") + std::strerror(errno));
  struct stat st;
  if (fstat(fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode))
    fail(std::string(op) + ": '" + path + "'", "not a regular file");
  return f;
}

class FileSource : public Source {
 public:
  FileSource(std::FILE* f, std::string what) : f_(f), what_(std::move(what)) {
    struct stat st;
    fstat(fileno(f_), &st);
    size_ = static_cast<size_t>(st.st_size);
  }
  size_t size() const override { return size_; }
  void read(size_t offset, size_t n, void* dst) const override {
    if (n == 0) return;
    if (fseeko(f_, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, f_) != n)
      fail(what_, "read error (file truncated while reading?)");
  }

 private:
  std::FILE* f_;
  std::string what_;
  size_t size_;
};

// ---------------------------------------------------------------- dtype descr
// How the elements are stored in the file, and the ravel dtype they load as. uint16/uint32
// (absent from ravel) are widened losslessly to int32/int64.
struct FileType {
  DType dtype;        // what the tensor gets
  size_t size;        // bytes per element in the file
  char kind;          // 'b', 'u', 'i', 'f'
  bool swap = false;  // stored big-endian (on this little-endian machine: opposite order)
};

bool host_is_little() { return std::endian::native == std::endian::little; }

[[noreturn]] void bad_descr(const std::string& descr, const std::string& what) {
  fail(what, "unsupported dtype descr '" + descr +
                 "' (supported: bool, int8..int64, uint8..uint32, float16, float32, float64)");
}

FileType parse_descr(const std::string& descr, const std::string& what) {
  auto bad = [&] { bad_descr(descr, what); };
  if (descr.size() < 3) bad();
  char order = descr[0], kind = descr[1];
  std::string_view num(descr.data() + 2, descr.size() - 2);
  if (order != '<' && order != '>' && order != '|' && order != '=') bad();
  size_t size = 0;
  if (num == "1")
    size = 1;
  else if (num == "2")
    size = 2;
  else if (num == "4")
    size = 4;
  else if (num == "8")
    size = 8;
  else
    bad();
  DType dt = DType::Bool;
  if (kind == 'b' && size == 1)
    dt = DType::Bool;
  else if (kind == 'u' && size == 1)
    dt = DType::UInt8;
  else if (kind == 'u' && size == 2)
    dt = DType::Int32;
  else if (kind == 'u' && size == 4)
    dt = DType::Int64;
  else if (kind == 'i' && size == 1)
    dt = DType::Int8;
  else if (kind == 'i' && size == 2)
    dt = DType::Int16;
  else if (kind == 'i' && size == 4)
    dt = DType::Int32;
  else if (kind == 'i' && size == 8)
    dt = DType::Int64;
  else if (kind == 'f' && size == 2)
    dt = DType::Float16;
  else if (kind == 'f' && size == 4)
    dt = DType::Float32;
  else if (kind == 'f' && size == 8)
    dt = DType::Float64;
  else
    bad();
  bool big = order == '>' || (order == '=' && !host_is_little());
  return FileType{dt, size, kind, size > 1 && big == host_is_little()};
}

// The descr ravel writes for a dtype; bfloat16 is written as float32 (see io.h).
const char* descr_of(DType t) {
  bool le = host_is_little();
  switch (t) {
    case DType::Bool:
      return "|b1";
    case DType::UInt8:
      return "|u1";
    case DType::Int8:
      return "|i1";
    case DType::Int16:
      return le ? "<i2" : ">i2";
    case DType::Int32:
      return le ? "<i4" : ">i4";
    case DType::Int64:
      return le ? "<i8" : ">i8";
    case DType::Float16:
      return le ? "<f2" : ">f2";
    case DType::BFloat16:
    case DType::Float32:
      return le ? "<f4" : ">f4";
    case DType::Float64:
      return le ? "<f8" : ">f8";
  }
  return "?";
}

// ---------------------------------------------------------------- header dict
// A parser for the Python literal NumPy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view s, const std::string& what) : s_(s), what_(what) {}

  struct Result {
    std::string descr;
    bool fortran = false;
    Shape shape;
  };

  Result parse() {
    Result r;
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    while (true) {
      skip_ws();
      if (peek() == '}') break;
      std::string key = parse_string();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"') {
          size_t start = pos_;
          skip_value();
          fail(what_, "unsupported dtype descr " + std::string(s_.substr(start, pos_ - start)) +
                          " (structured dtypes are not supported)");
        }
        r.descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        r.fortran = parse_bool();
        have_fortran = true;
      } else if (key == "shape") {
        r.shape = parse_shape();
        have_shape = true;
      } else {
        fail(what_, "unexpected key '" + key + "' in the header");
      }
      skip_ws();
      if (peek() == ',')
        ++pos_;
      else if (peek() != '}')
        error("expected ',' or '}'");
    }
    ++pos_;
    skip_ws();
    if (pos_ != s_.size()) error("unexpected text after the header dict");
    if (!have_descr || !have_fortran || !have_shape)
      fail(what_, "header lacks one of the keys 'descr', 'fortran_order', 'shape'");
    return r;
  }

 private:
  [[noreturn]] void error(const std::string& msg) {
    fail(what_, "malformed header: " + msg + " at offset " + std::to_string(pos_) + " in \"" +
                    std::string(s_.substr(0, 200)) + "\"");
  }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c) {
    skip_ws();
    if (peek() != c) error(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string parse_string() {
    skip_ws();
    char q = peek();
    if (q != '\'' && q != '"') error("expected a string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) error("unterminated string");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool parse_bool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    error("expected True or False");
  }
  Shape parse_shape() {
    expect('(');
    Shape shape;
    while (true) {
      skip_ws();
      if (peek() == ')') break;
      if (peek() == '-') fail(what_, "negative dimension in shape");
      if (peek() < '0' || peek() > '9') error("expected a dimension");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, int64_t{10}, &v) ||
            __builtin_add_overflow(v, int64_t{peek() - '0'}, &v))
          fail(what_, "dimension in shape overflows int64");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 longs
      if (shape.size() >= kMaxDims) fail(what_, "shape has more than 64 dimensions");
      shape.push_back(v);
      skip_ws();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        error("expected ',' or ')' in shape");
    }
    ++pos_;
    return shape;
  }
  // Skips a bracketed value (for the error message about a structured descr).
  void skip_value() {
    int depth = 0;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '[' || c == '(')
        ++depth;
      else if ((c == ']' || c == ')') && --depth <= 0)
        return;
      else if (depth == 0 && (c == ',' || c == '}')) {
        --pos_;
        return;
      }
    }
  }

  std::string_view s_;
  const std::string& what_;
  size_t pos_ = 0;
};

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

// ---------------------------------------------------------------- npy reading
// Reads one .npy from `src`: checks the preamble and header, checks the data is all there,
// then reads it into a new tensor.
Tensor read_npy(const Source& src, const std::string& what) {
  const size_t total = src.size();
  unsigned char pre[12];
  if (total < 10)
    fail(what, "file too short (" + std::to_string(total) + " bytes) for an npy header");
  src.read(0, 10, pre);
  if (std::memcmp(pre, kMagic, kMagicLen) != 0) fail(what, "bad magic: not an npy file");
  int major = pre[6], minor = pre[7];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = pre[8] | (size_t{pre[9]} << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (total < 12) fail(what, "file too short for an npy version 2 header");
    src.read(0, 12, pre);
    header_len = pre[8] | (size_t{pre[9]} << 8) | (size_t{pre[10]} << 16) | (size_t{pre[11]} << 24);
    header_start = 12;
  } else {
    fail(what,
         "unsupported npy format version " + std::to_string(major) + "." + std::to_string(minor));
  }
  if (header_len > kMaxHeaderLen)
    fail(what, "header length " + std::to_string(header_len) + " exceeds the limit of 1 MiB");
  if (header_len > total - header_start)
    fail(what, "header length " + std::to_string(header_len) +
                   " goes beyond the end of the file (" + std::to_string(total) + " bytes)");
  std::string header(header_len, '\0');
  src.read(header_start, header_len, header.data());
  auto h = HeaderParser(header, what).parse();
  FileType ft = parse_descr(h.descr, what);

  // Sizes: every product checked, so a huge shape is an error rather than an overflow.
  // The extent ignoring zero dims must fit too: strides are computed from it.
  int64_t extent = 1, extent_bytes;
  for (int64_t d : h.shape)
    if (__builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent))
      fail(what, "shape " + shape_str(h.shape) + " is too large");
  if (__builtin_mul_overflow(extent, int64_t{8}, &extent_bytes))
    fail(what, "shape " + shape_str(h.shape) + " is too large");
  const int64_t numel = shape_numel(h.shape);
  const size_t data_start = header_start + header_len;
  const size_t need = static_cast<size_t>(numel) * ft.size;
  if (need > total - data_start)
    fail(what, "data is " + std::to_string(total - data_start) + " bytes but shape " +
                   shape_str(h.shape) + " of " + h.descr + " needs " + std::to_string(need) +
                   " bytes");

  // Fortran order: the data is the C-order data of the reversed shape; transpose back.
  Shape stored = h.shape;
  if (h.fortran) std::reverse(stored.begin(), stored.end());
  Tensor t = empty(stored, ft.dtype);
  const size_t out_size = itemsize(ft.dtype);
  if (out_size == ft.size) {
    src.read(data_start, need, t.raw_data());
  } else {  // widening uint16/uint32: read raw, convert
    std::vector<unsigned char> raw(need);
    src.read(data_start, need, raw.data());
    unsigned char* dst = static_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < numel; ++i) {
      unsigned char b[4] = {0, 0, 0, 0};
      std::memcpy(b, raw.data() + i * ft.size, ft.size);
      // ft.size is 2 or 4; spelt out, as GCC 12 sees a 32-byte write in std::reverse here
      if (ft.swap && ft.size == 2) std::swap(b[0], b[1]);
      if (ft.swap && ft.size == 4) {
        std::swap(b[0], b[3]);
        std::swap(b[1], b[2]);
      }
      if (ft.size == 2) {
        uint16_t v;
        std::memcpy(&v, b, 2);
        int32_t w = v;
        std::memcpy(dst + i * 4, &w, 4);
      } else {
        uint32_t v;
        std::memcpy(&v, b, 4);
        int64_t w = v;
        std::memcpy(dst + i * 8, &w, 8);
      }
    }
    ft.swap = false;
  }
  if (ft.swap) {
    unsigned char* p = static_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < numel; ++i) std::reverse(p + i * ft.size, p + (i + 1) * ft.size);
  }
  if (ft.dtype == DType::Bool) {  // any nonzero byte is True; C++ bool must hold 0 or 1
    unsigned char* p = static_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
  }
  if (h.fortran) {
    Shape axes(stored.size(), 0);
    for (size_t i = 0; i < axes.size(); ++i) axes[i] = static_cast<int64_t>(axes.size() - 1 - i);
    t = t.permute(axes);
  }
  return t;
}

// ---------------------------------------------------------------- npy writing
std::string shape_tuple(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

// The magic, version and header dict, padded so the data starts at a multiple of 64 bytes.
std::string npy_header(const Tensor& t, bool fortran) {
  std::string dict = std::string("{'descr': '") + descr_of(t.dtype()) +
                     "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape_tuple(t.shape()) + ", }";
  bool v1 = dict.size() + 1 + 10 <= 65535;
  size_t pre = v1 ? 10 : 12;
  size_t total = (pre + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - pre - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(v1 ? 1 : 2);
  out += '\0';
  size_t len = dict.size();
  for (size_t i = 0; i < (v1 ? 2u : 4u); ++i) out += static_cast<char>((len >> (8 * i)) & 0xff);
  return out + dict;
}

// The element data, contiguous in the requested order, in the descr's dtype and byte order.
Tensor npy_data(const Tensor& t, bool fortran) {
  Tensor d = t.dtype() == DType::BFloat16 ? t.to(DType::Float32) : t;
  if (fortran) d = d.transpose();  // C order of the reversed axes = Fortran order
  return d.contiguous();
}

// ---------------------------------------------------------------- zip
// io/zip.h (shared with the PyTorch loader) reads and writes the archive.
std::map<std::string, Tensor> read_npz(const unsigned char* p, size_t n, const std::string& what) {
  std::map<std::string, Tensor> out;
  for (const io::ZipMember& m : io::read_zip(p, n, what)) {
    std::string member = what + " member '" + m.name + "'";
    std::string key = m.name;
    if (key.size() >= 4 && key.compare(key.size() - 4, 4, ".npy") == 0)
      key.resize(key.size() - 4);
    else
      fail(member, "is not an .npy file");
    out.emplace(key, read_npy(MemorySource(m.data, m.size), member));
  }
  return out;
}

std::vector<unsigned char> read_whole_file(const std::string& path, const char* op) {
  FilePtr f = open_for_reading(path, op);
  FileSource src(f.get(), std::string(op) + ": '" + path + "'");
  std::vector<unsigned char> buf(src.size());
  src.read(0, buf.size(), buf.data());
  return buf;
}

}  // namespace

// ---------------------------------------------------------------- public API
std::string to_npy_bytes(const Tensor& t, bool fortran_order) {
  Tensor d = npy_data(t, fortran_order);
  std::string out = npy_header(t, fortran_order);
  out.append(static_cast<const char*>(d.raw_data()), d.nbytes());
  return out;
}

Tensor from_npy_bytes(const void* data, size_t size, const std::string& what) {
  return read_npy(MemorySource(data, size), "from_npy_bytes: " + what);
}

void save_npy(const std::string& path, const Tensor& t, bool fortran_order) {
  Tensor d = npy_data(t, fortran_order);
  std::string header = npy_header(t, fortran_order);
  atomic_write(path, "save_npy", [&](auto&& write) {
    write(header.data(), header.size());
    write(d.raw_data(), d.nbytes());
  });
}

Tensor load_npy(const std::string& path) {
  FilePtr f = open_for_reading(path, "load_npy");
  std::string what = "load_npy: '" + path + "'";
  return read_npy(FileSource(f.get(), what), what);
}

void save_npz(const std::string& path, const std::map<std::string, Tensor>& arrays,
              bool compressed) {
  io::ZipWriter zip("save_npz: '" + path + "'");
  for (const auto& [key, t] : arrays) {
    RAVEL_CHECK(!key.empty() && key.size() < 60000, "save_npz: '", path, "': bad array name '", key,
                "'");
    zip.add(key + ".npy", to_npy_bytes(t), compressed);
  }
  std::string file = zip.finish();
  atomic_write(path, "save_npz", [&](auto&& write) { write(file.data(), file.size()); });
}

std::map<std::string, Tensor> load_npz(const std::string& path) {
  std::vector<unsigned char> buf = read_whole_file(path, "load_npz");
  return read_npz(buf.data(), buf.size(), "load_npz: '" + path + "'");
}

std::map<std::string, Tensor> from_npz_bytes(const void* data, size_t size,
                                             const std::string& what) {
  return read_npz(static_cast<const unsigned char*>(data), size, "from_npz_bytes: " + what);
}

}  // namespace ravel
