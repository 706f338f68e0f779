// PNG and JPEG files: ravel reads what PIL writes (every PNG colour type and bit depth,
// interlaced, palette with transparency; baseline, 4:4:4, gray and progressive JPEG) and PIL
// reads what ravel writes, all in one oracle run; hostile files throw ravel::Error; the fuzz
// corpus and a deterministic mutation run.
#include "ravel/image.h"

#include <gtest/gtest.h>
#include <turbojpeg.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "support/expect_error.h"
#include "support/mutate.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel {
namespace {

using testing::expect_error;
using testing::matches;
namespace fs = std::filesystem;

class ImageTest : public testing::TempDirTest {};

Tensor random_image(const Shape& shape, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<uint8_t> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = static_cast<uint8_t>(gen());
  return from_vector(v, shape);
}

std::string read_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_bytes(const std::string& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

int max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return 999;
  auto x = a.contiguous().to_vector<uint8_t>(), y = b.contiguous().to_vector<uint8_t>();
  int worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(int{x[i]} - int{y[i]}));
  return worst;
}

// Files PIL writes (or a minimal Python encoder, for what PIL cannot write: 16-bit colour and
// Adam7 interlacing); for each, PIL's decode converted to channels 0 (as stored), 1, 2, 3, 4.
// 16-bit gray, which PIL opens as 32-bit integers, is brought to 8 bits by its high byte.
constexpr const char* kReadScript = R"(
import struct, zlib
from PIL import Image
D = "@DIR@"
rng = np.random.default_rng(7)
def noise(h, w, c, hi=256, dt=np.uint8):
    return rng.integers(0, hi, (h, w, c)).astype(dt)
def smooth(h, w, c):  # gradients plus mild noise: what JPEG is for
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (h + w - 2)], -1)
    return np.clip(base[..., :c] + rng.integers(-8, 9, (h, w, c)), 0, 255).astype(np.uint8)
def chunk(t, data):
    return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data))
def raw_png(name, arr, depth, color, interlace=False):
    def rows(a):
        a = a.astype(">u2") if depth == 16 else a
        return b"".join(b"\0" + a[y].tobytes() for y in range(a.shape[0]))
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
                  (1, 0, 2, 2), (0, 1, 1, 2)]
        data = b"".join(rows(arr[y0::dy, x0::dx]) for x0, y0, dx, dy in passes
                        if arr[y0::dy, x0::dx].size)
    else:
        data = rows(arr)
    h, w = arr.shape[:2]
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, int(interlace))
    with open(f"{D}/{name}", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(data))
                + chunk(b"IEND", b""))
def pil(name, img, **kw):
    img.save(f"{D}/{name}", **kw)
rgb = lambda a: Image.fromarray(a)
pil("gray.png", Image.fromarray(noise(9, 11, 1)[..., 0]))
pil("gray1.png", Image.fromarray(noise(7, 13, 1, 2)[..., 0].astype(bool)))
raw_png("gray16.png", noise(6, 5, 1, 65536, np.uint16), 16, 0)
pil("gray_alpha.png", Image.fromarray(noise(5, 8, 2), "LA"))
pil("rgb.png", rgb(noise(10, 7, 3)))
pil("rgba.png", Image.fromarray(noise(6, 9, 4), "RGBA"))
pil("palette.png", rgb(noise(8, 8, 3)).quantize(16))
pil("palette_trns.png", rgb(noise(9, 6, 3)).quantize(12), transparency=3)
raw_png("rgb16.png", noise(5, 6, 3, 65536, np.uint16), 16, 2)
raw_png("rgba16.png", noise(4, 7, 4, 65536, np.uint16), 16, 6)
raw_png("interlaced.png", noise(11, 13, 3), 8, 2, interlace=True)
raw_png("interlaced_gray16.png", noise(10, 3, 1, 65536, np.uint16), 16, 0, interlace=True)
pil("one_pixel.png", rgb(noise(1, 1, 3)))
pil("png_named.jpg", rgb(noise(4, 5, 3)), format="PNG")
pil("photo.jpg", rgb(smooth(19, 23, 3)), quality=90)
pil("photo444.jpg", rgb(smooth(17, 16, 3)), quality=95, subsampling=0)
pil("photo_gray.jpg", Image.fromarray(smooth(15, 18, 1)[..., 0]), quality=90)
pil("photo_progressive.jpg", rgb(smooth(21, 20, 3)), quality=85, progressive=True)
out = []
for name in NAMES:
    img = Image.open(f"{D}/{name}")
    if img.mode.startswith("I"):
        img = Image.fromarray((np.asarray(img).astype(np.uint32) >> 8).astype(np.uint8))
    if img.mode == "P":
        stored = "RGBA" if "transparency" in img.info else "RGB"
    else:
        stored = {"1": "L"}.get(img.mode, img.mode)
    base = img.convert(stored)
    for mode in (stored, "L", "LA", "RGB", "RGBA"):
        a = np.asarray(base.convert(mode))
        out.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
