// A small CNN trained for 50 SGD+momentum steps from the same initial weights and batches in
// ravel and in PyTorch: the loss curves must agree. This exercises conv, batch norm, pooling,
// linear, cross entropy, autograd and the optimizer together, as a training loop does.
#include <gtest/gtest.h>

#include "ravel/nn.h"
#include "ravel/optim.h"
#include "ravel/ravel.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

using testing::matches;

TEST(TrainParity, SmallCnnFollowsTorchLossCurve) {
  constexpr int kSteps = 50, kBatches = 5, kBatch = 16;
  manual_seed(7);
  auto net = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(1, 8, 3, nn::Conv2dOptions{.padding = 1}),
      std::make_shared<nn::BatchNorm2d>(8), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(8, 16, 3, nn::Conv2dOptions{.stride = 2}),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(16 * 2 * 2, 10));
  Generator gen(11);
  Tensor x = randn({kBatches, kBatch, 1, 12, 12}, gen);
  Tensor y = randint(0, 10, {kBatches, kBatch}, gen);

  // The initial weights go to PyTorch in state_dict order, then the data.
  std::vector<Tensor> inputs;
  std::string names;
  for (auto& [name, t] : net->state_dict()) {
    inputs.push_back(t.clone());
    names += "'" + name + "',";
  }
  inputs.push_back(x);
  inputs.push_back(y);
  testing::TorchOracle torch;
  int h = torch.add_script("names = [" + names + "]\n" + R"(
vals = [a, b, c, d, e, f, g, h, i, j, k]
net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                    nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2), nn.ReLU(), nn.Flatten(),
                    nn.Linear(16 * 2 * 2, 10))
net.load_state_dict({n: torch.tensor(v) for n, v in zip(names, vals)})
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
X, Y = torch.tensor(l), torch.tensor(m)
losses = []
for step in range(50):
    opt.zero_grad()
    loss = F.cross_entropy(net(X[step % 5]), Y[step % 5])
    loss.backward()
    opt.step()
    losses.append(loss.item())
out = (np.array(losses, dtype=np.float32), net[0].weight, net[7].bias))",
                           inputs);
  ASSERT_EQ(inputs.size(), 13u) << "the script binds 11 state tensors and the data";
  torch.run();

  optim::SGD opt(net->parameters(), {.lr = 0.05, .momentum = 0.9});
  std::vector<float> losses;
  for (int step = 0; step < kSteps; ++step) {
    opt.zero_grad();
    Tensor loss = nn::functional::cross_entropy((*net)(x.select(0, step % kBatches)),
                                                y.select(0, step % kBatches));
    loss.backward();
    opt.step();
    losses.push_back(loss.item<float>());
  }
  // float32 round-off grows over 50 steps of momentum SGD; the curve must still coincide.
  EXPECT_TRUE(matches(from_vector(losses), torch.results(h)[0], 2e-3, 1e-4));
  EXPECT_LT(losses.back(), 0.5f * losses.front()) << "the network did not learn";
  EXPECT_TRUE(matches(net->at<nn::Conv2d>(0)->weight, torch.results(h)[1], 1e-2, 1e-3));
  EXPECT_TRUE(matches(net->at<nn::Linear>(7)->bias, torch.results(h)[2], 1e-2, 1e-3));
}

}  // namespace
}  // namespace ravel
