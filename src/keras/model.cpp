// keras::Model's shared parts (building, running as a layer, summary), SequentialModel and
// InputLayer. Graph and wrapped models: model_graph.cpp; save/load: model_save.cpp; training:
// training.cpp.
#include "ravel/keras/model.h"

#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "keras/model_internal.h"
#include "ravel/autograd.h"

namespace ravel::keras {

// ---------------------------------------------------------------- helpers

namespace detail {

std::string shape_str(const Shape& s) {
  // Python's tuple with None for the batch: "(None, 784)", "(None,)".
  std::string out = "(None";
  for (int64_t d : s) out += ", " + std::to_string(d);
  return out + (s.empty() ? ",)" : ")");
}

}  // namespace detail

// ---------------------------------------------------------------- Model

Model::Model(std::string type, std::string name) : Layer(std::move(type), std::move(name)) {
  detail::register_model_layers();  // so layer_from_config rebuilds nested models too
}

Model::~Model() = default;

// Layer::call's build step: compute() builds the model instead, when it sees the inputs' dtypes.
void Model::build(const std::vector<Shape>&) {}

void Model::build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                         const std::vector<DType>& dtypes) {
  RAVEL_CHECK(input_shapes_without_batch.size() == num_model_inputs(), describe(),
              ": build_inputs got ", input_shapes_without_batch.size(), " shapes, the model has ",
              num_model_inputs(), " inputs");
  std::vector<Tensor> xs;
  for (size_t i = 0; i < input_shapes_without_batch.size(); ++i)
    xs.push_back(zeros(detail::with_batch(input_shapes_without_batch[i]),
                       i < dtypes.size() ? dtypes[i] : DType::Float32));
  detail::run_in_eval(*this, [&] { run(xs); });
}

Tensor Model::compute(const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(num_model_outputs() == 1, describe(), ": has ", num_model_outputs(),
              " outputs; called as a layer a model gives one (use run() for all of them)");
  if (!is_built()) {
    std::vector<Shape> shapes;
    std::vector<DType> dtypes;
    for (const Tensor& x : inputs) {
      RAVEL_CHECK(x.ndim() >= 1, describe(), ": input of shape ", x.shape(),
                  " has no batch dimension");
      shapes.push_back(detail::without_batch(x.shape()));
      dtypes.push_back(x.dtype());
    }
    build_inputs(shapes, dtypes);
  }
  return run(inputs)[0];
}

nlohmann::json Model::config() const {
  // The built-in models override this; a user's Model subclass must describe itself.
  ravel::detail::throw_error(describe(),
                             ": this Model subclass has no config(), so its "
                             "architecture cannot be saved; override config() (and "
                             "register_layer() its type) or use save_weights()");
}

std::shared_ptr<nn::Module> Model::module() {
  std::shared_ptr<nn::Module> self = weak_from_this().lock();
  RAVEL_CHECK(self != nullptr, describe(), ": module() needs the model held by a std::shared_ptr");
  return self;
}

// ---------------------------------------------------------------- summary

