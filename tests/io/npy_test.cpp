// .npy / .npz: round trips, NumPy reading ravel's files and ravel reading NumPy's (written by
// /usr/bin/python3 in the test run), and one error test per class of malformed file.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "ravel/io.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel {
namespace {

using ravel::testing::expect_error;

namespace fs = std::filesystem;
using testing::all_dtypes;
using testing::matches;
using testing::NumpyOracle;

class NpyTest : public testing::TempDirTest {};

// Values that exercise each dtype: negatives, fractions, large magnitudes (wrapped/cast by
// to()), deterministic.
Tensor sample(const Shape& shape, DType dt, unsigned seed = 1) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0.0, 50.0);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(gen);
  return from_vector(v, shape).to(dt);
}

std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_file(const std::string& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The layouts every test runs over: contiguous, transposed, negative-stride, strided slice.
std::vector<std::pair<std::string, Tensor>> layouts(DType dt) {
  Tensor base = sample({4, 6}, dt);
  return {
      {"c", base},
      {"transposed", base.transpose()},
      {"flipped", base.slice(1, None, None, -1)},
      {"sliced", base.slice(0, 1, None, 2).slice(1, None, None, 3)},
      {"0-d", sample({}, dt)},
      {"zero-size", sample({3, 0, 2}, dt)},
      {"1-d", sample({7}, dt)},
      {"3-d", sample({2, 3, 4}, dt).permute({2, 0, 1})},
  };
}

DType loaded_dtype(DType dt) { return dt == DType::BFloat16 ? DType::Float32 : dt; }

TEST_F(NpyTest, RoundTripEveryDtypeLayoutAndOrder) {
  for (DType dt : all_dtypes()) {
    for (const auto& [name, t] : layouts(dt)) {
      for (bool fortran : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " " + name + (fortran ? " F" : " C"));
        std::string bytes = to_npy_bytes(t, fortran);
        ASSERT_EQ(bytes.find("\x93NUMPY"), 0u);
        Tensor back = from_npy_bytes(bytes.data(), bytes.size());
        EXPECT_EQ(back.dtype(), loaded_dtype(dt));
        EXPECT_EQ(back.shape(), t.shape());
        EXPECT_TRUE(matches(back, t.to(loaded_dtype(dt)), 0, 0));
        if (name == "c") {  // through a file too
          save_npy(path("x.npy"), t, fortran);
          EXPECT_TRUE(matches(load_npy(path("x.npy")), t.to(loaded_dtype(dt)), 0, 0));
        }
      }
    }
  }
  // Writing leaves no temporary file behind.
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().filename(), "x.npy");
}

TEST_F(NpyTest, HeaderIsAlignedAndVersion1) {
  std::string bytes = to_npy_bytes(sample({2, 3}, DType::Float32));
  EXPECT_EQ(bytes[6], 1);
  EXPECT_EQ(bytes.size() % 64, (2 * 3 * 4) % 64);
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
            std::string::npos);
}

TEST_F(NpyTest, NumpyReadsRavelFiles) {
  NumpyOracle np;
  struct Case {
    int h, hf;
    Tensor t;
    bool fortran;
  };
  std::vector<Case> cases;
  int i = 0;
  for (DType dt : all_dtypes()) {
    for (const auto& [name, t] : layouts(dt)) {
      bool fortran = (i % 2) == 1;
      std::string p = path("a" + std::to_string(i++) + ".npy");
      save_npy(p, t, fortran);
      int h = np.add("np.load('" + p + "')", {});
      int hf = np.add(
          "np.array(np.load('" + p + "').flags.f_contiguous and np.load('" + p + "').ndim > 1)",
          {});
      cases.push_back({h, hf, t, fortran});
    }
  }
  // npz, stored and compressed
  std::map<std::string, Tensor> arrays = {{"w", sample({3, 5}, DType::Float32)},
                                          {"b", sample({5}, DType::Int64)},
                                          {"mask", sample({2, 2}, DType::Bool)},
                                          {"h", sample({4}, DType::Float16).transpose()},
                                          {"empty", sample({0, 3}, DType::Float64)}};
  std::map<std::string, int> npz_h;
  for (bool compressed : {false, true}) {
    std::string p = path(compressed ? "c.npz" : "s.npz");
    save_npz(p, arrays, compressed);
    for (const auto& [k, t] : arrays)
      npz_h[k + (compressed ? "c" : "s")] = np.add("np.load('" + p + "')['" + k + "']", {});
  }
  np.run();
  for (const auto& c : cases) {
    ASSERT_EQ(np.error(c.h), "");
    EXPECT_TRUE(matches(np.result(c.h), c.t.to(loaded_dtype(c.t.dtype())), 0, 0));
    if (c.t.numel() > 0) {
      EXPECT_EQ(np.result(c.hf).item<bool>(), c.fortran && c.t.ndim() > 1);
    }
  }
  for (const auto& [k, t] : arrays)
    for (const char* s : {"s", "c"}) {
      ASSERT_EQ(np.error(npz_h[k + s]), "") << k;
      EXPECT_TRUE(matches(np.result(npz_h[k + s]), t, 0, 0)) << k << s;
    }
}

