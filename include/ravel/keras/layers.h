// The built-in Keras layers: thin wrappers that create the matching nn module (or call the
// functional op) once the input shape is known (keras.layers).
//
//   using namespace ravel::keras;
//   auto model = Sequential({InputLayer({1, 28, 28}),
//                            RandomFlip("horizontal", 7),
//                            Conv2D(32, 3, {.padding = "same", .activation = "relu"}),
//                            BatchNormalization(),
//                            MaxPooling2D(2),
//                            Flatten(),
//                            Dropout(0.25),
//                            Dense(10, "softmax")});
//   auto dense = Dense(64, "relu");   // a LayerPtr<layers::Dense>
//   Tensor y = dense(x);              // builds nn::Linear(x.size(-1), 64), registered as
//                                     // "linear": keys "linear.weight", "linear.bias"
//
// Each class lives in ravel::keras::layers, and a factory function of the same name in
// ravel::keras returns a LayerPtr, so a model reads as Keras. Arguments follow Keras' names and
// defaults; the rest sit in option structs (Keras' field names, in the order documented, so
// designated initialisers compile). Every constructor and factory takes the layer's name last
// ("" = automatic: "dense", "dense_1", ...).
//
// Layout is channels-first: images [N, C, H, W] (Keras' data_format="channels_first").
// Initialisers follow Keras where cheap: Dense and Conv2D kernels glorot_uniform, biases zeros;
// Embedding uniform(-0.05, 0.05); LSTM/GRU kernels glorot_uniform, recurrent kernels
// orthogonal, biases zeros (LSTM: forget-gate bias 1, Keras' unit_forget_bias).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ravel/keras/layer.h"
#include "ravel/random.h"

namespace ravel::nn {
class Linear;
class ConvNd;
class NormBase;
class Embedding;
class RNNBase;
}  // namespace ravel::nn

