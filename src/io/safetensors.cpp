// safetensors files (the format is described in include/ravel/safetensors.h).
//
// The reader treats every byte as hostile. The header's JSON goes through a SAX handler that
// accepts only the format's shape -- an object of tensor entries plus one "__metadata__" object
// of strings -- so wrong types, duplicate keys and deep nesting are rejected as they are met,
// without building a JSON tree; then dtypes, shapes and offsets are checked against the data
// section before any tensor is allocated. tests/fuzz/fuzz_safetensors.cpp fuzzes it.
#include "ravel/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <unordered_set>

#include "io/files.h"

namespace ravel {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

constexpr uint64_t kMaxHeaderLen = 100'000'000;  // the reference implementation's limit
constexpr size_t kMaxDims = 64;
constexpr int kMaxSkipDepth = 64;  // nesting allowed inside ignored (unknown) tensor fields
constexpr const char* kMetadataKey = "__metadata__";

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypeNames[] = {{"BOOL", DType::Bool},   {"U8", DType::UInt8},
                                     {"I8", DType::Int8},     {"I16", DType::Int16},
                                     {"I32", DType::Int32},   {"I64", DType::Int64},
                                     {"F16", DType::Float16}, {"BF16", DType::BFloat16},
                                     {"F32", DType::Float32}, {"F64", DType::Float64}};

const char* safetensors_name(DType t) {
  for (const auto& d : kDTypeNames)
    if (d.dtype == t) return d.name;
  return "?";
}

// A name or token from the file, shortened for an error message (a hostile file's names can be
// megabytes long).
std::string clip(const std::string& s) { return s.size() <= 64 ? s : s.substr(0, 64) + "..."; }

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

// ---------------------------------------------------------------- header parsing
// One tensor entry as the header states it (checked later, against the data section).
struct Entry {
  std::string name;
  std::string dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
  bool have_dtype = false, have_shape = false, have_offsets = false;
};

struct Header {
  std::vector<Entry> entries;  // in header order
  std::map<std::string, std::string> metadata;
};

// nlohmann's SAX interface: each event returns false to stop the parse, with `error` set. The
// parser itself keeps its nesting on the heap, so a deep "[[[[..." cannot overflow the stack;
// this handler stops at the first container where the format has none anyway.
class HeaderSax {
 public:
  using json = nlohmann::json;
  explicit HeaderSax(Header& out) : out_(out) {}
  std::string error;

  bool null() { return scalar("null"); }
  bool boolean(bool) { return scalar("a boolean"); }
  bool binary(json::binary_t&) { return scalar("binary data"); }
  bool number_float(double, const std::string& text) {
    if (in_ == In::Array && !skip_)
      return fail(field_what() + " must hold integers, got " + clip(text));
    return scalar("a non-integer number");
  }
  bool number_integer(int64_t v) {  // nlohmann reports non-negative integers as unsigned
    if (in_ == In::Array && !skip_)
      return fail(field_what() + " holds the negative value " + std::to_string(v));
    return scalar("a number");
  }
  bool number_unsigned(uint64_t v) {
    if (in_ != In::Array || skip_) return scalar("a number");
    const bool shape = field_ == "shape";
    if (shape && nums_.size() >= kMaxDims)
      return fail(field_what() + " has more than " + std::to_string(kMaxDims) + " dimensions");
    if (!shape && nums_.size() >= 2) return fail(field_what() + " must be [begin, end]");
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(field_what() + " holds " + std::to_string(v) + ", beyond int64");
    nums_.push_back(v);
    return true;
  }
  bool string(std::string& s) {
    if (skip_) return true;
    if (in_ == In::Metadata) {
      out_.metadata[key_] = s;
      return true;
    }
    if (in_ == In::Tensor && field_ == "dtype") {
      entry().dtype = s;
      entry().have_dtype = true;
      return true;
    }
    return scalar("a string");
  }

