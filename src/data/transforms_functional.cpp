// transforms::functional: direct loops over contiguous [C, H, W] data, one output allocation
// each. They run per example in the DataLoader's workers (60000 times an epoch on 1x28x28
// images), so no chains of tensor ops. Arithmetic follows torchvision's tensor code step by step
// (float32 for float32 and uint8 images, the same operation order, even torch's two bilinear
// resize kernels), so results match it to the last bit; only rotate/affine may differ in a rare
// pixel whose source coordinate lands within float rounding of a pixel boundary (torch builds
// its grid with a BLAS matmul).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "ravel/data/transforms.h"

namespace ravel::data::transforms::functional {

namespace {

// An image as contiguous [C, H, W] data; two_d remembers a [H, W] input so outputs stay 2-D.
struct Image {
  Tensor t;
  int64_t c, h, w;
  bool two_d;
};

Image as_image(const Tensor& img, const char* op) {
  RAVEL_CHECK(img.defined(), op, ": the image is an undefined tensor");
  RAVEL_CHECK(img.ndim() == 2 || img.ndim() == 3, op, ": image of shape ", img.shape(),
              " expected [C, H, W] or [H, W]");
  Tensor t = img.contiguous();
  bool two_d = t.ndim() == 2;
  return {t, two_d ? 1 : t.size(0), t.size(-2), t.size(-1), two_d};
}

Tensor new_image(const Image& in, int64_t h, int64_t w) {
  return in.two_d ? empty({h, w}, in.t.dtype()) : empty({in.c, h, w}, in.t.dtype());
}

// Pixel arithmetic runs on uint8, float32 and float64 images; C is the type torchvision
// computes in (float32 unless the image is float64).
template <typename F>
void visit_pixels(DType dt, const char* op, F&& f) {
  switch (dt) {
    case DType::UInt8:
      return f.template operator()<uint8_t, float>();
    case DType::Float32:
      return f.template operator()<float, float>();
    case DType::Float64:
      return f.template operator()<double, double>();
    default:
      detail::throw_error(op, ": image dtype ", dtype_name(dt),
                          " is not supported, expected uint8, float32 or float64");
  }
}

// An interpolated value back to the image's dtype: integers are rounded (half to even, as
// torch.round) and kept in range.
template <typename T, typename C>
T store(C v) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(std::clamp<C>(std::nearbyint(v), 0, 255));
  else
    return static_cast<T>(v);
}

// ---- index maps: flips, crops and pads are one copy with different maps ----

// Where output row/column k of a window starting at `start` reads from in a side of n pixels,
// or -1 for the fill value. Reflect needs the window within one mirror image of the side.
void window_map(int64_t* map, int64_t start, int64_t len, int64_t n, PadMode mode, const char* op) {
  if (mode == PadMode::Reflect) {
    int64_t over = std::max(-start, start + len - n);
    RAVEL_CHECK(over < n, op, ": reflect padding of ", over, " on a side of ", n,
                " pixels, expected less than ", n);
  }
  for (int64_t k = 0; k < len; ++k) {
    int64_t i = start + k;
    if (i < 0 || i >= n) {
      switch (mode) {
        case PadMode::Constant:
          i = -1;
          break;
        case PadMode::Edge:
          i = std::clamp<int64_t>(i, 0, n - 1);
          break;
        case PadMode::Reflect:
          i = i < 0 ? -i : 2 * (n - 1) - i;
          break;
      }
    }
    map[k] = i;
  }
}

template <typename U>
void remap_kernel(const U* src, U* dst, const Image& in, const int64_t* ys, int64_t oh,
                  const int64_t* xs, int64_t ow, U fill) {
  for (int64_t ch = 0; ch < in.c; ++ch) {
    for (int64_t i = 0; i < oh; ++i, dst += ow) {
      if (ys[i] < 0) {
        std::fill(dst, dst + ow, fill);
        continue;
      }
      const U* row = src + (ch * in.h + ys[i]) * in.w;
      for (int64_t j = 0; j < ow; ++j) dst[j] = xs[j] < 0 ? fill : row[xs[j]];
    }
  }
}

// The bytes of `value` in dtype dt (fill values of any dtype, copied as raw bits).
uint64_t value_bits(double value, DType dt) {
  uint64_t bits = 0;
  visit_dtype(dt, [&]<typename T>() {
    T v = cast_value<T>(value);
    std::memcpy(&bits, &v, sizeof(T));
  });
  return bits;
}

// out[c, i, j] = in[c, ys[i], xs[j]], or fill where ys[i] or xs[j] is -1. `maps` holds ys then
// xs.
Tensor remap(const Image& in, const std::vector<int64_t>& maps, int64_t oh, int64_t ow,
             double fill) {
  Tensor out = new_image(in, oh, ow);
  uint64_t bits = value_bits(fill, in.t.dtype());
  visit_itemsize(in.t.itemsize(), [&]<typename U>() {
    U f;
    std::memcpy(&f, &bits, sizeof(U));
    remap_kernel(static_cast<const U*>(in.t.raw_data()), static_cast<U*>(out.raw_data()), in,
                 maps.data(), oh, maps.data() + oh, ow, f);
  });
  return out;
}

// The oh x ow window at (top, left), outside parts per `mode`.
Tensor window(const Image& in, int64_t top, int64_t left, int64_t oh, int64_t ow, PadMode mode,
              double fill, const char* op) {
  RAVEL_CHECK(oh > 0 && ow > 0, op, ": output size ", oh, " x ", ow, " must be positive");
  std::vector<int64_t> maps(static_cast<size_t>(oh + ow));
  window_map(maps.data(), top, oh, in.h, mode, op);
  window_map(maps.data() + oh, left, ow, in.w, mode, op);
  return remap(in, maps, oh, ow, fill);
}

Tensor flip(const Tensor& img, bool horizontal, const char* op) {
  Image in = as_image(img, op);
  std::vector<int64_t> maps(static_cast<size_t>(in.h + in.w));
  for (int64_t i = 0; i < in.h; ++i) maps[i] = horizontal ? i : in.h - 1 - i;
  for (int64_t j = 0; j < in.w; ++j) maps[in.h + j] = horizontal ? in.w - 1 - j : j;
  return remap(in, maps, in.h, in.w, 0.0);
}

// ---- sampling through an inverse affine map (rotate, affine) ----

// torchvision's tensor path: a grid built from the inverse matrix m (in pixels about the image
// centre), rescaled to [-1, 1] and read by grid_sample(align_corners=False, zeros padding), with
// a ones channel whose sample m marks how much of each output pixel lies inside: nearest gives
// fill where m < 0.5; bilinear gives v * m + (1 - m) * fill.
template <typename T, typename C>
void warp_kernel(const Image& in, const double (&m)[6], Interpolation interp, double fill_d,
                 T* dst) {
  const T* src = static_cast<const T*>(in.t.raw_data());
  const int64_t h = in.h, w = in.w;
  // theta as the grid generator holds it: float values divided by the half sizes.
  const C hw = static_cast<C>(0.5 * static_cast<double>(w));
  const C hh = static_cast<C>(0.5 * static_cast<double>(h));
  const C a0 = static_cast<C>(m[0]) / hw, a1 = static_cast<C>(m[1]) / hw,
          a2 = static_cast<C>(m[2]) / hw;
  const C b0 = static_cast<C>(m[3]) / hh, b1 = static_cast<C>(m[4]) / hh,
          b2 = static_cast<C>(m[5]) / hh;
  const C sx = static_cast<C>(w) / 2, sy = static_cast<C>(h) / 2;  // grid_sample unnormalise
  const C fill = static_cast<C>(fill_d);
  const int64_t plane = h * w;
  for (int64_t i = 0; i < h; ++i) {
    const C y = static_cast<C>(i) - hh + static_cast<C>(0.5);
    for (int64_t j = 0; j < w; ++j) {
      const C x = static_cast<C>(j) - hw + static_cast<C>(0.5);
      const C gx = x * a0 + y * a1 + a2, gy = x * b0 + y * b1 + b2;
      const C ix = (gx + 1) * sx - static_cast<C>(0.5), iy = (gy + 1) * sy - static_cast<C>(0.5);
      T* o = dst + i * w + j;
      if (interp == Interpolation::Nearest) {
        const C rx = std::nearbyint(ix), ry = std::nearbyint(iy);
        const bool inside = rx >= 0 && rx < static_cast<C>(w) && ry >= 0 && ry < static_cast<C>(h);
        const int64_t k = inside ? static_cast<int64_t>(ry) * w + static_cast<int64_t>(rx) : 0;
        for (int64_t ch = 0; ch < in.c; ++ch)
          o[ch * plane] = inside ? src[ch * plane + k] : store<T>(fill);
        continue;
      }
      const C x0 = std::floor(ix), y0 = std::floor(iy);
      if (!(x0 >= -1 && x0 < static_cast<C>(w) && y0 >= -1 && y0 < static_cast<C>(h))) {
        // No corner inside (or a NaN coordinate): all fill, and no float -> int overflow.
        for (int64_t ch = 0; ch < in.c; ++ch) o[ch * plane] = store<T>(fill);
        continue;
      }
      const C we = ix - x0, ns = iy - y0;  // weights of the east column and the south row
      const C ew = 1 - we, sn = 1 - ns;
      const C wts[4] = {sn * ew, sn * we, ns * ew, ns * we};  // nw, ne, sw, se
      const int64_t xi = static_cast<int64_t>(x0), yi = static_cast<int64_t>(y0);
      int64_t idx[4];
      for (int k = 0; k < 4; ++k) {
        const int64_t xx = xi + (k & 1), yy = yi + (k >> 1);
        const bool inside = xx >= 0 && xx < w && yy >= 0 && yy < h;
        idx[k] = inside ? yy * w + xx : -1;
      }
      // grid_sample's sum, in its order (nw, ne, sw, se), with zeros outside.
      auto sample = [&](auto&& value) {
        C v = value(0) * wts[0];
        for (int k = 1; k < 4; ++k) v = v + value(k) * wts[k];
        return v;
      };
      const C mask = sample([&](int k) { return C(idx[k] >= 0 ? 1 : 0); });
      for (int64_t ch = 0; ch < in.c; ++ch) {
        const T* p = src + ch * plane;
        const C v = sample([&](int k) { return idx[k] >= 0 ? static_cast<C>(p[idx[k]]) : C(0); });
        o[ch * plane] = store<T>(v * mask + (1 - mask) * fill);
      }
    }
  }
}

// torchvision's _get_inverse_affine_matrix with the centre at the image centre and no shear.
Tensor warp(const Tensor& img, double angle, double tx, double ty, double scale,
            Interpolation interp, double fill, const char* op) {
  Image in = as_image(img, op);
  RAVEL_CHECK(scale > 0, op, ": scale ", scale, " must be positive");
  const double rot = angle * (std::numbers::pi / 180.0);  // Python's math.radians
  double m[6] = {std::cos(rot) / scale,  std::sin(rot) / scale, 0.0,
                 -std::sin(rot) / scale, std::cos(rot) / scale, 0.0};
  m[2] += m[0] * -tx + m[1] * -ty;
  m[5] += m[3] * -tx + m[4] * -ty;
  Tensor out = new_image(in, in.h, in.w);
  visit_pixels(in.t.dtype(), op, [&]<typename T, typename C>() {
    warp_kernel<T, C>(in, m, interp, fill, out.data_ptr<T>());
  });
  return out;
}

// ---- colour: torchvision's _blend(img, other, ratio) ----

// ratio * x + (1 - ratio) * other, clamped to [0, 1] (floating) or [0, 255] then truncated.
template <typename T, typename C>
void blend(const T* src, T* dst, int64_t n, double ratio, C other) {
  const C r = static_cast<C>(ratio), r1 = static_cast<C>(1.0 - ratio);
  const C bound = std::is_integral_v<T> ? C(255) : C(1);
  const C o = r1 * other;
  for (int64_t i = 0; i < n; ++i)
    dst[i] = static_cast<T>(std::clamp<C>(r * static_cast<C>(src[i]) + o, 0, bound));
}

void check_factor(double factor, const char* op) {
  RAVEL_CHECK(factor >= 0, op, ": factor ", factor, " must be non-negative");
}

}  // namespace

