// Learning-rate schedulers against PyTorch: the lr of every parameter group after construction
// and after each of 30 steps (and the cycled momentum / beta1 for OneCycleLR) must equal
// PyTorch's, bit for bit. Also: resuming from state dicts, and errors.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ravel/ops.h"
#include "ravel/optim.h"
#include "support/expect_error.h"
#include "support/numpy_oracle.h"

using namespace ravel;
using namespace ravel::testing;

namespace {

constexpr int kSteps = 30;

// Two groups (lr 0.1 and 0.05), as in PyTorch's own scheduler tests.
struct TwoGroups {
  Tensor p1 = zeros({1}).requires_grad_(), p2 = zeros({1}).requires_grad_();
  std::unique_ptr<optim::Optimizer> opt;
  explicit TwoGroups(bool adam = false) {
    if (adam) {
      auto o =
          std::make_unique<optim::Adam>(std::vector<Tensor>{p1}, optim::AdamOptions{.lr = 0.1});
      o->add_param_group({p2}, optim::AdamOptions{.lr = 0.05});
      opt = std::move(o);
    } else {
      auto o = std::make_unique<optim::SGD>(std::vector<Tensor>{p1},
                                            optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
      o->add_param_group({p2}, optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
      opt = std::move(o);
    }
  }
};

const char* kTorchSetup = R"(
import warnings
warnings.filterwarnings('ignore')
L = torch.optim.lr_scheduler
p1, p2 = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
if ADAM:
    opt = torch.optim.Adam([{'params': [p1]}, {'params': [p2], 'lr': 0.05}], lr=0.1)
else:
    opt = torch.optim.SGD([{'params': [p1]}, {'params': [p2], 'lr': 0.05}], lr=0.1, momentum=0.9)
def mom():
    return [g['betas'][0] if 'betas' in g else g['momentum'] for g in opt.param_groups]
)";

struct Case {
  std::string name;
  std::string torch_ctor;  // Python statements that set `sched`
  std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&)> make;
  bool adam = false;
};

template <typename S, typename... Args>
std::function<std::shared_ptr<optim::LRScheduler>(optim::Optimizer&)> make(Args... args) {
  return [=](optim::Optimizer& opt) { return std::make_shared<S>(opt, args...); };
}

std::vector<Case> cases() {
  using namespace optim;
  return {
      {"step", "sched = L.StepLR(opt, step_size=4, gamma=0.5)", make<StepLR>(int64_t{4}, 0.5)},
      {"multistep", "sched = L.MultiStepLR(opt, milestones=[3, 8, 8, 20], gamma=0.3)",
       make<MultiStepLR>(std::vector<int64_t>{20, 3, 8, 8}, 0.3)},
      {"exponential", "sched = L.ExponentialLR(opt, gamma=0.9)", make<ExponentialLR>(0.9)},
      {"linear", "sched = L.LinearLR(opt, start_factor=0.25, end_factor=0.9, total_iters=7)",
       make<LinearLR>(0.25, 0.9, int64_t{7})},
      {"linear_default", "sched = L.LinearLR(opt)", make<LinearLR>()},
      {"cosine_3_periods", "sched = L.CosineAnnealingLR(opt, T_max=5)",
       make<CosineAnnealingLR>(int64_t{5})},
      {"cosine_eta_min", "sched = L.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)",
       make<CosineAnnealingLR>(int64_t{10}, 0.01)},
      {"warm_restarts", "sched = L.CosineAnnealingWarmRestarts(opt, T_0=4, eta_min=0.001)",
       make<CosineAnnealingWarmRestarts>(int64_t{4}, int64_t{1}, 0.001)},
      {"warm_restarts_mult", "sched = L.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)",
       make<CosineAnnealingWarmRestarts>(int64_t{3}, int64_t{2})},
      {"onecycle", "sched = L.OneCycleLR(opt, max_lr=1.0, total_steps=30)",
       make<OneCycleLR>(1.0, int64_t{30})},
      {"onecycle_linear_3phase",
       "sched = L.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=31, pct_start=0.25, "
       "anneal_strategy='linear', three_phase=True, div_factor=10., final_div_factor=100., "
       "base_momentum=0.8, max_momentum=0.9)",
       make<OneCycleLR>(std::vector<double>{1.0, 0.5}, int64_t{31},
                        OneCycleLROptions{.pct_start = 0.25,
                                          .anneal_strategy = "linear",
                                          .base_momentum = 0.8,
                                          .max_momentum = 0.9,
                                          .div_factor = 10,
                                          .final_div_factor = 100,
                                          .three_phase = true})},
      {"onecycle_adam_beta1", "sched = L.OneCycleLR(opt, max_lr=0.3, total_steps=40)",
       make<OneCycleLR>(0.3, int64_t{40}), true},
      {"onecycle_no_momentum",
       "sched = L.OneCycleLR(opt, max_lr=0.3, total_steps=30, cycle_momentum=False)",
       make<OneCycleLR>(0.3, int64_t{30}, OneCycleLROptions{.cycle_momentum = false})},
      {"sequential_warmup_cosine",
       "s1 = L.LinearLR(opt, start_factor=0.1, total_iters=5)\n"
       "s2 = L.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)\n"
       "sched = L.SequentialLR(opt, [s1, s2], milestones=[5])",
       [](Optimizer& opt) -> std::shared_ptr<LRScheduler> {
         auto s1 = std::make_shared<LinearLR>(opt, 0.1, 1.0, 5);
         auto s2 = std::make_shared<CosineAnnealingLR>(opt, 20, 0.001);
         return std::make_shared<SequentialLR>(
             opt, std::vector<std::shared_ptr<LRScheduler>>{s1, s2}, std::vector<int64_t>{5});
       }},
      {"sequential_three",
       "s1 = L.LinearLR(opt, start_factor=0.5, total_iters=3)\n"
       "s2 = L.ExponentialLR(opt, gamma=0.8)\n"
       "s3 = L.StepLR(opt, step_size=3, gamma=0.5)\n"
       "sched = L.SequentialLR(opt, [s1, s2, s3], milestones=[4, 12])",
       [](Optimizer& opt) -> std::shared_ptr<LRScheduler> {
         auto s1 = std::make_shared<LinearLR>(opt, 0.5, 1.0, 3);
         auto s2 = std::make_shared<ExponentialLR>(opt, 0.8);
         auto s3 = std::make_shared<StepLR>(opt, 3, 0.5);
         return std::make_shared<SequentialLR>(
             opt, std::vector<std::shared_ptr<LRScheduler>>{s1, s2, s3},
             std::vector<int64_t>{4, 12});
       }},
      {"chained",
       "s1 = L.LinearLR(opt, start_factor=0.2, total_iters=4)\n"
       "s2 = L.ExponentialLR(opt, gamma=0.95)\n"
       "sched = L.ChainedScheduler([s1, s2])",
       [](Optimizer& opt) -> std::shared_ptr<LRScheduler> {
         auto s1 = std::make_shared<LinearLR>(opt, 0.2, 1.0, 4);
         auto s2 = std::make_shared<ExponentialLR>(opt, 0.95);
         return std::make_shared<ChainedScheduler>(
             std::vector<std::shared_ptr<LRScheduler>>{s1, s2});
       }},
  };
}

// lrs[step][group] and momentum[step][group] over construction + kSteps steps.
struct Trace {
  Tensor lrs, moms;
};

Trace trace(optim::Optimizer& opt, optim::LRScheduler& s, int from = 0, int to = kSteps) {
  std::vector<double> lrs, moms;
  auto record = [&] {
    for (double lr : s.get_last_lr()) lrs.push_back(lr);
    for (size_t g = 0; g < opt.num_param_groups(); ++g)
      moms.push_back(opt.option(g, opt.has_option("beta1") ? "beta1" : "momentum"));
  };
  if (from == 0) record();
  for (int i = from; i < to; ++i) {
    opt.step();
    s.step();
    record();
  }
  const int64_t n = static_cast<int64_t>(lrs.size() / 2);
  return {from_vector(lrs, Shape{n, 2}), from_vector(moms, Shape{n, 2})};
}

std::string torch_script(const Case& c) {
  std::string s = kTorchSetup;
  s = "ADAM = " + std::string(c.adam ? "True" : "False") + "\n" + s;
  s += c.torch_ctor + "\n";
  s += "lrs, moms = [list(sched.get_last_lr())], [mom()]\n";
  s += "for i in range(" + std::to_string(kSteps) + "):\n";
  s += "    opt.step()\n    sched.step()\n";
  s += "    lrs.append(list(sched.get_last_lr()))\n    moms.append(mom())\n";
  s += "out = (np.array(lrs, dtype=np.float64), np.array(moms, dtype=np.float64))\n";
  return s;
}

// Each adds its cases to the oracle and returns the check to run after torch.run(): one python
// process for all schedulers.
std::function<void()> lr_sequence_cases(TorchOracle& torch) {
  struct Run {
    const Case* c;
    Trace t;
    int handle;
  };
  auto cs = std::make_shared<std::vector<Case>>(cases());
  std::vector<Run> runs;
  for (const Case& c : *cs) {
    TwoGroups st(c.adam);
    auto s = c.make(*st.opt);
    runs.push_back({&c, trace(*st.opt, *s), torch.add_script(torch_script(c), {})});
  }
  return [&torch, cs, runs] {
    for (const Run& r : runs) {
      SCOPED_TRACE(r.c->name);
      ASSERT_EQ(torch.error(r.handle), "");
      EXPECT_TRUE(matches(r.t.lrs, torch.results(r.handle)[0], 0, 0));
      EXPECT_TRUE(matches(r.t.moms, torch.results(r.handle)[1], 0, 0));
    }
  };
}

std::function<void()> plateau_cases(TorchOracle& torch) {
  // A metric that improves, stalls, wobbles within the threshold, and improves again.
  std::vector<double> metric = {1.0, 0.9, 0.8, 0.8, 0.8, 0.8,  0.8, 0.79999, 0.7, 0.7,
                                0.7, 0.7, 0.7, 0.7, 0.7, 0.69, 0.5, 0.5,     0.5, 0.5,
                                0.5, 0.5, 0.5, 0.5, 0.5, 0.5,  0.5, 0.5,     0.5, 0.5};
  struct Config {
    std::string torch_args;
    optim::ReduceLROnPlateauOptions o;
    double sign;  // max mode sees -metric
  };
  const std::vector<Config> configs = {
      {"patience=2", {.patience = 2}, 1},
      {"mode='max', factor=0.5, patience=1, threshold=0.05, threshold_mode='abs', cooldown=2",
       {.mode = "max",
        .factor = 0.5,
        .patience = 1,
        .threshold = 0.05,
        .threshold_mode = "abs",
        .cooldown = 2},
       -1},
      {"factor=0.5, patience=0, cooldown=1, min_lr=[0.02, 0.03]",
       {.factor = 0.5, .patience = 0, .cooldown = 1, .min_lrs = {0.02, 0.03}},
       1},
      {"factor=0.2, patience=1, threshold=0.1, min_lr=0.004",
       {.factor = 0.2, .patience = 1, .threshold = 0.1, .min_lr = 0.004},
       1},
  };
  std::vector<std::pair<Tensor, int>> runs;
  for (const Config& c : configs) {
    TwoGroups st;
    optim::ReduceLROnPlateau s(*st.opt, c.o);
    std::vector<double> lrs;
    for (double m : metric) {
      s.step(c.sign * m);
      for (double lr : s.get_last_lr()) lrs.push_back(lr);
    }
    std::string script = std::string("ADAM = False\n") + kTorchSetup +
                         "sched = L.ReduceLROnPlateau(opt, " + c.torch_args + ")\nlrs = []\n" +
                         "for m in a:\n    sched.step(" + (c.sign < 0 ? "-" : "") +
                         "float(m))\n    lrs.append([g['lr'] for g in opt.param_groups])\n" +
                         "out = np.array(lrs, dtype=np.float64)\n";
    runs.emplace_back(from_vector(lrs, Shape{static_cast<int64_t>(metric.size()), 2}),
                      torch.add_script(script, {from_vector(metric)}));
  }
  return [&torch, configs, runs] {
    for (size_t i = 0; i < runs.size(); ++i) {
      SCOPED_TRACE(configs[i].torch_args);
      ASSERT_EQ(torch.error(runs[i].second), "");
      EXPECT_TRUE(matches(runs[i].first, torch.result(runs[i].second), 0, 0));
    }
  };
}

// lr (and cycled momentum) sequences of every scheduler, and ReduceLROnPlateau's on a metric.
TEST(SchedParity, EverySchedulerMatchesTorchExactly) {
  TorchOracle torch;
  auto check_sequences = lr_sequence_cases(torch);
  auto check_plateau = plateau_cases(torch);
  torch.run();
  check_sequences();
  check_plateau();
}

// 12 steps, save optimizer and scheduler; a fresh pair that loads both continues identically.
TEST(SchedState, ResumeFromStateDicts) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    TwoGroups a(c.adam);
    auto sa = c.make(*a.opt);
    trace(*a.opt, *sa, 0, 12);
    optim::StateDict opt_sd = a.opt->state_dict(), sched_sd = sa->state_dict();
    Trace rest = trace(*a.opt, *sa, 12, kSteps);

