// Keras-style models: Sequential, functional graphs and any nn::Module, with compile / fit /
// evaluate / predict / summary / save (keras.Model).
//
//   using namespace ravel;
//   using namespace ravel::keras;
//   auto data = data::load_fashion_mnist(data::Split::Train);        // [N,1,28,28] uint8
//   Tensor x = data.images.to(DType::Float32) / 255.0, y = data.labels;
//   auto model = Sequential({InputLayer({1, 28, 28}), Flatten(), Dense(128, "relu"),
//                            Dropout(0.2), Dense(10, "softmax")});
//   model->compile({.optimizer = "adam", .loss = "sparse_categorical_crossentropy",
//                   .metrics = {"accuracy"}});
//   History h = model->fit(x, y, {.epochs = 5, .batch_size = 64, .validation_split = 0.1});
//   auto scores = model->evaluate(x_test, y_test);                  // {"loss": .., "accuracy": ..}
//   Tensor probs = model->predict(x_test);
//   model->summary();                                               // Keras' table
//   save_model(*model, "fmnist.ravel");                             // one file
//   auto again = load_model("fmnist.ravel");                   // compiled, optimizer state too
//
//   // Keras' jit_compile: training steps as one compiled oneDNN program (ravel/compile.h), in
//   // bf16 mixed precision if asked; the model itself is unchanged.
//   model->compile({.optimizer = "sgd", .loss = Loss("sparse_categorical_crossentropy", true),
//                   .jit_compile = true, .mixed_precision = DType::BFloat16});
//
//   // Functional: a residual block in a few lines.
//   Symbol in = Input({3, 32, 32});
//   Symbol x = Conv2D(16, 3, {.padding = "same", .activation = "relu"})(in);
//   Symbol y = Conv2D(16, 3, {.padding = "same"})(x);
//   Symbol out = Dense(10)(Flatten()(Activation("relu")(Add()({x, y}))));
//   auto net = Model::functional(in, out);
//
//   // Any nn::Module, e.g. a zoo model, gets the same API; it stays the same object, so a
//   // hand-written loop over model->module() and fit() train the same weights.
//   auto resnet = Model::from_zoo("resnet20", {.num_classes = 10, .in_channels = 1});
//
// Training semantics follow Keras: the loss of a batch is the mean over its examples of
// (sample weight x example loss); class_weight gives each example the weight of its class; the
// logged "loss" of an epoch is the average over its batches, weighted by batch size; metrics
// accumulate over the epoch. validation_split takes the LAST fraction of x/y, before shuffling.
// Shuffling uses data::DataLoader seeded with FitOptions::seed, so a run repeats exactly.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "ravel/data/dataset.h"
#include "ravel/keras/layer.h"
#include "ravel/models/zoo.h"
#include "ravel/optim/optimizer.h"

namespace ravel {
class CompiledModule;  // ravel/compile.h
}

namespace ravel::keras {

class Callback;
class Metric;  // keras/metrics.h
namespace layers {
class InputLayer;
}

// Per-epoch (or per-batch) values by name: "loss", "accuracy", "val_loss", "lr", ...
using Logs = std::map<std::string, double>;

// What fit() returns: each logged value per epoch, in epoch order (keras.callbacks.History).
struct History {
  std::map<std::string, std::vector<double>> history;
  std::vector<int> epochs;  // 0-based epoch numbers that ran
  const std::vector<double>& operator[](const std::string& key) const;  // throws for unknown keys
};

// ---- compile ----

// A loss by Keras name or as a function. Names: "sparse_categorical_crossentropy" (integer
// labels), "categorical_crossentropy" (one-hot or soft labels), "binary_crossentropy",
// "mean_squared_error"/"mse", "mean_absolute_error"/"mae", "huber". Keras' default: the
// crossentropies expect probabilities (a softmax/sigmoid last layer), clipped to
// [1e-7, 1 - 1e-7] as Keras does; from_logits = true for raw scores. Classes lie along axis 1
// (channels-first, like PyTorch): y_pred [N, C, ...]. A loss over several values per example
// is their mean; [N] targets are taken for [N, 1] predictions, as Keras expands them.
struct Loss {
  // y_pred [N, ...], y_true [N, ...] -> per-example losses [N].
  using Fn = std::function<Tensor(const Tensor& y_pred, const Tensor& y_true)>;
  std::string name;
  bool from_logits = false;
  double label_smoothing = 0.0;
  Fn fn;  // a custom loss (name is then only its label)