Tensor hflip(const Tensor& img) { return flip(img, true, "hflip"); }
Tensor vflip(const Tensor& img) { return flip(img, false, "vflip"); }

Tensor pad(const Tensor& img, Padding p, PadMode mode, double fill) {
  Image in = as_image(img, "pad");
  RAVEL_CHECK(p.left >= 0 && p.top >= 0 && p.right >= 0 && p.bottom >= 0, "pad: padding (left ",
              p.left, ", top ", p.top, ", right ", p.right, ", bottom ", p.bottom,
              ") must be non-negative");
  return window(in, -p.top, -p.left, in.h + p.top + p.bottom, in.w + p.left + p.right, mode, fill,
                "pad");
}

Tensor crop(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
            PadMode mode, double fill) {
  return window(as_image(img, "crop"), top, left, height, width, mode, fill, "crop");
}

Tensor center_crop(const Tensor& img, int64_t height, int64_t width) {
  Image in = as_image(img, "center_crop");
  // torchvision pads a smaller side by (crop - size) // 2 before, then crops at round(...).
  auto start = [](int64_t size, int64_t crop) {
    if (crop > size) return -((crop - size) / 2);
    return static_cast<int64_t>(std::nearbyint(static_cast<double>(size - crop) / 2.0));
  };
  return window(in, start(in.h, height), start(in.w, width), height, width, PadMode::Constant, 0.0,
                "center_crop");
}

