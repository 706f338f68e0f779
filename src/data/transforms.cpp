// The transform classes: each draws its parameters from the Generator in the order its header
// comment gives, then calls transforms::functional (transforms_functional.cpp).
#include "ravel/data/transforms.h"

#include <cmath>
#include <sstream>

#include "core/dispatch.h"

namespace ravel::data::transforms {

namespace F = functional;

namespace {

// The rank check with the transform's own name, before any parameter is drawn.
void check_image(const Tensor& img, const char* name) {
  RAVEL_CHECK(img.defined(), name, ": the image is an undefined tensor");
  RAVEL_CHECK(img.ndim() == 2 || img.ndim() == 3, name, ": image of shape ", img.shape(),
              " expected [C, H, W] or [H, W]");
}

void check_floating(const Tensor& img, const char* name) {
  check_image(img, name);
  RAVEL_CHECK(is_floating(img.dtype()), name, ": image dtype ", dtype_name(img.dtype()),
              " expected a floating image: apply ToFloat first");
}

double uniform(Generator& gen, double lo, double hi) { return lo + (hi - lo) * gen.next_double(); }

void check_probability(double p, const char* name) {
  RAVEL_CHECK(p >= 0 && p <= 1, name, ": p = ", p, " expected a probability in [0, 1]");
}

void check_size(int64_t h, int64_t w, const char* name) {
  RAVEL_CHECK(h > 0 && w > 0, name, ": size (", h, ", ", w, ") must be positive");
}

const char* interp_name(Interpolation i) {
  return i == Interpolation::Nearest ? "nearest" : "bilinear";
}

// Compose(\n    A()\n    B()\n), as torchvision prints it; numbers as C++ streams print them.
template <typename... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

std::string list(const std::vector<double>& v) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  return os.str() + "]";
}

template <typename A, typename B>
std::string tuple(const std::pair<A, B>& p) {
  return str("(", p.first, ", ", p.second, ")");
}

}  // namespace

Transform::~Transform() = default;

TransformDataset::Fn on_input(TransformPtr t) {
  RAVEL_CHECK(t != nullptr, "on_input: the transform is null");
  return [t = std::move(t)](Example e, Generator& gen) {
    e.input = (*t)(e.input, gen);
    return e;
  };
}

// ---- Compose ----

Compose::Compose(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (size_t i = 0; i < transforms_.size(); ++i)
    RAVEL_CHECK(transforms_[i] != nullptr, "Compose: transform ", i, " is null");
}

Tensor Compose::operator()(const Tensor& image, Generator& gen) const {
  Tensor x = image;
  for (const TransformPtr& t : transforms_) x = (*t)(x, gen);
  return x;
}

std::string Compose::repr() const {
  std::string s = "Compose(\n";
  for (const TransformPtr& t : transforms_) s += "    " + t->repr() + "\n";
  return s + ")";
}

// ---- ToFloat ----

ToFloat::ToFloat(double scale, DType dtype) : scale_(scale), dtype_(dtype) {
  RAVEL_CHECK(dtype == DType::Float32 || dtype == DType::Float64, "ToFloat: dtype ",
              dtype_name(dtype), " expected float32 or float64");
}

Tensor ToFloat::operator()(const Tensor& image, Generator&) const {
  check_image(image, "ToFloat");
  Tensor in = image.contiguous();
  Tensor out = empty(in.shape(), dtype_);
  const int64_t n = in.numel();
  visit_dtype(in.dtype(), [&]<typename S>() {
    const S* src = in.data_ptr<S>();
    // In double, then rounded once: x / 255 exactly as torchvision's division gives it.
    auto run = [&]<typename D>(D* dst) {
      for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<D>(cast_value<double>(src[i]) * scale_);
    };
    if (dtype_ == DType::Float32)
      run(out.data_ptr<float>());
    else
      run(out.data_ptr<double>());
  });
  return out;
}

std::string ToFloat::repr() const {
  return str("ToFloat(scale=", scale_, ", dtype=", dtype_name(dtype_), ")");
}

// ---- Normalize ----

Normalize::Normalize(std::vector<double> mean, std::vector<double> std)
    : mean_(std::move(mean)), std_(std::move(std)) {
  RAVEL_CHECK(!mean_.empty() && !std_.empty(), "Normalize: mean and std need at least one value");
  for (double s : std_) RAVEL_CHECK(s != 0, "Normalize: std ", list(std_), " has a zero");
}

Tensor Normalize::operator()(const Tensor& image, Generator&) const {
  check_floating(image, "Normalize");
  return F::normalize(image, mean_, std_);
}

std::string Normalize::repr() const {
  return str("Normalize(mean=", list(mean_), ", std=", list(std_), ")");
}

