// Optimizers against PyTorch: the same initial parameters and the same sequence of gradients
// (passed to the oracle as inputs) through every optimizer and its important options, then the
// parameters compared. Lion, which PyTorch lacks, is checked against its published rule in
// NumPy. Also: exact resume from a state dict, the state dict's format, parameter groups,
// zero_grad, closures, non-float32 and non-contiguous parameters, gradient clipping and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ravel/autograd.h"
#include "ravel/nn/utils.h"
#include "ravel/ops.h"
#include "ravel/optim.h"
#include "ravel/random.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using namespace ravel::testing;

namespace {

constexpr int kSteps = 10;
const std::vector<Shape> kShapes = {{3, 4}, {5}, {2, 1, 3}};

using Factory = std::function<std::unique_ptr<optim::Optimizer>(const std::vector<Tensor>&)>;

// One optimizer configuration: how ravel builds it and how PyTorch does (a Python expression
// over the list of parameters `ps`).
struct Case {
  std::string name;
  std::string torch_ctor;
  Factory make;
  DType dtype = DType::Float32;
  bool sparse_grads = false;  // parameter 1 has no gradient on odd steps (it must be skipped)
};

template <typename Opt, typename Options>
Factory make(Options o) {
  return [o](const std::vector<Tensor>& ps) { return std::make_unique<Opt>(ps, o); };
}

// Two groups: parameters 0-1 with the defaults, parameter 2 with its own options.
template <typename Opt, typename Options>
Factory make_groups(Options defaults, Options second) {
  return [=](const std::vector<Tensor>& ps) {
    auto opt = std::make_unique<Opt>(std::vector<Tensor>{ps[0], ps[1]}, defaults);
    opt->add_param_group({ps[2]}, second);
    return opt;
  };
}

std::vector<Case> cases() {
  using namespace optim;
  const std::string groups = "[{'params': ps[:2]}, {'params': ps[2:], ";
  std::vector<Case> c = {
      {"sgd_plain", "torch.optim.SGD(ps, lr=0.1)", make<SGD>(SGDOptions{.lr = 0.1})},
      {"sgd_momentum", "torch.optim.SGD(ps, lr=0.05, momentum=0.9)",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9})},
      {"sgd_dampening", "torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.3)",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.3})},
      {"sgd_nesterov_wd",
       "torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.8, .weight_decay = 0.01, .nesterov = true})},
      {"sgd_maximize", "torch.optim.SGD(ps, lr=0.05, momentum=0.5, maximize=True)",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.5, .maximize = true})},
      {"sgd_skip", "torch.optim.SGD(ps, lr=0.05, momentum=0.9)",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9}), DType::Float32, true},
      {"sgd_groups",
       "torch.optim.SGD(" + groups + "'lr': 0.5, 'momentum': 0.5}], lr=0.1, momentum=0.9)",
       make_groups<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9},
                        SGDOptions{.lr = 0.5, .momentum = 0.5})},
      {"sgd_f64", "torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)",
       make<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true}), DType::Float64},
      {"adam", "torch.optim.Adam(ps, lr=0.01)", make<Adam>(AdamOptions{.lr = 0.01})},
      {"adam_betas_eps", "torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.95), eps=1e-3)",
       make<Adam>(AdamOptions{.lr = 0.02, .betas = {0.8, 0.95}, .eps = 1e-3})},
      {"adam_wd", "torch.optim.Adam(ps, lr=0.01, weight_decay=0.1)",
       make<Adam>(AdamOptions{.lr = 0.01, .weight_decay = 0.1})},
      {"adam_amsgrad", "torch.optim.Adam(ps, lr=0.01, amsgrad=True)",
       make<Adam>(AdamOptions{.lr = 0.01, .amsgrad = true})},
      {"adam_maximize_skip", "torch.optim.Adam(ps, lr=0.01, maximize=True)",
       make<Adam>(AdamOptions{.lr = 0.01, .maximize = true}), DType::Float32, true},
      {"adam_groups", "torch.optim.Adam(" + groups + "'lr': 0.05, 'betas': (0.5, 0.9)}], lr=0.01)",
       make_groups<Adam>(AdamOptions{.lr = 0.01}, AdamOptions{.lr = 0.05, .betas = {0.5, 0.9}})},
      {"adam_f64", "torch.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.01)",
       make<Adam>(AdamOptions{.lr = 0.01, .weight_decay = 0.01, .amsgrad = true}), DType::Float64},
      {"adamw", "torch.optim.AdamW(ps, lr=0.01)", make<AdamW>(AdamWOptions{.lr = 0.01})},
      {"adamw_amsgrad", "torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1, amsgrad=True)",
       make<AdamW>(AdamWOptions{.lr = 0.01, .weight_decay = 0.1, .amsgrad = true})},
      {"rmsprop", "torch.optim.RMSprop(ps, lr=0.01)", make<RMSprop>(RMSpropOptions{.lr = 0.01})},
      {"rmsprop_momentum", "torch.optim.RMSprop(ps, lr=0.01, momentum=0.9, alpha=0.9)",
       make<RMSprop>(RMSpropOptions{.lr = 0.01, .alpha = 0.9, .momentum = 0.9})},
      {"rmsprop_centered", "torch.optim.RMSprop(ps, lr=0.01, centered=True)",
       make<RMSprop>(RMSpropOptions{.lr = 0.01, .centered = true})},
      {"rmsprop_all",
       "torch.optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5, weight_decay=0.1, "
       "maximize=True)",
       make<RMSprop>(RMSpropOptions{
           .lr = 0.01, .weight_decay = 0.1, .momentum = 0.5, .centered = true, .maximize = true})},
      {"adagrad", "torch.optim.Adagrad(ps, lr=0.1)", make<Adagrad>(AdagradOptions{.lr = 0.1})},
      {"adagrad_all",
       "torch.optim.Adagrad(ps, lr=0.1, lr_decay=0.05, weight_decay=0.1, "
       "initial_accumulator_value=0.2, eps=1e-6)",
       make<Adagrad>(AdagradOptions{.lr = 0.1,
                                    .lr_decay = 0.05,
                                    .weight_decay = 0.1,
                                    .initial_accumulator_value = 0.2,
                                    .eps = 1e-6})},
      {"adadelta", "torch.optim.Adadelta(ps)", make<Adadelta>(AdadeltaOptions{})},
      {"adadelta_all", "torch.optim.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)",
       make<Adadelta>(AdadeltaOptions{.lr = 0.5, .rho = 0.8, .eps = 1e-4, .weight_decay = 0.1})},
      {"adadelta_maximize_skip", "torch.optim.Adadelta(ps, maximize=True)",
       make<Adadelta>(AdadeltaOptions{.maximize = true}), DType::Float32, true},
      {"lion", "Lion(ps, lr=0.01)", make<Lion>(LionOptions{.lr = 0.01})},
      {"lion_wd", "Lion(ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.5)",
       make<Lion>(LionOptions{.lr = 0.01, .betas = {0.8, 0.9}, .weight_decay = 0.5})},
      {"lion_f64_skip", "Lion(ps, lr=0.01, weight_decay=0.1)",
       make<Lion>(LionOptions{.lr = 0.01, .weight_decay = 0.1}), DType::Float64, true},
  };
  return c;
}