Tensor resize(const Tensor& img, int64_t height, int64_t width) {
  Image in = as_image(img, "resize");
  RAVEL_CHECK(height > 0 && width > 0, "resize: size ", height, " x ", width, " must be positive");
  Tensor out = new_image(in, height, width);
  visit_pixels(in.t.dtype(), "resize", [&]<typename T, typename C>() {
    // Per output row and column: two source indices and their weights, as upsample_bilinear2d
    // gets them: a C scale, the source position in double, the weights rounded to C.
    struct Tap {
      int64_t i0, i1;
      C l0, l1;
    };
    std::vector<Tap> taps(static_cast<size_t>(height + width));
    auto fill_taps = [](Tap* t, int64_t out_n, int64_t in_n) {
      const C scale = static_cast<C>(in_n) / static_cast<C>(out_n);
      for (int64_t k = 0; k < out_n; ++k) {
        double src =
            std::max(static_cast<double>(scale) * (static_cast<double>(k) + 0.5) - 0.5, 0.0);
        int64_t i0 = static_cast<int64_t>(src);
        C l1 = static_cast<C>(std::clamp(src - static_cast<double>(i0), 0.0, 1.0));
        t[k] = {i0, i0 + (i0 < in_n - 1 ? 1 : 0), 1 - l1, l1};
      }
    };
    fill_taps(taps.data(), height, in.h);
    fill_taps(taps.data() + height, width, in.w);
    const Tap* ty = taps.data();
    const Tap* tx = taps.data() + height;
    const T* src = static_cast<const T*>(in.t.raw_data());
    T* dst = out.data_ptr<T>();
    for (int64_t ch = 0; ch < in.c; ++ch) {
      const T* plane = src + ch * in.h * in.w;
      for (int64_t i = 0; i < height; ++i) {
        const Tap& y = ty[i];
        const T* r0 = plane + y.i0 * in.w;
        const T* r1 = plane + y.i1 * in.w;
        for (int64_t j = 0; j < width; ++j, ++dst) {
          const Tap& x = tx[j];
          const C v00 = static_cast<C>(r0[x.i0]), v01 = static_cast<C>(r0[x.i1]);
          const C v10 = static_cast<C>(r1[x.i0]), v11 = static_cast<C>(r1[x.i1]);
          if (in.c == 1) {
            // torch takes its channels-last kernel for one channel: the four products with the
            // 2-D weights, summed in double.
            const C w00 = y.l0 * x.l0, w01 = y.l0 * x.l1, w10 = y.l1 * x.l0, w11 = y.l1 * x.l1;
            *dst = store<T>(
                static_cast<C>(static_cast<double>(v00) * w00 + static_cast<double>(v01) * w01 +
                               static_cast<double>(v10) * w10 + static_cast<double>(v11) * w11));
          } else {
            // Its separable kernel, rows of columns, each pair as one fused multiply-add.
            const C top = std::fma(v00, x.l0, v01 * x.l1);
            const C bottom = std::fma(v10, x.l0, v11 * x.l1);
            *dst = store<T>(std::fma(top, y.l0, bottom * y.l1));
          }
        }
      }
    }
  });
  return out;
}

