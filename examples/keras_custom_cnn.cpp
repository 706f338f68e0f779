// A custom CNN at the Keras level: the functional API with residual blocks written as a plain
// function, a layer of our own (a Layer subclass with a trainable parameter), callbacks, and
// the model saved to one file and loaded back.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ravel/ravel.h"

using namespace ravel;
using namespace ravel::keras;

// A learnable scale per channel. build() sees the input shape of the first call (batch first).
class ChannelScale : public Layer {
 public:
  explicit ChannelScale(std::string name = "") : Layer("ChannelScale", std::move(name)) {}

 protected:
  void build(const std::vector<keras::Shape>& shapes) override {
    scale_ = register_parameter("scale", ones({shapes[0][1], 1, 1}));
  }
  Tensor compute(const std::vector<Tensor>& inputs) override { return inputs[0] * scale_; }

 private:
  Tensor scale_;
};

// Keras' batch norm momentum (0.99) lets the moving statistics lag far behind in a short run;
// 0.9 (PyTorch's 0.1) suits a few epochs.
LayerPtr<layers::BatchNormalization> bn() { return BatchNormalization({.momentum = 0.9}); }

// conv-bn-relu-conv-bn plus a shortcut (a 1x1 projection when the shape changes), then relu.
Symbol residual_block(const Symbol& x, int64_t filters, int64_t stride) {
  Symbol y = Conv2D(filters, 3, {.strides = stride, .padding = "same", .use_bias = false})(x);
  y = Activation("relu")(bn()(y));
  y = bn()(Conv2D(filters, 3, {.padding = "same", .use_bias = false})(y));
  Symbol shortcut = x;
  if (stride != 1 || x.shape()[0] != filters)
    shortcut = bn()(Conv2D(filters, 1, {.strides = stride, .use_bias = false})(x));
  return Activation("relu")(Add()({y, shortcut}));
}

int main() {
  auto train = data::load_fashion_mnist(data::Split::Train);
  auto test = data::load_fashion_mnist(data::Split::Test);
  const int64_t n = 12000;  // a subset, so the example runs in a couple of minutes
  Tensor x = train.images.slice(0, 0, n), y = train.labels.slice(0, 0, n);

  Symbol inputs = Input({1, 28, 28});
  Symbol h = Rescaling(1.0 / 255)(inputs);
  h = Activation("relu")(bn()(Conv2D(16, 3, {.padding = "same"})(h)));
  h = residual_block(h, 16, 1);
  h = residual_block(h, 32, 2);
  h = residual_block(h, 64, 2);
  h = LayerPtr<ChannelScale>(std::make_shared<ChannelScale>())(h);
  Symbol logits = Dense(10)(GlobalAveragePooling2D()(h));
  auto model = Model::functional(inputs, logits, "small_resnet");
  model->summary();

  model->compile({.optimizer = "adam",
                  .loss = Loss("sparse_categorical_crossentropy", /*from_logits=*/true),
                  .metrics = {"accuracy"}});
  auto plateau = std::make_shared<ReduceLROnPlateau>(
      ReduceLROnPlateauOptions{.monitor = "val_loss", .factor = 0.5, .patience = 1});
  auto early = std::make_shared<EarlyStopping>(
      EarlyStoppingOptions{.monitor = "val_accuracy", .patience = 2, .restore_best_weights = true});
  History history = model->fit(
      x, y,
      {.epochs = 4, .batch_size = 64, .validation_split = 0.1, .callbacks = {plateau, early}});

  Logs scores = model->evaluate(test.images, test.labels, {.batch_size = 256});
  std::printf("test accuracy: %.2f%% after %zu epochs\n", 100 * scores["accuracy"],
              history["loss"].size());
  // load_model rebuilds layers from their configs ({"name": ...} by default): tell it how.
  register_layer("ChannelScale", [](const nlohmann::json& config) {
    return std::make_shared<ChannelScale>(config.at("name").get<std::string>());
  });
  save_model(*model, "custom_cnn.ravel");
  auto again = load_model("custom_cnn.ravel");
  Logs again_scores = again->evaluate(test.images, test.labels, {.batch_size = 256});
  std::printf("loaded back from custom_cnn.ravel: test accuracy %.2f%%\n",
              100 * again_scores["accuracy"]);
  return scores["accuracy"] > 0.8 && again_scores["accuracy"] == scores["accuracy"] ? 0 : 1;
}