  bool start_object(size_t) {
    if (skip_ || (in_ == In::Tensor && !known_field())) return enter_skip();
    if (in_ == In::Start) {
      in_ = In::Top;
      return true;
    }
    if (in_ == In::Top) {
      if (key_ == kMetadataKey) {
        in_ = In::Metadata;
      } else {
        in_ = In::Tensor;
        out_.entries.emplace_back();
        out_.entries.back().name = key_;
      }
      return true;
    }
    return scalar("an object");
  }
  bool key(std::string& k) {
    if (skip_) return true;
    if (in_ == In::Top) {
      if (!top_keys_.insert(k).second) return fail("the key '" + clip(k) + "' appears twice");
      key_ = k;
    } else if (in_ == In::Metadata) {
      if (out_.metadata.count(k))
        return fail("the __metadata__ key '" + clip(k) + "' appears twice");
      key_ = k;
    } else {  // In::Tensor
      field_ = k;
      const bool seen = (k == "dtype" && entry().have_dtype) ||
                        (k == "shape" && entry().have_shape) ||
                        (k == "data_offsets" && entry().have_offsets);
      if (seen) return fail(field_what() + " appears twice");
    }
    return true;
  }
  bool end_object() {
    if (skip_) return leave_skip();
    if (in_ == In::Tensor) {
      const Entry& e = entry();
      for (auto [have, name] : {std::pair{e.have_dtype, "dtype"},
                                {e.have_shape, "shape"},
                                {e.have_offsets, "data_offsets"}})
        if (!have) return fail("tensor '" + clip(e.name) + "' has no '" + name + "'");
      in_ = In::Top;
    } else if (in_ == In::Metadata) {
      in_ = In::Top;
    } else {
      in_ = In::Done;
    }
    return true;
  }
  bool start_array(size_t) {
    if (skip_ || (in_ == In::Tensor && !known_field())) return enter_skip();
    if (in_ == In::Tensor && field_ != "dtype") {
      in_ = In::Array;
      nums_.clear();
      return true;
    }
    return scalar("an array");
  }
  bool end_array() {
    if (skip_) return leave_skip();
    Entry& e = entry();
    if (field_ == "shape") {
      e.shape.assign(nums_.begin(), nums_.end());
      e.have_shape = true;
    } else {
      if (nums_.size() != 2) return fail(field_what() + " must be [begin, end]");
      e.begin = nums_[0];
      e.end = nums_[1];
      e.have_offsets = true;
    }
    in_ = In::Tensor;
    return true;
  }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception& ex) {
    return fail(std::string("invalid JSON in the header: ") + ex.what());
  }

  bool done() const { return in_ == In::Done; }

 private:
  enum class In { Start, Top, Tensor, Metadata, Array, Done };

  bool fail(const std::string& msg) {
    if (error.empty()) error = msg;
    return false;
  }
  Entry& entry() { return out_.entries.back(); }
  bool known_field() const {
    return field_ == "dtype" || field_ == "shape" || field_ == "data_offsets";
  }
  std::string field_what() const {
    return "tensor '" + clip(out_.entries.back().name) + "': " + field_;
  }
  // A value that is not a container, or a container where the format allows none.
  bool scalar(const std::string& kind) {
    switch (in_) {
      case In::Start:
        return fail("the header must be a JSON object, got " + kind);
      case In::Top:
        return fail("'" + clip(key_) + "' must be an object, got " + kind);
      case In::Tensor:
        if (!known_field()) return true;  // unknown fields are ignored, as the reference does
        return fail(field_what() + " must be " +
                    (field_ == "dtype" ? "a string" : "a list of integers") + ", got " + kind);
      case In::Metadata:
        return fail("__metadata__ values must be strings; '" + clip(key_) + "' is " + kind);
      case In::Array:
        return fail(field_what() + " must hold integers, got " + kind);
      case In::Done:
        break;
    }
    return fail("unexpected " + kind + " after the header object");
  }
  bool enter_skip() {
    if (++skip_ > kMaxSkipDepth)
      return fail("the header nests deeper than " + std::to_string(kMaxSkipDepth) + " levels");
    return true;
  }
  bool leave_skip() {
    --skip_;
    return true;
  }

  Header& out_;
  In in_ = In::Start;
  int skip_ = 0;       // depth inside an ignored value
  std::string key_;    // the current top-level or __metadata__ key
  std::string field_;  // the current field of a tensor entry
  std::vector<uint64_t> nums_;
  std::unordered_set<std::string> top_keys_;
};

Header parse_header(const std::string& text, const std::string& what) {
  // nlohmann's lexer takes a NUL byte for the end of the input, and would ignore what follows;
  // valid JSON holds none (not even inside strings), so none is accepted.
  if (size_t nul = text.find('\0'); nul != std::string::npos)
    throw Error(what + ": the header holds a NUL byte at offset " + std::to_string(nul) +
                " (it must be JSON text, padded with spaces)");
  Header h;
  HeaderSax sax(h);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  } catch (const nlohmann::json::exception& e) {
    sax.error = std::string("invalid JSON in the header: ") + e.what();
  }
  if (!ok || !sax.done())
    throw Error(what + ": " + (sax.error.empty() ? "invalid header" : sax.error));
  return h;
}

// ---------------------------------------------------------------- layout checks
struct Placed {
  const Entry* entry;
  DType dtype;
  size_t nbytes;
};