Tensor rotate(const Tensor& img, double angle_degrees, Interpolation interp, double fill) {
  // torchvision rotates by -angle in affine's convention.
  return warp(img, -angle_degrees, 0.0, 0.0, 1.0, interp, fill, "rotate");
}

Tensor affine(const Tensor& img, double angle, std::pair<double, double> translate, double scale,
              Interpolation interp, double fill) {
  return warp(img, angle, translate.first, translate.second, scale, interp, fill, "affine");
}

Tensor normalize(const Tensor& img, const std::vector<double>& mean,
                 const std::vector<double>& std) {
  Image in = as_image(img, "normalize");
  RAVEL_CHECK(is_floating(in.t.dtype()), "normalize: image dtype ", dtype_name(in.t.dtype()),
              " expected a floating image (apply ToFloat first)");
  auto count_ok = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == in.c; };
  RAVEL_CHECK(count_ok(mean.size()) && count_ok(std.size()), "normalize: ", mean.size(),
              " mean and ", std.size(), " std values for an image of ", in.c,
              " channels, expected 1 or ", in.c, " each");
  Tensor out = new_image(in, in.h, in.w);
  visit_pixels(in.t.dtype(), "normalize", [&]<typename T, typename C>() {
    const T* src = static_cast<const T*>(in.t.raw_data());
    T* dst = out.data_ptr<T>();
    const int64_t plane = in.h * in.w;
    for (int64_t ch = 0; ch < in.c; ++ch) {
      const T m = static_cast<T>(mean[mean.size() == 1 ? 0 : ch]);
      const T s = static_cast<T>(std[std.size() == 1 ? 0 : ch]);
      RAVEL_CHECK(s != 0, "normalize: std of channel ", ch, " is zero");
      if constexpr (std::is_floating_point_v<T>)  // uint8 was refused above
        for (int64_t k = 0; k < plane; ++k) dst[ch * plane + k] = (src[ch * plane + k] - m) / s;
    }
  });
  return out;
}