namespace ravel::keras {

// ---- activations ----
// Keras' activation names: "relu", "sigmoid", "tanh", "softmax" (last axis), "log_softmax",
// "gelu", "elu", "selu", "swish"/"silu", "leaky_relu" (slope 0.2, Keras' default),
// "softplus", "linear"/"" (identity). An unknown name throws, listing the known ones.
Tensor activation(const std::string& name, const Tensor& x);
void check_activation(const std::string& name);  // throws for an unknown name
std::vector<std::string> activation_names();

// One or two sizes (height, width): Conv2D(32, 3) or Conv2D(32, {3, 5}). {} is "unset".
struct Size2 {
  int64_t h = 0, w = 0;
  Size2() = default;
  Size2(int64_t v) : h(v), w(v) {}  // NOLINT: implicit, so 3 reads as (3, 3)
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  bool unset() const { return h == 0 && w == 0; }
  bool operator==(const Size2&) const = default;
};

// ---- option structs (fields in this order) ----
struct DenseOptions {
  bool use_bias = true;
};

struct Conv2DOptions {
  Size2 strides = 1;
  std::string padding = "valid";  // "valid" or "same" (TF's: extra padding on bottom/right)
  std::string activation = "";
  bool use_bias = true;
  Size2 dilation_rate = 1;
  int64_t groups = 1;
};

struct PoolOptions {
  Size2 strides = {};             // unset: the pool size
  std::string padding = "valid";  // "valid" or "same"
};

struct BatchNormalizationOptions {
  int64_t axis = 1;  // the feature axis, counting the batch; channels-first images: 1
  double momentum = 0.99;
  double epsilon = 1e-3;
  bool center = true;  // learn a shift (beta); false: none (fixed at 0)
  bool scale = true;   // learn a scale (gamma); false: none (fixed at 1)
};

struct RecurrentOptions {
  bool return_sequences = false;  // [N, T, units] instead of the last step [N, units]
  bool go_backwards = false;      // read the sequence from the end (outputs in that order)
  bool use_bias = true;
};

struct RandomOptions {
  std::string fill_mode = "reflect";       // "reflect", "constant", "nearest" (RandomTranslation)
  std::string interpolation = "bilinear";  // "bilinear" or "nearest" (RandomRotation)
  double fill_value = 0.0;                 // for fill_mode "constant"
};

namespace layers {

// y = activation(x W^T + b) over the last dimension of an input of any rank.
class Dense : public Layer {
 public:
  Dense(int64_t units, std::string activation = "", const DenseOptions& options = {},
        std::string name = "");
  int64_t units() const { return units_; }
  nlohmann::json config() const override;
  std::shared_ptr<nn::Linear> linear;  // set by build()

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t units_;
  std::string activation_;
  DenseOptions options_;
};

// 2-D convolution on [N, C, H, W], then the activation.
class Conv2D : public Layer {
 public:
  Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options = {}, std::string name = "");
  int64_t filters() const { return filters_; }
  nlohmann::json config() const override;
  std::shared_ptr<nn::ConvNd> conv;  // nn::Conv2d, set by build()

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t filters_;
  Size2 kernel_size_;
  Conv2DOptions options_;
  bool conv_pads_ = false;  // "same" padding done by the convolution itself (symmetric)
};

// MaxPooling2D and AveragePooling2D. "same" pads as TF (extra on bottom/right); padded cells
// never win a max and do not count in an average (Keras' behaviour).
class Pooling2D : public Layer {
 public:
  Pooling2D(std::string type, bool is_max, Size2 pool_size, PoolOptions options, std::string name);
  nlohmann::json config() const override;

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  bool is_max_;
  Size2 pool_size_;
  PoolOptions options_;
};
class MaxPooling2D : public Pooling2D {
 public:
  explicit MaxPooling2D(Size2 pool_size = 2, const PoolOptions& options = {}, std::string name = "")
      : Pooling2D("MaxPooling2D", true, pool_size, options, std::move(name)) {}
};
class AveragePooling2D : public Pooling2D {
 public:
  explicit AveragePooling2D(Size2 pool_size = 2, const PoolOptions& options = {},
                            std::string name = "")
      : Pooling2D("AveragePooling2D", false, pool_size, options, std::move(name)) {}
};

// Mean (or max) over H and W of [N, C, H, W]: [N, C] ([N, C, 1, 1] with keepdims).
class GlobalPooling2D : public Layer {
 public:
  GlobalPooling2D(std::string type, bool is_max, bool keepdims, std::string name);
  nlohmann::json config() const override;

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  bool is_max_, keepdims_;
};
class GlobalAveragePooling2D : public GlobalPooling2D {
 public:
  explicit GlobalAveragePooling2D(bool keepdims = false, std::string name = "")
      : GlobalPooling2D("GlobalAveragePooling2D", false, keepdims, std::move(name)) {}
};
class GlobalMaxPooling2D : public GlobalPooling2D {
 public:
  explicit GlobalMaxPooling2D(bool keepdims = false, std::string name = "")
      : GlobalPooling2D("GlobalMaxPooling2D", true, keepdims, std::move(name)) {}
};

// Batch normalisation over every axis but `axis`: nn::BatchNorm1d for [N, C] and [N, C, L],
// nn::BatchNorm2d for [N, C, H, W] (other axes are moved to 1 and back). Keras' momentum m is
// PyTorch's 1 - m. Keras' moving variance update uses the unbiased batch variance, as PyTorch.
class BatchNormalization : public Layer {
 public:
  explicit BatchNormalization(const BatchNormalizationOptions& options = {}, std::string name = "");
  nlohmann::json config() const override;
  std::shared_ptr<nn::NormBase> bn;  // set by build()

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t axis(int64_t rank) const;
  BatchNormalizationOptions options_;
};

// Zeroes a fraction `rate` of the inputs in training, scaling the rest by 1 / (1 - rate).
class Dropout : public Layer {
 public:
  explicit Dropout(double rate, std::string name = "");
  double rate() const { return rate_; }
  nlohmann::json config() const override;

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  double rate_;
};

// [N, ...] -> [N, prod(...)].
class Flatten : public Layer {
 public:
  explicit Flatten(std::string name = "");

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;
};

// [N, ...] -> [N, target_shape...]; one entry of target_shape may be -1 (inferred).
class Reshape : public Layer {
 public:
  explicit Reshape(Shape target_shape, std::string name = "");
  nlohmann::json config() const override;

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  Shape target_shape_;
};

class Activation : public Layer {
 public:
  explicit Activation(std::string activation, std::string name = "");
  nlohmann::json config() const override;

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  std::string activation_;
};

// int64 ids [N, ...] -> vectors [N, ..., output_dim].
class Embedding : public Layer {
 public:
  Embedding(int64_t input_dim, int64_t output_dim, std::string name = "");
  nlohmann::json config() const override;
  std::shared_ptr<nn::Embedding> embedding;  // set by build()

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t input_dim_, output_dim_;
};

// LSTM and GRU over batch-first [N, T, D]: [N, units], or [N, T, units] with return_sequences.
// The wrapped nn::LSTM / nn::GRU (child "rnn", batch_first) has PyTorch's gate layout. Keras'
// GRU default reset_after=True is PyTorch's formulation (the reset gate multiplies the
// recurrent term after its bias), so the two compute the same function.
class Recurrent : public Layer {
 public:
  Recurrent(std::string type, int64_t units, RecurrentOptions options, std::string name);
  int64_t units() const { return units_; }
  nlohmann::json config() const override;
  std::shared_ptr<nn::RNNBase> rnn;  // set by build()

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t units_;
  RecurrentOptions options_;
};
class LSTM : public Recurrent {
 public:
  explicit LSTM(int64_t units, const RecurrentOptions& options = {}, std::string name = "")
      : Recurrent("LSTM", units, options, std::move(name)) {}
};
class GRU : public Recurrent {
 public:
  explicit GRU(int64_t units, const RecurrentOptions& options = {}, std::string name = "")
      : Recurrent("GRU", units, options, std::move(name)) {}
};

// Add, Multiply, Average: elementwise over two or more inputs of the same shape.
class Merge : public Layer {
 public:
  enum class Op { Add, Multiply, Average };
  Merge(std::string type, Op op, std::string name);
  int num_inputs() const override { return -1; }

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  Op op_;
};
class Add : public Merge {
 public:
  explicit Add(std::string name = "") : Merge("Add", Op::Add, std::move(name)) {}
};
class Multiply : public Merge {
 public:
  explicit Multiply(std::string name = "") : Merge("Multiply", Op::Multiply, std::move(name)) {}
};
class Average : public Merge {
 public:
  explicit Average(std::string name = "") : Merge("Average", Op::Average, std::move(name)) {}
};

// Joins two or more inputs along `axis` (counting the batch dimension as Keras; -1: the last).
class Concatenate : public Layer {
 public:
  explicit Concatenate(int64_t axis = -1, std::string name = "");
  int num_inputs() const override { return -1; }
  nlohmann::json config() const override;

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t axis_;
};

// ---- preprocessing ----

// x * scale + offset (in floating point; integer inputs become float32).
class Rescaling : public Layer {
 public:
  explicit Rescaling(double scale, double offset = 0.0, std::string name = "");
  nlohmann::json config() const override;

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  double scale_, offset_;
};

// (x - mean) / max(sqrt(variance), 1e-7) per feature along `axis` (counting the batch; 1:
// channels of [N, C, ...], -1: the last axis). adapt(data) computes the mean and the population
// variance (ddof 0, as Keras) over every other axis of data [N, ...]. Both are buffers ("mean",
// "variance", shape [features]), so they are saved with the weights.
class Normalization : public Layer {
 public:
  explicit Normalization(int64_t axis = -1, std::string name = "");
  void adapt(const Tensor& data);
  bool adapted() const { return adapted_; }
  Tensor mean() const { return buffer("mean"); }
  Tensor variance() const { return buffer("variance"); }
  nlohmann::json config() const override;

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor compute(const std::vector<Tensor>& inputs) override;