DType dtype_of_name(const Entry& e, const std::string& what) {
  for (const auto& d : kDTypeNames)
    if (e.dtype == d.name) return d.dtype;
  std::string names;
  for (const auto& d : kDTypeNames) names += std::string(names.empty() ? "" : ", ") + d.name;
  throw Error(what + ": tensor '" + clip(e.name) + "' has dtype '" + clip(e.dtype) +
              "', which ravel does not support (supported: " + names + ")");
}

// The entries in data order, each checked: its byte count matches its dtype and shape, and the
// data ranges tile [0, data_size) exactly -- no gap, no overlap, nothing past the end.
std::vector<Placed> place(const Header& h, uint64_t data_size, const std::string& what) {
  std::vector<Placed> out;
  for (const Entry& e : h.entries) {
    const DType dt = dtype_of_name(e, what);
    // Also the extent ignoring zero dims: strides are computed from it.
    int64_t numel = 1, extent = 1, extent_bytes = 0, bytes = 0;
    bool overflow = false;
    for (int64_t d : e.shape) {
      overflow |= __builtin_mul_overflow(numel, d, &numel);
      overflow |= __builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent);
    }
    overflow |= __builtin_mul_overflow(extent, int64_t{8}, &extent_bytes);
    overflow |= __builtin_mul_overflow(numel, static_cast<int64_t>(itemsize(dt)), &bytes);
    if (overflow)
      throw Error(what + ": tensor '" + clip(e.name) + "' has shape " + shape_str(e.shape) +
                  ", too large to exist");
    if (e.end < e.begin || e.end - e.begin != static_cast<uint64_t>(bytes))
      throw Error(what + ": tensor '" + clip(e.name) + "' of dtype " + e.dtype + " and shape " +
                  shape_str(e.shape) + " needs " + std::to_string(bytes) +
                  " bytes, but its data_offsets are [" + std::to_string(e.begin) + ", " +
                  std::to_string(e.end) + "]");
    if (e.end > data_size)
      throw Error(what + ": tensor '" + clip(e.name) + "' data_offsets [" +
                  std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] go beyond the data section (" + std::to_string(data_size) + " bytes)");
    out.push_back({&e, dt, static_cast<size_t>(bytes)});
  }
  std::stable_sort(out.begin(), out.end(), [](const Placed& a, const Placed& b) {
    return std::pair(a.entry->begin, a.entry->end) < std::pair(b.entry->begin, b.entry->end);
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Placed& p : out) {
    const Entry& e = *p.entry;
    if (e.begin < covered)
      throw Error(what + ": the data of tensors '" + clip(prev->name) + "' and '" + clip(e.name) +
                  "' overlap (bytes " + std::to_string(e.begin) + " to " +
                  std::to_string(std::min(covered, e.end)) + ")");
    if (e.begin > covered)
      throw Error(what + ": data bytes " + std::to_string(covered) + " to " +
                  std::to_string(e.begin) + " belong to no tensor");
    covered = e.end;
    prev = &e;
  }
  if (covered != data_size)
    throw Error(what + ": the tensors cover " + std::to_string(covered) +
                " bytes but the data section has " + std::to_string(data_size) + " bytes");
  return out;
}

// ---------------------------------------------------------------- reading
// Where the file's bytes come from: reads [offset, offset + n) into dst; the range is checked.
using ReadFn = std::function<void(uint64_t offset, size_t n, void* dst)>;

