// The Keras level's building block: a Layer is an nn::Module that creates its weights on its
// first call, from the shape of what it is given, and that can be called on symbolic tensors to
// wire up a functional model (keras.layers.Layer).
//
//   using namespace ravel::keras;
//   Symbol inputs = Input({1, 28, 28});                  // shapes leave out the batch dimension
//   Symbol x = Conv2D(32, 3, {.padding = "same", .activation = "relu"})(inputs);
//   x = Flatten()(x);
//   Symbol outputs = Dense(10)(x);
//   auto model = Model::functional(inputs, outputs);    // keras/model.h
//
//   auto dense = Dense(64, "relu");     // a LayerPtr<layers::Dense>: a shared_ptr that is callable
//   Tensor y = dense(torch_like_batch); // eager call: builds nn::Linear(in, 64) now, then runs it
//
// Layout: images are channels-first, [N, C, H, W], like the rest of ravel (Keras'
// data_format="channels_first"), so layers and nn modules exchange tensors without transposes.
//
// Shape inference: calling a layer on Symbols runs it once, in eval mode without autograd, on a
// zero batch of one example of each input's shape; that builds the layer and gives the output
// shape. Every dimension of an Input but the batch must therefore be known.
//
// Names: a layer without a given name is named after its type, counted per type in this
// process as Keras does: "dense", "dense_1", ... (reset_layer_names() starts the counts again).
// A model registers its layers as children under these names, so state_dict keys read
// "dense_1.linear.weight".
//
// Saving: config() returns the constructor arguments as JSON (with "name"); layer_from_config()
// rebuilds any built-in layer, or a user layer registered with register_layer().
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <vector>

#include "ravel/dtype.h"
#include "ravel/nn/module.h"

namespace ravel::keras {

using Shape = std::vector<int64_t>;  // one example's shape: no batch dimension

class Layer;
struct Node;

// A symbolic tensor: the output of a layer in a graph being built, with its shape (no batch
// dimension) and dtype. Cheap to copy (a shared handle).
class Symbol {
 public:
  Symbol() = default;
  explicit Symbol(std::shared_ptr<Node> node) : node_(std::move(node)) {}
  const Shape& shape() const;  // without the batch dimension
  DType dtype() const;
  const std::shared_ptr<Node>& node() const { return node_; }
  bool defined() const { return node_ != nullptr; }

 private:
  std::shared_ptr<Node> node_;
};

// One call of a layer in a graph. An Input is a node without a layer.
struct Node {
  std::shared_ptr<Layer> layer;  // null for an Input
  std::vector<Symbol> inputs;
  Shape shape;  // of the output, without the batch dimension
  DType dtype = DType::Float32;
  std::string input_name;  // for an Input: its name ("input_1", or as given)
};

// A model input: `shape` without the batch dimension. dtype Int64 for token ids (Embedding).
Symbol Input(const Shape& shape, DType dtype = DType::Float32, const std::string& name = "");

class Layer : public nn::Module {
 public:
  // type: "Dense", "Conv2D", ... (Keras' class name). name "" takes the next automatic name.
  explicit Layer(std::string type, std::string name = "");
  ~Layer() override;

  const std::string& name() const { return name_; }
  std::string type_name() const override { return type_; }
  bool built() const { return built_; }
  // The input shapes (batch dimension included) of the call that built the layer.
  const std::vector<Shape>& built_input_shapes() const { return built_input_shapes_; }
  // "layer \"dense_1\" (Dense)": how errors name the layer.
  std::string describe() const;

  // ---- eager calls ----
  // forward(x) == call({x}); layers that take several inputs (Add, Concatenate) are called with
  // call(). The first call builds the layer from the inputs' shapes; a later call with a shape
  // the weights cannot take throws ravel::Error naming the layer, the shape and what it expects.
  Tensor forward(const Tensor& x) override;
  Tensor call(const std::vector<Tensor>& inputs);

  // ---- symbolic calls (functional API) ----
  // Builds (if not yet) by a dummy run and records a Node; the same layer object called twice
  // shares its weights.
  Symbol operator()(const Symbol& x);
  Symbol operator()(const std::vector<Symbol>& xs);
  using nn::Module::operator();  // the eager Tensor call, hooks included

  // Keras' config: constructor arguments plus "name" (and "type" added by to_config()).
  virtual nlohmann::json config() const;
  // {"type": type_name(), "config": config()}
  nlohmann::json to_config() const;

  // Number of inputs call() accepts: 1 by default; -1 for "one or more" (Add, Concatenate).
  virtual int num_inputs() const { return 1; }

 protected:
  // Creates the wrapped nn modules for inputs of these shapes (batch dimension included).
  // Called once, before the first compute().
  virtual void build(const std::vector<Shape>& input_shapes) {}
  // The computation, on built weights.
  virtual Tensor compute(const std::vector<Tensor>& inputs) = 0;

 private:
  std::string type_, name_;
  bool built_ = false;
  std::vector<Shape> built_input_shapes_;
};

// A shared_ptr to a layer that can also be called like the layer: on Symbols (functional API)
// or on Tensors (eager). Converts to std::shared_ptr<Layer> / <nn::Module> implicitly.
template <typename L>
class LayerPtr : public std::shared_ptr<L> {
 public:
  LayerPtr() = default;
  LayerPtr(std::shared_ptr<L> p) : std::shared_ptr<L>(std::move(p)) {}  // NOLINT: implicit
  Symbol operator()(const Symbol& x) const { return (**this)(x); }
  Symbol operator()(const std::vector<Symbol>& xs) const { return (**this)(xs); }
  Tensor operator()(const Tensor& x) const { return (**this)(x); }
};

// The next automatic name for a type: "dense", "dense_1", ... (snake_case of the type).
std::string unique_layer_name(const std::string& type);
void reset_layer_names();  // Keras' clear_session() for names: counts start again

// ---- configs ----
using LayerFactory = std::function<std::shared_ptr<Layer>(const nlohmann::json& config)>;
// Makes `type` loadable by load_model(); a second registration of a type replaces the first.
void register_layer(const std::string& type, LayerFactory factory);
// Rebuilds a layer from to_config()'s {"type", "config"}; an unknown type throws, naming it.
std::shared_ptr<Layer> layer_from_config(const nlohmann::json& type_and_config);

}  // namespace ravel::keras