// The Lion paper's rule (Chen et al. 2023, Program 1) on the NumPy views of the parameters.
const char* kLionNumpy = R"(
class Lion:
    def __init__(self, ps, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
        self.ps, self.lr, self.b1, self.b2, self.wd = ps, lr, betas[0], betas[1], weight_decay
        self.m = [np.zeros_like(p.detach().numpy()) for p in ps]
    def step(self):
        for p, m in zip(self.ps, self.m):
            if p.grad is None:
                continue
            w, g = p.detach().numpy(), p.grad.numpy()
            c = self.b1 * m + (1 - self.b1) * g
            w *= 1 - self.lr * self.wd
            w -= self.lr * np.sign(c)
            m *= self.b2
            m += (1 - self.b2) * g
)";

// Python: build the optimizer, feed step s's gradients (d, e, f hold [steps, shape...]), step.
std::string torch_script(const Case& c) {
  std::string s = kLionNumpy;
  s += "ps = [torch.tensor(x, requires_grad=True) for x in (a, b, c)]\n";
  s += "gs = [torch.tensor(x) for x in (d, e, f)]\n";
  s += "opt = " + c.torch_ctor + "\n";
  s += "for s in range(" + std::to_string(kSteps) + "):\n";
  s += "    for k, (p, g) in enumerate(zip(ps, gs)):\n";
  s += "        p.grad = None if (" + std::string(c.sparse_grads ? "True" : "False") +
       " and k == 1 and s % 2 == 1) else g[s].clone()\n";
  s += "    opt.step()\n";
  s += "out = tuple(p.detach() for p in ps)\n";
  return s;
}

