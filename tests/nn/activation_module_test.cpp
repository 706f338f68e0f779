// Activation and loss modules: they compute what the functional ops compute, print as PyTorch
// prints them, and keep their parameters (PReLU) and weight buffers (losses) as PyTorch names them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "ravel/nn/activation.h"
#include "ravel/nn/functional/activation.h"
#include "ravel/nn/functional/loss.h"
#include "ravel/nn/loss.h"
#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

namespace F = nn::functional;
using testing::expect_error;
using testing::matches;
using testing::TorchOracle;

// Python's repr of a module, as bytes (the oracle returns arrays).
std::string as_string(const Tensor& bytes) {
  std::vector<int64_t> v = bytes.to_vector<int64_t>();
  return std::string(v.begin(), v.end());
}

TEST(ActivationModule, ForwardAndRepr) {
  Generator gen(31);
  Tensor x = randn({2, 3, 4}, gen);
  struct M {
    std::shared_ptr<nn::Module> m;
    Tensor expect;
    std::string torch;  // constructor
  };
  std::vector<M> ms = {
      {std::make_shared<nn::ReLU>(), F::relu(x), "nn.ReLU()"},
      {std::make_shared<nn::ReLU6>(), F::relu6(x), "nn.ReLU6()"},
      {std::make_shared<nn::LeakyReLU>(0.2), F::leaky_relu(x, 0.2), "nn.LeakyReLU(0.2)"},
      {std::make_shared<nn::PReLU>(3), F::prelu(x, full({3}, 0.25)), "nn.PReLU(3)"},
      {std::make_shared<nn::ELU>(0.5), F::elu(x, 0.5), "nn.ELU(0.5)"},
      {std::make_shared<nn::CELU>(), F::celu(x), "nn.CELU()"},
      {std::make_shared<nn::SELU>(), F::selu(x), "nn.SELU()"},
      {std::make_shared<nn::GELU>("tanh"), F::gelu(x, "tanh"), "nn.GELU('tanh')"},
      {std::make_shared<nn::SiLU>(), F::silu(x), "nn.SiLU()"},
      {std::make_shared<nn::Mish>(), F::mish(x), "nn.Mish()"},
      {std::make_shared<nn::Hardswish>(), F::hardswish(x), "nn.Hardswish()"},
      {std::make_shared<nn::Hardsigmoid>(), F::hardsigmoid(x), "nn.Hardsigmoid()"},
      {std::make_shared<nn::Hardtanh>(-2.0, 2.0), F::hardtanh(x, -2.0, 2.0),
       "nn.Hardtanh(-2.0, 2.0)"},
      {std::make_shared<nn::Sigmoid>(), F::sigmoid(x), "nn.Sigmoid()"},
      {std::make_shared<nn::Tanh>(), F::tanh(x), "nn.Tanh()"},
      {std::make_shared<nn::LogSigmoid>(), F::logsigmoid(x), "nn.LogSigmoid()"},
      {std::make_shared<nn::Softplus>(2.0, 10.0), F::softplus(x, 2.0, 10.0),
       "nn.Softplus(2.0, 10.0)"},
      {std::make_shared<nn::Softmax>(1), F::softmax(x, 1), "nn.Softmax(1)"},
      {std::make_shared<nn::LogSoftmax>(-1), F::log_softmax(x, -1), "nn.LogSoftmax(-1)"},
  };
  TorchOracle torch;
  std::vector<int> hs;
  for (const M& m : ms) {
    EXPECT_TRUE(matches((*m.m)(x), m.expect)) << m.torch;
    hs.push_back(torch.add_script(
        "m = " + m.torch + "\nout = (np.frombuffer(repr(m).encode(), dtype=np.uint8),)", {}));
  }
  torch.run();
  for (size_t i = 0; i < ms.size(); ++i)
    EXPECT_EQ(ms[i].m->repr(), as_string(torch.result(hs[i]))) << ms[i].torch;
}

TEST(ActivationModule, PReLUParameter) {
  nn::PReLU p(4, 0.1);
  auto named = p.named_parameters();
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_TRUE(matches(named[0].second, full({4}, 0.1)));
  Tensor x = randn({2, 4, 3});
  p(x).sum().backward();
  EXPECT_TRUE(p.weight.grad().defined());
  EXPECT_EQ(p.weight.grad().shape(), (Shape{4}));
}