  Loss() = default;
  Loss(const char* n) : name(n) {}             // NOLINT: implicit, so .loss = "mse" reads as Keras
  Loss(std::string n) : name(std::move(n)) {}  // NOLINT
  Loss(std::string n, bool logits, double smoothing = 0.0)
      : name(std::move(n)), from_logits(logits), label_smoothing(smoothing) {}
  // A function (a template so that a lambda does not also match (name, bool from_logits)).
  template <typename Fun, typename = std::enable_if_t<
                              std::is_invocable_r_v<Tensor, Fun, const Tensor&, const Tensor&>>>
  Loss(std::string label, Fun f) : name(std::move(label)), fn(std::move(f)) {}
  // Per-example losses [N] of a batch.
  Tensor per_example(const Tensor& y_pred, const Tensor& y_true) const;
};

// An optimizer by name with hyper-parameters, or built by a function once the model's
// parameters exist (the model may be built lazily by its first batch). Names: "sgd", "adam",
// "adamw", "rmsprop", "adagrad", "adadelta", "lion"; options are the optimizer's option names
// ("lr" (alias "learning_rate"), "momentum", "weight_decay", "nesterov", ...; Keras' spellings
// "beta_1", "beta_2", "epsilon" and rmsprop's "rho" work too). Keras' default learning rates:
// 0.01 for sgd, 0.001 for the others; the other hyper-parameters keep PyTorch's defaults (Adam's
// eps 1e-8, RMSprop's alpha 0.99, ...). Unknown names or options throw, listing the known ones.
struct OptimizerSpec {
  using Factory = std::function<std::unique_ptr<optim::Optimizer>(std::vector<Tensor> params)>;
  std::string name = "rmsprop";  // Keras' default
  std::map<std::string, double> options;
  Factory factory;  // when set, used instead of name/options

  OptimizerSpec() = default;
  OptimizerSpec(const char* n) : name(n) {}             // NOLINT: implicit
  OptimizerSpec(std::string n) : name(std::move(n)) {}  // NOLINT
  OptimizerSpec(std::string n, std::map<std::string, double> o)
      : name(std::move(n)), options(std::move(o)) {}
  OptimizerSpec(Factory f) : name("custom"), factory(std::move(f)) {}  // NOLINT
  std::unique_ptr<optim::Optimizer> create(std::vector<Tensor> params) const;
};

// A metric by name ("accuracy"/"acc", "sparse_categorical_accuracy", "categorical_accuracy",
// "binary_accuracy", "top_k_categorical_accuracy"/"top5", "precision", "recall", "f1", "auc",
// "mae", "mse") or an object (keras/metrics.h). "accuracy" picks the kind of accuracy from the
// loss, as Keras does. Metrics are not weighted by sample or class weights (Keras' `metrics`, not
// `weighted_metrics`). With several outputs, named metrics watch every output and log as
// "output_2_accuracy" (beside "output_2_loss"); a metric object watches the first output.
struct MetricSpec {
  std::string name;
  std::shared_ptr<Metric> metric;
  MetricSpec(const char* n) : name(n) {}             // NOLINT: implicit
  MetricSpec(std::string n) : name(std::move(n)) {}  // NOLINT
  MetricSpec(std::shared_ptr<Metric> m);             // NOLINT
};

struct CompileOptions {
  OptimizerSpec optimizer = {};
  Loss loss = {};
  std::vector<MetricSpec> metrics = {};
  // Several outputs: one loss per output (empty: `loss` for every output), and their weights.
  std::vector<Loss> losses = {};
  std::vector<double> loss_weights = {};
  // Keras' jit_compile: fit's and train_on_batch's steps run through ravel::compile
  // (ravel/compile.h), one oneDNN program per step, traced at the first training batch. A model
  // with several inputs or outputs, inputs that are not float32, dropout or random augmentation
  // (the trace is of the eval forward, where they do nothing), or an op the compiled path does
  // not cover trains eagerly and says why, once on stderr and in jit_describe(). evaluate and
  // predict run the model itself. The parameters stay the model's, so all else is as eager.
  bool jit_compile = false;
  // Keras' mixed-precision policy: Float32, or BFloat16 (torch.autocast-like bf16 mixed
  // precision with fp32 master weights and fp32 logits; needs jit_compile).
  DType mixed_precision = DType::Float32;
};

// ---- fit / evaluate / predict ----

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  double validation_split = 0.0;  // last fraction of x, y held out (tensor inputs only)
  // (x, y) to validate on after each epoch; or validation_dataset.
  std::vector<Tensor> validation_x = {};
  std::vector<Tensor> validation_y = {};
  data::DatasetPtr validation_dataset = nullptr;
  bool shuffle = true;
  // class index -> weight of its examples (by the first target; one-hot rows by their argmax);
  // classes not listed weigh 1.
  std::map<int64_t, double> class_weight = {};
  std::vector<std::shared_ptr<Callback>> callbacks = {};
  int verbose = 1;              // 0 silent, 1 progress bar, 2 one line per epoch
  int initial_epoch = 0;        // to resume: epochs run from initial_epoch to epochs - 1
  uint64_t seed = 0;            // shuffling (and a dataset's augmentation)
  int workers = 0;              // DataLoader worker threads for dataset inputs
  int64_t steps_per_epoch = 0;  // 0: the whole training set; else the first batches of each epoch
};