SafetensorsFile read_safetensors(uint64_t size, const ReadFn& read, const std::string& what) {
  if (size < 8)
    throw Error(what + ": " + std::to_string(size) +
                " bytes is too short for a safetensors file (8-byte header length first)");
  unsigned char len_bytes[8];
  read(0, 8, len_bytes);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  if (header_len > kMaxHeaderLen)
    throw Error(what + ": header length " + std::to_string(header_len) +
                " exceeds the format's limit of 100000000 bytes");
  if (header_len > size - 8)
    throw Error(what + ": header length " + std::to_string(header_len) +
                " goes beyond the end of the file (" + std::to_string(size) + " bytes)");
  std::string text(header_len, '\0');
  read(8, header_len, text.data());
  Header h = parse_header(text, what);
  const uint64_t data_start = 8 + header_len;
  std::vector<Placed> placed = place(h, size - data_start, what);

  SafetensorsFile f;
  f.metadata = std::move(h.metadata);
  for (const Placed& p : placed) {
    Tensor t = empty(p.entry->shape, p.dtype);
    read(data_start + p.entry->begin, p.nbytes, t.raw_data());
    if (p.dtype == DType::Bool) {  // a C++ bool must hold 0 or 1; any nonzero byte is true
      auto* b = static_cast<unsigned char*>(t.raw_data());
      for (size_t i = 0; i < p.nbytes; ++i) b[i] = b[i] != 0;
    }
    f.tensors.emplace_back(p.entry->name, std::move(t));
  }
  return f;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// ---------------------------------------------------------------- writing
std::string json_string(const std::string& s, const std::string& what) {
  try {
    return nlohmann::json(s).dump();
  } catch (const nlohmann::json::exception&) {
    throw Error(what + ": '" + clip(s) + "' is not valid UTF-8 (safetensors headers are JSON)");
  }
}

// The 8-byte length, the JSON header padded with spaces so the data starts at a multiple of 8,
// and the tensors' data (contiguous), in order.
struct Encoded {
  std::string header;
  std::vector<Tensor> data;
};

Encoded encode(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata,
               const std::string& what) {
  std::string json = "{";
  if (!metadata.empty()) {
    json += std::string("\"") + kMetadataKey + "\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      json += (first ? "" : ",") + json_string(k, what) + ":" + json_string(v, what);
      first = false;
    }
    json += "}";
  }
  Encoded out;
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    RAVEL_CHECK(name != kMetadataKey, what, ": a tensor can't be named '", kMetadataKey,
                "' (the format reserves it)");
    RAVEL_CHECK(names.insert(name).second, what, ": the tensor name '", name, "' appears twice");
    RAVEL_CHECK(t.defined(), what, ": tensor '", name, "' is undefined");
    Tensor c = t.contiguous();
    std::string shape;
    for (int64_t d : c.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    if (json.size() > 1) json += ",";
    json += json_string(name, what) + ":{\"dtype\":\"" + safetensors_name(c.dtype()) +
            "\",\"shape\":[" + shape + "],\"data_offsets\":[" + std::to_string(offset) + "," +
            std::to_string(offset + c.nbytes()) + "]}";
    offset += c.nbytes();
    out.data.push_back(std::move(c));
  }
  json += "}";
  json.append((8 - json.size() % 8) % 8, ' ');
  RAVEL_CHECK(json.size() <= kMaxHeaderLen, what, ": the header would be ", json.size(),
              " bytes, beyond the format's limit of 100000000");
  out.header.resize(8);
  for (int i = 0; i < 8; ++i) out.header[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  out.header += json;
  return out;
}

}  // namespace

// ---------------------------------------------------------------- public API
const Tensor& SafetensorsFile::get(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  std::string names;
  for (size_t i = 0; i < tensors.size() && i < 10; ++i)
    names += (i ? ", '" : "'") + clip(tensors[i].first) + "'";
  if (tensors.size() > 10) names += ", ...";
  detail::throw_error("SafetensorsFile: no tensor named '", name, "' (it has ", tensors.size(),
                      " tensors: ", names, ")");
}

bool SafetensorsFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(),
                     [&](const auto& e) { return e.first == name; });
}

std::string to_safetensors_bytes(const NamedTensors& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  Encoded e = encode(tensors, metadata, "to_safetensors_bytes");
  std::string out = std::move(e.header);
  for (const Tensor& t : e.data) out.append(static_cast<const char*>(t.raw_data()), t.nbytes());
  return out;
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Encoded e = encode(tensors, metadata, "save_safetensors: '" + path + "'");
  io::atomic_write(path, "save_safetensors", [&](const io::WriteBytes& write) {
    write(e.header.data(), e.header.size());
    for (const Tensor& t : e.data) write(t.raw_data(), t.nbytes());
  });
}

SafetensorsFile safetensors_from_bytes(const void* data, size_t size, const std::string& what) {
  const auto* p = static_cast<const char*>(data);
  return read_safetensors(
      size, [&](uint64_t off, size_t n, void* dst) { std::memcpy(dst, p + off, n); },
      "safetensors_from_bytes: " + what);
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string what = "load_safetensors: '" + path + "'";
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error(what + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) throw Error(what + ": not a regular file");
  return read_safetensors(
      static_cast<uint64_t>(st.st_size),
      [&](uint64_t off, size_t n, void* dst) {
        auto* c = static_cast<char*>(dst);
        while (n > 0) {
          ssize_t r =
              pread(fd.get(), c, std::min<size_t>(n, size_t{1} << 30), static_cast<off_t>(off));
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) throw Error(what + ": read error (file truncated while reading?)");
          c += r;
          off += static_cast<uint64_t>(r);
          n -= static_cast<size_t>(r);
        }
      },
      what);
}

}  // namespace ravel
