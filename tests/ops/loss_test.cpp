// Loss functions against PyTorch (values and input gradients, float32, every reduction and
// option), finite differences (float64 gradcheck), second derivatives, and errors.
#include "ravel/nn/functional/loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ravel/nn/functional/activation.h"
#include "ravel/ravel.h"
#include "support/expect_error.h"
#include "support/gradcheck.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

namespace F = nn::functional;
using testing::expect_error;
using testing::gradcheck;
using testing::gradgradcheck;
using testing::matches;
using testing::TorchOracle;

using LossFn = std::function<Tensor(const std::vector<Tensor>&, const std::string& reduction)>;

struct LossCase {
  std::string name;
  std::vector<Tensor> inputs;  // inputs[0] is differentiated; the rest are b, c, ... in torch
  LossFn fn;
  std::string torch;  // an expression of x (= a, requiring grad), b, c, ... and R (reduction)
  bool target_grad = false;  // inputs[1] is differentiable too (gradcheck)
  bool batchmean = false;    // also reduction "batchmean" (kl_div)
};

Tensor t64(std::initializer_list<NestedList> v) { return tensor(v, DType::Int64); }

std::vector<LossCase> loss_cases() {
  Generator gen(21);
  Tensor x = randn({6, 5}, gen) * 2.0;
  Tensor t = t64({0, 4, 2, 1, 2, 3});
  Tensor ti = t64({0, -100, 2, 1, 2, 3});  // one ignored with the default ignore_index
  Tensor w = rand({5}, gen) + 0.5;
  Tensor x4 = randn({2, 4, 3, 2}, gen);
  Tensor t4 = randint(0, 4, {2, 3, 2}, gen);
  Tensor w4 = rand({4}, gen) + 0.5;
  Tensor probs = F::softmax(randn({6, 5}, gen), 1);
  Tensor xt = randn({5, 6}, gen).transpose();  // non-contiguous logits
  Tensor x1 = randn({5}, gen);
  Tensor p1 = F::softmax(randn({5}, gen), 0);
  Tensor t0 = scalar_tensor(3, DType::Int64);
  Tensor lp = F::log_softmax(randn({6, 5}, gen), 1);
  Tensor lp3 = F::log_softmax(randn({2, 4, 3}, gen), 1);
  Tensor t3 = randint(0, 4, {2, 3}, gen);
  Tensor a = randn({3, 4}, gen), b = randn({3, 4}, gen), b4 = randn({4}, gen);
  Tensor pr = F::sigmoid(randn({3, 4}, gen) * 2.0), y01 = rand({3, 4}, gen);
  Tensor wb = rand({4}, gen) + 0.5, pw = rand({4}, gen) * 3.0;
  Tensor z = randn({3, 4}, gen) * 3.0;
  Tensor klx = F::log_softmax(randn({3, 5}, gen), 1);
  Tensor kly = F::softmax(randn({3, 5}, gen), 1);
  kly.index_put_({0, 1}, 0.0);  // 0 log 0 = 0
  Tensor klyl = F::log_softmax(randn({3, 5}, gen), 1);
  Tensor r1 = randn({6}, gen), r2 = randn({6}, gen);
  Tensor pm = tensor({1.0, -1.0, 1.0, 1.0, -1.0, -1.0}, DType::Float32);
  Tensor c1 = randn({5, 4}, gen), c2 = randn({5, 4}, gen);
  Tensor cy = tensor({1.0, -1.0, -1.0, 1.0, -1.0}, DType::Float32);
  Tensor v1 = randn({4}, gen), v2 = randn({4}, gen);
  Tensor cy0 = scalar_tensor(-1.0f);

  using V = const std::vector<Tensor>&;
  using S = const std::string&;
  const std::string ce = "F.cross_entropy(x, torch.tensor(b)";
  std::vector<LossCase> cs = {
      {"ce",
       {x, t},
       [](V v, S r) { return F::cross_entropy(v[0], v[1], {.reduction = r}); },
       ce + ", reduction=R)"},
      {"ce ignored",
       {x, ti},
       [](V v, S r) { return F::cross_entropy(v[0], v[1], {.reduction = r}); },
       ce + ", reduction=R)"},
      {"ce weight",
       {x, t, w},
       [](V v, S r) { return F::cross_entropy(v[0], v[1], {.weight = v[2], .reduction = r}); },
       ce + ", weight=torch.tensor(c), reduction=R)"},
      {"ce weight ignore_index 2",
       {x, t, w},
       [](V v, S r) {
         return F::cross_entropy(v[0], v[1], {.weight = v[2], .ignore_index = 2, .reduction = r});
       },
       ce + ", weight=torch.tensor(c), ignore_index=2, reduction=R)"},
      {"ce smoothing",
       {x, t},
       [](V v, S r) {
         return F::cross_entropy(v[0], v[1], {.label_smoothing = 0.2, .reduction = r});
       },
       ce + ", label_smoothing=0.2, reduction=R)"},
      {"ce weight ignored smoothing",
       {x, ti, w},
       [](V v, S r) {
         return F::cross_entropy(v[0], v[1],
                                 {.weight = v[2], .label_smoothing = 0.15, .reduction = r});
       },
       ce + ", weight=torch.tensor(c), label_smoothing=0.15, reduction=R)"},
      {"ce 4-d",
       {x4, t4, w4},
       [](V v, S r) {
         return F::cross_entropy(
             v[0], v[1],
             {.weight = v[2], .ignore_index = 1, .label_smoothing = 0.1, .reduction = r});
       },
       ce + ", weight=torch.tensor(c), ignore_index=1, label_smoothing=0.1, reduction=R)"},
      {"ce probabilities",
       {x, probs, w},
       [](V v, S r) {
         return F::cross_entropy(v[0], v[1],
                                 {.weight = v[2], .label_smoothing = 0.1, .reduction = r});
       },
       ce + ", weight=torch.tensor(c), label_smoothing=0.1, reduction=R)",
       true},
      {"ce probabilities plain",
       {x, probs},
       [](V v, S r) { return F::cross_entropy(v[0], v[1], {.reduction = r}); },
       ce + ", reduction=R)",
       true},
      {"ce transposed",
       {xt, t},
       [](V v, S r) { return F::cross_entropy(v[0], v[1], {.reduction = r}); },
       ce + ", reduction=R)"},
      {"ce unbatched",
       {x1, t0},
       [](V v, S r) {
         return F::cross_entropy(v[0], v[1], {.label_smoothing = 0.1, .reduction = r});
       },
       ce + ", label_smoothing=0.1, reduction=R)"},
      {"ce unbatched probabilities",
       {x1, p1},
       [](V v, S r) { return F::cross_entropy(v[0], v[1], {.reduction = r}); },
       ce + ", reduction=R)"},
      {"nll",
       {lp, ti},
       [](V v, S r) { return F::nll_loss(v[0], v[1], {.reduction = r}); },
       "F.nll_loss(x, torch.tensor(b), reduction=R)"},
      {"nll weight ignore_index",
       {lp, t, w},
       [](V v, S r) {
         return F::nll_loss(v[0], v[1], {.weight = v[2], .ignore_index = 4, .reduction = r});
       },
       "F.nll_loss(x, torch.tensor(b), weight=torch.tensor(c), ignore_index=4, reduction=R)"},
      {"nll 3-d",
       {lp3, t3, w4},
       [](V v, S r) { return F::nll_loss(v[0], v[1], {.weight = v[2], .reduction = r}); },
       "F.nll_loss(x, torch.tensor(b), weight=torch.tensor(c), reduction=R)"},
      {"nll unbatched",
       {lp.select(0, 1), t0},
       [](V v, S r) { return F::nll_loss(v[0], v[1], {.reduction = r}); },
       "F.nll_loss(x, torch.tensor(b), reduction=R)"},
      {"mse",
       {a, b},
       [](V v, S r) { return F::mse_loss(v[0], v[1], r); },
       "F.mse_loss(x, torch.tensor(b), reduction=R)",
       true},
      {"mse broadcast",
       {a, b4},
       [](V v, S r) { return F::mse_loss(v[0], v[1], r); },
       "F.mse_loss(x, torch.tensor(b), reduction=R)",
       true},
      {"l1",
       {a, b},
       [](V v, S r) { return F::l1_loss(v[0], v[1], r); },
       "F.l1_loss(x, torch.tensor(b), reduction=R)",
       true},
      {"smooth_l1",
       {a, b},
       [](V v, S r) { return F::smooth_l1_loss(v[0], v[1], r); },
       "F.smooth_l1_loss(x, torch.tensor(b), reduction=R)",
       true},
      {"smooth_l1 beta 0.5",
       {a, b},
       [](V v, S r) { return F::smooth_l1_loss(v[0], v[1], r, 0.5); },
       "F.smooth_l1_loss(x, torch.tensor(b), reduction=R, beta=0.5)",
       true},
      {"smooth_l1 beta 0",
       {a, b},
       [](V v, S r) { return F::smooth_l1_loss(v[0], v[1], r, 0.0); },
       "F.smooth_l1_loss(x, torch.tensor(b), reduction=R, beta=0.0)",
       true},
      {"huber",
       {a, b},
       [](V v, S r) { return F::huber_loss(v[0], v[1], r); },
       "F.huber_loss(x, torch.tensor(b), reduction=R)",
       true},
      {"huber delta 0.7",
       {a, b},
       [](V v, S r) { return F::huber_loss(v[0], v[1], r, 0.7); },
       "F.huber_loss(x, torch.tensor(b), reduction=R, delta=0.7)",
       true},
      {"bce",
       {pr, y01},
       [](V v, S r) { return F::binary_cross_entropy(v[0], v[1], {}, r); },
       "F.binary_cross_entropy(x, torch.tensor(b), reduction=R)",
       true},
      {"bce weight",
       {pr, y01, wb},
       [](V v, S r) { return F::binary_cross_entropy(v[0], v[1], v[2], r); },
       "F.binary_cross_entropy(x, torch.tensor(b), weight=torch.tensor(c), reduction=R)",
       true},
      {"bce_with_logits",
       {z, y01},
       [](V v, S r) { return F::binary_cross_entropy_with_logits(v[0], v[1], {.reduction = r}); },
       "F.binary_cross_entropy_with_logits(x, torch.tensor(b), reduction=R)",
       true},
      {"bce_with_logits weight pos_weight",
       {z, y01, wb, pw},
       [](V v, S r) {
         return F::binary_cross_entropy_with_logits(
             v[0], v[1], {.weight = v[2], .pos_weight = v[3], .reduction = r});
       },
       "F.binary_cross_entropy_with_logits(x, torch.tensor(b), weight=torch.tensor(c), "
       "pos_weight=torch.tensor(d), reduction=R)",
       true},
      {"bce_with_logits pos_weight",
       {z, y01, pw},
       [](V v, S r) {
         return F::binary_cross_entropy_with_logits(v[0], v[1],
                                                    {.pos_weight = v[2], .reduction = r});
       },
       "F.binary_cross_entropy_with_logits(x, torch.tensor(b), pos_weight=torch.tensor(c), "
       "reduction=R)",
       true},
      {"kl_div",
       {klx, kly},
       [](V v, S r) { return F::kl_div(v[0], v[1], r); },
       "F.kl_div(x, torch.tensor(b), reduction=R)",
       false,  // a 0 in the target: no d/dtarget there
       true},
      {"kl_div log_target",
       {klx, klyl},
       [](V v, S r) { return F::kl_div(v[0], v[1], r, true); },
       "F.kl_div(x, torch.tensor(b), reduction=R, log_target=True)",
       true,
       true},
      {"margin_ranking",
       {r1, r2, pm},
       [](V v, S r) { return F::margin_ranking_loss(v[0], v[1], v[2], 0.0, r); },
       "F.margin_ranking_loss(x, torch.tensor(b), torch.tensor(c), reduction=R)",
       true},
      {"margin_ranking margin 0.3",
       {r1, r2, pm},
       [](V v, S r) { return F::margin_ranking_loss(v[0], v[1], v[2], 0.3, r); },
       "F.margin_ranking_loss(x, torch.tensor(b), torch.tensor(c), margin=0.3, reduction=R)",
       true},
      {"cosine_embedding",
       {c1, c2, cy},
       [](V v, S r) { return F::cosine_embedding_loss(v[0], v[1], v[2], 0.0, r); },
       "F.cosine_embedding_loss(x, torch.tensor(b), torch.tensor(c), reduction=R)",
       true},
      {"cosine_embedding margin 0.2",
       {c1, c2, cy},
       [](V v, S r) { return F::cosine_embedding_loss(v[0], v[1], v[2], 0.2, r); },
       "F.cosine_embedding_loss(x, torch.tensor(b), torch.tensor(c), margin=0.2, reduction=R)",
       true},
      {"cosine_embedding 1-d",
       {v1, v2, cy0},
       [](V v, S r) { return F::cosine_embedding_loss(v[0], v[1], v[2], 0.1, r); },
       "F.cosine_embedding_loss(x, torch.tensor(b), torch.tensor(c), margin=0.1, reduction=R)",
       true},
  };
  return cs;
}