struct Problem {
  std::vector<Tensor> init;   // initial parameter values
  std::vector<Tensor> grads;  // per parameter: [kSteps, shape...]
};

Problem problem(DType dt, uint64_t seed) {
  Generator gen(seed);
  Problem p;
  for (const Shape& s : kShapes) {
    p.init.push_back(randn(s, gen, dt));
    Shape gs = {kSteps};
    for (int64_t d : s) gs.push_back(d);
    p.grads.push_back(randn(gs, gen, dt));
  }
  return p;
}

std::vector<Tensor> fresh_params(const std::vector<Tensor>& init) {
  std::vector<Tensor> ps;
  for (const Tensor& t : init) ps.push_back(t.clone().requires_grad_());
  return ps;
}

// Steps [from, to) of the problem on ravel's side.
void run_steps(optim::Optimizer& opt, const std::vector<Tensor>& ps, const Problem& pr, int from,
               int to, bool sparse = false) {
  for (int s = from; s < to; ++s) {
    for (size_t k = 0; k < ps.size(); ++k) {
      const bool skip = sparse && k == 1 && s % 2 == 1;
      ps[k].set_grad(skip ? Tensor() : pr.grads[k].select(0, s).clone());
    }
    opt.step();
  }
}

TEST(OptimParity, EveryOptimizerAndOptionMatchesTorch) {
  TorchOracle torch;
  struct Run {
    const Case* c;
    std::vector<Tensor> ours;
    int handle;
  };
  const auto cs = cases();
  std::vector<Run> runs;
  uint64_t seed = 1;
  for (const Case& c : cs) {
    Problem pr = problem(c.dtype, seed++);
    std::vector<Tensor> ps = fresh_params(pr.init);
    auto opt = c.make(ps);
    run_steps(*opt, ps, pr, 0, kSteps, c.sparse_grads);
    std::vector<Tensor> inputs = pr.init;
    inputs.insert(inputs.end(), pr.grads.begin(), pr.grads.end());
    runs.push_back({&c, ps, torch.add_script(torch_script(c), inputs)});
  }
  torch.run();
  for (const Run& r : runs) {
    SCOPED_TRACE(r.c->name);
    ASSERT_EQ(torch.error(r.handle), "");
    const double tol = r.c->dtype == DType::Float64 ? 1e-12 : 1e-6;
    for (size_t k = 0; k < r.ours.size(); ++k)
      EXPECT_TRUE(matches(r.ours[k].detach(), torch.results(r.handle)[k], tol, tol))
          << "param " << k;
  }
}

// Every optimizer: 5 steps, save, 5 more; a fresh optimizer on the saved parameters that loads
// the dict and runs the same 5 steps ends bit-identical.
TEST(OptimState, ResumeFromStateDictIsBitIdentical) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Problem pr = problem(c.dtype, 99);
    std::vector<Tensor> ps = fresh_params(pr.init);
    auto opt = c.make(ps);
    run_steps(*opt, ps, pr, 0, 5, c.sparse_grads);
    optim::StateDict sd = opt->state_dict();
    std::vector<Tensor> saved;
    for (const Tensor& p : ps) saved.push_back(p.detach().clone());
    run_steps(*opt, ps, pr, 5, kSteps, c.sparse_grads);

    std::vector<Tensor> ps2 = fresh_params(saved);
    auto opt2 = c.make(ps2);
    // A different lr in the fresh optimizer: load_state_dict must restore the saved one.
    opt2->set_lr(123.0);
    opt2->load_state_dict(sd);
    run_steps(*opt2, ps2, pr, 5, kSteps, c.sparse_grads);
    for (size_t k = 0; k < ps.size(); ++k)
      EXPECT_TRUE(array_equal(ps[k].detach(), ps2[k].detach())) << "param " << k;
  }
}