TEST(LossModule, MatchFunctional) {
  Generator gen(32);
  Tensor x = randn({4, 5}, gen), y = randn({4, 5}, gen);
  Tensor t = tensor({0, 3, 4, 1});
  Tensor w = rand({5}, gen) + 0.5;
  Tensor pr = F::sigmoid(x), y01 = rand({4, 5}, gen);
  Tensor pm = tensor({1.0, -1.0, 1.0, -1.0}, DType::Float32);

  nn::CrossEntropyLoss ce({.weight = w, .label_smoothing = 0.1});
  EXPECT_TRUE(matches(ce(x, t), F::cross_entropy(x, t, {.weight = w, .label_smoothing = 0.1})));
  nn::NLLLoss nll({.ignore_index = 3, .reduction = "sum"});
  Tensor lp = F::log_softmax(x, 1);
  EXPECT_TRUE(matches(nll(lp, t), F::nll_loss(lp, t, {.ignore_index = 3, .reduction = "sum"})));
  EXPECT_TRUE(matches(nn::MSELoss("sum")(x, y), F::mse_loss(x, y, "sum")));
  EXPECT_TRUE(matches(nn::L1Loss("none")(x, y), F::l1_loss(x, y, "none")));
  EXPECT_TRUE(matches(nn::SmoothL1Loss("mean", 0.5)(x, y), F::smooth_l1_loss(x, y, "mean", 0.5)));
  EXPECT_TRUE(matches(nn::HuberLoss("mean", 0.5)(x, y), F::huber_loss(x, y, "mean", 0.5)));
  EXPECT_TRUE(matches(nn::BCELoss(w)(pr, y01), F::binary_cross_entropy(pr, y01, w)));
  nn::BCEWithLogitsLoss bcel({.pos_weight = w});
  EXPECT_TRUE(
      matches(bcel(x, y01), F::binary_cross_entropy_with_logits(x, y01, {.pos_weight = w})));
  EXPECT_TRUE(matches(nn::KLDivLoss("batchmean", true)(lp, lp * 0.5),
                      F::kl_div(lp, lp * 0.5, "batchmean", true)));
  nn::MarginRankingLoss mr(0.2);
  EXPECT_TRUE(matches(mr(x.select(1, 0), y.select(1, 0), pm),
                      F::margin_ranking_loss(x.select(1, 0), y.select(1, 0), pm, 0.2)));
  nn::CosineEmbeddingLoss cel(0.1, "sum");
  EXPECT_TRUE(matches(cel(x, y, pm), F::cosine_embedding_loss(x, y, pm, 0.1, "sum")));
  expect_error([&] { mr(x, y); }, {"MarginRankingLoss", "input1, input2, target"});
  expect_error([&] { ce.forward(x); }, {"CrossEntropyLoss"});
}

TEST(LossModule, WeightBuffersAndNames) {
  Tensor w = tensor({1.0, 2.0, 3.0}, DType::Float32);
  nn::CrossEntropyLoss ce({.weight = w});
  EXPECT_EQ(ce.type_name(), "CrossEntropyLoss");
  EXPECT_EQ(ce.repr(), "CrossEntropyLoss()");
  nn::StateDict sd = ce.state_dict();
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].first, "weight");
  EXPECT_TRUE(ce.parameters().empty());
  nn::BCEWithLogitsLoss b({.weight = w, .pos_weight = w * 2.0});
  sd = b.state_dict();
  ASSERT_EQ(sd.size(), 2u);
  EXPECT_EQ(sd[0].first, "weight");
  EXPECT_EQ(sd[1].first, "pos_weight");
  EXPECT_TRUE(nn::MSELoss().state_dict().empty());
  // to(Float64) converts the weight buffer in place; the loss then runs in float64.
  ce.to(DType::Float64);
  Tensor x = randn({2, 3}, default_generator(), DType::Float64);
  EXPECT_EQ(ce(x, tensor({0, 2})).dtype(), DType::Float64);
}

}  // namespace
}  // namespace ravel
