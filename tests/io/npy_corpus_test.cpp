// Runs the .npy/.npz loaders over every file of the fuzz corpus (seeds and past crashers, see
// tests/fuzz/README.md): each must load or throw ravel::Error, never crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ravel/io.h"

namespace ravel {
namespace {

namespace fs = std::filesystem;

TEST(NpyCorpus, EveryFileLoadsOrThrows) {
  fs::path dir = fs::path(RAVEL_TEST_DIR) / "fuzz" / "corpus" / "npy";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int files = 0, loaded = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::ifstream f(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    SCOPED_TRACE(entry.path().string());
    try {
      Tensor t = from_npy_bytes(bytes.data(), bytes.size(), entry.path().string());
      (void)t.to_string();
      ++loaded;
    } catch (const Error&) {
    }
    try {
      for (const auto& [name, t] : from_npz_bytes(bytes.data(), bytes.size())) (void)t.to_string();
      ++loaded;
    } catch (const Error&) {
    }
    // Seeds are named *.npy / *.npz and are valid (crashers are named crash-*): the loaders
    // that take a path read them too.
    std::string ext = entry.path().extension().string();
    if (ext == ".npy") {
      EXPECT_NO_THROW(load_npy(entry.path().string()));
    } else if (ext == ".npz") {
      EXPECT_NO_THROW(load_npz(entry.path().string()));
    }
  }
  EXPECT_GT(files, 10);
  EXPECT_GT(loaded, 10);  // the seeds load
}

}  // namespace
}  // namespace ravel
