// Preprocessing layers: Normalization and the random image augmentations (RandomFlip,
// RandomCrop, RandomTranslation, RandomRotation) built on data::transforms::functional.
#include <cmath>
#include <nlohmann/json.hpp>
#include <utility>

#include "layers_internal.h"
#include "ravel/autograd.h"
#include "ravel/data/transforms.h"
#include "ravel/keras/layers.h"
#include "ravel/ops.h"

namespace ravel::keras {

namespace TF = data::transforms::functional;
using data::transforms::Interpolation;
using data::transforms::PadMode;
using layer_detail::check_rank;

namespace layers {

// ---------------------------------------------------------------- Normalization

Normalization::Normalization(int64_t axis, std::string name)
    : Layer("Normalization", std::move(name)), axis_(axis) {}

int64_t Normalization::feature_axis(int64_t rank) const {
  int64_t a = axis_ < 0 ? axis_ + rank : axis_;
  RAVEL_CHECK(a >= 1 && a < rank, "Normalization: axis ", axis_, " is out of range for data of ",
              rank, " dimensions (the batch axis 0 cannot be the feature axis)");
  return a;
}

void Normalization::set_stats(const Tensor& mean, const Tensor& variance) {
  if (buffer("mean").defined()) {
    RAVEL_CHECK(buffer("mean").size(0) == mean.size(0), describe(), ": adapt() found ",
                mean.size(0), " features, but the layer was built for ", buffer("mean").size(0));
    NoGradGuard no_grad;
    buffer("mean").copy_(mean);
    buffer("variance").copy_(variance);
  } else {
    register_buffer("mean", mean.to(DType::Float32, true));
    register_buffer("variance", variance.to(DType::Float32, true));
  }
}

void Normalization::adapt(const Tensor& data) {
  RAVEL_CHECK(data.defined() && data.ndim() >= 2 && data.size(0) > 0,
              "Normalization: adapt() expects data [N, ...] with N > 0 examples, got shape ",
              data.defined() ? data.shape() : ravel::Shape{});
  NoGradGuard no_grad;
  int64_t a = feature_axis(data.ndim());
  // Features last, everything else as rows; statistics in float64, stored in float32.
  Tensor rows = moveaxis(data.to(DType::Float64), a, -1).reshape({-1, data.size(a)});
  Tensor mean = rows.mean(0);
  Tensor centred = rows - mean;
  Tensor variance = (centred * centred).mean(0);  // population variance (ddof 0), as Keras
  set_stats(mean.to(DType::Float32), variance.to(DType::Float32));
  adapted_ = true;
}

void Normalization::build(const std::vector<Shape>& shapes) {
  auto rank = static_cast<int64_t>(shapes[0].size());
  check_rank(*this, shapes[0], 2, 64, "at least 2 ([batch, ...])");
  int64_t features = shapes[0][feature_axis(rank)];
  if (!adapted_) {
    set_stats(zeros({features}), ones({features}));  // the identity until adapt()
  } else {
    RAVEL_CHECK(buffer("mean").size(0) == features, "Normalization: adapted to ",
                buffer("mean").size(0), " features, but the input ",
                layer_detail::shape_str(shapes[0]), " has ", features, " on axis ", axis_);
  }
}

Tensor Normalization::compute(const std::vector<Tensor>& in) {
  Tensor x = is_floating(in[0].dtype()) ? in[0] : in[0].to(DType::Float32);
  int64_t a = feature_axis(x.ndim());
  layer_detail::check_dim(*this, x, a, buffer("mean").size(0), "features");
  ravel::Shape s(static_cast<size_t>(x.ndim()), 1);
  s[static_cast<size_t>(a)] = x.size(a);
  Tensor mean = buffer("mean").reshape(s), var = buffer("variance").reshape(s);
  return (x - mean) / maximum(var.sqrt(), 1e-7);  // Keras' (x - m) / max(sqrt(v), epsilon)
}

nlohmann::json Normalization::config() const {
  nlohmann::json j = Layer::config();
  j["axis"] = axis_;
  return j;
}

// ---------------------------------------------------------------- random augmentation

RandomLayer::RandomLayer(std::string type, uint64_t seed, std::string name)
    : Layer(std::move(type), std::move(name)), seed_(seed), gen_(seed) {}

Tensor RandomLayer::compute(const std::vector<Tensor>& in) {
  const Tensor& x = in[0];
  RAVEL_CHECK(x.ndim() == 4, type_name(), ": input shape ", x.shape(),
              " expected 4 dimensions [batch, channels, height, width]");
  if (!is_training()) return inference(x);
  NoGradGuard no_grad;
  std::vector<Tensor> out;
  out.reserve(static_cast<size_t>(x.size(0)));
  for (int64_t i = 0; i < x.size(0); ++i) out.push_back(augment(x.select(0, i), gen_));
  return stack(out, 0);
}

nlohmann::json RandomLayer::base_config() const {
  nlohmann::json j = Layer::config();
  j["seed"] = seed_;
  return j;
}

namespace {
PadMode pad_mode(const char* type, const std::string& fill_mode) {
  if (fill_mode == "reflect") return PadMode::Reflect;
  if (fill_mode == "nearest") return PadMode::Edge;
  if (fill_mode == "constant") return PadMode::Constant;
  ravel::detail::throw_error(type, ": fill_mode \"", fill_mode,
                             "\", expected \"reflect\", \"nearest\" or \"constant\"");
}
Interpolation interpolation(const char* type, const std::string& name) {
  if (name == "bilinear") return Interpolation::Bilinear;
  if (name == "nearest") return Interpolation::Nearest;
  ravel::detail::throw_error(type, ": interpolation \"", name,
                             "\", expected \"bilinear\" or \"nearest\"");
}
void check_factor(const char* type, const char* what, double f) {
  RAVEL_CHECK(f >= 0 && f <= 1, type, ": ", what, " ", f, " expected in [0, 1]");
}
nlohmann::json random_options_json(nlohmann::json j, const RandomOptions& o) {
  j["fill_mode"] = o.fill_mode;
  j["interpolation"] = o.interpolation;
  j["fill_value"] = o.fill_value;
  return j;
}
}  // namespace

RandomFlip::RandomFlip(std::string mode, uint64_t seed, std::string name)
    : RandomLayer("RandomFlip", seed, std::move(name)),
      horizontal_(mode == "horizontal" || mode == "horizontal_and_vertical"),
      vertical_(mode == "vertical" || mode == "horizontal_and_vertical"),
      mode_(std::move(mode)) {
  RAVEL_CHECK(horizontal_ || vertical_, "RandomFlip: mode \"", mode_,
              "\", expected \"horizontal\", \"vertical\" or \"horizontal_and_vertical\"");
}

Tensor RandomFlip::augment(const Tensor& image, Generator& gen) const {
  Tensor img = image;
  if (horizontal_ && gen.next_double() < 0.5) img = TF::hflip(img);
  if (vertical_ && gen.next_double() < 0.5) img = TF::vflip(img);
  return img;
}

nlohmann::json RandomFlip::config() const {
  nlohmann::json j = base_config();
  j["mode"] = mode_;
  return j;
}

RandomCrop::RandomCrop(int64_t height, int64_t width, uint64_t seed, std::string name)
    : RandomLayer("RandomCrop", seed, std::move(name)), height_(height), width_(width) {
  RAVEL_CHECK(height > 0 && width > 0, "RandomCrop: height ", height, " and width ", width,
              " expected positive sizes");
}

void RandomCrop::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 4, 4, "4 ([batch, channels, height, width])");
  RAVEL_CHECK(shapes[0][2] >= height_ && shapes[0][3] >= width_, "RandomCrop: input shape ",
              layer_detail::shape_str(shapes[0]), " is smaller than the crop ", height_, " x ",
              width_);
}

