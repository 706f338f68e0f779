// PNG (libpng) and JPEG (turbojpeg) decoding, PNG encoding. See ravel/image.h.
//
// libpng reports errors by longjmp. The functions that call setjmp (png_decode_raw,
// png_encode_raw) keep only trivially destructible locals, so a longjmp out of libpng skips no
// destructor; whatever needs one (the output buffers) lives in the caller's frame and is
// allocated through helpers that catch exceptions before returning to the libpng frame.
#include "ravel/image.h"

#include <png.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "io/files.h"
#include "ravel/error.h"

namespace ravel {
namespace {

constexpr int64_t kMaxSide = 16384;
constexpr int64_t kMaxDecodedBytes = int64_t{256} << 20;
// PNG's deflate inflates at most 1032:1 and stores at least 1 bit per pixel; a JPEG codes at
// least one bit per 8x8 block of its full-resolution component (a progressive DC scan), and a
// 4x4-subsampled component covers 32x32 pixels: 8 * 1024 pixels per byte at the very most.
constexpr int64_t kPngPixelsPerByte = 1032 * 8;
constexpr int64_t kJpegPixelsPerByte = 8 * 1024;

bool is_png(const uint8_t* p, size_t n) {
  return n >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0;
}
bool is_jpeg(const uint8_t* p, size_t n) {
  return n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF;
}

// Interleaved pixels [H, W, channels] as a decoder gives them.
struct Decoded {
  ImageInfo info;
  std::vector<uint8_t> pixels;
};

// Size limits shared by both decoders: each side, the decoded bytes, and the pixels the
// compressed bytes can possibly hold. Writes the problem into msg and returns false when too
// big (no allocation: also called between libpng's setjmp and longjmp).
bool check_size(char (&msg)[200], int64_t width, int64_t height, int channels, size_t file_size,
                int64_t pixels_per_byte) {
  const auto w = static_cast<long long>(width), h = static_cast<long long>(height);
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide) {
    std::snprintf(msg, sizeof msg, "image size %lldx%lld (width x height) outside 1..%lld", w, h,
                  static_cast<long long>(kMaxSide));
    return false;
  }
  if (width * height * channels > kMaxDecodedBytes) {
    std::snprintf(msg, sizeof msg, "image %lldx%lldx%d would decode to more than %lld MiB", w, h,
                  channels, static_cast<long long>(kMaxDecodedBytes >> 20));
    return false;
  }
  if (width * height > pixels_per_byte * static_cast<int64_t>(file_size) + 4096) {
    std::snprintf(msg, sizeof msg,
                  "image %lldx%lld cannot be stored in %zu bytes (file truncated or corrupt)", w, h,
                  file_size);
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- PNG
struct PngState {
  const uint8_t* data;
  size_t size;
  size_t pos;
  bool header_only;
  Decoded* out;
  char error[256];
  char warning[256];  // the last one: often the reason for the error that follows
};

void png_read_cb(png_structp png, png_bytep dst, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "file is truncated");
  std::memcpy(dst, s->data + s->pos, n);
  s->pos += n;
}

void png_error_cb(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->error, sizeof s->error, "%s", msg);
  png_longjmp(png, 1);
}

// Kept for the error message; libpng recovers from what it only warns about.
void png_warning_cb(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->warning, sizeof s->warning, "%s", msg);
}

// Outside the setjmp frame: may throw internally, reports failure as false.
[[gnu::noinline]] bool allocate_pixels(Decoded* out, size_t n) noexcept {
  try {
    out->pixels.resize(n);
    return true;
  } catch (...) {
    return false;
  }
}

