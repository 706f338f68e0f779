// The fused optimizer step (src/optim/update.h): every parameter's update in one parallel pass.
// It must give bit for bit what updating one parameter at a time gives (one optimizer per
// parameter, each below the parallel grain), on odd sizes that split mid-parameter and mixed
// float32 / float64 / bfloat16 / non-contiguous parameters, and match PyTorch's optimizers.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optim/update.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "ravel/parallel.h"
#include "ravel/random.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using namespace ravel::testing;

namespace {

using Factory = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

template <typename Opt, typename Options>
Factory make(Options o) {
  return [o](const std::vector<Tensor>& ps) { return std::make_unique<Opt>(ps, o); };
}

// Runs with two threads, so that the fused pass really splits (also on a one-core machine).
class TwoThreads {
 public:
  TwoThreads() : saved_(get_num_threads()) { set_num_threads(2); }
  ~TwoThreads() { set_num_threads(saved_); }

 private:
  int saved_;
};

// Odd sizes (none a multiple of 16) totalling 90k+ elements: above two parallel grains, while
// each alone stays below them.
const std::vector<Shape> kShapes = {{257, 131}, {40001}, {7}, {3, 5, 7}, {1}, {129, 129}};

struct Params {
  std::vector<Tensor> ps;
  std::vector<std::vector<Tensor>> grads;  // [step][param]
};

// dtypes per parameter: float32, with one float64, one bfloat16 and one non-contiguous
// parameter when `mixed`.
Params make_params(bool mixed, int steps) {
  Generator gen(3);
  Params out;
  for (size_t k = 0; k < kShapes.size(); ++k) {
    DType dt = !mixed   ? DType::Float32
               : k == 2 ? DType::Float64
               : k == 3 ? DType::BFloat16
                        : DType::Float32;
    Tensor p = randn(kShapes[k], gen).to(dt);
    if (mixed && k == 5) p = p.transpose().clone().transpose();  // strides (1, 129)
    out.ps.push_back(p.requires_grad_());
  }
  for (int s = 0; s < steps; ++s) {
    std::vector<Tensor> g;
    for (const Tensor& p : out.ps) g.push_back(randn(p.shape(), gen).to(p.dtype()));
    out.grads.push_back(g);
  }
  return out;
}

std::vector<Tensor> clones(const std::vector<Tensor>& ps) {
  std::vector<Tensor> out;
  for (const Tensor& p : ps) out.push_back(p.detach().clone().requires_grad_());
  return out;
}

void set_grads(const std::vector<Tensor>& ps, const std::vector<Tensor>& grads) {
  for (size_t k = 0; k < ps.size(); ++k) ps[k].set_grad(grads[k].clone());
}

std::vector<std::pair<std::string, Factory>> cases() {
  using namespace optim;
  return {
      {"sgd", make<SGD>(SGDOptions{.lr = 0.1})},
      {"sgd_momentum_dampening",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.3})},
      {"sgd_nesterov_wd",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.8, .weight_decay = 0.01, .nesterov = true})},
      {"sgd_maximize", make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.5, .maximize = true})},
      {"adam", make<Adam>(AdamOptions{.lr = 0.01})},
      {"adam_wd_amsgrad",
       make<Adam>(AdamOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true})},
      {"adamw", make<AdamW>(AdamWOptions{.lr = 0.01, .weight_decay = 0.1})},
      {"rmsprop", make<RMSprop>(RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true})},
      {"adagrad", make<Adagrad>(AdagradOptions{.lr = 0.1, .weight_decay = 0.1})},
      {"adadelta", make<Adadelta>(AdadeltaOptions{.weight_decay = 0.1})},
      {"lion", make<Lion>(LionOptions{.lr = 0.01, .weight_decay = 0.1})},
  };
}

}  // namespace

// Split points land inside parameters, on multiples of 16 elements, and the ranges cover every
// element of every parameter exactly once.
TEST(FusedStep, RangesCoverEachElementOnce) {
  TwoThreads two;
  const std::vector<int64_t> sizes = {0, 40001, 7, 0, 33667, 1, 16641, 0};
  std::vector<std::vector<int>> seen(sizes.size());
  for (size_t j = 0; j < sizes.size(); ++j) seen[j].assign(sizes[j], 0);
  optim::detail::for_each_range(sizes, [&](size_t j, int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) ++seen[j][i];  // ranges are disjoint: no race
  });
  for (size_t j = 0; j < sizes.size(); ++j)
    for (int64_t i = 0; i < sizes[j]; ++i) ASSERT_EQ(seen[j][i], 1) << "job " << j << " elem " << i;
  // The split of 90317 elements in two lands in the 33667-element job: at a multiple of 16.
  int64_t split = -1;
  optim::detail::for_each_range(sizes, [&](size_t j, int64_t b, int64_t) {
    if (j == 4 && b > 0) split = b;
  });
  EXPECT_EQ(split % 16, 0);
  EXPECT_GT(split, 0);
}

