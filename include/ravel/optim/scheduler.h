// Learning-rate schedulers (torch.optim.lr_scheduler), with PyTorch's formulas, so the lr
// sequences match PyTorch's to the last bit:
//
//   optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
//   // 5 epochs of linear warm-up, then cosine annealing over the remaining 95
//   auto warmup = std::make_shared<optim::LinearLR>(opt, 0.01, 1.0, 5);
//   auto cosine = std::make_shared<optim::CosineAnnealingLR>(opt, 95);
//   optim::SequentialLR sched(opt, {warmup, cosine}, {5});
//   for (int epoch = 0; epoch < 100; ++epoch) {
//     train_one_epoch(model, opt);
//     sched.step();                    // after the epoch's optimizer steps
//   }
//   // Per batch: OneCycleLR (also cycles momentum, or Adam's beta1).
//   optim::OneCycleLR one(opt, /*max_lr=*/0.1, /*total_steps=*/epochs * batches);
//   // On a metric: ReduceLROnPlateau.
//   optim::ReduceLROnPlateau plateau(opt, {.mode = "min", .patience = 3});
//   plateau.step(val_loss);
//
// A scheduler keeps a reference to its optimizer, which must outlive it. Constructing one sets
// the optimizer's lr to the schedule's first value (as PyTorch does). state_dict() holds what
// changes while stepping (epoch, counters, last lrs), as (name, tensor) pairs; the settings
// come from the constructor, so resume by constructing the same scheduler and loading its dict.
// Warm-up composition: SequentialLR (one scheduler after another at milestones, the usual
// warm-up + decay) and ChainedScheduler (several stepped together, their factors multiply).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ravel/optim/optimizer.h"

namespace ravel::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler();
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances one epoch (one batch for OneCycleLR) and sets each group's lr.
  virtual void step();
  // Jumps to `epoch` (PyTorch's deprecated step(epoch)): the closed form where the schedule has
  // one; CosineAnnealingWarmRestarts accepts fractional epochs.
  virtual void step_to(double epoch);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  Optimizer& optimizer() const { return *opt_; }
  const char* name() const { return name_; }

  virtual StateDict state_dict() const;
  virtual void load_state_dict(const StateDict& dict);

 protected:
  LRScheduler(Optimizer& opt, const char* name);
  // Derived constructors end with this: the schedule's first step (epoch 0).
  void initial_step();
  // The chainable form: next lrs from the current ones (PyTorch's get_lr).
  virtual std::vector<double> get_lr() = 0;
  virtual std::optional<std::vector<double>> closed_form_lr() { return std::nullopt; }
  // Extra state saved in state_dict, as (name, value pointer).
  virtual void state_fields(std::vector<std::pair<std::string, double*>>& out) { (void)out; }
  void set_lrs(const std::vector<double>& lrs);
  std::vector<double> group_lrs() const;

  Optimizer* opt_;
  const char* name_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = -1;
  int64_t step_count_ = 0;

 private:
  friend class SequentialLR;
  friend class ChainedScheduler;
  void save_into(StateDict& out, const std::string& prefix) const;
  void load_from(const StateDict& dict, const std::string& prefix, bool strict);
};

// lr * gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr * gamma at each milestone epoch (a repeated milestone applies gamma once per repeat).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  std::vector<int64_t> milestones_;  // sorted, with repeats
  double gamma_;
};

// lr * gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  double gamma_;
};

// The lr factor goes linearly from start_factor to end_factor over total_iters epochs, then
// stays (a warm-up when start_factor < 1).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3, double end_factor = 1.0,
           int64_t total_iters = 5);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  double start_, end_;
  int64_t total_iters_;
};

// eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2, computed with PyTorch's
// recursive form (so it composes with outside changes of lr); past T_max it climbs back up.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0.0);

 protected:
  std::vector<double> get_lr() override;
  std::optional<std::vector<double>> closed_form_lr() override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// SGDR: cosine annealing restarted every T_i epochs, T_0 first, then T_i *= T_mult.