std::vector<std::string> reductions(const LossCase& c) {
  std::vector<std::string> r = {"mean", "sum", "none"};
  if (c.batchmean) r.push_back("batchmean");
  return r;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
    s.replace(p, from.size(), to);
  return s;
}

TEST(Loss, MatchesTorch) {
  Generator gen(22);
  TorchOracle torch;
  struct Ran {
    std::string what;
    Tensor loss, gx;
    int h;
  };
  std::vector<Ran> ran;
  for (const LossCase& c : loss_cases()) {
    for (const std::string& red : reductions(c)) {
      std::vector<Tensor> in = c.inputs;
      in[0] = in[0].detach().requires_grad_();
      Tensor loss = c.fn(in, red);
      // A non-scalar loss is weighted so that every element's gradient is checked.
      Tensor wl = randn(loss.shape(), gen);
      (loss.ndim() > 0 ? (loss * wl).sum() : loss).backward();
      std::vector<Tensor> oracle_in;
      for (const Tensor& t : c.inputs) oracle_in.push_back(t.contiguous());
      oracle_in.push_back(wl);
      const std::string wname(1, static_cast<char>('a' + c.inputs.size()));
      std::string script = "x = torch.tensor(a, requires_grad=True)\nL = " +
                           replace_all(c.torch, "=R)", "='" + red + "')") + "\nwl = torch.tensor(" +
                           wname +
                           ")\n(L * wl).sum().backward() if L.dim() > 0 else L.backward()\n"
                           "out = (L, x.grad)";
      script = replace_all(script, "=R,", "='" + red + "',");
      ran.push_back({c.name + " reduction " + red, loss.detach(), in[0].grad(),
                     torch.add_script(script, oracle_in)});
    }
  }
  torch.run();
  for (const Ran& r : ran) {
    ASSERT_EQ(torch.error(r.h), "") << r.what;
    EXPECT_TRUE(matches(r.loss, torch.results(r.h)[0], 1e-5, 1e-6)) << r.what << " loss";
    EXPECT_TRUE(matches(r.gx, torch.results(r.h)[1], 1e-5, 1e-6)) << r.what << " grad";
  }
}