for name in WRITTEN:
    a = np.asarray(Image.open(f"{D}/{name}"))
    out.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
)";

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

std::string py_list(const std::vector<std::string>& names) {
  std::string s = "[";
  for (const auto& n : names) s += "\"" + n + "\", ";
  return s + "]";
}

TEST_F(ImageTest, AgreesWithPil) {
  const std::vector<std::string> read_names = {
      "gray.png",       "gray1.png",        "gray16.png",
      "gray_alpha.png", "rgb.png",          "rgba.png",
      "palette.png",    "palette_trns.png", "rgb16.png",
      "rgba16.png",     "interlaced.png",   "interlaced_gray16.png",
      "one_pixel.png",  "png_named.jpg",    "photo.jpg",
      "photo444.jpg",   "photo_gray.jpg",   "photo_progressive.jpg"};
  const std::vector<int> stored_channels = {1, 1, 1, 2, 3, 4, 3, 4, 3, 4, 3, 1, 3, 3, 3, 3, 1, 3};
  // What we write: every channel count, [H, W], and a non-contiguous view.
  std::vector<std::pair<std::string, Tensor>> written = {
      {"w1.png", random_image({1, 5, 7}, 1)},
      {"w2.png", random_image({2, 4, 6}, 2)},
      {"w3.png", random_image({3, 6, 5}, 3)},
      {"w4.png", random_image({4, 3, 8}, 4)},
      {"w_hw.png", random_image({7, 9}, 5)},
      {"w_view.png", random_image({3, 8, 6}, 6).transpose(1, 2).slice(2, None, None, -1)},
  };
  std::vector<std::string> written_names;
  for (const auto& [name, img] : written) {
    write_png(path(name), img);
    written_names.push_back(name);
  }
  std::string script = replace_all(kReadScript, "@DIR@", dir_.string());
  script = "NAMES = " + py_list(read_names) + "\nWRITTEN = " + py_list(written_names) + script;
  testing::TorchOracle pil;
  int h = pil.add_script(script, {});
  pil.run();
  ASSERT_EQ(pil.error(h), "");
  const auto& expected = pil.results(h);
  ASSERT_EQ(expected.size(), read_names.size() * 5 + written.size());

  for (size_t i = 0; i < read_names.size(); ++i) {
    const std::string& name = read_names[i];
    const bool jpeg = name.find("photo") == 0;
    ImageInfo info = read_image_info(path(name));
    EXPECT_EQ(info.format, jpeg ? ImageFormat::Jpeg : ImageFormat::Png) << name;
    EXPECT_EQ(info.channels, stored_channels[i]) << name;
    for (int c = 0; c <= 4; ++c) {
      SCOPED_TRACE(name + " channels=" + std::to_string(c));
      Tensor ours = read_image(path(name), {.channels = c});
      const Tensor& ref = expected[i * 5 + c];
      EXPECT_EQ(ours.dtype(), DType::UInt8);
      EXPECT_EQ(ours.shape()[1], info.height);
      EXPECT_EQ(ours.shape()[2], info.width);
      if (jpeg)  // decoders may round the IDCT and upsampling differently
        EXPECT_LE(max_abs_diff(ours, ref), 2);
      else
        EXPECT_TRUE(matches(ours, ref));
    }
  }
  for (size_t i = 0; i < written.size(); ++i) {
    const auto& [name, img] = written[i];
    SCOPED_TRACE(name);
    Tensor chw = img.ndim() == 2 ? img.unsqueeze(0) : img;
    EXPECT_TRUE(matches(expected[read_names.size() * 5 + i], chw));  // PIL reads ours exactly
    EXPECT_TRUE(matches(read_image(path(name)), chw));               // and so do we
    std::string bytes = encode_png(img);
    EXPECT_EQ(bytes, read_bytes(path(name)));
    EXPECT_TRUE(matches(decode_image(bytes.data(), bytes.size()), chw));
  }
}