class CosineAnnealingWarmRestarts : public LRScheduler {
 public:
  CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0, int64_t T_mult = 1,
                              double eta_min = 0.0);
  void step() override;
  void step_to(double epoch) override;  // fractional epochs allowed (epoch + batch / batches)

 protected:
  std::vector<double> get_lr() override;
  void state_fields(std::vector<std::pair<std::string, double*>>& out) override;

 private:
  int64_t T_0_, T_mult_;
  double eta_min_;
  double T_i_, T_cur_;
};

struct OneCycleLROptions {
  double pct_start = 0.3;               // fraction of the steps spent raising the lr
  std::string anneal_strategy = "cos";  // "cos" or "linear"
  bool cycle_momentum = true;           // momentum (or Adam's beta1) moves opposite to the lr
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  double div_factor = 25.0;       // initial lr = max_lr / div_factor
  double final_div_factor = 1e4;  // final lr = initial lr / final_div_factor
  bool three_phase = false;       // up, down to the initial lr, then down to the final lr
};

// The 1cycle policy, stepped once per batch for total_steps batches.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps,
             const OneCycleLROptions& options = {});
  OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total_steps,
             const OneCycleLROptions& options = {});

 protected:
  std::vector<double> get_lr() override;

 private:
  struct Phase {
    double end_step;
    int start_lr, end_lr, start_momentum, end_momentum;  // index into a group's values below
  };
  int64_t total_steps_;
  OneCycleLROptions o_;
  std::vector<Phase> phases_;
  std::vector<std::array<double, 5>> values_;  // per group: initial, max, min lr; max, base mom.
  std::string momentum_option_;                // "momentum", "beta1", or "" (not cycled)
};

// Runs schedulers one after another: schedulers[i] from milestones[i-1] on (restarted at 0).
// The schedulers must be built on `opt` just before (their constructors set the lr; this one
// resets it and replays the first one's start).
class SequentialLR : public LRScheduler {
 public:
  SequentialLR(Optimizer& opt, std::vector<std::shared_ptr<LRScheduler>> schedulers,
               std::vector<int64_t> milestones);
  void step() override;
  StateDict state_dict() const override;  // own fields, then "schedulers.<i>.<field>"
  void load_state_dict(const StateDict& dict) override;

 protected:
  std::vector<double> get_lr() override { return last_lr_; }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
  std::vector<int64_t> milestones_;
};

// Steps every scheduler at once; their multiplicative changes compose.
class ChainedScheduler : public LRScheduler {
 public:
  explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
  void step() override;
  StateDict state_dict() const override;
  void load_state_dict(const StateDict& dict) override;

 protected:
  std::vector<double> get_lr() override { return last_lr_; }

 private:
  std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

struct ReduceLROnPlateauOptions {
  std::string mode = "min";            // "min": lower metric is better; "max": higher
  double factor = 0.1;                 // new lr = lr * factor
  int64_t patience = 10;               // bad epochs tolerated before a reduction
  double threshold = 1e-4;             // what counts as better (see threshold_mode)
  std::string threshold_mode = "rel";  // "rel": best * (1 -/+ threshold); "abs": best -/+ it
  int64_t cooldown = 0;                // epochs to wait after a reduction
  double min_lr = 0.0;                 // lower bound, for every group
  std::vector<double> min_lrs = {};    // per group lower bounds; overrides min_lr when given
  double eps = 1e-8;                   // smaller lr changes are skipped
};

// Reduces the lr when a metric has stopped improving for `patience` epochs.
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& opt, const ReduceLROnPlateauOptions& options = {});
  void step(double metric);
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  StateDict state_dict() const;
  void load_state_dict(const StateDict& dict);

 private:
  bool is_better(double a, double best) const;
  Optimizer* opt_;
  ReduceLROnPlateauOptions o_;
  std::vector<double> min_lrs_;
  double best_;
  int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace ravel::optim