TEST_F(NpyTest, RavelReadsNumpyFiles) {
  NumpyOracle np;
  struct Case {
    std::string file;
    int h;
  };
  std::vector<Case> cases;
  // (numpy expression making array x, how to write it); the expression returns x.
  const std::vector<std::string> arrays = {
      "np.arange(12, dtype='<f4').reshape(3, 4) / 7",
      "np.arange(12, dtype='>f8').reshape(3, 4) / 7",
      "np.arange(-6, 6, dtype='>i4').reshape(2, 6)",
      "np.arange(-6, 6, dtype='>i8').reshape(2, 6)",
      "np.arange(-6, 6, dtype='>i2')",
      "np.arange(-6, 6, dtype='i1')",
      "np.arange(250, 256, dtype='u1')",
      "np.array([0, 1, 65535], dtype='>u2')",
      "np.array([0, 1, 4294967295], dtype='<u4')",
      "np.array([1.5, -2, 65504, np.inf, np.nan], dtype='>f2')",
      "np.array([[True, False, True]])",
      "np.asfortranarray(np.arange(24, dtype='f8').reshape(2, 3, 4))",
      "np.asfortranarray(np.arange(24, dtype='>f4').reshape(4, 6))",
      "np.array(3.25)",
      "np.zeros((0, 4), dtype='i4')",
      "np.arange(30, dtype='f4').reshape(5, 6)[::2, ::-1]",
  };
  int i = 0;
  for (const auto& a : arrays) {
    std::string p = path("n" + std::to_string(i++) + ".npy");
    cases.push_back({p, np.add("(lambda x: (np.save('" + p +
                                   "', x), x.astype(x.dtype.newbyteorder('=')))[1])(" + a + ")",
                               {})});
  }
  for (int version : {2, 3}) {  // explicit format versions
    std::string p = path("v" + std::to_string(version) + ".npy");
    cases.push_back({p, np.add("(lambda x, f: (np.lib.format.write_array(f, x, version=(" +
                                   std::to_string(version) +
                                   ", 0)), f.close(), x)[2])(np.arange(6.0)"
                                   ".reshape(2, 3), open('" +
                                   p + "', 'wb'))",
                               {})});
  }
  std::string npz = path("n.npz"), npzc = path("nc.npz");
  int hz = np.add("(lambda a, b: (np.savez('" + npz + "', a=a, b=b), np.savez_compressed('" + npzc +
                      "', a=a, b=b), a, b.astype('i8'))[2:])(np.linspace(0, 1, 50).reshape(5, 10)"
                      ".astype('f4'), np.arange(1000, dtype='>i8'))",
                  {});
  np.run();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    ASSERT_EQ(np.error(c.h), "");
    Tensor t = load_npy(c.file);
    EXPECT_TRUE(matches(t, np.result(c.h), 0, 0));
    std::string bytes = read_file(c.file);
    EXPECT_TRUE(matches(from_npy_bytes(bytes.data(), bytes.size()), np.result(c.h), 0, 0));
  }
  ASSERT_EQ(np.error(hz), "");
  for (const std::string& p : {npz, npzc}) {
    auto m = load_npz(p);
    ASSERT_EQ(m.size(), 2u);
    EXPECT_TRUE(matches(m.at("a"), np.results(hz)[0], 0, 0));
    EXPECT_TRUE(matches(m.at("b"), np.results(hz)[1], 0, 0));
    std::string bytes = read_file(p);
    auto m2 = from_npz_bytes(bytes.data(), bytes.size());
    EXPECT_TRUE(matches(m2.at("b"), np.results(hz)[1], 0, 0));
  }
}

