// .npy and .npz files (NumPy's format, https://numpy.org/neps/nep-0001-npy-format.html).
//
// Reading treats every byte as untrusted: sizes are checked against what is really there before
// anything is allocated, so a malformed file gives a ravel::Error naming the file and the
// problem, never a crash or a huge allocation (tests/fuzz/fuzz_npy.cpp checks this).
// Writing goes to a temporary file in the target's directory that is renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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
      if (ft.swap) std::reverse(b, b + ft.size);
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
uint32_t rd16(const unsigned char* p) { return p[0] | (uint32_t{p[1]} << 8); }
uint32_t rd32(const unsigned char* p) { return rd16(p) | (rd16(p + 2) << 16); }
uint64_t rd64(const unsigned char* p) { return rd32(p) | (uint64_t{rd32(p + 4)} << 32); }
void wr16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}
void wr32(std::string& s, uint32_t v) {
  wr16(s, v & 0xffff);
  wr16(s, v >> 16);
}

uint32_t crc32_of(const unsigned char* p, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

// Raw deflate (no zlib header), as zip stores it. Output must be exactly `out_size` bytes.
std::vector<unsigned char> inflate_raw(const unsigned char* in, size_t in_size, size_t out_size,
                                       const std::string& what) {
  std::vector<unsigned char> out(std::max<size_t>(out_size, 1));  // zlib wants a non-null buffer
  unsigned char dummy = 0;
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK) fail(what, "zlib inflateInit failed");
  zs.next_in = in ? const_cast<unsigned char*>(in) : &dummy;
  zs.next_out = out.data();
  size_t in_left = in_size, out_left = out_size;
  int rc = Z_OK;
  // Z_OK means progress was made; it ends in Z_STREAM_END, or Z_BUF_ERROR when the input runs
  // out or the output is full before the stream ends, or a data error.
  while (rc == Z_OK) {
    if (zs.avail_in == 0 && in_left > 0) {
      zs.avail_in = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
      in_left -= zs.avail_in;
    }
    if (zs.avail_out == 0 && out_left > 0) {
      zs.avail_out = static_cast<uInt>(std::min<size_t>(out_left, 1u << 30));
      out_left -= zs.avail_out;
    }
    rc = inflate(&zs, Z_NO_FLUSH);
  }
  size_t produced = zs.total_out;
  out.resize(out_size);
  inflateEnd(&zs);
  if (rc != Z_STREAM_END)
    fail(what, std::string("bad deflate stream") +
                   (zs.msg ? std::string(" (") + zs.msg + ")" : "") +
                   " or size differs from the zip directory");
  if (produced != out_size)
    fail(what, "decompressed to " + std::to_string(produced) + " bytes, zip directory says " +
                   std::to_string(out_size));
  return out;
}

std::string raw_deflate(const std::string& in) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw Error("save_npz: zlib deflateInit failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error("save_npz: zlib deflate failed");
  return out;
}