Tensor adjust_brightness(const Tensor& img, double factor) {
  check_factor(factor, "adjust_brightness");
  Image in = as_image(img, "adjust_brightness");
  Tensor out = new_image(in, in.h, in.w);
  visit_pixels(in.t.dtype(), "adjust_brightness", [&]<typename T, typename C>() {
    blend<T, C>(static_cast<const T*>(in.t.raw_data()), out.data_ptr<T>(), in.t.numel(), factor,
                C(0));
  });
  return out;
}

Tensor adjust_contrast(const Tensor& img, double factor) {
  check_factor(factor, "adjust_contrast");
  Image in = as_image(img, "adjust_contrast");
  RAVEL_CHECK(in.c == 1 || in.c == 3, "adjust_contrast: image of shape ", in.t.shape(), " has ",
              in.c, " channels, expected 1 or 3");
  Tensor out = new_image(in, in.h, in.w);
  visit_pixels(in.t.dtype(), "adjust_contrast", [&]<typename T, typename C>() {
    const T* src = static_cast<const T*>(in.t.raw_data());
    const int64_t plane = in.h * in.w;
    // The grey level as torchvision gets it: rgb_to_grayscale in the image's dtype (truncated
    // for uint8), then the mean in float32 (float64 for float64 images).
    double sum = 0;
    for (int64_t k = 0; k < plane; ++k) {
      if (in.c == 1) {
        sum += static_cast<double>(static_cast<C>(src[k]));
        continue;
      }
      C grey = static_cast<C>(0.2989) * static_cast<C>(src[k]) +
               static_cast<C>(0.587) * static_cast<C>(src[plane + k]) +
               static_cast<C>(0.114) * static_cast<C>(src[2 * plane + k]);
      sum += static_cast<double>(static_cast<C>(static_cast<T>(grey)));
    }
    const C mean = static_cast<C>(sum) / static_cast<C>(plane);
    blend<T, C>(src, out.data_ptr<T>(), in.t.numel(), factor, mean);
  });
  return out;
}

Tensor erase(const Tensor& img, int64_t top, int64_t left, int64_t height, int64_t width,
             double value) {
  Image in = as_image(img, "erase");
  RAVEL_CHECK(top >= 0 && left >= 0 && height >= 0 && width >= 0 && top + height <= in.h &&
                  left + width <= in.w,
              "erase: rectangle at (", top, ", ", left, ") of ", height, " x ", width,
              " expected inside the ", in.h, " x ", in.w, " image");
  Tensor out = in.t.clone();
  uint64_t bits = value_bits(value, in.t.dtype());
  visit_itemsize(in.t.itemsize(), [&]<typename U>() {
    U v;
    std::memcpy(&v, &bits, sizeof(U));
    U* p = static_cast<U*>(out.raw_data());
    for (int64_t ch = 0; ch < in.c; ++ch)
      for (int64_t i = top; i < top + height; ++i) {
        U* row = p + (ch * in.h + i) * in.w;
        std::fill(row + left, row + left + width, v);
      }
  });
  return out;
}

}  // namespace ravel::data::transforms::functional