Tensor RandomCrop::augment(const Tensor& image, Generator& gen) const {
  RAVEL_CHECK(image.size(1) >= height_ && image.size(2) >= width_, "RandomCrop: image shape ",
              image.shape(), " is smaller than the crop ", height_, " x ", width_);
  auto top =
      static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(image.size(1) - height_ + 1)));
  auto left =
      static_cast<int64_t>(gen.next_below(static_cast<uint64_t>(image.size(2) - width_ + 1)));
  return TF::crop(image, top, left, height_, width_);
}

Tensor RandomCrop::inference(const Tensor& x) const {
  // Keras' centre crop: offsets (H - height) // 2 and (W - width) // 2.
  RAVEL_CHECK(x.size(2) >= height_ && x.size(3) >= width_, "RandomCrop: input shape ", x.shape(),
              " is smaller than the crop ", height_, " x ", width_);
  int64_t top = (x.size(2) - height_) / 2, left = (x.size(3) - width_) / 2;
  return x.slice(2, top, top + height_).slice(3, left, left + width_).contiguous();
}

nlohmann::json RandomCrop::config() const {
  nlohmann::json j = base_config();
  j["height"] = height_;
  j["width"] = width_;
  return j;
}

RandomTranslation::RandomTranslation(double height_factor, double width_factor,
                                     RandomOptions options, uint64_t seed, std::string name)
    : RandomLayer("RandomTranslation", seed, std::move(name)),
      height_factor_(height_factor),
      width_factor_(width_factor),
      options_(std::move(options)) {
  check_factor("RandomTranslation", "height_factor", height_factor);
  check_factor("RandomTranslation", "width_factor", width_factor);
  pad_mode("RandomTranslation", options_.fill_mode);
  interpolation("RandomTranslation", options_.interpolation);
}

