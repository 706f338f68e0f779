// Private to the Keras model sources (model.cpp, model_graph.cpp, model_save.cpp): the graph
// and wrapper model classes and the helpers they share.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "keras/dummy_run.h"
#include "ravel/keras/model.h"

namespace ravel::keras::detail {

std::string shape_str(const Shape& s);  // Keras' "(None, 784)"

// Registers the model types (Sequential, Functional, ZooModel, InputLayer) with the layer
// registry, once; every path that rebuilds models from configs calls it.
void register_model_layers();

// A graph of layer calls from Input symbols to outputs (Model::functional).
class FunctionalModel : public Model {
 public:
  FunctionalModel(const std::vector<Symbol>& inputs, const std::vector<Symbol>& outputs,
                  const std::string& name);
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override;
  size_t num_model_inputs() const override { return inputs_.size(); }
  size_t num_model_outputs() const override { return outputs_.size(); }
  void build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                    const std::vector<DType>& dtypes = {}) override;
  bool is_built() const override { return true; }
  std::vector<Shape> input_shapes() const override;
  std::vector<Shape> output_shapes() const override;
  std::vector<std::shared_ptr<nn::Module>> top_layers() const override;
  nlohmann::json config() const override;

  const std::vector<Symbol>& inputs() const { return inputs_; }
  const std::vector<Symbol>& outputs() const { return outputs_; }
  // Layer nodes in evaluation order (Inputs left out).
  const std::vector<const Node*>& nodes() const { return order_; }
  // Distinct layers in order of first use.
  const std::vector<std::shared_ptr<Layer>>& graph_layers() const { return layers_; }

 private:
  std::vector<Symbol> inputs_, outputs_;
  std::vector<const Node*> order_;
  std::vector<std::shared_ptr<Layer>> layers_;
};

// Any nn::Module as a model (Model::from_module, Model::from_zoo). Its direct children,
// parameters and buffers are registered under their own names, so state_dict keys are the
// module's own and train()/parameters() reach the same tensors.
class WrappedModel : public Model {
 public:
  WrappedModel(std::shared_ptr<nn::Module> module, std::optional<Shape> input_shape,
               std::string zoo_name, models::ZooOptions zoo_options, const std::string& name);
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override;
  void build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                    const std::vector<DType>& dtypes = {}) override;
  bool is_built() const override { return input_shape_.has_value(); }
  std::vector<Shape> input_shapes() const override;
  std::vector<Shape> output_shapes() const override;
  std::vector<std::shared_ptr<nn::Module>> top_layers() const override;
  std::shared_ptr<nn::Module> module() override { return module_; }
  nlohmann::json config() const override;
  void train(bool on = true) override;

  // Output shape of each top-level child on a dummy batch ("?" for a child never called,
  // "multiple" for one called on different shapes), in top_layers() order.
  std::vector<std::string> child_output_shapes() const;

 private:
  void sync_registrations();  // registers what the module gained since (lazy modules)
  void probe() const;         // a dummy batch: output and children's shapes

  std::shared_ptr<nn::Module> module_;
  std::optional<Shape> input_shape_;
  DType input_dtype_ = DType::Float32;
  std::string zoo_name_;  // "" for a custom module
  models::ZooOptions zoo_options_;
  mutable std::optional<Shape> output_shape_;
  mutable std::vector<std::string> child_shapes_;
};

}  // namespace ravel::keras::detail
