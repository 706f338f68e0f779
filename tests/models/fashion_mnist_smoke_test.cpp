// CI's smoke version of the main job (examples/fashion_mnist.cpp): a ResNet-20 trained for a few
// hundred steps on a subset of Fashion-MNIST through the real pipeline -- IDX reader, transforms,
// multi-worker DataLoader, SGD with a one-cycle schedule -- must lower its loss and beat chance
// (10%) by a wide margin on held-out test images. The full runs and their accuracies are
// recorded in the README, not run in CI.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "ravel/data.h"
#include "ravel/models.h"
#include "ravel/nn.h"
#include "ravel/ops.h"
#include "ravel/optim.h"

namespace {
using namespace ravel;
namespace F = ravel::nn::functional;
namespace T = ravel::data::transforms;

TEST(FashionMnistSmoke, ResNet20LearnsOnASubset) {
  struct stat st {};
  if (stat(data::kFashionMnistDir, &st) != 0)
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (" << data::kFashionMnistDir << ")";
  manual_seed(0);
  auto train = data::load_fashion_mnist(data::Split::Train);
  auto test = data::load_fashion_mnist(data::Split::Test);
  const int64_t n_train = 6400, n_test = 1000, batch = 32;
  auto norm =
      std::make_shared<T::Normalize>(std::vector<double>{0.2860}, std::vector<double>{0.3530});
  auto train_tf = std::make_shared<T::Compose>(std::vector<T::TransformPtr>{
      std::make_shared<T::ToFloat>(), std::make_shared<T::RandomCrop>(28, 2),
      std::make_shared<T::RandomHorizontalFlip>(), norm});
  auto test_tf = std::make_shared<T::Compose>(
      std::vector<T::TransformPtr>{std::make_shared<T::ToFloat>(), norm});
  auto train_ds = std::make_shared<data::TransformDataset>(
      std::make_shared<data::TensorDataset>(train.images.slice(0, 0, n_train),
                                            train.labels.slice(0, 0, n_train)),
      T::on_input(train_tf));
  auto test_ds = std::make_shared<data::TransformDataset>(
      std::make_shared<data::TensorDataset>(test.images.slice(0, 0, n_test),
                                            test.labels.slice(0, 0, n_test)),
      T::on_input(test_tf));
  data::DataLoader loader(
      train_ds,
      {.batch_size = batch, .shuffle = true, .drop_last = true, .num_workers = 2, .seed = 1});
  auto model = models::resnet20({.num_classes = 10, .in_channels = 1});
  optim::SGD opt(model->parameters(), {.lr = 0.05, .momentum = 0.9, .nesterov = true});
  const int64_t steps = loader.num_batches();  // 200
  optim::OneCycleLR sched(opt, 0.05, steps);

  std::vector<double> losses;
  for (data::Batch& b : loader) {
    opt.zero_grad();
    Tensor loss = F::cross_entropy((*model)(b.input), b.target);
    loss.backward();
    opt.step();
    sched.step();
    losses.push_back(loss.item<double>());
  }
  ASSERT_EQ(static_cast<int64_t>(losses.size()), steps);
  auto mean_of = [&](size_t from, size_t to) {
    double s = 0;
    for (size_t i = from; i < to; ++i) s += losses[i];
    return s / static_cast<double>(to - from);
  };
  double first = mean_of(0, 20), last = mean_of(losses.size() - 20, losses.size());
  EXPECT_LT(last, 0.6 * first) << "loss did not fall: first 20 steps " << first
                               << ", last 20 steps " << last;

  NoGradGuard no_grad;
  model->eval();
  data::DataLoader test_loader(test_ds, {.batch_size = 250});
  int64_t correct = 0;
  for (data::Batch& b : test_loader)
    correct += sum(argmax((*model)(b.input), 1) == b.target).item<int64_t>();
  double acc = static_cast<double>(correct) / n_test;
  std::printf("smoke: loss %.3f -> %.3f, test accuracy %.3f on %lld images\n", first, last, acc,
              static_cast<long long>(n_test));
  EXPECT_GT(acc, 0.6) << "a ResNet-20 after 200 steps should be far above chance (0.1)";
}

}  // namespace