// Every optimizer, 3 steps over all parameters at once == one optimizer per parameter.
TEST(FusedStep, AllParametersAtOnceEqualsOneAtATime) {
  TwoThreads two;
  constexpr int kSteps = 3;
  for (bool mixed : {false, true}) {
    Params pr = make_params(mixed, kSteps);
    for (const auto& [name, factory] : cases()) {
      SCOPED_TRACE(name + (mixed ? " mixed" : " float32"));
      std::vector<Tensor> all = clones(pr.ps);
      auto fused = factory(all);
      std::vector<Tensor> one = clones(pr.ps);
      std::vector<std::unique_ptr<optim::Optimizer>> singles;
      for (const Tensor& p : one) singles.push_back(factory({p}));
      for (int s = 0; s < kSteps; ++s) {
        set_grads(all, pr.grads[s]);
        fused->step();
        set_grads(one, pr.grads[s]);
        for (auto& opt : singles) opt->step();
      }
      for (size_t k = 0; k < all.size(); ++k) {
        EXPECT_EQ(all[k].dtype(), pr.ps[k].dtype());
        EXPECT_TRUE(array_equal(all[k].detach(), one[k].detach())) << "param " << k;
      }
    }
  }
}

// SGD (nesterov, weight decay) and Adam / AdamW on the odd sizes against torch.optim.
TEST(FusedStep, MatchesTorchOnOddSizes) {
  TwoThreads two;
  constexpr int kSteps = 3;
  Params pr = make_params(false, kSteps);
  const std::vector<std::pair<std::string, Factory>> cs = {
      {"torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)",
       make<optim::SGD>(
           optim::SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-3, .nesterov = true})},
      {"torch.optim.Adam(ps, lr=0.01, weight_decay=0.01)",
       make<optim::Adam>(optim::AdamOptions{.lr = 0.01, .weight_decay = 0.01})},
      {"torch.optim.AdamW(ps, lr=0.01, amsgrad=True)",
       make<optim::AdamW>(optim::AdamWOptions{.lr = 0.01, .amsgrad = true})},
  };
  // Inputs: the initial parameters, then each parameter's gradients stacked [step, shape...].
  std::vector<Tensor> inputs;
  for (const Tensor& p : pr.ps) inputs.push_back(p.detach());
  for (size_t k = 0; k < pr.ps.size(); ++k) {
    std::vector<Tensor> g;
    for (const auto& step : pr.grads) g.push_back(step[k]);
    inputs.push_back(stack(g));
  }
  const std::string n = std::to_string(kShapes.size());
  TorchOracle torch;
  std::vector<int> handles;
  std::vector<std::vector<Tensor>> ours;
  for (const auto& [ctor, factory] : cs) {
    std::string script = "xs = [a, b, c, d, e, f, g, h, i, j, k, l]\n";
    script += "ps = [torch.tensor(x, requires_grad=True) for x in xs[:" + n + "]]\n";
    script += "opt = " + ctor + "\n";
    script += "for step in range(" + std::to_string(kSteps) + "):\n";
    script += "    for i, q in enumerate(ps):\n";
    script += "        q.grad = torch.tensor(xs[" + n + " + i][step])\n";
    script += "    opt.step()\n";
    script += "out = tuple(q.detach() for q in ps)\n";
    handles.push_back(torch.add_script(script, inputs));
    std::vector<Tensor> ps = clones(pr.ps);
    auto opt = factory(ps);
    for (int s = 0; s < kSteps; ++s) {
      set_grads(ps, pr.grads[s]);
      opt->step();
    }
    ours.push_back(ps);
  }
  torch.run();
  for (size_t c = 0; c < cs.size(); ++c) {
    SCOPED_TRACE(cs[c].first);
    ASSERT_EQ(torch.error(handles[c]), "");
    for (size_t k = 0; k < ours[c].size(); ++k)
      EXPECT_TRUE(matches(ours[c][k].detach(), torch.results(handles[c])[k], 1e-6, 1e-6))
          << "param " << k;
  }
}