std::map<std::string, Tensor> read_npz(const unsigned char* p, size_t n, const std::string& what) {
  // End of central directory: the last 22+ bytes, found by scanning back over a comment.
  if (n < 22) fail(what, "file too short (" + std::to_string(n) + " bytes) for a zip archive");
  size_t eocd = std::string::npos;
  for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;) {
    if (rd32(p + i) == 0x06054b50 && i + 22 + rd16(p + i + 20) <= n) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string::npos) fail(what, "not a zip archive (no end of central directory)");
  uint64_t count = rd16(p + eocd + 10), cd_size = rd32(p + eocd + 12), cd_off = rd32(p + eocd + 16);
  if (count == 0xffff || cd_size == 0xffffffff || cd_off == 0xffffffff) {  // zip64
    if (eocd < 20 || rd32(p + eocd - 20) != 0x07064b50) fail(what, "zip64 locator missing");
    uint64_t z64 = rd64(p + eocd - 20 + 8);
    if (z64 > n || n - z64 < 56 || rd32(p + z64) != 0x06064b50)
      fail(what, "bad zip64 end of central directory offset");
    count = rd64(p + z64 + 32);
    cd_size = rd64(p + z64 + 40);
    cd_off = rd64(p + z64 + 48);
  }
  if (cd_off > n || cd_size > n - cd_off)
    fail(what, "central directory (offset " + std::to_string(cd_off) + ", size " +
                   std::to_string(cd_size) + ") lies outside the file");
  if (count > cd_size / 46)
    fail(what, "central directory too small for its " + std::to_string(count) + " entries");

  std::map<std::string, Tensor> out;
  // Entries may share data; a total cap keeps many entries from multiplying the memory.
  const uint64_t max_total = uint64_t{1032} * n + (uint64_t{1} << 16);
  uint64_t total = 0;
  size_t pos = cd_off;
  const size_t cd_end = cd_off + cd_size;
  for (uint64_t e = 0; e < count; ++e) {
    if (cd_end - pos < 46 || rd32(p + pos) != 0x02014b50)
      fail(what, "bad central directory entry " + std::to_string(e));
    const unsigned char* h = p + pos;
    uint32_t flags = rd16(h + 8), method = rd16(h + 10), crc = rd32(h + 16);
    uint64_t comp = rd32(h + 20), uncomp = rd32(h + 24), local = rd32(h + 42);
    size_t name_len = rd16(h + 28), extra_len = rd16(h + 30), comment_len = rd16(h + 32);
    if (cd_end - pos - 46 < name_len + extra_len + comment_len)
      fail(what, "central directory entry " + std::to_string(e) + " overruns the directory");
    std::string name(reinterpret_cast<const char*>(h + 46), name_len);
    std::string member = what + " member '" + name + "'";
    // zip64 extra field: 64-bit values for the fields that hold 0xffffffff, in this order.
    const unsigned char* x = h + 46 + name_len;
    for (size_t k = 0; k + 4 <= extra_len;) {
      uint32_t id = rd16(x + k), len = rd16(x + k + 2);
      if (k + 4 + len > extra_len) break;
      if (id == 0x0001) {
        const unsigned char* q = x + k + 4;
        size_t left = len;
        for (uint64_t* f : {&uncomp, &comp, &local}) {
          if (*f != 0xffffffff) continue;
          if (left < 8) fail(member, "truncated zip64 extra field");
          *f = rd64(q);
          q += 8;
          left -= 8;
        }
      }
      k += 4 + len;
    }
    pos += 46 + name_len + extra_len + comment_len;

    if (flags & 1) fail(member, "encrypted zip members are not supported");
    if (local > n || n - local < 30 || rd32(p + local) != 0x04034b50)
      fail(member, "bad local header offset " + std::to_string(local));
    size_t data = local + 30 + rd16(p + local + 26) + rd16(p + local + 28);
    if (data > n || comp > n - data)
      fail(member, "compressed data (" + std::to_string(comp) + " bytes at offset " +
                       std::to_string(data) + ") lies outside the file");
    // Deflate expands at most ~1032:1; a larger claim is a corrupt or hostile size field.
    if (method == 8 && uncomp / 1032 > comp + 64)
      fail(member, "uncompressed size " + std::to_string(uncomp) + " is impossible for " +
                       std::to_string(comp) + " compressed bytes");
    if (uncomp > max_total - total)
      fail(member, "members add up to more than 1032 times the archive size (a zip bomb?)");
    total += uncomp;
    std::vector<unsigned char> inflated;
    const unsigned char* bytes = p + data;
    if (method == 0) {
      if (comp != uncomp) fail(member, "stored member has different compressed and plain sizes");
    } else if (method == 8) {
      inflated = inflate_raw(bytes, comp, uncomp, member);
      bytes = inflated.data();
    } else {
      fail(member, "unsupported zip compression method " + std::to_string(method));
    }
    if (crc32_of(bytes, uncomp) != crc) fail(member, "CRC-32 mismatch (corrupt data)");
    std::string key = name;
    if (key.size() >= 4 && key.compare(key.size() - 4, 4, ".npy") == 0)
      key.resize(key.size() - 4);
    else
      fail(member, "is not an .npy file");
    if (out.count(key)) fail(member, "appears twice in the archive");
    out.emplace(key, read_npy(MemorySource(bytes, uncomp), member));
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
  std::string file, dir;
  uint32_t count = 0;
  for (const auto& [key, t] : arrays) {
    RAVEL_CHECK(!key.empty() && key.size() < 60000, "save_npz: '", path, "': bad array name '", key,
                "'");
    std::string name = key + ".npy";
    std::string plain = to_npy_bytes(t);
    const size_t plain_size = plain.size();
    RAVEL_CHECK(plain.size() < 0xffffffffu, "save_npz: '", path, "': array '", key, "' is ",
                plain.size(), " bytes; members of 4 GiB or more (zip64) are not supported");
    uint32_t crc = crc32_of(reinterpret_cast<const unsigned char*>(plain.data()), plain.size());
    std::string body = compressed ? raw_deflate(plain) : std::move(plain);
    uint32_t usize = static_cast<uint32_t>(plain_size);
    RAVEL_CHECK(file.size() < 0xffffffffu - body.size() - 100 - name.size(), "save_npz: '", path,
                "': archive of 4 GiB or more (zip64) is not supported");
    uint32_t offset = static_cast<uint32_t>(file.size());
    auto common = [&](std::string& s) {  // the fields local and central headers share
      wr16(s, 20);                       // version needed: 2.0
      wr16(s, 0);                        // flags
      wr16(s, compressed ? 8 : 0);       // method
      wr16(s, 0);                        // time 00:00
      wr16(s, 0x21);                     // date 1980-01-01
      wr32(s, crc);
      wr32(s, static_cast<uint32_t>(body.size()));
      wr32(s, usize);
      wr16(s, static_cast<uint32_t>(name.size()));
      wr16(s, 0);  // extra length
    };
    wr32(file, 0x04034b50);
    common(file);
    file += name;
    file += body;
    wr32(dir, 0x02014b50);
    wr16(dir, 20);  // version made by
    common(dir);
    wr16(dir, 0);            // comment length
    wr16(dir, 0);            // disk
    wr16(dir, 0);            // internal attributes
    wr32(dir, 0644u << 16);  // external attributes: a regular file, rw-r--r--
    wr32(dir, offset);
    dir += name;
    ++count;
  }
  RAVEL_CHECK(count < 0xffff, "save_npz: '", path, "': too many arrays (", count, ")");
  uint32_t dir_offset = static_cast<uint32_t>(file.size());
  file += dir;
  wr32(file, 0x06054b50);
  wr16(file, 0);
  wr16(file, 0);
  wr16(file, count);
  wr16(file, count);
  wr32(file, static_cast<uint32_t>(dir.size()));
  wr32(file, dir_offset);
  wr16(file, 0);
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