// ---------------------------------------------------------------- hostile files
void put_be32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
}
// A PNG with IHDR's width and height replaced (and its CRC fixed, so only the size is wrong).
std::string png_with_size(std::string png, uint32_t width, uint32_t height) {
  put_be32(png, 16, width);
  put_be32(png, 20, height);
  put_be32(png, 29, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(&png[12]), 17)));
  return png;
}

std::string jpeg_bytes(const Tensor& chw, bool progressive = false, int subsamp = TJSAMP_420) {
  Tensor hwc = chw.permute({1, 2, 0}).contiguous();
  const int c = static_cast<int>(chw.shape()[0]);
  tjhandle tj = tjInitCompress();
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  int rc = tjCompress2(tj, hwc.data_ptr<uint8_t>(), static_cast<int>(chw.shape()[2]), 0,
                       static_cast<int>(chw.shape()[1]), c == 1 ? TJPF_GRAY : TJPF_RGB, &buf, &size,
                       c == 1 ? TJSAMP_GRAY : subsamp, 90, progressive ? TJFLAG_PROGRESSIVE : 0);
  EXPECT_EQ(rc, 0) << tjGetErrorStr2(tj);
  std::string out(reinterpret_cast<char*>(buf), size);
  tjFree(buf);
  tjDestroy(tj);
  return out;
}

// A JPEG's SOF0 with its height and width replaced.
std::string jpeg_with_size(std::string jpg, uint16_t width, uint16_t height) {
  size_t sof = jpg.find("\xFF\xC0", 2);
  EXPECT_NE(sof, std::string::npos);
  jpg[sof + 5] = static_cast<char>(height >> 8);
  jpg[sof + 6] = static_cast<char>(height);
  jpg[sof + 7] = static_cast<char>(width >> 8);
  jpg[sof + 8] = static_cast<char>(width);
  return jpg;
}

TEST_F(ImageTest, HostileFilesThrow) {
  const std::string png = encode_png(random_image({3, 12, 10}, 9));
  const std::string jpg = jpeg_bytes(random_image({3, 16, 16}, 10));
  ASSERT_TRUE(matches(decode_image(png.data(), png.size()), random_image({3, 12, 10}, 9)));
  auto bad = [&](const std::string& name, const std::string& bytes,
                 std::vector<std::string> fragments) {
    SCOPED_TRACE(name);
    write_bytes(path(name), bytes);
    fragments.insert(fragments.begin(), {"read_image", path(name)});
    expect_error([&] { read_image(path(name)); }, fragments);
  };
  bad("empty.png", "", {"empty file"});
  bad("text.png", "hello, world", {"not a PNG or JPEG", "68 65 6c 6c 6f 2c 20 77"});
  bad("short.png", png.substr(0, 5), {"not a PNG or JPEG"});
  bad("cut_header.png", png.substr(0, 20), {"PNG", "truncated"});
  bad("cut_data.png", png.substr(0, png.size() / 2), {"PNG", "truncated"});
  bad("no_iend.png", png.substr(0, png.size() - 12), {"PNG", "truncated"});
  std::string crc = png;
  crc[20] ^= 1;  // IHDR height, CRC now wrong
  bad("bad_crc.png", crc, {"PNG", "CRC"});
  bad("huge.png", png_with_size(png, 100000, 100000), {"PNG", "exceeds user limit"});
  bad("big.png", png_with_size(png, 16384, 16384), {"PNG", "would decode to more than 256 MiB"});
  bad("sparse.png", png_with_size(png, 3000, 3000), {"PNG", "cannot be stored in"});
  bad("zero.png", png_with_size(png, 0, 12), {"PNG", "width"});
  std::string idat = png;
  idat[idat.find("IDAT") + 6] ^= 0x55;  // corrupt deflate data (CRC no longer matches either)
  bad("bad_idat.png", idat, {"PNG"});
  bad("cut.jpg", jpg.substr(0, jpg.size() / 2), {"JPEG"});
  bad("cut_header.jpg", jpg.substr(0, 40), {"JPEG"});
  bad("huge.jpg", jpeg_with_size(jpg, 60000, 60000), {"JPEG", "outside 1..16384"});
  bad("sparse.jpg", jpeg_with_size(jpg, 4000, 4000), {"JPEG", "cannot be stored in"});
  std::string garbage = jpg;
  for (size_t i = garbage.size() / 2; i < garbage.size() - 2; i += 3) garbage[i] = '\xFF';
  bad("garbage.jpg", garbage, {"JPEG"});

  const std::string missing = path("missing.png");
  expect_error([&] { read_image(missing); }, {"read_image", missing, "No such file"});
  expect_error([&] { read_image(dir_.string()); }, {"read_image", "not a regular file"});
  expect_error([&] { read_image_info(path("text.png")); }, {"read_image_info", "text.png"});
  expect_error([&] { decode_image(png.data(), png.size(), {.channels = 5}); },
               {"channels 5", "expected 0 (as stored), 1, 2, 3 or 4"});
  expect_error(
      [&] {
        write_png(path("f.png"), zeros({3, 4, 4}));
      },
      {"write_png", "dtype float32, expected uint8"});
  expect_error(
      [&] {
        write_png(path("c.png"), zeros({5, 4, 4}, DType::UInt8));
      },
      {"write_png", "[5, 4, 4] has 5 channels"});
  expect_error([&] { write_png(path("d.png"), zeros({4}, DType::UInt8)); },
               {"write_png", "expected [C, H, W] or [H, W]"});
  expect_error(
      [&] {
        write_png(path("e.png"), zeros({1, 0, 4}, DType::UInt8));
      },
      {"write_png", "height and width"});
  expect_error(
      [&] {
        write_png(path("no/such/dir.png"), zeros({4, 4}, DType::UInt8));
      },
      {"write_png", "no/such/dir.png"});
  EXPECT_FALSE(fs::exists(path("f.png")));
}