Tensor RandomTranslation::augment(const Tensor& image, Generator& gen) const {
  int64_t h = image.size(1), w = image.size(2);
  // A shift in [-factor * size, factor * size], whole pixels (half to even), less than the side
  // so that a reflection has pixels to mirror.
  auto shift = [&](double factor, int64_t size) {
    double v = (-factor + 2 * factor * gen.next_double()) * static_cast<double>(size);
    auto s = static_cast<int64_t>(std::nearbyint(v));
    return std::clamp<int64_t>(s, -(size - 1), size - 1);
  };
  int64_t dy = shift(height_factor_, h);
  int64_t dx = shift(width_factor_, w);
  // Output (y, x) is input (y - dy, x - dx): a window of the padded image.
  return TF::crop(image, -dy, -dx, h, w, pad_mode("RandomTranslation", options_.fill_mode),
                  options_.fill_value);
}

nlohmann::json RandomTranslation::config() const {
  nlohmann::json j = random_options_json(base_config(), options_);
  j["height_factor"] = height_factor_;
  j["width_factor"] = width_factor_;
  return j;
}

RandomRotation::RandomRotation(double factor, RandomOptions options, uint64_t seed,
                               std::string name)
    : RandomLayer("RandomRotation", seed, std::move(name)),
      factor_(factor),
      options_(std::move(options)) {
  check_factor("RandomRotation", "factor", factor);
  RAVEL_CHECK(options_.fill_mode == "constant", "RandomRotation: fill_mode \"", options_.fill_mode,
              "\" is not supported, expected \"constant\" (with fill_value)");
  interpolation("RandomRotation", options_.interpolation);
}

Tensor RandomRotation::augment(const Tensor& image, Generator& gen) const {
  // Keras' factor is a fraction of a full turn; positive angles turn counter-clockwise.
  double degrees = (-factor_ + 2 * factor_ * gen.next_double()) * 360.0;
  return TF::rotate(image, degrees, interpolation("RandomRotation", options_.interpolation),
                    options_.fill_value);
}

nlohmann::json RandomRotation::config() const {
  nlohmann::json j = random_options_json(base_config(), options_);
  j["factor"] = factor_;
  return j;
}

}  // namespace layers

// ---------------------------------------------------------------- factories

LayerPtr<layers::Normalization> Normalization(int64_t axis, const std::string& name) {
  return std::make_shared<layers::Normalization>(axis, name);
}
LayerPtr<layers::RandomFlip> RandomFlip(const std::string& mode, uint64_t seed,
                                        const std::string& name) {
  return std::make_shared<layers::RandomFlip>(mode, seed, name);
}
LayerPtr<layers::RandomCrop> RandomCrop(int64_t height, int64_t width, uint64_t seed,
                                        const std::string& name) {
  return std::make_shared<layers::RandomCrop>(height, width, seed, name);
}
LayerPtr<layers::RandomTranslation> RandomTranslation(double height_factor, double width_factor,
                                                      const RandomOptions& options, uint64_t seed,
                                                      const std::string& name) {
  return std::make_shared<layers::RandomTranslation>(height_factor, width_factor, options, seed,
                                                     name);
}
LayerPtr<layers::RandomRotation> RandomRotation(double factor, const RandomOptions& options,
                                                uint64_t seed, const std::string& name) {
  return std::make_shared<layers::RandomRotation>(factor, options, seed, name);
}

}  // namespace ravel::keras
