// Core Keras layers: activations, Dense, Dropout, Flatten, Reshape, Activation, the merges and
// Rescaling.
#include <functional>
#include <nlohmann/json.hpp>
#include <utility>

#include "layers_internal.h"
#include "ravel/keras/layers.h"
#include "ravel/nn/functional.h"
#include "ravel/nn/init.h"
#include "ravel/nn/linear.h"
#include "ravel/ops.h"

namespace ravel::keras {

namespace F = nn::functional;

// ---------------------------------------------------------------- activations

namespace {
using ActivationFn = Tensor (*)(const Tensor&);
// One table serves Activation and every layer's `activation` argument.
const std::vector<std::pair<const char*, ActivationFn>>& activation_table() {
  static const std::vector<std::pair<const char*, ActivationFn>> table = {
      {"", [](const Tensor& x) { return x; }},
      {"linear", [](const Tensor& x) { return x; }},
      {"relu", [](const Tensor& x) { return F::relu(x); }},
      {"sigmoid", [](const Tensor& x) { return F::sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return F::tanh(x); }},
      {"softmax", [](const Tensor& x) { return F::softmax(x, -1); }},
      {"log_softmax", [](const Tensor& x) { return F::log_softmax(x, -1); }},
      {"gelu", [](const Tensor& x) { return F::gelu(x); }},
      {"elu", [](const Tensor& x) { return F::elu(x); }},
      {"selu", [](const Tensor& x) { return F::selu(x); }},
      {"swish", [](const Tensor& x) { return F::silu(x); }},
      {"silu", [](const Tensor& x) { return F::silu(x); }},
      {"leaky_relu", [](const Tensor& x) { return F::leaky_relu(x, 0.2); }},  // Keras' slope
      {"softplus", [](const Tensor& x) { return F::softplus(x); }},
  };
  return table;
}

ActivationFn find_activation(const std::string& name) {
  for (const auto& [n, fn] : activation_table())
    if (name == n) return fn;
  std::string known;
  for (const auto& [n, fn] : activation_table())
    if (*n) known += (known.empty() ? "\"" : ", \"") + std::string(n) + "\"";
  ravel::detail::throw_error("activation: unknown name \"", name, "\"; known: ", known,
                             " (\"\" for none)");
}
}  // namespace

Tensor activation(const std::string& name, const Tensor& x) { return find_activation(name)(x); }
void check_activation(const std::string& name) { find_activation(name); }
std::vector<std::string> activation_names() {
  std::vector<std::string> out;
  for (const auto& [n, fn] : activation_table())
    if (*n) out.emplace_back(n);
  return out;
}

namespace layer_detail {
nlohmann::json size2_json(Size2 s) { return nlohmann::json::array({s.h, s.w}); }
Size2 size2_from_json(const nlohmann::json& j) {
  if (j.is_array()) return {j.at(0).get<int64_t>(), j.at(1).get<int64_t>()};
  return {j.get<int64_t>()};
}
std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}
void check_rank(const Layer& layer, const Shape& shape, size_t min_rank, size_t max_rank,
                const char* expected) {
  RAVEL_CHECK(shape.size() >= min_rank && shape.size() <= max_rank, layer.type_name(),
              ": input shape ", shape_str(shape), " (batch included) has ", shape.size(),
              " dimensions, expected ", expected);
}
void check_dim(const Layer& layer, const Tensor& x, int64_t axis, int64_t expected,
               const char* what) {
  RAVEL_CHECK(x.ndim() > 0 && x.size(axis) == expected, layer.type_name(), ": input shape ",
              shape_str(Shape(x.shape().begin(), x.shape().end())), " has ",
              x.ndim() > 0 ? x.size(axis) : 0, " ", what, ", expected ", expected,
              " (the layer was built for input shape ", shape_str(layer.built_input_shapes()[0]),
              ")");
}
}  // namespace layer_detail

namespace layers {

using layer_detail::check_dim;
using layer_detail::check_rank;

// ---------------------------------------------------------------- Dense

Dense::Dense(int64_t units, std::string activation, const DenseOptions& options, std::string name)
    : Layer("Dense", std::move(name)),
      units_(units),
      activation_(std::move(activation)),
      options_(options) {
  RAVEL_CHECK(units > 0, "Dense: units ", units, " expected a positive count");
  check_activation(activation_);
}

void Dense::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 2, 64, "at least 2 ([batch, ..., features])");
  linear = register_module(
      "linear", std::make_shared<nn::Linear>(shapes[0].back(), units_, options_.use_bias));
  nn::init::xavier_uniform_(linear->weight);  // Keras' glorot_uniform
  if (options_.use_bias) nn::init::zeros_(linear->bias);
}