TEST_F(NpyTest, NpzRoundTrip) {
  std::map<std::string, Tensor> arrays;
  for (DType dt : all_dtypes()) arrays[dtype_name(dt)] = sample({3, 4}, dt).transpose();
  arrays["scalar"] = sample({}, DType::Float64);
  for (bool compressed : {false, true}) {
    save_npz(path("a.npz"), arrays, compressed);
    auto back = load_npz(path("a.npz"));
    ASSERT_EQ(back.size(), arrays.size());
    for (const auto& [k, t] : arrays)
      EXPECT_TRUE(matches(back.at(k), t.to(loaded_dtype(t.dtype())), 0, 0)) << k;
  }
  save_npz(path("empty.npz"), {});
  EXPECT_TRUE(load_npz(path("empty.npz")).empty());
}

std::string npy_with_header(const std::string& dict, const std::string& data = "",
                            int version = 1) {
  std::string h = dict + "\n";
  std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(version) + '\0';
  for (int i = 0; i < (version == 1 ? 2 : 4); ++i)
    out += static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + data;
}

TEST_F(NpyTest, MalformedNpyFilesGiveErrors) {
  std::string good = to_npy_bytes(sample({2, 3}, DType::Float32));
  auto file_error = [&](const std::string& bytes, const std::vector<std::string>& parts) {
    std::string p = path("bad.npy");
    write_file(p, bytes);
    std::vector<std::string> with_name = parts;
    with_name.push_back("load_npy");
    with_name.push_back(p);
    expect_error([&] { load_npy(p); }, with_name);
    expect_error([&] { from_npy_bytes(bytes.data(), bytes.size(), "blob"); }, parts);
  };
  file_error("", {"too short"});
  file_error(std::string("\x93NUMPX\x01\x00\x10\x00", 10), {"bad magic"});
  file_error(good.substr(0, 9), {"too short"});
  file_error(good.substr(0, 40), {"header length", "beyond the end"});
  file_error(std::string("\x93NUMPY\x09\x00\x10\x00", 10) + std::string(16, ' '), {"version 9.0"});
  file_error(std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12) + "{}",
             {"header length", "limit"});
  file_error(good.substr(0, good.size() - 1), {"data is 23 bytes", "needs 24 bytes"});
  file_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }"),
             {"negative"});
  file_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                             "(99999999999999999999,), }"),
             {"overflows"});
  file_error(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': "
                             "(4294967296, 4294967296), }"),
             {"too large"});
  file_error(npy_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': "
                             "(1000000, 1000000), }",
                             "12345678"),
             {"needs 8000000000000 bytes", "[1000000, 1000000]"});
  for (const char* d : {"<c8", "|O", "<U3", "|V8", "<M8[ns]", ">u8", "<f16"})
    file_error(npy_with_header(
                   std::string("{'descr': '") + d + "', 'fortran_order': False, 'shape': (1,), }",
                   "0123456789abcdef"),
               {"unsupported dtype descr", d});
  file_error(
      npy_with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "1234"),
      {"unsupported dtype descr", "[('a', '<f4')]"});
  file_error(npy_with_header("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "1234"),
             {"malformed header", "True or False"});
  file_error(npy_with_header("{'descr': '<f4', 'shape': (1,), }", "1234"), {"lacks"});
  file_error(
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "1234"),
      {"unexpected key 'x'"});
  file_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,"),
             {"malformed"});
  expect_error([&] { load_npy(path("missing.npy")); }, {"load_npy", "missing.npy", "cannot open"});
  expect_error([&] { load_npy(dir_.string()); }, {"load_npy", "not a regular file"});
}