// float64 copies of the float inputs (class indices stay integers).
std::vector<Tensor> to_float64(const std::vector<Tensor>& in) {
  std::vector<Tensor> out;
  for (const Tensor& t : in) out.push_back(is_floating(t.dtype()) ? t.to(DType::Float64) : t);
  return out;
}

TEST(Loss, Gradcheck) {
  for (const LossCase& c : loss_cases()) {
    std::vector<Tensor> in = to_float64(c.inputs);
    for (const std::string red : {"mean", "none"}) {
      const size_t nd = c.target_grad ? 2 : 1;  // which inputs are differentiated
      std::vector<Tensor> diff(in.begin(), in.begin() + static_cast<int64_t>(nd));
      auto f = [&](const std::vector<Tensor>& d) {
        std::vector<Tensor> all = in;
        for (size_t i = 0; i < nd; ++i) all[i] = d[i];
        return c.fn(all, red);
      };
      EXPECT_TRUE(gradcheck(f, diff)) << c.name << " reduction " << red;
    }
  }
}

TEST(Loss, Gradgradcheck) {
  std::vector<LossCase> cs = loss_cases();
  for (const LossCase& c : cs) {
    bool wanted = c.name == "mse" || c.name == "ce weight ignored smoothing" ||
                  c.name == "ce 4-d" || c.name == "ce probabilities" || c.name == "nll" ||
                  c.name == "bce_with_logits weight pos_weight" || c.name == "kl_div";
    if (!wanted) continue;
    std::vector<Tensor> in = to_float64(c.inputs);
    for (const std::string red : {"mean", "sum", "none"}) {
      auto f = [&](const std::vector<Tensor>& d) {
        std::vector<Tensor> all = in;
        all[0] = d[0];
        return c.fn(all, red);
      };
      EXPECT_TRUE(gradgradcheck(f, {in[0]})) << c.name << " reduction " << red;
    }
  }
}