 private:
  int64_t feature_axis(int64_t rank) const;
  void set_stats(const Tensor& mean, const Tensor& variance);
  int64_t axis_;
  bool adapted_ = false;
};

// Random image augmentation on [N, C, H, W]: each example gets its own draw in training mode;
// in eval mode these are the identity (RandomCrop: a centre crop). The draws come from the
// layer's own Generator seeded with `seed`, so a training run repeats. They reuse
// data::transforms::functional (no gradient flows through them: they sit at the input).
class RandomLayer : public Layer {
 public:
  RandomLayer(std::string type, uint64_t seed, std::string name);
  uint64_t seed() const { return seed_; }
  Generator& generator() { return gen_; }

 protected:
  Tensor compute(const std::vector<Tensor>& inputs) override;
  // One image [C, H, W] in training mode, drawing from gen.
  virtual Tensor augment(const Tensor& image, Generator& gen) const = 0;
  // The eval-mode result of the whole batch (identity by default).
  virtual Tensor inference(const Tensor& x) const { return x; }
  nlohmann::json base_config() const;  // name and seed

 private:
  uint64_t seed_;
  Generator gen_;
};

// mode "horizontal", "vertical" or "horizontal_and_vertical" (Keras' default); each flip with
// probability 1/2. Draws per example: one next_double() per direction of the mode.
class RandomFlip : public RandomLayer {
 public:
  explicit RandomFlip(std::string mode = "horizontal_and_vertical", uint64_t seed = 0,
                      std::string name = "");
  nlohmann::json config() const override;

 protected:
  Tensor augment(const Tensor& image, Generator& gen) const override;

 private:
  bool horizontal_, vertical_;
  std::string mode_;
};

// A random height x width window in training (per example), the central one in eval.
// Draws per example: top = next_below(H - height + 1), left = next_below(W - width + 1).
class RandomCrop : public RandomLayer {
 public:
  RandomCrop(int64_t height, int64_t width, uint64_t seed = 0, std::string name = "");
  nlohmann::json config() const override;

 protected:
  void build(const std::vector<Shape>& input_shapes) override;
  Tensor augment(const Tensor& image, Generator& gen) const override;
  Tensor inference(const Tensor& x) const override;