// ---- crops ----

RandomCrop::RandomCrop(int64_t size, int64_t padding, PadMode mode, double fill)
    : RandomCrop({size, size}, padding, mode, fill) {}

RandomCrop::RandomCrop(std::pair<int64_t, int64_t> size, int64_t padding, PadMode mode, double fill)
    : h_(size.first), w_(size.second), padding_(padding), mode_(mode), fill_(fill) {
  check_size(h_, w_, "RandomCrop");
  RAVEL_CHECK(padding >= 0, "RandomCrop: padding ", padding, " must be non-negative");
}

Tensor RandomCrop::operator()(const Tensor& image, Generator& gen) const {
  check_image(image, "RandomCrop");
  const int64_t ph = image.size(-2) + 2 * padding_, pw = image.size(-1) + 2 * padding_;
  RAVEL_CHECK(h_ <= ph && w_ <= pw, "RandomCrop: crop size (", h_, ", ", w_,
              ") is larger than the padded image (", ph, ", ", pw, ") of shape ", image.shape(),
              " padded by ", padding_);
  const auto top = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(ph - h_ + 1)));
  const auto left = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(pw - w_ + 1)));
  return F::crop(image, top - padding_, left - padding_, h_, w_, mode_, fill_);
}

std::string RandomCrop::repr() const {
  static const char* modes[] = {"constant", "edge", "reflect"};
  std::string s = str("RandomCrop(size=(", h_, ", ", w_, "), padding=", padding_);
  if (mode_ != PadMode::Constant) s += str(", padding_mode=", modes[static_cast<int>(mode_)]);
  if (fill_ != 0) s += str(", fill=", fill_);
  return s + ")";
}

CenterCrop::CenterCrop(int64_t size) : CenterCrop(std::pair{size, size}) {}

CenterCrop::CenterCrop(std::pair<int64_t, int64_t> size) : h_(size.first), w_(size.second) {
  check_size(h_, w_, "CenterCrop");
}

Tensor CenterCrop::operator()(const Tensor& image, Generator&) const {
  check_image(image, "CenterCrop");
  return F::center_crop(image, h_, w_);
}

std::string CenterCrop::repr() const { return str("CenterCrop(size=(", h_, ", ", w_, "))"); }

// ---- Resize ----

Resize::Resize(std::pair<int64_t, int64_t> size) : h_(size.first), w_(size.second) {
  check_size(h_, w_, "Resize");
}

Tensor Resize::operator()(const Tensor& image, Generator&) const {
  check_image(image, "Resize");
  return F::resize(image, h_, w_);
}

std::string Resize::repr() const {
  return str("Resize(size=(", h_, ", ", w_, "), interpolation=bilinear)");
}

// ---- flips ----

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  check_probability(p, "RandomHorizontalFlip");
}

Tensor RandomHorizontalFlip::operator()(const Tensor& image, Generator& gen) const {
  check_image(image, "RandomHorizontalFlip");
  return gen.next_double() < p_ ? F::hflip(image) : image;
}

std::string RandomHorizontalFlip::repr() const { return str("RandomHorizontalFlip(p=", p_, ")"); }

RandomVerticalFlip::RandomVerticalFlip(double p) : p_(p) {
  check_probability(p, "RandomVerticalFlip");
}

Tensor RandomVerticalFlip::operator()(const Tensor& image, Generator& gen) const {
  check_image(image, "RandomVerticalFlip");
  return gen.next_double() < p_ ? F::vflip(image) : image;
}

std::string RandomVerticalFlip::repr() const { return str("RandomVerticalFlip(p=", p_, ")"); }

// ---- rotation and affine maps ----

RandomRotation::RandomRotation(double degrees, Interpolation interp, double fill)
    : degrees_(degrees), interp_(interp), fill_(fill) {
  RAVEL_CHECK(degrees >= 0, "RandomRotation: degrees ", degrees, " must be non-negative");
}

Tensor RandomRotation::operator()(const Tensor& image, Generator& gen) const {
  check_image(image, "RandomRotation");
  return F::rotate(image, uniform(gen, -degrees_, degrees_), interp_, fill_);
}

std::string RandomRotation::repr() const {
  return str("RandomRotation(degrees=[", -degrees_, ", ", degrees_,
             "], interpolation=", interp_name(interp_), ", fill=", fill_, ")");
}

