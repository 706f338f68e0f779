#include "io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "ravel/error.h"

namespace ravel::io {
namespace {

// The directory part of `path` ("." when none), to fsync the rename into it.
std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

void atomic_write(const std::string& path, const char* op,
                  const std::function<void(const WriteBytes& write)>& write_all) {
  const std::string what = std::string(op) + ": '" + path + "': ";
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = mkstemp(tmp.data());
  if (fd < 0) throw Error(what + "cannot create a temporary file: " + std::strerror(errno));
  auto fail = [&](const std::string& msg, int err) {
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
    throw Error(what + msg + ": " + std::strerror(err));
  };
  WriteBytes write = [&](const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n > 0) {
      ssize_t w = ::write(fd, c, std::min<size_t>(n, size_t{1} << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("write failed", w < 0 ? errno : ENOSPC);
      c += w;
      n -= static_cast<size_t>(w);
    }
  };
  try {
    write_all(write);
  } catch (...) {
    close(fd);
    unlink(tmp.c_str());
    throw;
  }
  fchmod(fd, 0644);  // mkstemp makes 0600; a saved file should read like any other
  // The data must be on disk before the rename makes it the file: otherwise a power loss could
  // leave the new name pointing at empty blocks.
  if (fsync(fd) != 0) fail("fsync failed", errno);
  int rc = close(fd);
  fd = -1;
  if (rc != 0) fail("close failed", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("rename failed", errno);
  // Make the rename itself durable (best effort: some file systems refuse to fsync directories).
  int dir = open(directory_of(path).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
}

std::string read_file(const std::string& path, const std::string& op) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  RAVEL_CHECK(f, op, ": cannot open '", path, "': ", std::strerror(errno));
  struct stat st;
  RAVEL_CHECK(fstat(fileno(f.get()), &st) == 0 && S_ISREG(st.st_mode), op, ": '", path,
              "' is not a regular file");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f.get());
  RAVEL_CHECK(got == bytes.size(), op, ": reading '", path, "' failed after ", got, " of ",
              bytes.size(), " bytes: ", std::strerror(errno));
  return bytes;
}

}  // namespace ravel::io