TEST(OptimState, StateDictNamesAndValues) {
  Problem pr = problem(DType::Float32, 7);
  std::vector<Tensor> ps = fresh_params(pr.init);
  optim::Adam opt({ps[0], ps[1]}, {.lr = 0.01, .amsgrad = true});
  opt.add_param_group({ps[2]}, optim::AdamOptions{.lr = 0.5});
  run_steps(opt, ps, pr, 0, 3);
  optim::StateDict sd = opt.state_dict();
  auto find = [&](const std::string& key) -> Tensor {
    for (auto& [k, t] : sd)
      if (k == key) return t;
    ADD_FAILURE() << "missing " << key;
    return Tensor();
  };
  EXPECT_EQ(find("state.0.step").dtype(), DType::Float64);
  EXPECT_EQ(find("state.0.step").item<double>(), 3.0);
  EXPECT_EQ(find("state.2.exp_avg").shape(), kShapes[2]);
  EXPECT_EQ(find("state.1.max_exp_avg_sq").shape(), kShapes[1]);
  EXPECT_EQ(find("param_groups.0.lr").ndim(), 0);
  EXPECT_EQ(find("param_groups.0.lr").item<double>(), 0.01);
  EXPECT_EQ(find("param_groups.1.lr").item<double>(), 0.5);
  EXPECT_EQ(find("param_groups.1.beta2").item<double>(), 0.999);
  EXPECT_EQ(find("param_groups.0.amsgrad").item<double>(), 1.0);
  EXPECT_EQ(find("param_groups.1.params").to_vector<int64_t>(), std::vector<int64_t>{2});
  // The dict is a copy: stepping on leaves it unchanged.
  Tensor m = find("state.0.exp_avg").clone();
  run_steps(opt, ps, pr, 3, 4);
  EXPECT_TRUE(array_equal(find("state.0.exp_avg"), m));
  EXPECT_EQ(opt.state(0).step, 4);
}

TEST(OptimState, LoadStateDictErrors) {
  Problem pr = problem(DType::Float32, 8);
  std::vector<Tensor> ps = fresh_params(pr.init);
  optim::SGD opt(ps, {.lr = 0.1, .momentum = 0.9});
  run_steps(opt, ps, pr, 0, 2);
  optim::StateDict sd = opt.state_dict();

  std::vector<Tensor> two = fresh_params({pr.init[0], pr.init[1]});
  optim::SGD other(two, {.lr = 0.1, .momentum = 0.9});
  expect_error([&] { other.load_state_dict(sd); }, {"SGD: load_state_dict", "has 2 parameters"});

  optim::StateDict bad = sd;
  bad.emplace_back("state.0.exp_avg", zeros({3, 4}));
  expect_error([&] { opt.load_state_dict(bad); }, {"SGD", "unknown state 'state.0.exp_avg'"});
  bad = sd;
  bad.emplace_back("param_groups.0.betas", scalar_tensor(0.5));
  expect_error([&] { opt.load_state_dict(bad); }, {"unknown option", "param_groups.0.betas"});
  bad = sd;
  bad.emplace_back("momentum", scalar_tensor(0.5));
  expect_error([&] { opt.load_state_dict(bad); }, "unexpected key 'momentum'");
  bad = sd;
  for (auto& [k, t] : bad)
    if (k == "state.0.momentum_buffer") t = zeros({4, 3});
  expect_error([&] { opt.load_state_dict(bad); }, {"state.0.momentum_buffer", "[4, 3]", "[3, 4]"});
}

