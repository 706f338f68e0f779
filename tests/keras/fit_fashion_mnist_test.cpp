// End to end on real data: a Keras-style MLP learns Fashion-MNIST (a 4,000 / 1,000 subset, two
// epochs) through compile / fit / evaluate / predict, as the Keras tutorial does.
#include <gtest/gtest.h>

#include <chrono>

#include "ravel/data/readers.h"
#include "ravel/keras/layers.h"
#include "ravel/keras/model.h"
#include "ravel/ops.h"
#include "ravel/random.h"

namespace ravel::keras {
namespace {

TEST(KerasFitFashionMnist, MlpReachesSeventyFivePercentInTwoEpochs) {
  auto train = data::load_fashion_mnist(data::Split::Train);
  auto test = data::load_fashion_mnist(data::Split::Test);
  Tensor x = train.images.slice(0, 0, 4000).to(DType::Float32) / 255.0;
  Tensor y = train.labels.slice(0, 0, 4000);
  Tensor x_test = test.images.slice(0, 0, 1000).to(DType::Float32) / 255.0;
  Tensor y_test = test.labels.slice(0, 0, 1000);

  manual_seed(0);
  auto model =
      Sequential({InputLayer({1, 28, 28}), Flatten(), Dense(128, "relu"), Dense(10, "softmax")});
  model->compile(
      {.optimizer = "adam", .loss = "sparse_categorical_crossentropy", .metrics = {"accuracy"}});
  const auto start = std::chrono::steady_clock::now();
  History h = model->fit(
      x, y, {.epochs = 2, .batch_size = 32, .validation_split = 0.1, .verbose = 0, .seed = 1});
  Logs scores = model->evaluate(x_test, y_test, {.batch_size = 256});
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  ASSERT_EQ(h["loss"].size(), 2u);
  EXPECT_LT(h["loss"][1], h["loss"][0]);
  EXPECT_GT(h["val_accuracy"][1], 0.7);
  EXPECT_GT(scores["accuracy"], 0.75) << "test loss " << scores["loss"];
  // predict agrees with evaluate's accuracy.
  Tensor predicted = argmax(model->predict(x_test, 256), 1);
  EXPECT_DOUBLE_EQ((predicted == y_test).to(DType::Float64).mean().item<double>(),
                   scores["accuracy"]);
  RecordProperty("seconds", std::to_string(secs));
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)  // the budget is for optimised builds
  EXPECT_LT(secs, 10.0);
#endif
}

}  // namespace
}  // namespace ravel::keras