namespace {

// Keras counts every weight: trainable ones and the rest (frozen parameters, BatchNormalization's
// moving statistics). Integer buffers (num_batches_tracked) are counters, not weights.
struct ParamCount {
  int64_t trainable = 0, non_trainable = 0;
  int64_t total() const { return trainable + non_trainable; }
};

ParamCount count_params(const nn::Module& m) {
  ParamCount c;
  for (const auto& [name, p] : m.named_parameters())
    (p.requires_grad() ? c.trainable : c.non_trainable) += p.numel();
  for (const auto& [name, b] : m.named_buffers())
    if (is_floating(b.dtype())) c.non_trainable += b.numel();
  return c;
}

std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

// Keras' print_row: each field cut to its column (two spaces between columns), the rest of a
// field continued on the next lines; a field breaks early after "),", "],", "}," or "',". Keras
// pads lines with trailing spaces and prints a blank row after each layer; we leave out both.
void print_row(std::ostream& os, std::vector<std::string> fields, const std::vector<int>& pos) {
  static const char* const kBreaks[] = {"),", "},", "],", "',"};
  auto any_left = [&] {
    return std::any_of(fields.begin(), fields.end(), [](const auto& f) { return !f.empty(); });
  };
  while (any_left()) {
    std::string line;
    for (size_t col = 0; col < fields.size(); ++col) {
      const bool last = col + 1 == fields.size();
      const int start = col ? pos[col - 1] : 0, space = last ? 0 : 2;
      size_t cutoff = static_cast<size_t>(std::max(1, pos[col] - start - space - (last ? 0 : 1)));
      std::string fit = fields[col].substr(0, cutoff);
      size_t early = std::string::npos;
      for (const char* b : kBreaks) {
        size_t at = fit.find(b);
        if (at != std::string::npos) early = std::min(early, at + 2);
      }
      if (early != std::string::npos) fit = fit.substr(0, cutoff = early);
      if (col == 0) line += ' ';
      line += fit + std::string(static_cast<size_t>(space), ' ');
      fields[col].erase(0, std::min(cutoff, fields[col].size()));
      if (static_cast<int>(line.size()) < pos[col])
        line += std::string(static_cast<size_t>(pos[col]) - line.size(), ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    os << line << "\n";
  }
}

// One row per layer: name (type), output shape, param count, and what it is connected to.
struct SummaryRow {
  std::string layer, shape, params, connected;
};

std::string layer_label(const std::string& name, const std::string& type) {
  return name + " (" + type + ")";
}

// Keras' "Connected to": each input as "<layer>[<node index>][<tensor index>]".
std::vector<SummaryRow> graph_rows(const detail::FunctionalModel& m) {
  std::vector<SummaryRow> rows;
  for (const Symbol& in : m.inputs())
    rows.push_back({layer_label(in.node()->input_name, "InputLayer"),
                    "[" + detail::shape_str(in.shape()) + "]", "0", "[]"});
  // A node's index among its layer's nodes in this model.
  std::map<const Node*, int> node_index;
  std::map<const Layer*, std::vector<const Node*>> nodes_of;
  for (const Node* n : m.nodes()) {
    auto& list = nodes_of[n->layer.get()];
    node_index[n] = static_cast<int>(list.size());
    list.push_back(n);
  }
  for (const auto& layer : m.graph_layers()) {
    const auto& nodes = nodes_of[layer.get()];
    std::string shape = detail::shape_str(nodes[0]->shape), connected;
    for (const Node* n : nodes) {
      if (n->shape != nodes[0]->shape) shape = "multiple";  // Keras' word for differing shapes
      for (const Symbol& s : n->inputs) {
        const Node* src = s.node().get();
        std::string ref = src->layer
                              ? src->layer->name() + "[" + std::to_string(node_index[src]) + "][0]"
                              : src->input_name + "[0][0]";
        connected += (connected.empty() ? "'" : ", '") + ref + "'";
      }
    }
    rows.push_back({layer_label(layer->name(), layer->type_name()), shape,
                    std::to_string(count_params(*layer).total()), "[" + connected + "]"});
  }
  return rows;
}

// Keras lays a graph out as a sequence when it is one chain: each layer used once, on the
// previous one's output.
bool is_chain(const detail::FunctionalModel& m) {
  if (m.inputs().size() != 1 || m.outputs().size() != 1) return false;
  const Node* prev = m.inputs()[0].node().get();
  for (const Node* n : m.nodes()) {
    if (n->inputs.size() != 1 || n->inputs[0].node().get() != prev) return false;
    prev = n;
  }
  return prev == m.outputs()[0].node().get() && m.nodes().size() == m.graph_layers().size();
}

}  // namespace

std::string Model::summary_string(int line_length) const {
  RAVEL_CHECK(is_built(), describe(),
              ": summary() of a model that is not built yet; build it (build_input(shape)), "
              "start it with an InputLayer, give from_module an input shape, or call it on a "
              "batch first");
  std::vector<SummaryRow> rows;
  bool connections = false;
  if (const auto* graph = dynamic_cast<const detail::FunctionalModel*>(this)) {
    connections = !is_chain(*graph);
    rows = graph_rows(*graph);
  } else if (const auto* seq = dynamic_cast<const SequentialModel*>(this)) {
    const auto& shapes = seq->shapes();
    for (size_t i = 0; i < seq->layers().size(); ++i) {
      const auto& l = seq->layers()[i];
      rows.push_back({layer_label(l->name(), l->type_name()), detail::shape_str(shapes[i + 1]),
                      std::to_string(count_params(*l).total()), ""});
    }
  } else if (const auto* wrapped = dynamic_cast<const detail::WrappedModel*>(this)) {
    const auto shapes = wrapped->child_output_shapes();
    auto named = wrapped->named_children();
    for (size_t i = 0; i < named.size(); ++i)
      rows.push_back({layer_label(named[i].first, named[i].second->type_name()), shapes[i],
                      std::to_string(count_params(*named[i].second).total()), ""});
  } else {  // a user's Model subclass: its top layers, without shapes
    for (const auto& l : top_layers()) {
      const auto* layer = dynamic_cast<const Layer*>(l.get());
      rows.push_back({layer_label(layer ? layer->name() : "", l->type_name()), "?",
                      std::to_string(count_params(*l).total()), ""});
    }
  }
  if (line_length <= 0) line_length = connections ? 98 : 65;
  RAVEL_CHECK(line_length >= 40, describe(), ": summary line_length ", line_length,
              " is too short, expected at least 40");
  // Keras' column stops, as fractions of the line.
  const std::vector<double> stops =
      connections ? std::vector<double>{0.3, 0.6, 0.7, 1.0} : std::vector<double>{0.45, 0.85, 1.0};
  std::vector<int> pos;
  for (double s : stops) pos.push_back(static_cast<int>(line_length * s));

  std::ostringstream os;
  const std::string rule(static_cast<size_t>(line_length), '_'),
      double_rule(static_cast<size_t>(line_length), '=');
  auto row = [&](const SummaryRow& r) {
    std::vector<std::string> f{r.layer, r.shape, r.params};
    if (connections) f.push_back(r.connected);
    print_row(os, f, pos);
  };
  os << "Model: \"" << name() << "\"\n" << rule << "\n";
  row({"Layer (type)", "Output Shape", "Param #", "Connected to"});
  os << double_rule << "\n";
  for (const auto& r : rows) row(r);
  const ParamCount c = count_params(*this);
  os << double_rule << "\n"
     << "Total params: " << with_commas(c.total()) << "\n"
     << "Trainable params: " << with_commas(c.trainable) << "\n"
     << "Non-trainable params: " << with_commas(c.non_trainable) << "\n"
     << rule << "\n";
  return os.str();
}

void Model::summary(std::ostream& os) const { os << summary_string(); }

void Model::summary() const { summary(std::cout); }

// ---------------------------------------------------------------- Sequential

namespace {
// Output shapes of `layers` run one after the other on `probe` (a batch of one), which ends as
// the last output.
std::vector<Shape> probe_shapes(const std::vector<std::shared_ptr<Layer>>& layers, Tensor& probe) {
  std::vector<Shape> shapes;
  for (const auto& l : layers) {
    detail::run_in_eval(*l, [&] { probe = (*l)(probe); });
    shapes.push_back(detail::without_batch(probe.shape()));
  }
  return shapes;
}
}  // namespace

SequentialModel::SequentialModel(const std::vector<std::shared_ptr<Layer>>& layers,
                                 const std::string& name)
    : Model("Sequential", name) {
  for (const auto& l : layers) add(l);
}

void SequentialModel::add(std::shared_ptr<Layer> layer) {
  RAVEL_CHECK(layer != nullptr, describe(), ": add() got a null layer");
  if (auto input = std::dynamic_pointer_cast<layers::InputLayer>(layer)) {
    RAVEL_CHECK(layers_.empty() && !input_layer_, describe(), ": ", input->describe(),
                " must come first (the model has ", layers_.size() + (input_layer_ ? 1 : 0),
                " layers already)");
    build_inputs({input->shape()}, {input->dtype()});
    input_layer_ = input;
    return;
  }
  RAVEL_CHECK(layer.get() != this, describe(), ": cannot add a model to itself");
  for (const auto& l : layers_)
    RAVEL_CHECK(l->name() != layer->name(), describe(), ": cannot add ", layer->describe(),
                ": the model already has a layer named \"", layer->name(),
                "\" (layer names must be unique within a model)");
  if (is_built()) {  // Keras builds a layer added to a built model at once
    Tensor probe = probe_;
    Shape out = probe_shapes({layer}, probe).back();
    shapes_.push_back(out);
    probe_ = probe;
  }
  register_module(layer->name(), layer);
  layers_.push_back(std::move(layer));
  reset_jit();
}

void SequentialModel::pop() {
  RAVEL_CHECK(!layers_.empty(), describe(), ": pop() on a model without layers");
  unregister_module(layers_.back()->name());
  layers_.pop_back();
  reset_jit();
  if (!is_built()) return;
  // The dummy batch's output now comes from the layer before: probe the remaining stack again.
  const Shape input = shapes_[0];
  shapes_.clear();
  build_inputs({input}, {input_dtype_});
}

void SequentialModel::build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                                   const std::vector<DType>& dtypes) {
  RAVEL_CHECK(input_shapes_without_batch.size() == 1, describe(),
              ": a Sequential model has one input, build_inputs got ",
              input_shapes_without_batch.size(), " shapes");
  const Shape& shape = input_shapes_without_batch[0];
  if (is_built()) {
    RAVEL_CHECK(shape == shapes_[0], describe(), ": already built for inputs ",
                detail::shape_str(shapes_[0]), ", build_inputs got ", detail::shape_str(shape));
    return;
  }
  for (int64_t d : shape)
    RAVEL_CHECK(d > 0, describe(), ": input shape ", detail::shape_str(shape),
                " has a dimension that is not positive");
  if (!dtypes.empty()) input_dtype_ = dtypes[0];
  Tensor probe = zeros(detail::with_batch(shape), input_dtype_);
  std::vector<Shape> shapes{shape};
  for (Shape& s : probe_shapes(layers_, probe)) shapes.push_back(std::move(s));
  shapes_ = std::move(shapes);
  probe_ = probe;
}

std::vector<Tensor> SequentialModel::run(const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(inputs.size() == 1 && inputs[0].defined(), describe(),
              ": a Sequential model takes one defined input, got ", inputs.size());
  const Tensor& x = inputs[0];
  RAVEL_CHECK(x.ndim() >= 1, describe(), ": input of shape ", x.shape(), " has no batch dimension");
  if (!is_built()) build_inputs({detail::without_batch(x.shape())}, {x.dtype()});
  RAVEL_CHECK(detail::without_batch(x.shape()) == shapes_[0], describe(), ": input of shape ",
              x.shape(), ", expected ", detail::shape_str(shapes_[0]));
  Tensor y = x;
  for (const auto& l : layers_) y = (*l)(y);
  return {y};
}

bool SequentialModel::is_built() const { return !shapes_.empty(); }

std::vector<Shape> SequentialModel::input_shapes() const {
  RAVEL_CHECK(is_built(), describe(), ": input_shapes() of a model that is not built");
  return {shapes_.front()};
}

std::vector<Shape> SequentialModel::output_shapes() const {
  RAVEL_CHECK(is_built(), describe(), ": output_shapes() of a model that is not built");
  return {shapes_.back()};
}

std::vector<std::shared_ptr<nn::Module>> SequentialModel::top_layers() const {
  return {layers_.begin(), layers_.end()};
}

nlohmann::json SequentialModel::config() const {
  nlohmann::json c = Layer::config();
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : layers_) layers.push_back(l->to_config());
  c["layers"] = std::move(layers);
  if (is_built()) {
    c["input_shape"] = shapes_[0];
    c["input_dtype"] = dtype_name(input_dtype_);
    if (input_layer_) c["input_name"] = input_layer_->name();
  }
  return c;
}

std::shared_ptr<SequentialModel> Sequential(const std::vector<std::shared_ptr<Layer>>& layers,
                                            const std::string& name) {
  return std::make_shared<SequentialModel>(layers, name);
}

// ---------------------------------------------------------------- InputLayer

namespace layers {

InputLayer::InputLayer(Shape shape, DType dtype, std::string name)
    : Layer("InputLayer", std::move(name)), shape_(std::move(shape)), dtype_(dtype) {
  for (int64_t d : shape_)
    RAVEL_CHECK(d > 0, describe(), ": shape ", detail::shape_str(shape_),
                " has a dimension that is not positive; every dimension but the batch (which is "
                "left out) must be known");
}

nlohmann::json InputLayer::config() const {
  nlohmann::json c = Layer::config();
  nlohmann::json batch_shape = nlohmann::json::array({nullptr});
  for (int64_t d : shape_) batch_shape.push_back(d);
  c["batch_input_shape"] = std::move(batch_shape);
  c["dtype"] = dtype_name(dtype_);
  return c;
}

}  // namespace layers

LayerPtr<layers::InputLayer> InputLayer(const Shape& shape, DType dtype) {
  return std::make_shared<layers::InputLayer>(shape, dtype);
}

}  // namespace ravel::keras
