// Graph models (Model::functional) and wrapped modules (Model::from_module, Model::from_zoo).
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "keras/model_internal.h"
#include "ravel/models/zoo.h"

namespace ravel::keras {

namespace detail {

// ---------------------------------------------------------------- FunctionalModel

namespace {
std::string input_label(const Symbol& s) { return "Input \"" + s.node()->input_name + "\""; }
}  // namespace

FunctionalModel::FunctionalModel(const std::vector<Symbol>& inputs,
                                 const std::vector<Symbol>& outputs, const std::string& name)
    : Model("Functional", name.empty() ? unique_layer_name("Model") : name),
      inputs_(inputs),
      outputs_(outputs) {
  RAVEL_CHECK(!inputs_.empty(), describe(), ": a functional model needs at least one input");
  RAVEL_CHECK(!outputs_.empty(), describe(), ": a functional model needs at least one output");
  std::set<const Node*> input_nodes;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    RAVEL_CHECK(inputs_[i].defined(), describe(), ": input ", i, " is an undefined symbol");
    RAVEL_CHECK(inputs_[i].node()->layer == nullptr, describe(), ": input ", i,
                " is the output of ", inputs_[i].node()->layer->describe(),
                ", expected a symbol made by Input()");
    RAVEL_CHECK(input_nodes.insert(inputs_[i].node().get()).second, describe(), ": ",
                input_label(inputs_[i]), " is given twice as an input");
  }
  // Evaluation order: depth first from the outputs back to the inputs, each node after the
  // nodes it reads (a node is immutable once made, so the graph has no cycles).
  std::set<const Node*> done;
  std::function<void(const Symbol&)> visit = [&](const Symbol& s) {
    const Node* n = s.node().get();
    if (done.count(n)) return;
    if (!n->layer) {
      RAVEL_CHECK(input_nodes.count(n), describe(), ": the outputs depend on ", input_label(s),
                  ", which is not among the model's inputs");
      return;
    }
    for (const Symbol& in : n->inputs) visit(in);
    done.insert(n);
    order_.push_back(n);
  };
  for (size_t i = 0; i < outputs_.size(); ++i) {
    RAVEL_CHECK(outputs_[i].defined(), describe(), ": output ", i, " is an undefined symbol");
    visit(outputs_[i]);
  }
  // Each layer is a child once, under its unique name (a layer called twice shares its weights).
  std::map<std::string, const Layer*> by_name;
  for (const Node* n : order_) {
    auto [it, fresh] = by_name.emplace(n->layer->name(), n->layer.get());
    if (!fresh) {
      RAVEL_CHECK(it->second == n->layer.get(), describe(), ": two different layers are named \"",
                  n->layer->name(), "\" (", it->second->type_name(), " and ", n->layer->type_name(),
                  "); layer names must be unique within a model");
      continue;
    }
    RAVEL_CHECK(n->layer.get() != this, describe(), ": a model cannot contain itself");
    layers_.push_back(n->layer);
    register_module(n->layer->name(), n->layer);
  }
}

std::vector<Tensor> FunctionalModel::run(const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(inputs.size() == inputs_.size(), describe(), ": called with ", inputs.size(),
              " inputs, expected ", inputs_.size());
  std::map<const Node*, Tensor> values;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    RAVEL_CHECK(x.defined(), describe(), ": input ", i, " is undefined");
    RAVEL_CHECK(x.ndim() >= 1 && without_batch(x.shape()) == inputs_[i].shape(), describe(), ": ",
                input_label(inputs_[i]), " got shape ", x.shape(), ", expected ",
                shape_str(inputs_[i].shape()));
    values[inputs_[i].node().get()] = x;
  }
  for (const Node* n : order_) {
    std::vector<Tensor> xs;
    for (const Symbol& s : n->inputs) xs.push_back(values.at(s.node().get()));
    // One input: through operator(), so the layer's forward hooks run.
    values[n] =
        xs.size() == 1 && n->layer->num_inputs() == 1 ? (*n->layer)(xs[0]) : n->layer->call(xs);
  }
  std::vector<Tensor> out;
  for (const Symbol& s : outputs_) out.push_back(values.at(s.node().get()));
  return out;
}

void FunctionalModel::build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                                   const std::vector<DType>&) {
  const auto expected = input_shapes();
  bool same = input_shapes_without_batch == expected;
  std::string want;
  for (const auto& s : expected) want += (want.empty() ? "" : ", ") + shape_str(s);
  RAVEL_CHECK(same, describe(), ": is built for inputs ", want,
              "; build_inputs got other shapes (a functional model's shapes come from its Inputs)");
}

