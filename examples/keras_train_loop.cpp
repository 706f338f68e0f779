// The same Keras-style model as keras_quickstart.cpp, trained by a hand-written loop: a model
// built from Keras layers is an ordinary nn::Module, so the low level (DataLoader, an optimizer,
// a loss, backward, step) drives it directly, and compile/fit could take over at any point.
#include <cstdio>

#include "ravel/ravel.h"

using namespace ravel;
using namespace ravel::keras;

int main() {
  auto train = data::load_fashion_mnist(data::Split::Train);
  auto test = data::load_fashion_mnist(data::Split::Test);
  auto model = Sequential({InputLayer({1, 28, 28}), Rescaling(1.0 / 255),
                           Conv2D(32, 3, {.activation = "relu"}), MaxPooling2D(2),
                           Conv2D(64, 3, {.activation = "relu"}), MaxPooling2D(2), Flatten(),
                           Dropout(0.3), Dense(10)});  // logits: the loss applies log-softmax

  optim::Adam opt(model->parameters(), {.lr = 1e-3});
  auto train_set = std::make_shared<data::TensorDataset>(train.images, train.labels);
  data::DataLoader loader(train_set, {.batch_size = 64, .shuffle = true, .seed = 1});
  for (int epoch = 1; epoch <= 2; ++epoch) {
    model->train();
    train::ProgressBar bar(loader.num_batches(),
                           {.title = "Epoch " + std::to_string(epoch) + "/2", .unit = "img"});
    for (data::Batch& b : loader) {
      opt.zero_grad();
      Tensor loss = nn::functional::cross_entropy((*model)(b.input), b.target);
      loss.backward();
      opt.step();
      bar.update(b.input.size(0), {{"loss", loss.item<double>()}});
    }
    bar.finish();
  }

  // Evaluation with a Keras metric, still by hand.
  model->eval();
  NoGradGuard no_grad;
  SparseCategoricalAccuracy accuracy;
  for (int64_t i = 0; i < test.images.size(0); i += 500)
    accuracy.update((*model)(test.images.slice(0, i, i + 500)), test.labels.slice(0, i, i + 500));
  std::printf("test accuracy: %.2f%%\n", 100 * accuracy.result());
  return accuracy.result() > 0.85 ? 0 : 1;
}