 private:
  int64_t height_, width_;
};

// Shifts by whole pixels: dy drawn uniformly from [-height_factor * H, height_factor * H]
// (rounded half to even), dx likewise. fill_mode: "reflect" (Keras' default; ravel mirrors
// without repeating the edge pixel: d c b | a b c d), "nearest" (edge) or "constant"
// (fill_value). Keras interpolates fractional shifts; whole pixels need none.
// Draws per example: dy's next_double(), then dx's.
class RandomTranslation : public RandomLayer {
 public:
  RandomTranslation(double height_factor, double width_factor, RandomOptions options = {},
                    uint64_t seed = 0, std::string name = "");
  nlohmann::json config() const override;

 protected:
  Tensor augment(const Tensor& image, Generator& gen) const override;

 private:
  double height_factor_, width_factor_;
  RandomOptions options_;
};

// Rotation by an angle drawn from [-factor, factor] x 360 degrees (Keras' factor is a fraction
// of a full turn), about the centre. Only fill_mode "constant" (fill_value) is supported:
// data::transforms::functional::rotate fills outside the image with a constant.
// Draws per example: one next_double().
class RandomRotation : public RandomLayer {
 public:
  explicit RandomRotation(double factor, RandomOptions options = {.fill_mode = "constant"},
                          uint64_t seed = 0, std::string name = "");
  nlohmann::json config() const override;

 protected:
  Tensor augment(const Tensor& image, Generator& gen) const override;

 private:
  double factor_;
  RandomOptions options_;
};

}  // namespace layers

// ---- factories (Keras' spelling) ----
LayerPtr<layers::Dense> Dense(int64_t units, const std::string& activation = "",
                              const DenseOptions& options = {}, const std::string& name = "");
LayerPtr<layers::Conv2D> Conv2D(int64_t filters, Size2 kernel_size,
                                const Conv2DOptions& options = {}, const std::string& name = "");
LayerPtr<layers::MaxPooling2D> MaxPooling2D(Size2 pool_size = 2, const PoolOptions& options = {},
                                            const std::string& name = "");
LayerPtr<layers::AveragePooling2D> AveragePooling2D(Size2 pool_size = 2,
                                                    const PoolOptions& options = {},
                                                    const std::string& name = "");
LayerPtr<layers::GlobalAveragePooling2D> GlobalAveragePooling2D(bool keepdims = false,
                                                                const std::string& name = "");
LayerPtr<layers::GlobalMaxPooling2D> GlobalMaxPooling2D(bool keepdims = false,
                                                        const std::string& name = "");
LayerPtr<layers::BatchNormalization> BatchNormalization(
    const BatchNormalizationOptions& options = {}, const std::string& name = "");
LayerPtr<layers::Dropout> Dropout(double rate, const std::string& name = "");
LayerPtr<layers::Flatten> Flatten(const std::string& name = "");
LayerPtr<layers::Reshape> Reshape(const Shape& target_shape, const std::string& name = "");
LayerPtr<layers::Activation> Activation(const std::string& activation,
                                        const std::string& name = "");
LayerPtr<layers::Embedding> Embedding(int64_t input_dim, int64_t output_dim,
                                      const std::string& name = "");
LayerPtr<layers::LSTM> LSTM(int64_t units, const RecurrentOptions& options = {},
                            const std::string& name = "");
LayerPtr<layers::GRU> GRU(int64_t units, const RecurrentOptions& options = {},
                          const std::string& name = "");
LayerPtr<layers::Add> Add(const std::string& name = "");
LayerPtr<layers::Multiply> Multiply(const std::string& name = "");
LayerPtr<layers::Average> Average(const std::string& name = "");
LayerPtr<layers::Concatenate> Concatenate(int64_t axis = -1, const std::string& name = "");
LayerPtr<layers::Rescaling> Rescaling(double scale, double offset = 0.0,
                                      const std::string& name = "");
LayerPtr<layers::Normalization> Normalization(int64_t axis = -1, const std::string& name = "");
LayerPtr<layers::RandomFlip> RandomFlip(const std::string& mode = "horizontal_and_vertical",
                                        uint64_t seed = 0, const std::string& name = "");
LayerPtr<layers::RandomCrop> RandomCrop(int64_t height, int64_t width, uint64_t seed = 0,
                                        const std::string& name = "");
LayerPtr<layers::RandomTranslation> RandomTranslation(double height_factor, double width_factor,
                                                      const RandomOptions& options = {},
                                                      uint64_t seed = 0,
                                                      const std::string& name = "");
LayerPtr<layers::RandomRotation> RandomRotation(
    double factor, const RandomOptions& options = {.fill_mode = "constant"}, uint64_t seed = 0,
    const std::string& name = "");

}  // namespace ravel::keras
