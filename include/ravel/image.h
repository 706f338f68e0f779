// Images on disk: PNG and JPEG in, PNG out, as uint8 [C, H, W] tensors.
//
//   Tensor img = ravel::read_image("cat.jpg");                   // uint8 [3, H, W]
//   Tensor gray = ravel::read_image("x.png", {.channels = 1});   // uint8 [1, H, W]
//   ravel::ImageInfo info = ravel::read_image_info("x.png");     // size without decoding
//   ravel::write_png("out.png", img);                            // [C, H, W] or [H, W]
//
// The format is chosen by the file's magic bytes, never its extension. PNG: every colour type
// and bit depth (1-16 bit gray, palette, RGB, with or without alpha or a tRNS chunk, interlaced);
// 16-bit samples keep their high byte (as PIL, OpenCV and torchvision's convert_image_dtype do).
// JPEG: baseline and progressive, gray or colour (CMYK is refused); EXIF orientation is
// ignored (as PIL and torchvision do by default). A JPEG with a libjpeg warning (a truncated
// scan, corrupt data) is refused rather than padded with grey.
//
// Channel conversion (ImageReadOptions::channels), as torchvision's ImageReadMode:
//   0 as stored (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; a palette becomes RGB or RGBA),
//   1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. Alpha is dropped, not composited; an added alpha is
//   255. Colour to gray is PIL's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16.
//
// Hostile input: corrupt, truncated or oversized files throw ravel::Error naming the file and
// the problem (the decoders are fuzzed, tests/fuzz/fuzz_image.cpp). Images above 16384 pixels a
// side or 256 MiB decoded, or declaring more pixels than their compressed bytes can hold, are
// refused before anything large is allocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "ravel/tensor.h"

namespace ravel {

struct ImageReadOptions {
  int channels = 0;  // 0 as stored, 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
};

enum class ImageFormat { Png, Jpeg };

struct ImageInfo {
  ImageFormat format = ImageFormat::Png;
  int64_t height = 0, width = 0;
  int channels = 0;  // as stored (what read_image gives with channels = 0)
};

Tensor read_image(const std::string& path, const ImageReadOptions& options = {});
// The same from bytes in memory; `what` names the source in errors.
Tensor decode_image(const void* data, size_t size, const ImageReadOptions& options = {},
                    const std::string& what = "image data");
// The header only: format, size and stored channels (cheap; the pixels are not checked).
ImageInfo read_image_info(const std::string& path);
ImageInfo image_info(const void* data, size_t size, const std::string& what = "image data");

// uint8 [C, H, W] (C = 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) or [H, W] (gray), any layout.
// Written through a temporary file and renamed (a crash leaves no partial file).
void write_png(const std::string& path, const Tensor& image);
std::string encode_png(const Tensor& image);  // the file's bytes

}  // namespace ravel