    TwoGroups b(c.adam);
    auto sb = c.make(*b.opt);
    b.opt->load_state_dict(opt_sd);
    sb->load_state_dict(sched_sd);
    Trace resumed = trace(*b.opt, *sb, 12, kSteps);
    EXPECT_TRUE(matches(resumed.lrs, rest.lrs, 0, 0));
    EXPECT_TRUE(matches(resumed.moms, rest.moms, 0, 0));
  }
  TwoGroups a;
  optim::ReduceLROnPlateau ra(*a.opt, {.patience = 1});
  for (double m : {1.0, 0.5, 0.6, 0.7}) ra.step(m);
  optim::StateDict opt_sd = a.opt->state_dict(), sd = ra.state_dict();
  TwoGroups b;
  optim::ReduceLROnPlateau rb(*b.opt, {.patience = 1});
  b.opt->load_state_dict(opt_sd);
  rb.load_state_dict(sd);
  for (double m : {0.8, 0.9, 0.95, 0.4}) {
    ra.step(m);
    rb.step(m);
    EXPECT_EQ(ra.get_last_lr(), rb.get_last_lr());
  }
  EXPECT_EQ(ra.best(), rb.best());
}

TEST(SchedErrors, BadArguments) {
  TwoGroups st;
  optim::Optimizer& opt = *st.opt;
  expect_error([&] { optim::StepLR(opt, 0); }, "StepLR: step_size must be positive, got 0");
  expect_error([&] { optim::LinearLR(opt, 1.5); }, "LinearLR: start_factor must be in (0, 1]");
  expect_error([&] { optim::CosineAnnealingLR(opt, 0); }, "CosineAnnealingLR: T_max");
  expect_error([&] { optim::CosineAnnealingWarmRestarts(opt, 2, 0); }, "T_mult must be");
  expect_error([&] { optim::OneCycleLR(opt, 0.1, 10, {.anneal_strategy = "exp"}); },
               "anneal_strategy must be 'cos' or 'linear', got 'exp'");
  expect_error([&] { optim::OneCycleLR(opt, std::vector<double>{0.1}, 10); },
               "expected 2 values for max_lr");
  Tensor p = zeros({1}).requires_grad_();
  optim::Adagrad adagrad({p});
  expect_error([&] { optim::OneCycleLR(adagrad, 0.1, 10); },
               "OneCycleLR: Adagrad has no momentum or beta1");
  // 4 steps with pct_start 0.25: the warm-up phase would hold no step (a NaN lr before).
  expect_error([&] { optim::OneCycleLR(opt, 0.1, 4, {.pct_start = 0.25}); },
               "OneCycleLR: total_steps 4 with pct_start 0.25 leaves phase 1 without steps");
  optim::OneCycleLR one(opt, 0.1, 2);
  one.step();
  one.step();
  expect_error([&] { one.step(); }, "OneCycleLR: tried to step 4 times, but total_steps is 2");
  auto s1 = std::make_shared<optim::LinearLR>(opt);
  expect_error([&] { optim::SequentialLR(opt, {s1}, {3}); },
               "SequentialLR: expected 0 milestones for 1 schedulers, got 1");
  expect_error([&] { optim::SequentialLR(adagrad, {s1}, {}); }, "belongs to another optimizer");
  expect_error([&] { optim::ReduceLROnPlateau(opt, {.mode = "low"}); },
               "mode must be 'min' or 'max'");
  expect_error([&] { optim::ReduceLROnPlateau(opt, {.factor = 1.0}); }, "factor must be < 1");
  optim::StepLR step(opt, 3);
  optim::StateDict sd = step.state_dict();
  sd.emplace_back("T_cur", scalar_tensor(1.0));
  expect_error([&] { step.load_state_dict(sd); },
               "StepLR: load_state_dict: unexpected key 'T_cur'");
  expect_error([&] { step.load_state_dict({}); }, "StepLR: load_state_dict: missing key");
}

}  // namespace