RandomAffine::RandomAffine(RandomAffineOptions options) : o_(options) {
  RAVEL_CHECK(o_.degrees >= 0, "RandomAffine: degrees ", o_.degrees, " must be non-negative");
  RAVEL_CHECK(o_.translate.first >= 0 && o_.translate.first <= 1 && o_.translate.second >= 0 &&
                  o_.translate.second <= 1,
              "RandomAffine: translate ", tuple(o_.translate), " expected fractions in [0, 1]");
  RAVEL_CHECK(o_.scale.first > 0 && o_.scale.first <= o_.scale.second, "RandomAffine: scale ",
              tuple(o_.scale), " expected 0 < lo <= hi");
}

Tensor RandomAffine::operator()(const Tensor& image, Generator& gen) const {
  check_image(image, "RandomAffine");
  const double angle = uniform(gen, -o_.degrees, o_.degrees);
  const double max_dx = o_.translate.first * static_cast<double>(image.size(-1));
  const double max_dy = o_.translate.second * static_cast<double>(image.size(-2));
  const double tx = std::nearbyint(uniform(gen, -max_dx, max_dx));
  const double ty = std::nearbyint(uniform(gen, -max_dy, max_dy));
  const double scale = uniform(gen, o_.scale.first, o_.scale.second);
  return F::affine(image, angle, {tx, ty}, scale, o_.interpolation, o_.fill);
}

std::string RandomAffine::repr() const {
  std::string s = str("RandomAffine(degrees=[", -o_.degrees, ", ", o_.degrees, "]");
  if (o_.translate != std::pair<double, double>{0, 0}) s += ", translate=" + tuple(o_.translate);
  if (o_.scale != std::pair<double, double>{1, 1}) s += ", scale=" + tuple(o_.scale);
  if (o_.interpolation != Interpolation::Nearest)
    s += str(", interpolation=", interp_name(o_.interpolation));
  if (o_.fill != 0) s += str(", fill=", o_.fill);
  return s + ")";
}

// ---- ColorJitter ----

ColorJitter::ColorJitter(double brightness, double contrast)
    : brightness_(brightness), contrast_(contrast) {
  RAVEL_CHECK(brightness >= 0 && contrast >= 0, "ColorJitter: brightness ", brightness,
              " and contrast ", contrast, " must be non-negative");
}

Tensor ColorJitter::operator()(const Tensor& image, Generator& gen) const {
  check_floating(image, "ColorJitter");
  const bool brightness_first = gen.next_double() < 0.5;
  const double b = uniform(gen, std::max(0.0, 1 - brightness_), 1 + brightness_);
  const double c = uniform(gen, std::max(0.0, 1 - contrast_), 1 + contrast_);
  Tensor x = image;
  for (int step = 0; step < 2; ++step) {
    if ((step == 0) == brightness_first) {
      if (brightness_ > 0) x = F::adjust_brightness(x, b);
    } else if (contrast_ > 0) {
      x = F::adjust_contrast(x, c);
    }
  }
  return x;
}

std::string ColorJitter::repr() const {
  return str("ColorJitter(brightness=", brightness_, ", contrast=", contrast_, ")");
}

// ---- RandomErasing ----

RandomErasing::RandomErasing(RandomErasingOptions options) : o_(options) {
  check_probability(o_.p, "RandomErasing");
  RAVEL_CHECK(o_.scale.first >= 0 && o_.scale.first <= o_.scale.second && o_.scale.second <= 1,
              "RandomErasing: scale ", tuple(o_.scale), " expected 0 <= lo <= hi <= 1");
  RAVEL_CHECK(o_.ratio.first > 0 && o_.ratio.first <= o_.ratio.second, "RandomErasing: ratio ",
              tuple(o_.ratio), " expected 0 < lo <= hi");
}

Tensor RandomErasing::operator()(const Tensor& image, Generator& gen) const {
  check_floating(image, "RandomErasing");
  if (!(gen.next_double() < o_.p)) return image;
  const int64_t h = image.size(-2), w = image.size(-1);
  const double area = static_cast<double>(h * w);
  const double log_lo = std::log(o_.ratio.first), log_hi = std::log(o_.ratio.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double erase_area = area * uniform(gen, o_.scale.first, o_.scale.second);
    const double aspect = std::exp(uniform(gen, log_lo, log_hi));
    // Python's round: half to even.
    const auto eh = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * aspect)));
    const auto ew = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / aspect)));
    if (!(eh < h && ew < w)) continue;
    const auto top = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(h - eh + 1)));
    const auto left = static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(w - ew + 1)));
    return F::erase(image, top, left, eh, ew, o_.value);
  }
  return image;
}

std::string RandomErasing::repr() const {
  return str("RandomErasing(p=", o_.p, ", scale=", tuple(o_.scale), ", ratio=", tuple(o_.ratio),
             ", value=", o_.value, ")");
}

}  // namespace ravel::data::transforms