TEST(Loss, CrossEntropyEdgeCases) {
  // Every target ignored: the mean is 0 / 0 = NaN (as PyTorch) and the gradient is zero.
  Tensor x = randn({3, 4}).requires_grad_();
  Tensor t = full({3}, -100, DType::Int64);
  Tensor l = F::cross_entropy(x, t);
  EXPECT_TRUE(std::isnan(l.item<double>()));
  l.backward();
  EXPECT_TRUE(matches(x.grad(), zeros({3, 4})));
  // Integer targets of any integer dtype are class indices.
  Tensor t32 = tensor({1, 0, 3}, DType::Int32), tu8 = tensor({1, 0, 3}, DType::UInt8);
  Tensor ref = F::cross_entropy(x.detach(), t32.to(DType::Int64));
  EXPECT_TRUE(matches(F::cross_entropy(x.detach(), t32), ref));
  EXPECT_TRUE(matches(F::cross_entropy(x.detach(), tu8), ref));
  // float64 logits give a float64 loss; no graph without grad.
  Tensor l64 = F::cross_entropy(x.detach().to(DType::Float64), t32);
  EXPECT_EQ(l64.dtype(), DType::Float64);
  EXPECT_EQ(l64.grad_fn_name(), nullptr);
  EXPECT_STREQ(F::cross_entropy(x, t32).grad_fn_name(), "cross_entropy");
}