// ---------------------------------------------------------------- fuzz corpus and mutations
// Loads (and converts to every channel count) or throws ravel::Error; true when it loaded.
bool load_or_throw(const std::string& bytes) {
  try {
    for (int c = 0; c <= 4; ++c) (void)decode_image(bytes.data(), bytes.size(), {.channels = c});
    (void)image_info(bytes.data(), bytes.size());
    return true;
  } catch (const Error&) {
    return false;
  }
}

// tests/fuzz/corpus/image: seeds must load, bad-* must throw, crash-* may do either.
TEST(ImageFuzz, CorpusLoadsOrThrows) {
  fs::path dir = fs::path(RAVEL_TEST_DIR) / "fuzz" / "corpus" / "image";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  int seeds = 0, bad = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    bool loaded = load_or_throw(read_bytes(entry.path().string()));
    if (name.rfind("bad-", 0) == 0) {
      EXPECT_FALSE(loaded);
      ++bad;
    } else if (name.rfind("crash-", 0) != 0) {
      EXPECT_TRUE(loaded);
      ++seeds;
    }
  }
  EXPECT_GE(seeds, 5);
  EXPECT_GE(bad, 2);
}

// Deterministic mutations of valid PNGs and JPEGs: truncations, byte flips, a random size
// field, inserted and deleted runs. Each must load or throw ravel::Error.
TEST(ImageFuzz, MutationsLoadOrThrow) {
  const std::vector<std::string> seeds = {
      encode_png(random_image({3, 9, 7}, 1)),
      encode_png(random_image({2, 5, 6}, 2)),
      jpeg_bytes(random_image({3, 16, 12}, 3)),
      jpeg_bytes(random_image({1, 9, 10}, 4)),
      jpeg_bytes(random_image({3, 17, 9}, 5), true),
      jpeg_bytes(random_image({3, 8, 8}, 6), false, TJSAMP_444)};
  std::mt19937 gen(4321);
  int loaded = 0, total = 0;
  for (const auto& seed : seeds) {
    for (int m = 0; m < 300; ++m, ++total) {
      // The size fields: PNG's IHDR at 16..23, a JPEG's SOF within its first bytes.
      const std::string s = testing::mutate(seed, m, gen, {.field_start = 16, .field_span = 200});
      SCOPED_TRACE("seed " + std::to_string(&seed - seeds.data()) + " mutation " +
                   std::to_string(m));
      try {
        loaded += load_or_throw(s);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw a non-ravel exception: " << e.what();
      }
    }
  }
  EXPECT_EQ(total, 1800);
  EXPECT_GT(loaded, 0);
}

}  // namespace
}  // namespace ravel
