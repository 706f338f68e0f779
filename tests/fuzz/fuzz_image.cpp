// libFuzzer target for ravel's image decoders (PNG via libpng, JPEG via turbojpeg): every input
// must decode or throw ravel::Error -- never crash, hang, leak, trip a sanitizer or allocate
// more than its bytes can hold (sizes are checked against the compressed bytes first). What
// decodes is converted to every channel count and re-encoded as PNG.
#include <cstddef>
#include <cstdint>

#include "ravel/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)ravel::image_info(data, size, "fuzz input");
    for (int c = 0; c <= 4; ++c) {
      ravel::Tensor t = ravel::decode_image(data, size, {.channels = c}, "fuzz input");
      if (c == 0) (void)ravel::encode_png(t);
    }
  } catch (const ravel::Error&) {
  }
  return 0;
}