struct EvaluateOptions {
  int64_t batch_size = 32;
  int verbose = 0;
  std::vector<std::shared_ptr<Callback>> callbacks = {};
};

class Model : public Layer {
 public:
  // ---- construction ----
  // A graph from Input symbols to outputs (all layers between them become children).
  static std::shared_ptr<Model> functional(const std::vector<Symbol>& inputs,
                                           const std::vector<Symbol>& outputs,
                                           const std::string& name = "");
  static std::shared_ptr<Model> functional(const Symbol& input, const Symbol& output,
                                           const std::string& name = "") {
    return functional(std::vector<Symbol>{input}, std::vector<Symbol>{output}, name);
  }
  // Wraps a module (one input, one output); input_shape (no batch dimension) lets summary() and
  // save_model() know the shapes before the first batch.
  static std::shared_ptr<Model> from_module(std::shared_ptr<nn::Module> module,
                                            const Shape& input_shape = {},
                                            const std::string& name = "");
  // A zoo model (models::create) that save_model/load_model can rebuild by name.
  static std::shared_ptr<Model> from_zoo(const std::string& zoo_name,
                                         const models::ZooOptions& options = {});

  explicit Model(std::string type = "Functional", std::string name = "");
  ~Model() override;

  // ---- running ----
  // All outputs for all inputs (a single-input, single-output model also works through
  // forward(x) / Layer::call).
  virtual std::vector<Tensor> run(const std::vector<Tensor>& inputs) = 0;
  virtual size_t num_model_inputs() const { return 1; }
  virtual size_t num_model_outputs() const { return 1; }
  // As a layer (a model inside another model) it takes its inputs and gives its first output.
  int num_inputs() const override { return static_cast<int>(num_model_inputs()); }
  // Builds every layer for inputs of these shapes (no batch dimension), by a dummy batch of
  // zeros of these dtypes (empty: float32; Int64 for token ids).
  virtual void build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                            const std::vector<DType>& dtypes = {});
  void build_input(const Shape& input_shape_without_batch) {
    build_inputs({input_shape_without_batch});
  }
  virtual bool is_built() const = 0;
  // Shapes of the inputs and outputs, without the batch dimension (after build).
  virtual std::vector<Shape> input_shapes() const = 0;
  virtual std::vector<Shape> output_shapes() const = 0;

  // The layers at the top level, in order (for summary; a wrapped module: its children).
  virtual std::vector<std::shared_ptr<nn::Module>> top_layers() const = 0;
  // The underlying module to use in a hand-written loop (this model itself, or the wrapped one).
  virtual std::shared_ptr<nn::Module> module();

  // Keras' summary table: "Layer (type)", "Output Shape", "Param #" (and "Connected to" for a
  // graph that is not a plain chain), then total, trainable and non-trainable parameter counts
  // (float buffers such as BatchNormalization's moving mean/variance count as non-trainable, as
  // Keras counts them). line_length 0: Keras' default, 65 (98 with "Connected to"). An unbuilt
  // model throws, saying to build() it or give an input shape.
  std::string summary_string(int line_length = 0) const;
  void summary(std::ostream& os) const;
  void summary() const;  // to stdout

  // ---- training ----
  void compile(CompileOptions options);
  bool is_compiled() const { return compiled_; }
  const CompileOptions& compile_options() const { return compile_options_; }
  // The optimizer: created over the parameters when compile() runs on a built model, else on the
  // first batch. Null before that.
  optim::Optimizer* optimizer() const { return optimizer_.get(); }
  // With jit_compile: CompiledModule::describe() of the compiled training step (one line per
  // step), or "eager: <why>" for a model that trains eagerly; empty before the first batch.
  std::string jit_describe() const;

  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  History fit(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
              const FitOptions& options = {});
  // Examples (input, target); augment through data::TransformDataset.
  History fit(data::DatasetPtr train, const FitOptions& options = {});

  // {"loss": ..., metric names: ...} over the whole set.
  Logs evaluate(const Tensor& x, const Tensor& y, const EvaluateOptions& options = {});
  Logs evaluate(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                const EvaluateOptions& options = {});
  Logs evaluate(data::DatasetPtr dataset, const EvaluateOptions& options = {});

  // Outputs in eval mode without autograd, batch by batch, concatenated.
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  std::vector<Tensor> predict_all(const std::vector<Tensor>& xs, int64_t batch_size = 32);

  // One optimisation step on a batch; returns {"loss", metrics of this batch}.
  Logs train_on_batch(const std::vector<Tensor>& xs, const std::vector<Tensor>& ys,
                      const Tensor& sample_weight = {});

  // Set by a callback (EarlyStopping, TerminateOnNaN) to end fit() after this batch/epoch.
  bool stop_training = false;

  // ---- config ----
  // The whole architecture (to_config() adds "type"); throws for a wrapped custom module.
  nlohmann::json config() const override;

 protected:
  void build(const std::vector<Shape>& input_shapes) override;  // Layer's (batch included)
  Tensor compute(const std::vector<Tensor>& inputs) override;   // run(inputs)[0]
  void ensure_optimizer();
  // The architecture changed (rebuilt, a layer added): the compiled step is made again.
  void reset_jit();

  // A compiled metric: its key in the logs ("accuracy"; "output_2_accuracy" with several
  // outputs) and the output it watches.
  struct CompiledMetric {
    std::string key;
    size_t output = 0;
    std::shared_ptr<Metric> metric;
  };
  bool compiled_ = false;
  CompileOptions compile_options_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::vector<CompiledMetric> metrics_;  // resolved from compile_options_.metrics
  // jit_compile's training step over this model (made at the first batch), or why there is none.
  std::shared_ptr<CompiledModule> jit_;
  std::string jit_eager_reason_;

 private:
  friend struct TrainingLoop;  // fit / evaluate / predict internals (src/keras/training.cpp)
};