TEST(Loss, Errors) {
  Tensor x = randn({4, 5});
  Tensor t = tensor({0, 1, 2, 3});
  expect_error(
      [&] {
        F::cross_entropy(x, tensor({0, 1, 2}));
      },
      {"cross_entropy", "[3]", "[4, 5]", "[4]"});
  expect_error([&] { F::cross_entropy(x, randn({4})); }, {"cross_entropy", "[4]", "[4, 5]"});
  expect_error(
      [&] {
        F::cross_entropy(x, tensor({true, false, true, true}));
      },
      {"cross_entropy", "bool"});
  expect_error(
      [&] {
        F::cross_entropy(x, tensor({0, 1, 5, 3}));
      },
      {"cross_entropy", "target 5", "out of bounds", "5 classes"});
  expect_error(
      [&] {
        F::cross_entropy(x, tensor({0, -1, 2, 3}));
      },
      {"cross_entropy", "target -1", "out of bounds"});
  expect_error([&] { F::cross_entropy(x, t, {.weight = ones({4})}); },
               {"cross_entropy", "weight", "[4]", "[5]"});
  expect_error([&] { F::cross_entropy(x, t, {.label_smoothing = 1.5}); },
               {"cross_entropy", "label_smoothing"});
  expect_error([&] { F::cross_entropy(x, t, {.reduction = "avg"}); },
               {"cross_entropy", "'avg'", "'mean'"});
  expect_error(
      [&] {
        F::cross_entropy(randn({5}), tensor({1, 2}));
      },
      {"cross_entropy", "unbatched", "0-d"});
  expect_error([&] { F::cross_entropy(scalar_tensor(1.0f), t); }, {"cross_entropy", "0-d"});
  expect_error(
      [&] {
        F::cross_entropy(tensor({{1, 2}}), tensor({0}));
      },
      {"cross_entropy", "float", "int64"});
  expect_error([&] { F::nll_loss(x, tensor({0, 1, 7, 3})); }, {"nll_loss", "target 7"});
  expect_error([&] { F::mse_loss(x, x, "total"); }, {"mse_loss", "'total'"});
  expect_error([&] { F::kl_div(x, x, "avg"); }, {"kl_div", "'batchmean'"});
  expect_error(
      [&] {
        F::binary_cross_entropy(x, zeros({4, 5}));
      },
      {"binary_cross_entropy", "between 0 and 1"});
  expect_error(
      [&] {
        F::binary_cross_entropy(zeros({4, 5}), zeros({5}));
      },
      {"binary_cross_entropy", "[5]", "[4, 5]"});
  expect_error([&] { F::binary_cross_entropy_with_logits(x, zeros({4})); },
               {"binary_cross_entropy_with_logits", "[4]"});
  expect_error([&] { F::smooth_l1_loss(x, x, "mean", -1.0); }, {"smooth_l1_loss", "beta"});
  expect_error([&] { F::huber_loss(x, x, "mean", 0.0); }, {"huber_loss", "delta"});
  expect_error(
      [&] {
        F::cosine_embedding_loss(x, x, zeros({4, 1}));
      },
      {"cosine_embedding_loss", "[4, 1]"});
  expect_error([&] { F::cosine_embedding_loss(x, x, zeros({})); },
               {"cosine_embedding_loss", "[4, 5]"});
  expect_error(
      [&] {
        F::margin_ranking_loss(zeros({3}), zeros({3}), zeros({3, 1}));
      },
      {"margin_ranking_loss", "[3, 1]"});
}

}  // namespace
}  // namespace ravel