TEST(OptimGroups, OptionsAndGroupAccess) {
  Problem pr = problem(DType::Float32, 9);
  std::vector<Tensor> ps = fresh_params(pr.init);
  optim::SGD opt({ps[0]}, {.lr = 0.1, .momentum = 0.9});
  optim::SGDOptions head = opt.defaults();
  head.lr = 0.01;
  opt.add_param_group({ps[1], ps[2]}, head);
  EXPECT_EQ(opt.num_param_groups(), 2u);
  EXPECT_EQ(opt.params(1).size(), 2u);
  EXPECT_EQ(opt.all_params().size(), 3u);
  EXPECT_DOUBLE_EQ(opt.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(opt.lr(1), 0.01);
  EXPECT_DOUBLE_EQ(opt.option(1, "momentum"), 0.9);
  EXPECT_TRUE(opt.has_option("nesterov"));
  EXPECT_FALSE(opt.has_option("beta1"));
  opt.set_option(1, "nesterov", 1.0);
  EXPECT_TRUE(opt.options(1).nesterov);
  opt.set_lr(0.2);
  EXPECT_DOUBLE_EQ(opt.options(0).lr, 0.2);
  EXPECT_DOUBLE_EQ(opt.options(1).lr, 0.2);
  expect_error([&] { opt.option(0, "beta1"); }, "SGD: no option 'beta1'");
  expect_error([&] { opt.params(2); }, {"SGD", "group 2 out of range"});
  expect_error([&] { opt.add_param_group({ps[0]}); }, "more than one parameter group");
}

TEST(OptimErrors, BadOptionsAndParameters) {
  Tensor p = zeros({2}).requires_grad_();
  expect_error([&] { optim::SGD({p}, {.lr = -1}); }, "SGD: invalid learning rate -1");
  expect_error([&] { optim::SGD({p}, {.lr = 0.1, .nesterov = true}); },
               "SGD: nesterov momentum needs momentum > 0 and dampening = 0");
  expect_error([&] { optim::Adam({p}, {.betas = {0.9, 1.0}}); }, "Adam: invalid betas");
  expect_error([&] { optim::AdamW({p}, {.eps = -1}); }, "AdamW: invalid eps");
  expect_error([&] { optim::RMSprop({p}, {.momentum = -0.5}); }, "RMSprop: invalid momentum");
  expect_error([&] { optim::Adagrad({p}, {.lr_decay = -1}); }, "Adagrad: invalid lr_decay");
  expect_error([&] { optim::Adadelta({p}, {.rho = 1.5}); }, "Adadelta: invalid rho");
  expect_error([&] { optim::Lion({p}, {.weight_decay = -1}); }, "Lion: invalid weight_decay");
  expect_error([&] { optim::SGD({p, p}); }, "more than one parameter group");
  expect_error([&] { optim::SGD({arange(3)}); }, {"SGD", "float tensors", "int64"});
  expect_error([&] { optim::SGD({p * 2}); }, {"SGD", "non-leaf"});
}

TEST(OptimBasics, ZeroGradAndClosure) {
  Tensor w = tensor({1.0f, -2.0f}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.25});
  Tensor loss = opt.step([&] {
    opt.zero_grad();
    Tensor l = (w * w).sum();
    l.backward();
    return l;
  });
  EXPECT_FLOAT_EQ(loss.item<float>(), 5.0f);
  EXPECT_EQ(w.detach().to_vector<float>(), (std::vector<float>{0.5f, -1.0f}));  // w - 0.25 * 2w
  opt.zero_grad(false);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  opt.step();  // no gradients: nothing happens
  EXPECT_EQ(w.detach().to_vector<float>(), (std::vector<float>{0.5f, -1.0f}));
}

// float16 and non-contiguous parameters go through a float32 work copy; the result is the
// float32 update rounded once.
TEST(OptimBasics, HalfAndNonContiguousParameters) {
  Generator gen(5);
  Tensor base = randn({4, 3}, gen), grad = randn({4, 3}, gen);
  Tensor ref = base.clone().requires_grad_();
  optim::Adam ref_opt({ref}, {.lr = 0.1});
  ref.set_grad(grad.clone());
  ref_opt.step();

  Tensor t = base.transpose().clone().transpose().requires_grad_();  // [4, 3] with strides (1, 4)
  ASSERT_FALSE(t.is_contiguous());
  optim::Adam t_opt({t}, {.lr = 0.1});
  t.set_grad(grad.clone());
  t_opt.step();
  EXPECT_TRUE(array_equal(t.detach(), ref.detach()));

  Tensor h = base.to(DType::Float16).requires_grad_();
  optim::Adam h_opt({h}, {.lr = 0.1});
  h.set_grad(grad.to(DType::Float16));
  h_opt.step();
  EXPECT_EQ(h.dtype(), DType::Float16);
  EXPECT_EQ(h_opt.state(0).buffers[0].dtype(), DType::Float32);
  EXPECT_TRUE(matches(h.detach().to(DType::Float32), ref.detach(), 2e-3, 2e-3));
}

// A parameter updated by step() is seen by autograd as modified in place.
TEST(OptimBasics, StepBumpsTheVersion) {
  Tensor w = ones({3}).requires_grad_();
  optim::SGD opt({w}, {.lr = 0.1});
  const uint64_t v = w.storage()->version();
  w.set_grad(ones({3}));
  opt.step();
  EXPECT_GT(w.storage()->version(), v);
}

