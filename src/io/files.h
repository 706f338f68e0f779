// Whole-file reads, and crash-safe file writes.
//
// Writes: the bytes go to a temporary file next to the target ("<path>.tmp.XXXXXX",
// same directory so the rename stays on one file system), which is flushed to disk and renamed
// over the target only when complete. A crash or a thrown error at any point leaves the old file
// (or no file) in place, never a partial one.
//
//   atomic_write(path, "save_npy", [&](const WriteBytes& write) {
//     write(header.data(), header.size());
//     write(t.raw_data(), t.nbytes());
//   });
//
// A process killed mid-write leaves its temporary file behind (nothing can remove it); it is
// never read, and the next save does not touch it, since another process may be writing it.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

namespace ravel::io {

using WriteBytes = std::function<void(const void* data, size_t size)>;

// Writes `path` through a temporary file; `write_all` calls the writer with consecutive chunks.
// Errors (and whatever write_all throws) remove the temporary file; they are ravel::Errors
// starting "<op>: '<path>': ".
void atomic_write(const std::string& path, const char* op,
                  const std::function<void(const WriteBytes& write)>& write_all);

// The whole of a regular file, in binary. Errors name op, the path and the reason (strerror).
std::string read_file(const std::string& path, const std::string& op);

}  // namespace ravel::io