std::vector<Shape> FunctionalModel::input_shapes() const {
  std::vector<Shape> out;
  for (const Symbol& s : inputs_) out.push_back(s.shape());
  return out;
}

std::vector<Shape> FunctionalModel::output_shapes() const {
  std::vector<Shape> out;
  for (const Symbol& s : outputs_) out.push_back(s.shape());
  return out;
}

std::vector<std::shared_ptr<nn::Module>> FunctionalModel::top_layers() const {
  return {layers_.begin(), layers_.end()};
}

nlohmann::json FunctionalModel::config() const {
  // Nodes are numbered: the inputs 0..k-1, then the layer calls in evaluation order; a call
  // lists the numbers of what it reads, so the graph rebuilds in one pass.
  std::map<const Node*, int> id;
  nlohmann::json c = Layer::config(), ins = nlohmann::json::array(),
                 layers = nlohmann::json::array(), nodes = nlohmann::json::array(),
                 outs = nlohmann::json::array();
  for (const Symbol& s : inputs_) {
    id[s.node().get()] = static_cast<int>(id.size());
    ins.push_back(
        {{"name", s.node()->input_name}, {"shape", s.shape()}, {"dtype", dtype_name(s.dtype())}});
  }
  for (const auto& l : layers_) layers.push_back(l->to_config());
  for (const Node* n : order_) {
    nlohmann::json reads = nlohmann::json::array();
    for (const Symbol& s : n->inputs) reads.push_back(id.at(s.node().get()));
    nodes.push_back({{"layer", n->layer->name()}, {"inputs", std::move(reads)}});
    id[n] = static_cast<int>(id.size());
  }
  for (const Symbol& s : outputs_) outs.push_back(id.at(s.node().get()));
  c["inputs"] = std::move(ins);
  c["layers"] = std::move(layers);
  c["nodes"] = std::move(nodes);
  c["outputs"] = std::move(outs);
  return c;
}

// ---------------------------------------------------------------- WrappedModel

WrappedModel::WrappedModel(std::shared_ptr<nn::Module> module, std::optional<Shape> input_shape,
                           std::string zoo_name, models::ZooOptions zoo_options,
                           const std::string& name)
    : Model(zoo_name.empty() ? "ModuleModel" : "ZooModel",
            !name.empty()      ? name
            : zoo_name.empty() ? unique_layer_name(module ? module->type_name() : "Module")
                               : unique_layer_name(zoo_name)),
      module_(std::move(module)),
      zoo_name_(std::move(zoo_name)),
      zoo_options_(zoo_options) {
  RAVEL_CHECK(module_ != nullptr, describe(), ": from_module got a null module");
  RAVEL_CHECK(module_.get() != this, describe(), ": a model cannot wrap itself");
  sync_registrations();
  if (input_shape) build_inputs({*input_shape});
}

void WrappedModel::sync_registrations() {
  for (const auto& [name, t] : module_->named_parameters(false))
    if (!parameter(name).defined()) register_parameter(name, t, t.requires_grad());
  for (const auto& [name, t] : module_->named_buffers(false))
    if (!buffer(name).defined()) register_buffer(name, t);
  for (const auto& [name, m] : module_->named_children())
    if (!child(name)) register_module(name, m);
}

void WrappedModel::train(bool on) {
  Model::train(on);
  module_->train(on);
}

std::vector<Tensor> WrappedModel::run(const std::vector<Tensor>& inputs) {
  RAVEL_CHECK(inputs.size() == 1 && inputs[0].defined(), describe(),
              ": a wrapped module takes one defined input, got ", inputs.size());
  const Tensor& x = inputs[0];
  RAVEL_CHECK(x.ndim() >= 1, describe(), ": input of shape ", x.shape(), " has no batch dimension");
  if (!is_built()) build_inputs({without_batch(x.shape())}, {x.dtype()});
  return {(*module_)(x)};
}

void WrappedModel::build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                                const std::vector<DType>& dtypes) {
  RAVEL_CHECK(input_shapes_without_batch.size() == 1, describe(),
              ": a wrapped module has one input, build_inputs got ",
              input_shapes_without_batch.size(), " shapes");
  const Shape& shape = input_shapes_without_batch[0];
  if (input_shape_) {
    RAVEL_CHECK(shape == *input_shape_, describe(), ": already built for inputs ",
                shape_str(*input_shape_), ", build_inputs got ", shape_str(shape));
    return;
  }
  for (int64_t d : shape)
    RAVEL_CHECK(d > 0, describe(), ": input shape ", shape_str(shape),
                " has a dimension that is not positive");
  input_shape_ = shape;
  if (!dtypes.empty()) input_dtype_ = dtypes[0];
  try {
    probe();
  } catch (...) {
    input_shape_.reset();
    throw;
  }
}