Tensor Dense::compute(const std::vector<Tensor>& in) {
  check_dim(*this, in[0], -1, linear->in_features, "features on the last axis");
  return activation(activation_, (*linear)(in[0]));
}

nlohmann::json Dense::config() const {
  nlohmann::json j = Layer::config();
  j["units"] = units_;
  j["activation"] = activation_;
  j["use_bias"] = options_.use_bias;
  return j;
}

// ---------------------------------------------------------------- Dropout

Dropout::Dropout(double rate, std::string name) : Layer("Dropout", std::move(name)), rate_(rate) {
  RAVEL_CHECK(rate >= 0 && rate < 1, "Dropout: rate ", rate, " expected in [0, 1)");
}

Tensor Dropout::compute(const std::vector<Tensor>& in) {
  return F::dropout(in[0], rate_, is_training());
}

nlohmann::json Dropout::config() const {
  nlohmann::json j = Layer::config();
  j["rate"] = rate_;
  return j;
}

// ---------------------------------------------------------------- Flatten / Reshape

Flatten::Flatten(std::string name) : Layer("Flatten", std::move(name)) {}

Tensor Flatten::compute(const std::vector<Tensor>& in) {
  RAVEL_CHECK(in[0].ndim() >= 1, "Flatten: expected an input with a batch dimension, got a scalar");
  return in[0].ndim() == 1 ? in[0].unsqueeze(1) : in[0].flatten(1);
}

Reshape::Reshape(Shape target_shape, std::string name)
    : Layer("Reshape", std::move(name)), target_shape_(std::move(target_shape)) {
  int unknown = 0;
  for (int64_t d : target_shape_) {
    RAVEL_CHECK(d > 0 || d == -1, "Reshape: target_shape ", layer_detail::shape_str(target_shape_),
                " has the entry ", d, ", expected positive sizes and at most one -1");
    unknown += d == -1;
  }
  RAVEL_CHECK(unknown <= 1, "Reshape: target_shape ", layer_detail::shape_str(target_shape_),
              " has ", unknown, " entries -1, expected at most one");
}

void Reshape::build(const std::vector<Shape>& shapes) {
  check_rank(*this, shapes[0], 1, 64, "a batch dimension");
  int64_t have = 1, want = 1;
  for (size_t i = 1; i < shapes[0].size(); ++i) have *= shapes[0][i];
  for (int64_t d : target_shape_)
    if (d != -1) want *= d;
  bool infer = std::find(target_shape_.begin(), target_shape_.end(), -1) != target_shape_.end();
  RAVEL_CHECK(infer ? want > 0 && have % want == 0 : have == want, "Reshape: cannot reshape ",
              layer_detail::shape_str(shapes[0]), " (", have,
              " values per example) to target_shape ", layer_detail::shape_str(target_shape_));
}

Tensor Reshape::compute(const std::vector<Tensor>& in) {
  ravel::Shape s{in[0].size(0)};
  for (int64_t d : target_shape_) s.push_back(d);
  return in[0].reshape(s);
}

nlohmann::json Reshape::config() const {
  nlohmann::json j = Layer::config();
  j["target_shape"] = target_shape_;
  return j;
}

// ---------------------------------------------------------------- Activation

Activation::Activation(std::string activation, std::string name)
    : Layer("Activation", std::move(name)), activation_(std::move(activation)) {
  check_activation(activation_);
}

Tensor Activation::compute(const std::vector<Tensor>& in) {
  return keras::activation(activation_, in[0]);
}

nlohmann::json Activation::config() const {
  nlohmann::json j = Layer::config();
  j["activation"] = activation_;
  return j;
}

// ---------------------------------------------------------------- merges

Merge::Merge(std::string type, Op op, std::string name)
    : Layer(std::move(type), std::move(name)), op_(op) {}

void Merge::build(const std::vector<Shape>& shapes) {
  RAVEL_CHECK(shapes.size() >= 2, type_name(), ": expected at least 2 inputs, got ", shapes.size());
  for (size_t i = 1; i < shapes.size(); ++i)
    RAVEL_CHECK(shapes[i] == shapes[0], type_name(), ": input ", i, " has shape ",
                layer_detail::shape_str(shapes[i]), ", expected the shape of input 0, ",
                layer_detail::shape_str(shapes[0]));
}