// ---------------------------------------------------------------- gradient clipping
TEST(ClipGrad, NormAndValueMatchTorch) {
  Generator gen(11);
  struct Clip {
    std::string torch_call;
    double max_norm, norm_type;
  };
  const std::vector<Clip> clips = {
      {"torch.nn.utils.clip_grad_norm_(ps, 1.0)", 1.0, 2.0},
      {"torch.nn.utils.clip_grad_norm_(ps, 100.0)", 100.0, 2.0},  // under the limit: unchanged
      {"torch.nn.utils.clip_grad_norm_(ps, 0.5, norm_type=float('inf'))", 0.5, INFINITY},
      {"torch.nn.utils.clip_grad_norm_(ps, 2.0, norm_type=1)", 2.0, 1.0},
      {"torch.nn.utils.clip_grad_norm_(ps, 1.5, norm_type=3)", 1.5, 3.0},
  };
  TorchOracle torch;
  struct Run {
    std::vector<Tensor> grads;
    Tensor total;
    int handle;
  };
  std::vector<Run> runs;
  auto grads_in = [&] {
    return std::vector<Tensor>{randn({3, 4}, gen), randn({5}, gen), randn({}, gen)};
  };
  for (const Clip& c : clips) {
    auto g = grads_in();
    std::vector<Tensor> ps;
    for (const Tensor& x : g) {
      ps.push_back(zeros_like(x).requires_grad_());
      ps.back().set_grad(x.clone());
    }
    ps.push_back(zeros({2}).requires_grad_());  // no grad: skipped
    Tensor total = nn::utils::clip_grad_norm_(ps, c.max_norm, c.norm_type);
    std::vector<Tensor> out;
    for (size_t k = 0; k < g.size(); ++k) out.push_back(ps[k].grad());
    std::string s =
        "ps = [torch.zeros(x.shape, requires_grad=True) for x in (a, b, c)]\n"
        "for p, x in zip(ps, (a, b, c)): p.grad = torch.tensor(x)\n"
        "ps.append(torch.zeros(2, requires_grad=True))\n"
        "t = " +
        c.torch_call + "\nout = (t, ps[0].grad, ps[1].grad, ps[2].grad)\n";
    runs.push_back({out, total, torch.add_script(s, g)});
  }
  // clip_grad_value_
  auto g = grads_in();
  std::vector<Tensor> ps;
  for (const Tensor& x : g) {
    ps.push_back(zeros_like(x).requires_grad_());
    ps.back().set_grad(x.clone());
  }
  nn::utils::clip_grad_value_(ps, 0.3);
  const int hv = torch.add_script(
      "ps = [torch.zeros(x.shape, requires_grad=True) for x in (a, b, c)]\n"
      "for p, x in zip(ps, (a, b, c)): p.grad = torch.tensor(x)\n"
      "torch.nn.utils.clip_grad_value_(ps, 0.3)\n"
      "out = tuple(p.grad for p in ps)\n",
      g);
  torch.run();
  for (size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE(clips[i].torch_call);
    ASSERT_EQ(torch.error(runs[i].handle), "");
    const auto& ref = torch.results(runs[i].handle);
    EXPECT_TRUE(matches(runs[i].total, ref[0], 1e-6, 1e-6));
    for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(matches(runs[i].grads[k], ref[k + 1], 1e-6, 1e-6));
  }
  ASSERT_EQ(torch.error(hv), "");
  for (size_t k = 0; k < 3; ++k) EXPECT_TRUE(matches(ps[k].grad(), torch.results(hv)[k]));
}

TEST(ClipGrad, EdgeCasesAndErrors) {
  Tensor w = zeros({3}).requires_grad_();
  Tensor none = nn::utils::clip_grad_norm_({w}, 1.0);  // no gradients
  EXPECT_EQ(none.item<float>(), 0.0f);
  w.set_grad(tensor({1.0f, NAN, 0.0f}));
  expect_error([&] { nn::utils::clip_grad_norm_({w}, 1.0, 2.0, true); },
               {"clip_grad_norm_", "non-finite", "error_if_nonfinite"});
  expect_error([&] { nn::utils::clip_grad_norm_({w}, 1.0, -1.0); }, "norm_type must be positive");
  Tensor total = nn::utils::clip_grad_norm_({w}, 1.0);  // without the flag: scaled by NaN
  EXPECT_TRUE(std::isnan(total.item<float>()));
}

TEST(ClipGrad, ParametersToVectorAndBack) {
  Tensor a = arange(6.0).reshape({2, 3}).requires_grad_();
  Tensor b = tensor({10.0f, 20.0f}).requires_grad_();
  Tensor v = nn::utils::parameters_to_vector({a, b});
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5, 10, 20}));
  nn::utils::vector_to_parameters(v * 2, {a, b});
  EXPECT_EQ(a.detach().to_vector<float>(), (std::vector<float>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(b.detach().to_vector<float>(), (std::vector<float>{20, 40}));
  EXPECT_TRUE(a.requires_grad());
  expect_error(
      [&] {
        nn::utils::vector_to_parameters(zeros({7}), {a, b});
      },
      {"vector_to_parameters", "8 elements", "[7]"});
}

}  // namespace
