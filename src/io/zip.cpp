// Zip archive reading (see zip.h). The format: https://pkware.cachefly.net/webdocs/APPNOTE/
#include "io/zip.h"

#include <zlib.h>

#include <algorithm>
#include <set>

#include "ravel/error.h"

namespace ravel::io {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) {
  throw Error(what + ": " + msg);
}

uint32_t rd16(const unsigned char* p) { return p[0] | (uint32_t{p[1]} << 8); }
uint32_t rd32(const unsigned char* p) { return rd16(p) | (rd16(p + 2) << 16); }
uint64_t rd64(const unsigned char* p) { return rd32(p) | (uint64_t{rd32(p + 4)} << 32); }

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

void wr16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>((v >> 8) & 0xff);
}
void wr32(std::string& s, uint32_t v) {
  wr16(s, v & 0xffff);
  wr16(s, v >> 16);
}

std::string raw_deflate(const std::string& in, const std::string& what) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    fail(what, "zlib deflateInit failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) fail(what, "zlib deflate failed");
  return out;
}

}  // namespace

void ZipWriter::add(const std::string& name, const std::string& bytes, bool deflate) {
  const std::string member = what_ + " member '" + name + "'";
  if (name.empty() || name.size() > 0xffff) fail(member, "bad member name");
  if (bytes.size() >= 0xffffffffu)
    fail(member, "is " + std::to_string(bytes.size()) +
                     " bytes; members of 4 GiB or more (zip64) are not supported");
  if (count_ >= 0xfffe) fail(what_, "too many members (zip64 is not supported)");
  uint32_t crc = crc32_of(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  std::string deflated = deflate ? raw_deflate(bytes, member) : std::string();
  const std::string& body = deflate ? deflated : bytes;
  if (file_.size() >= 0xffffffffu - body.size() - 100 - name.size())
    fail(what_, "archive of 4 GiB or more (zip64) is not supported");
  uint32_t offset = static_cast<uint32_t>(file_.size());
  auto common = [&](std::string& s) {  // the fields local and central headers share
    wr16(s, 20);                       // version needed: 2.0
    wr16(s, 0);                        // flags
    wr16(s, deflate ? 8 : 0);          // method
    wr16(s, 0);                        // time 00:00
    wr16(s, 0x21);                     // date 1980-01-01
    wr32(s, crc);
    wr32(s, static_cast<uint32_t>(body.size()));
    wr32(s, static_cast<uint32_t>(bytes.size()));
    wr16(s, static_cast<uint32_t>(name.size()));
    wr16(s, 0);  // extra length
  };
  wr32(file_, 0x04034b50);
  common(file_);
  file_ += name;
  file_ += body;
  wr32(dir_, 0x02014b50);
  wr16(dir_, 20);  // version made by
  common(dir_);
  wr16(dir_, 0);            // comment length
  wr16(dir_, 0);            // disk
  wr16(dir_, 0);            // internal attributes
  wr32(dir_, 0644u << 16);  // external attributes: a regular file, rw-r--r--
  wr32(dir_, offset);
  dir_ += name;
  ++count_;
}

std::string ZipWriter::finish() {
  if (file_.size() + dir_.size() >= 0xffffffffu - 22)
    fail(what_, "archive of 4 GiB or more (zip64) is not supported");
  std::string out = std::move(file_);
  uint32_t dir_offset = static_cast<uint32_t>(out.size());
  out += dir_;
  wr32(out, 0x06054b50);
  wr16(out, 0);
  wr16(out, 0);
  wr16(out, count_);
  wr16(out, count_);
  wr32(out, static_cast<uint32_t>(dir_.size()));
  wr32(out, dir_offset);
  wr16(out, 0);
  file_.clear();
  dir_.clear();
  count_ = 0;
  return out;
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

std::vector<ZipMember> read_zip(const unsigned char* p, size_t n, const std::string& what) {
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

  std::vector<ZipMember> out;
  std::set<std::string> names;
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
    ZipMember m;
    m.name = name;
    m.data = p + data;
    m.size = uncomp;
    if (method == 0) {
      if (comp != uncomp) fail(member, "stored member has different compressed and plain sizes");
    } else if (method == 8) {
      m.inflated = inflate_raw(p + data, comp, uncomp, member);
      m.data = m.inflated.data();
    } else {
      fail(member, "unsupported zip compression method " + std::to_string(method));
    }
    if (crc32_of(m.data, m.size) != crc) fail(member, "CRC-32 mismatch (corrupt data)");
    if (!names.insert(name).second) fail(member, "appears twice in the archive");
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace ravel::io
