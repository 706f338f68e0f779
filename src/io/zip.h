// Zip archives (stored or deflated members; zip64 when reading), for the formats that are zips:
// NumPy's .npz and PyTorch's torch.save files. Every byte is untrusted: offsets and sizes are
// checked against the archive before use, deflated sizes against what deflate can produce, the
// members' total against a zip-bomb cap, and every member's CRC-32; problems throw ravel::Error
// "<what>: ..." or "<what> member '<name>': ...".
//
//   std::vector<io::ZipMember> members = io::read_zip(bytes, size, "load_npz: 'w.npz'");
//   for (const auto& m : members) use(m.name, m.data, m.size);
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ravel::io {

struct ZipMember {
  std::string name;
  const unsigned char* data = nullptr;  // into the archive (stored) or into `inflated`
  size_t size = 0;
  std::vector<unsigned char> inflated;  // owns a deflated member's bytes
};

// The members in central-directory order; names are unique. `data` of a stored member points
// into the archive's bytes, which must outlive the result.
std::vector<ZipMember> read_zip(const unsigned char* p, size_t n, const std::string& what);

uint32_t crc32_of(const unsigned char* p, size_t n);

// Builds an archive in memory, members stored or deflated, in the order added. No zip64: a
// member or the archive of 4 GiB or more throws, as do 65535 members.
//
//   io::ZipWriter zip("save_npz: 'w.npz'");
//   zip.add("w.npy", bytes, /*deflate=*/true);
//   std::string archive = zip.finish();
class ZipWriter {
 public:
  explicit ZipWriter(std::string what) : what_(std::move(what)) {}
  void add(const std::string& name, const std::string& bytes, bool deflate);
  std::string finish();

 private:
  std::string what_, file_, dir_;
  uint32_t count_ = 0;
};

}  // namespace ravel::io