// A stack of layers, each taking the previous one's output (keras.Sequential). An InputLayer
// first (or build(shape), or the first batch) fixes the input shape.
class SequentialModel : public Model {
 public:
  explicit SequentialModel(const std::vector<std::shared_ptr<Layer>>& layers = {},
                           const std::string& name = "");
  void add(std::shared_ptr<Layer> layer);
  void pop();
  const std::vector<std::shared_ptr<Layer>>& layers() const { return layers_; }
  // The input shape, then each layer's output shape (no batch dimension; empty until built).
  const std::vector<Shape>& shapes() const { return shapes_; }
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) override;
  void build_inputs(const std::vector<Shape>& input_shapes_without_batch,
                    const std::vector<DType>& dtypes = {}) override;
  bool is_built() const override;
  std::vector<Shape> input_shapes() const override;
  std::vector<Shape> output_shapes() const override;
  std::vector<std::shared_ptr<nn::Module>> top_layers() const override;
  nlohmann::json config() const override;

 private:
  std::vector<std::shared_ptr<Layer>> layers_;  // InputLayer not included (Keras' model.layers)
  std::shared_ptr<layers::InputLayer> input_layer_;
  DType input_dtype_ = DType::Float32;
  std::vector<Shape> shapes_;  // input shape, then each layer's output shape (when built)
  Tensor probe_;               // the last layer's output for the dummy batch (when built)
};

// keras.Sequential([...]) spelling.
std::shared_ptr<SequentialModel> Sequential(const std::vector<std::shared_ptr<Layer>>& layers = {},
                                            const std::string& name = "");

namespace layers {
// Fixes a Sequential model's input shape (no batch dimension); passes its input through.
class InputLayer : public Layer {
 public:
  InputLayer(Shape shape, DType dtype = DType::Float32, std::string name = "");
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  nlohmann::json config() const override;

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override { return inputs[0]; }

 private:
  Shape shape_;
  DType dtype_;
};
}  // namespace layers
LayerPtr<layers::InputLayer> InputLayer(const Shape& shape, DType dtype = DType::Float32);

// ---- save / load ----
// One safetensors file: the architecture (config) and compile settings as JSON metadata, the
// weights, and the optimizer's state. Written atomically (temporary file, then rename).
void save_model(Model& model, const std::string& path, bool include_optimizer = true);
// Rebuilds the model from its config, loads its weights and, when the file has them, compiles
// it and restores the optimizer state. A corrupt file or an unknown layer type throws and
// returns nothing half-built.
std::shared_ptr<Model> load_model(const std::string& path);
// Weights only, into an existing model of the same architecture (strict key and shape checks).
void save_weights(Model& model, const std::string& path);
void load_weights(Model& model, const std::string& path);

}  // namespace ravel::keras