// A small valid archive to corrupt: a stored member, a deflated member.
std::string make_npz(bool compressed) {
  std::string p = (fs::temp_directory_path() / ("ravel_npz_" + std::to_string(getpid()))).string();
  save_npz(p, {{"x", arange(40).to(DType::Float32)}}, compressed);
  std::string bytes = read_file(p);
  fs::remove(p);
  return bytes;
}

TEST_F(NpyTest, MalformedNpzFilesGiveErrors) {
  auto file_error = [&](const std::string& bytes, const std::vector<std::string>& parts) {
    std::string p = path("bad.npz");
    write_file(p, bytes);
    std::vector<std::string> with_name = parts;
    with_name.push_back("load_npz");
    with_name.push_back(p);
    expect_error([&] { load_npz(p); }, with_name);
    expect_error([&] { from_npz_bytes(bytes.data(), bytes.size(), "blob"); }, parts);
  };
  std::string stored = make_npz(false), deflated = make_npz(true);
  const size_t data_at = 30 + 5;  // local header (30 bytes), then "x.npy", then the data
  file_error("", {"too short"});
  file_error(std::string(100, 'z'), {"not a zip archive"});
  file_error(stored.substr(0, stored.size() - 30), {"not a zip archive"});
  {  // central directory offset beyond the file
    std::string b = stored;
    b[b.size() - 3] = '\x7f';
    file_error(b, {"central directory", "outside the file"});
  }
  {  // local header offset beyond the file
    std::string b = stored;
    size_t cd = b.find("PK\x01\x02");
    b[cd + 42 + 3] = '\x10';
    file_error(b, {"member 'x.npy'", "bad local header offset"});
  }
  {  // flipped data byte: CRC mismatch
    std::string b = stored;
    b[data_at + 130] ^= 0x55;
    file_error(b, {"member 'x.npy'", "CRC-32 mismatch"});
  }
  {  // garbage inside the deflate stream
    std::string b = deflated;
    for (size_t k = data_at + 2; k < data_at + 12; ++k) b[k] = '\xff';
    file_error(b, {"member 'x.npy'", "deflate"});
  }
  {  // claimed uncompressed size absurd for the compressed size
    std::string b = deflated;
    size_t cd = b.find("PK\x01\x02");
    b[cd + 24 + 3] = '\x7f';
    file_error(b, {"member 'x.npy'", "impossible"});
  }
  {  // unsupported method (bzip2 = 12)
    std::string b = stored;
    size_t cd = b.find("PK\x01\x02");
    b[cd + 10] = 12;
    file_error(b, {"compression method 12"});
  }
  {  // a member that is not a valid npy
    std::string b = stored;
    b[data_at] = 'X';
    // fix the CRC so the npy parser is what complains
    std::string plain = b.substr(data_at, b.find("PK\x01\x02") - data_at);
    uint32_t crc = static_cast<uint32_t>(
        crc32(0, reinterpret_cast<const Bytef*>(plain.data()), static_cast<uInt>(plain.size())));
    for (size_t at : {size_t{14}, b.find("PK\x01\x02") + 16})
      for (int k = 0; k < 4; ++k) b[at + k] = static_cast<char>((crc >> (8 * k)) & 0xff);
    file_error(b, {"member 'x.npy'", "bad magic"});
  }
  expect_error([&] { load_npz(path("missing.npz")); }, {"load_npz", "missing.npz", "cannot open"});
}

TEST_F(NpyTest, FailedWriteLeavesNothing) {
  expect_error([&] { save_npy(path("no/such/dir/x.npy"), arange(3)); },
               {"save_npy", "no/such/dir/x.npy", "cannot create"});
  expect_error(
      [&] {
        save_npz(path("no/such/dir/x.npz"), {{"a", arange(3)}});
      },
      {"save_npz", "cannot create"});
  // Overwriting keeps the old file until the new one is complete; afterwards only the new one.
  save_npy(path("x.npy"), arange(3));
  save_npy(path("x.npy"), arange(5));
  EXPECT_EQ(load_npy(path("x.npy")).numel(), 5);
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir_)) n += e.is_regular_file();
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace ravel
