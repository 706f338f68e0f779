// The Keras level of ravel: from Fashion-MNIST to a test accuracy in a few lines.
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
                           Dropout(0.3), Dense(10, "softmax")});
  model->compile(
      {.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  model->summary();
  model->fit(train.images, train.labels, {.epochs = 2, .batch_size = 64, .validation_split = 0.1});
  Logs scores = model->evaluate(test.images, test.labels, {.batch_size = 256});
  std::printf("test accuracy: %.2f%%\n", 100 * scores["accuracy"]);
  return scores["accuracy"] > 0.85 ? 0 : 1;
}
