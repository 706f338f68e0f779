// keras::Layer: automatic names, build on the first call, symbolic calls by a dummy run, configs
// and the registry of loadable layer types.
#include "ravel/keras/layer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "keras/dummy_run.h"
#include "ravel/autograd.h"

namespace ravel::keras {

namespace layer_detail {
// layers.cpp: registers every built-in layer type (called once, from layer_from_config; a static
// registration object would be dropped when linking the static library).
void register_builtin_layers();
}  // namespace layer_detail

// ---------------------------------------------------------------- Symbol / Input

const Shape& Symbol::shape() const {
  RAVEL_CHECK(node_, "Symbol: shape() of an undefined symbol");
  return node_->shape;
}

DType Symbol::dtype() const {
  RAVEL_CHECK(node_, "Symbol: dtype() of an undefined symbol");
  return node_->dtype;
}

Symbol Input(const Shape& shape, DType dtype, const std::string& name) {
  for (int64_t d : shape)
    RAVEL_CHECK(d > 0, "Input: shape ", nn::repr_tuple(shape),
                " has a dimension that is not positive; every dimension but the batch (which is "
                "left out) must be known");
  auto node = std::make_shared<Node>();
  node->shape = shape;
  node->dtype = dtype;
  node->input_name = name.empty() ? unique_layer_name("InputLayer") : name;
  return Symbol(std::move(node));
}

// ---------------------------------------------------------------- names

namespace {
struct NameCounts {
  std::mutex mutex;
  std::map<std::string, int> counts;
};
NameCounts& name_counts() {
  static NameCounts n;
  return n;
}

// Keras' to_snake_case: "Conv2D" -> "conv2d", "BatchNormalization" -> "batch_normalization".
std::string snake_case(const std::string& type) {
  static const std::regex words("(.)([A-Z][a-z0-9]+)"), humps("([a-z])([A-Z])");
  std::string s = std::regex_replace(type, words, "$1_$2");
  s = std::regex_replace(s, humps, "$1_$2");
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

std::string unique_layer_name(const std::string& type) {
  // Keras names inputs "input_1", "input_2", ... (one-based, shared by Input() and InputLayer)
  // and other layers "dense", "dense_1", ... (zero-based, per type).
  bool is_input = type == "InputLayer";
  std::string base = is_input ? "input" : snake_case(type);
  auto& n = name_counts();
  std::lock_guard lock(n.mutex);
  int k = n.counts[base]++;
  if (is_input) return base + "_" + std::to_string(k + 1);
  return k == 0 ? base : base + "_" + std::to_string(k);
}

void reset_layer_names() {
  auto& n = name_counts();
  std::lock_guard lock(n.mutex);
  n.counts.clear();
}

// ---------------------------------------------------------------- Layer

Layer::Layer(std::string type, std::string name)
    : type_(std::move(type)), name_(name.empty() ? unique_layer_name(type_) : std::move(name)) {}

Layer::~Layer() = default;

std::string Layer::describe() const { return "layer \"" + name_ + "\" (" + type_name() + ")"; }

Tensor Layer::forward(const Tensor& x) { return call({x}); }

Tensor Layer::call(const std::vector<Tensor>& inputs) {
  int n = num_inputs();
  RAVEL_CHECK(n < 0 ? !inputs.empty() : inputs.size() == static_cast<size_t>(n), describe(),
              ": called with ", inputs.size(), " inputs, expected ",
              n < 0 ? "one or more" : std::to_string(n));
  for (size_t i = 0; i < inputs.size(); ++i)
    RAVEL_CHECK(inputs[i].defined(), describe(), ": input ", i, " is undefined");
  try {
    if (!built_) {
      std::vector<Shape> shapes;
      for (const Tensor& t : inputs) shapes.emplace_back(t.shape().begin(), t.shape().end());
      auto before = children();
      build(shapes);
      // Modules made by build() start in training mode: they take the layer's mode.
      for (const auto& child : children())
        if (std::find(before.begin(), before.end(), child) == before.end())
          child->train(is_training());
      built_input_shapes_ = std::move(shapes);
      built_ = true;
    }
    return compute(inputs);
  } catch (const Error& e) {
    // Name the layer once (a model's error already names the inner layer that failed).
    std::string msg = e.what();
    if (msg.rfind("layer \"", 0) == 0) throw;
    std::string type = type_name() + ": ";  // "Dense: ..." reads 'layer "dense_1" (Dense): ...'
    if (msg.rfind(type, 0) == 0) msg.erase(0, type.size());
    throw Error(describe() + ": " + msg);
  }
}

Symbol Layer::operator()(const Symbol& x) { return (*this)(std::vector<Symbol>{x}); }

Symbol Layer::operator()(const std::vector<Symbol>& xs) {
  std::shared_ptr<Layer> self;
  try {
    self = std::static_pointer_cast<Layer>(shared_from_this());
  } catch (const std::bad_weak_ptr&) {
    ravel::detail::throw_error(
        describe(),
        ": a symbolic call needs the layer held by a std::shared_ptr (make it "
        "with its factory function, e.g. Dense(64), or std::make_shared)");
  }
  std::vector<Tensor> dummies;
  for (size_t i = 0; i < xs.size(); ++i) {
    RAVEL_CHECK(xs[i].defined(), describe(), ": symbolic input ", i, " is undefined");
    dummies.push_back(zeros(detail::with_batch(xs[i].shape()), xs[i].dtype()));
  }
  // One example of zeros, in eval mode (no dropout, no batch statistics) and without a graph.
  Tensor out;
  detail::run_in_eval(*this, [&] { out = call(dummies); });
  auto node = std::make_shared<Node>();
  node->layer = std::move(self);
  node->inputs = xs;
  node->shape.assign(out.shape().begin() + 1, out.shape().end());
  node->dtype = out.dtype();
  return Symbol(std::move(node));
}

nlohmann::json Layer::config() const { return {{"name", name_}}; }

nlohmann::json Layer::to_config() const { return {{"type", type_name()}, {"config", config()}}; }

// ---------------------------------------------------------------- registry

namespace {
struct Registry {
  std::mutex mutex;
  std::map<std::string, LayerFactory> factories;
};
Registry& registry() {
  static Registry r;
  return r;
}
void ensure_builtins() {
  static std::once_flag once;
  std::call_once(once, [] { layer_detail::register_builtin_layers(); });
}
}  // namespace

void register_layer(const std::string& type, LayerFactory factory) {
  RAVEL_CHECK(factory, "register_layer: empty factory for type \"", type, "\"");
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.factories[type] = std::move(factory);
}

std::shared_ptr<Layer> layer_from_config(const nlohmann::json& type_and_config) {
  ensure_builtins();
  RAVEL_CHECK(type_and_config.is_object() && type_and_config.contains("type") &&
                  type_and_config["type"].is_string(),
              "layer_from_config: expected {\"type\": ..., \"config\": {...}}, got ",
              type_and_config.dump());
  std::string type = type_and_config["type"].get<std::string>();
  nlohmann::json config = type_and_config.value("config", nlohmann::json::object());
  LayerFactory factory;
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(type);
    if (it == r.factories.end()) {
      std::string known;
      for (const auto& [k, f] : r.factories) known += (known.empty() ? "" : ", ") + k;
      ravel::detail::throw_error("layer_from_config: unknown layer type \"", type,
                                 "\" (register it with register_layer); known types: ", known);
    }
    factory = it->second;
  }
  try {
    std::shared_ptr<Layer> layer = factory(config);
    RAVEL_CHECK(layer != nullptr, "layer_from_config: the factory for ", type, " returned null");
    // Models find their layers by name, so a factory must pass the saved name on.
    if (config.contains("name") && config["name"].is_string())
      RAVEL_CHECK(layer->name() == config["name"].get<std::string>(), "layer_from_config: the ",
                  type, " factory made a layer named \"", layer->name(), "\" from a config named ",
                  config["name"].dump(), " (pass config[\"name\"] to the constructor)");
    return layer;
  } catch (const nlohmann::json::exception& e) {
    ravel::detail::throw_error("layer_from_config: bad config for ", type, ": ", e.what(), " in ",
                               config.dump());
  }
}

// ---------------------------------------------------------------- dummy runs

namespace detail {

void run_in_eval(nn::Module& m, const std::function<void()>& fn) {
  // named_modules is parents first, so setting each module's mode in that order restores every
  // module's own flag (a recursive train() on a parent is then corrected by its children).
  std::vector<std::pair<std::shared_ptr<nn::Module>, bool>> modes;
  for (auto& [name, mod] : m.named_modules()) modes.emplace_back(mod, mod->is_training());
  auto restore = [&] {
    for (auto& [mod, on] : modes) mod->train(on);
  };
  NoGradGuard no_grad;
  m.eval();
  try {
    fn();
  } catch (...) {
    restore();
    throw;
  }
  restore();
}

ravel::Shape with_batch(const Shape& s, int64_t n) {
  ravel::Shape out{n};
  for (int64_t d : s) out.push_back(d);
  return out;
}

Shape without_batch(const ravel::Shape& s) {
  return s.size() == 0 ? Shape{} : Shape(s.begin() + 1, s.end());
}

}  // namespace detail

}  // namespace ravel::keras