void WrappedModel::probe() const {
  // Forward hooks on the top-level children record their output shapes on a dummy batch.
  const auto named = module_->named_children();
  std::vector<std::vector<Shape>> seen(named.size());
  std::vector<int> hooks;
  for (size_t i = 0; i < named.size(); ++i)
    hooks.push_back(named[i].second->register_forward_hook(
        [&seen, i](nn::Module&, const Tensor&, const Tensor& out) {
          seen[i].push_back(without_batch(out.shape()));
          return Tensor();
        }));
  Tensor out;
  try {
    run_in_eval(*module_,
                [&] { out = (*module_)(zeros(with_batch(*input_shape_), input_dtype_)); });
  } catch (...) {
    for (size_t i = 0; i < named.size(); ++i) named[i].second->remove_hook(hooks[i]);
    throw;
  }
  for (size_t i = 0; i < named.size(); ++i) named[i].second->remove_hook(hooks[i]);
  output_shape_ = without_batch(out.shape());
  child_shapes_.clear();
  for (const auto& shapes : seen) {
    std::string s = shapes.empty() ? "?" : shape_str(shapes[0]);
    for (const auto& other : shapes)
      if (other != shapes[0]) s = "multiple";
    child_shapes_.push_back(s);
  }
  // A lazily built module may have made its weights during the call.
  const_cast<WrappedModel*>(this)->sync_registrations();
}

std::vector<std::string> WrappedModel::child_output_shapes() const {
  if (child_shapes_.size() != module_->named_children().size()) probe();
  return child_shapes_;
}

std::vector<Shape> WrappedModel::input_shapes() const {
  RAVEL_CHECK(is_built(), describe(), ": input_shapes() of a model that is not built");
  return {*input_shape_};
}

std::vector<Shape> WrappedModel::output_shapes() const {
  RAVEL_CHECK(is_built(), describe(), ": output_shapes() of a model that is not built");
  if (!output_shape_) probe();
  return {*output_shape_};
}

std::vector<std::shared_ptr<nn::Module>> WrappedModel::top_layers() const {
  return module_->children();
}

nlohmann::json WrappedModel::config() const {
  RAVEL_CHECK(!zoo_name_.empty(), describe(), ": wraps a custom nn::Module (", module_->type_name(),
              ") whose architecture cannot be written as a config; save_weights() saves its "
              "weights, or build the model from layers or with Model::from_zoo");
  nlohmann::json c = Layer::config();
  c["zoo"] = zoo_name_;
  c["options"] = {{"num_classes", zoo_options_.num_classes},
                  {"in_channels", zoo_options_.in_channels},
                  {"input_size", zoo_options_.input_size},
                  {"width", zoo_options_.width},
                  {"zero_init_residual", zoo_options_.zero_init_residual}};
  if (input_shape_) {
    c["input_shape"] = *input_shape_;
    c["input_dtype"] = dtype_name(input_dtype_);
  }
  return c;
}

}  // namespace detail

// ---------------------------------------------------------------- constructors

std::shared_ptr<Model> Model::functional(const std::vector<Symbol>& inputs,
                                         const std::vector<Symbol>& outputs,
                                         const std::string& name) {
  return std::make_shared<detail::FunctionalModel>(inputs, outputs, name);
}

std::shared_ptr<Model> Model::from_module(std::shared_ptr<nn::Module> module,
                                          const Shape& input_shape, const std::string& name) {
  std::optional<Shape> shape;
  if (!input_shape.empty()) shape = input_shape;
  return std::make_shared<detail::WrappedModel>(std::move(module), shape, "", models::ZooOptions{},
                                                name);
}

std::shared_ptr<Model> Model::from_zoo(const std::string& zoo_name,
                                       const models::ZooOptions& options) {
  // Inputs of in_channels x input_size x input_size, so summary() and save work at once.
  Shape shape{options.in_channels, options.input_size, options.input_size};
  return std::make_shared<detail::WrappedModel>(models::create(zoo_name, options), shape, zoo_name,
                                                options, "");
}

}  // namespace ravel::keras