Tensor Merge::compute(const std::vector<Tensor>& in) {
  RAVEL_CHECK(in.size() >= 2, type_name(), ": expected at least 2 inputs, got ", in.size());
  for (size_t i = 1; i < in.size(); ++i)
    RAVEL_CHECK(in[i].shape() == in[0].shape(), type_name(), ": input ", i, " has shape ",
                in[i].shape(), ", expected the shape of input 0, ", in[0].shape());
  Tensor out = in[0];
  for (size_t i = 1; i < in.size(); ++i) out = op_ == Op::Multiply ? out * in[i] : out + in[i];
  if (op_ == Op::Average) out = out / static_cast<double>(in.size());
  return out;
}

Concatenate::Concatenate(int64_t axis, std::string name)
    : Layer("Concatenate", std::move(name)), axis_(axis) {}

void Concatenate::build(const std::vector<Shape>& shapes) {
  RAVEL_CHECK(shapes.size() >= 2, "Concatenate: expected at least 2 inputs, got ", shapes.size());
  auto rank = static_cast<int64_t>(shapes[0].size());
  int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
  RAVEL_CHECK(axis >= 1 && axis < rank, "Concatenate: axis ", axis_,
              " is out of range for inputs of ", rank,
              " dimensions (the batch axis 0 cannot be joined)");
  for (size_t i = 1; i < shapes.size(); ++i) {
    bool ok = shapes[i].size() == shapes[0].size();
    for (int64_t d = 0; ok && d < rank; ++d) ok = d == axis || shapes[i][d] == shapes[0][d];
    RAVEL_CHECK(ok, "Concatenate: input ", i, " has shape ", layer_detail::shape_str(shapes[i]),
                ", expected the shape of input 0, ", layer_detail::shape_str(shapes[0]),
                ", except on axis ", axis_);
  }
}

Tensor Concatenate::compute(const std::vector<Tensor>& in) {
  RAVEL_CHECK(in.size() >= 2, "Concatenate: expected at least 2 inputs, got ", in.size());
  return concatenate(in, axis_);
}

nlohmann::json Concatenate::config() const {
  nlohmann::json j = Layer::config();
  j["axis"] = axis_;
  return j;
}

// ---------------------------------------------------------------- Rescaling

Rescaling::Rescaling(double scale, double offset, std::string name)
    : Layer("Rescaling", std::move(name)), scale_(scale), offset_(offset) {}

Tensor Rescaling::compute(const std::vector<Tensor>& in) {
  Tensor x = is_floating(in[0].dtype()) ? in[0] : in[0].to(DType::Float32);
  return x * scale_ + offset_;
}

nlohmann::json Rescaling::config() const {
  nlohmann::json j = Layer::config();
  j["scale"] = scale_;
  j["offset"] = offset_;
  return j;
}

}  // namespace layers

// ---------------------------------------------------------------- factories

LayerPtr<layers::Dense> Dense(int64_t units, const std::string& activation,
                              const DenseOptions& options, const std::string& name) {
  return std::make_shared<layers::Dense>(units, activation, options, name);
}
LayerPtr<layers::Dropout> Dropout(double rate, const std::string& name) {
  return std::make_shared<layers::Dropout>(rate, name);
}
LayerPtr<layers::Flatten> Flatten(const std::string& name) {
  return std::make_shared<layers::Flatten>(name);
}
LayerPtr<layers::Reshape> Reshape(const Shape& target_shape, const std::string& name) {
  return std::make_shared<layers::Reshape>(target_shape, name);
}
LayerPtr<layers::Activation> Activation(const std::string& activation, const std::string& name) {
  return std::make_shared<layers::Activation>(activation, name);
}
LayerPtr<layers::Add> Add(const std::string& name) { return std::make_shared<layers::Add>(name); }
LayerPtr<layers::Multiply> Multiply(const std::string& name) {
  return std::make_shared<layers::Multiply>(name);
}
LayerPtr<layers::Average> Average(const std::string& name) {
  return std::make_shared<layers::Average>(name);
}
LayerPtr<layers::Concatenate> Concatenate(int64_t axis, const std::string& name) {
  return std::make_shared<layers::Concatenate>(axis, name);
}
LayerPtr<layers::Rescaling> Rescaling(double scale, double offset, const std::string& name) {
  return std::make_shared<layers::Rescaling>(scale, offset, name);
}

}  // namespace ravel::keras