// Only trivially destructible locals here (longjmp). Returns false with s.error set.
bool png_decode_raw(PngState& s) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_error_cb, png_warning_cb);
  if (!png) return std::snprintf(s.error, sizeof s.error, "out of memory"), false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return std::snprintf(s.error, sizeof s.error, "out of memory"), false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  png_set_read_fn(png, &s, png_read_cb);
  png_set_user_limits(png, kMaxSide, kMaxSide);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &depth, &color, &interlace, nullptr, nullptr);
  png_set_expand(png);    // palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha
  png_set_strip_16(png);  // high byte
  int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  int channels = png_get_channels(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  s.out->info = {ImageFormat::Png, height, width, channels};
  if (s.header_only) {
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
  }
  char msg[200];
  if (!check_size(msg, width, height, channels, s.size, kPngPixelsPerByte)) png_error(png, msg);
  if (rowbytes != size_t{width} * static_cast<size_t>(channels))
    png_error(png, "unexpected row size after conversion to 8 bits");
  if (!allocate_pixels(s.out, rowbytes * height)) png_error(png, "out of memory");
  uint8_t* base = s.out->pixels.data();
  for (int pass = 0; pass < passes; ++pass)
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, base + y * rowbytes, nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

void decode_png(const uint8_t* data, size_t size, bool header_only, Decoded& out,
                const std::string& what) {
  PngState s{data, size, 0, header_only, &out, {}, {}};
  if (!png_decode_raw(s)) {
    std::string msg = what + ": PNG: " + s.error;
    if (s.warning[0]) msg += std::string(" (") + s.warning + ")";
    throw Error(msg);
  }
}

// ---------------------------------------------------------------- JPEG
struct TjHandle {
  tjhandle h = tjInitDecompress();
  ~TjHandle() {
    if (h) tjDestroy(h);
  }
};

void decode_jpeg(const uint8_t* data, size_t size, bool header_only, Decoded& out,
                 const std::string& what) {
  TjHandle tj;
  RAVEL_CHECK(tj.h, what, ": JPEG: cannot start the decoder: ", tjGetErrorStr2(nullptr));
  auto* buf = const_cast<unsigned char*>(data);  // turbojpeg 2.1 takes non-const, reads only
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  RAVEL_CHECK(tjDecompressHeader3(tj.h, buf, size, &width, &height, &subsamp, &colorspace) == 0,
              what, ": JPEG: ", tjGetErrorStr2(tj.h));
  RAVEL_CHECK(colorspace != TJCS_CMYK && colorspace != TJCS_YCCK, what,
              ": JPEG: CMYK images are not supported (convert to RGB first)");
  const int channels = colorspace == TJCS_GRAY ? 1 : 3;
  out.info = {ImageFormat::Jpeg, height, width, channels};
  if (header_only) return;
  char msg[200];
  RAVEL_CHECK(check_size(msg, width, height, channels, size, kJpegPixelsPerByte), what,
              ": JPEG: ", msg);
  out.pixels.resize(static_cast<size_t>(width) * height * channels);
  // STOPONWARNING: a truncated or corrupt scan is an error, not an image padded with grey;
  // LIMITSCANS: refuses progressive files with absurd scan counts (a known CPU exhaustion).
  int rc =
      tjDecompress2(tj.h, buf, size, out.pixels.data(), width, 0, height,
                    channels == 1 ? TJPF_GRAY : TJPF_RGB, TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS);
  RAVEL_CHECK(rc == 0, what, ": JPEG: ", tjGetErrorStr2(tj.h));
}

void decode_any(const void* data, size_t size, bool header_only, Decoded& out,
                const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (is_png(p, size)) return decode_png(p, size, header_only, out, what);
  if (is_jpeg(p, size)) return decode_jpeg(p, size, header_only, out, what);
  RAVEL_CHECK(size > 0, what, ": empty file, expected a PNG or JPEG image");
  char magic[40];
  size_t n = std::min<size_t>(size, 8);
  for (size_t i = 0; i < n; ++i) std::snprintf(magic + 3 * i, 4, "%02x ", p[i]);
  magic[3 * n - 1] = '\0';
  detail::throw_error(what, ": not a PNG or JPEG image (starts with bytes ", magic,
                      "; expected 89 50 4e 47 for PNG or ff d8 ff for JPEG)");
}

// PIL's convert("L") (ITU-R 601-2 luma, rounded).
inline uint8_t luma(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

// Interleaved [H, W, have] -> planar uint8 [want, H, W].
Tensor to_planar(const Decoded& d, int want) {
  const int have = d.info.channels;
  if (want == 0) want = have;
  const int64_t plane = d.info.height * d.info.width;
  Tensor t = empty({want, d.info.height, d.info.width}, DType::UInt8);
  uint8_t* dst = t.data_ptr<uint8_t>();
  const uint8_t* src = d.pixels.data();
  for (int64_t i = 0; i < plane; ++i, src += have) {
    const bool gray = have <= 2;
    const uint8_t r = src[0], g = gray ? src[0] : src[1], b = gray ? src[0] : src[2];
    const uint8_t a = (have == 2 || have == 4) ? src[have - 1] : 255;
    if (want <= 2) {
      dst[i] = gray ? src[0] : luma(r, g, b);
    } else {
      dst[i] = r;
      dst[plane + i] = g;
      dst[2 * plane + i] = b;
    }
    if (want == 2 || want == 4) dst[(want - 1) * plane + i] = a;
  }
  return t;
}

// ---------------------------------------------------------------- PNG encoding
struct PngWriteState {
  std::string* out;
  const uint8_t* pixels;  // interleaved [H, W, C]
  png_uint_32 width, height;
  int channels;
  char error[256];
};

[[gnu::noinline]] bool append_bytes(std::string* out, const void* p, size_t n) noexcept {
  try {
    out->append(static_cast<const char*>(p), n);
    return true;
  } catch (...) {
    return false;
  }
}

void png_write_cb(png_structp png, png_bytep p, size_t n) {
  auto* s = static_cast<PngWriteState*>(png_get_io_ptr(png));
  if (!append_bytes(s->out, p, n)) png_error(png, "out of memory");
}

void png_write_error_cb(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(s->error, sizeof s->error, "%s", msg);
  png_longjmp(png, 1);
}

void png_flush_cb(png_structp) {}
void png_write_warning_cb(png_structp, png_const_charp) {}

// Only trivially destructible locals here (longjmp). Returns false with s.error set.
bool png_encode_raw(PngWriteState& s) {
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &s, png_write_error_cb, png_write_warning_cb);
  if (!png) return std::snprintf(s.error, sizeof s.error, "out of memory"), false;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return std::snprintf(s.error, sizeof s.error, "out of memory"), false;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  static constexpr int kColor[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                   PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
  png_set_write_fn(png, &s, png_write_cb, png_flush_cb);
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_set_IHDR(png, info, s.width, s.height, 8, kColor[s.channels], PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t rowbytes = size_t{s.width} * static_cast<size_t>(s.channels);
  for (png_uint_32 y = 0; y < s.height; ++y)
    png_write_row(png, const_cast<png_bytep>(s.pixels + y * rowbytes));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

std::string encode_png_impl(const Tensor& image, const std::string& what) {
  RAVEL_CHECK(image.defined(), what, ": the image is undefined");
  RAVEL_CHECK(image.dtype() == DType::UInt8, what, ": image dtype ", dtype_name(image.dtype()),
              ", expected uint8");
  RAVEL_CHECK(image.ndim() == 2 || image.ndim() == 3, what, ": image shape ", image.shape(),
              ", expected [C, H, W] or [H, W]");
  Tensor chw = image.ndim() == 2 ? image.unsqueeze(0) : image;
  const int64_t c = chw.shape()[0], h = chw.shape()[1], w = chw.shape()[2];
  RAVEL_CHECK(c >= 1 && c <= 4, what, ": image shape ", image.shape(), " has ", c,
              " channels, expected 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA)");
  RAVEL_CHECK(h >= 1 && w >= 1 && h <= 0x7fffffff && w <= 0x7fffffff, what, ": image shape ",
              image.shape(), ": height and width must be in 1..2^31-1");
  Tensor hwc = chw.permute({1, 2, 0}).contiguous();
  std::string out;
  PngWriteState s{&out,
                  hwc.data_ptr<uint8_t>(),
                  static_cast<png_uint_32>(w),
                  static_cast<png_uint_32>(h),
                  static_cast<int>(c),
                  {}};
  if (!png_encode_raw(s)) throw Error(what + ": PNG: " + s.error);
  return out;
}

}  // namespace

Tensor decode_image(const void* data, size_t size, const ImageReadOptions& options,
                    const std::string& what) {
  RAVEL_CHECK(options.channels >= 0 && options.channels <= 4, what, ": channels ", options.channels,
              ", expected 0 (as stored), 1, 2, 3 or 4");
  Decoded d;
  decode_any(data, size, false, d, what);
  return to_planar(d, options.channels);
}

Tensor read_image(const std::string& path, const ImageReadOptions& options) {
  const std::string what = "read_image: '" + path + "'";
  std::string bytes = io::read_file(path, "read_image");
  return decode_image(bytes.data(), bytes.size(), options, what);
}

ImageInfo image_info(const void* data, size_t size, const std::string& what) {
  Decoded d;
  decode_any(data, size, true, d, what);
  return d.info;
}

ImageInfo read_image_info(const std::string& path) {
  std::string bytes = io::read_file(path, "read_image_info");
  return image_info(bytes.data(), bytes.size(), "read_image_info: '" + path + "'");
}

std::string encode_png(const Tensor& image) { return encode_png_impl(image, "encode_png"); }

void write_png(const std::string& path, const Tensor& image) {
  std::string bytes = encode_png_impl(image, "write_png: '" + path + "'");
  io::atomic_write(path, "write_png",
                   [&](const io::WriteBytes& write) { write(bytes.data(), bytes.size()); });
}

}  // namespace ravel
