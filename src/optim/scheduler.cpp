// Learning-rate schedulers. Each formula is PyTorch's (torch/optim/lr_scheduler.py), written in
// the same order of double operations, so the lr sequences agree to the last bit. That needs
// every product and sum rounded on its own, as Python does: no fused multiply-adds (see the
// pragma below the includes).
#include "ravel/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "ravel/ops.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace ravel::optim {

namespace {

constexpr double kPi = std::numbers::pi;

int64_t py_mod(int64_t a, int64_t b) {  // Python's %: the sign of the divisor
  int64_t r = a % b;
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}
int64_t py_floordiv(int64_t a, int64_t b) { return (a - py_mod(a, b)) / b; }

Tensor vec64(const std::vector<double>& v) { return from_vector(v); }
Tensor s64(double v) { return scalar_tensor(v, DType::Float64); }

const Tensor& require(const StateDict& dict, const std::string& key, const char* who) {
  for (const auto& [k, t] : dict)
    if (k == key) return t;
  detail::throw_error(who, ": load_state_dict: missing key '", key, "'");
}

double scalar_of(const StateDict& dict, const std::string& key, const char* who) {
  const Tensor& t = require(dict, key, who);
  RAVEL_CHECK(t.defined() && t.numel() == 1, who, ": load_state_dict: '", key,
              "' must hold one value");
  return t.item_scalar().to_double();
}

std::vector<double> vector_of(const StateDict& dict, const std::string& key, size_t n,
                              const char* who) {
  const Tensor& t = require(dict, key, who);
  RAVEL_CHECK(t.defined() && t.ndim() == 1 && t.numel() == static_cast<int64_t>(n), who,
              ": load_state_dict: '", key, "' must be a vector of ", n,
              " values (one per parameter group), got shape ", t.defined() ? t.shape() : Shape{});
  return t.to_vector<double>();
}

// Unknown keys are errors: a dict from another scheduler type must not load silently.
void check_known(const StateDict& dict, const StateDict& known, const char* who) {
  for (const auto& entry : dict) {
    const std::string& k = entry.first;
    bool found =
        std::any_of(known.begin(), known.end(), [&](const auto& kv) { return kv.first == k; });
    RAVEL_CHECK(found, who, ": load_state_dict: unexpected key '", k, "'");
  }
}

}  // namespace

// ---------------------------------------------------------------- LRScheduler
LRScheduler::LRScheduler(Optimizer& opt, const char* name) : opt_(&opt), name_(name) {
  for (size_t g = 0; g < opt.num_param_groups(); ++g) {
    if (!opt.initial_lr(g)) opt.set_initial_lr(g, opt.lr(g));
    base_lrs_.push_back(*opt.initial_lr(g));
  }
}

LRScheduler::~LRScheduler() = default;

void LRScheduler::initial_step() {
  step_count_ = 0;
  step();
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> out;
  for (size_t g = 0; g < opt_->num_param_groups(); ++g) out.push_back(opt_->lr(g));
  return out;
}

void LRScheduler::set_lrs(const std::vector<double>& lrs) {
  for (size_t g = 0; g < lrs.size(); ++g) opt_->set_lr(g, lrs[g]);
  last_lr_ = group_lrs();
}

void LRScheduler::step() {
  ++step_count_;
  ++last_epoch_;
  set_lrs(get_lr());
}

void LRScheduler::step_to(double epoch) {
  ++step_count_;
  last_epoch_ = static_cast<int64_t>(std::floor(epoch));
  auto closed = closed_form_lr();
  set_lrs(closed ? *closed : get_lr());
}

void LRScheduler::save_into(StateDict& out, const std::string& prefix) const {
  out.emplace_back(prefix + "last_epoch", s64(static_cast<double>(last_epoch_)));
  out.emplace_back(prefix + "step_count", s64(static_cast<double>(step_count_)));
  out.emplace_back(prefix + "base_lrs", vec64(base_lrs_));
  out.emplace_back(prefix + "last_lr", vec64(last_lr_));
  std::vector<std::pair<std::string, double*>> fields;
  const_cast<LRScheduler*>(this)->state_fields(fields);
  for (auto& [n, v] : fields) out.emplace_back(prefix + n, s64(*v));
}

void LRScheduler::load_from(const StateDict& dict, const std::string& prefix, bool strict) {
  const size_t n = opt_->num_param_groups();
  // Read everything first, so a bad dict changes nothing.
  const double last_epoch = scalar_of(dict, prefix + "last_epoch", name_);
  const double step_count = scalar_of(dict, prefix + "step_count", name_);
  auto base = vector_of(dict, prefix + "base_lrs", n, name_);
  auto last = vector_of(dict, prefix + "last_lr", n, name_);
  std::vector<std::pair<std::string, double*>> fields;
  state_fields(fields);
  std::vector<double> values;
  for (auto& [f, v] : fields) values.push_back(scalar_of(dict, prefix + f, name_));
  if (strict) {
    StateDict known;
    save_into(known, prefix);
    check_known(dict, known, name_);
  }
  last_epoch_ = static_cast<int64_t>(last_epoch);
  step_count_ = static_cast<int64_t>(step_count);
  base_lrs_ = std::move(base);
  last_lr_ = std::move(last);
  for (size_t i = 0; i < fields.size(); ++i) *fields[i].second = values[i];
}

StateDict LRScheduler::state_dict() const {
  StateDict out;
  save_into(out, "");
  return out;
}

void LRScheduler::load_state_dict(const StateDict& dict) { load_from(dict, "", true); }

// ---------------------------------------------------------------- StepLR
StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler(opt, "StepLR"), step_size_(step_size), gamma_(gamma) {
  RAVEL_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0 || py_mod(last_epoch_, step_size_) != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::optional<std::vector<double>> StepLR::closed_form_lr() {
  std::vector<double> out;
  for (double base : base_lrs_)
    out.push_back(base *
                  std::pow(gamma_, static_cast<double>(py_floordiv(last_epoch_, step_size_))));
  return out;
}

// ---------------------------------------------------------------- MultiStepLR
MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt, "MultiStepLR"), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  auto lrs = group_lrs();
  const auto count = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (count == 0) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(gamma_, static_cast<double>(count));
  return lrs;
}

std::optional<std::vector<double>> MultiStepLR::closed_form_lr() {
  const auto passed =
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  std::vector<double> out;
  for (double base : base_lrs_) out.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
  return out;
}

// ---------------------------------------------------------------- ExponentialLR
ExponentialLR::ExponentialLR(Optimizer& opt, double gamma)
    : LRScheduler(opt, "ExponentialLR"), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

std::optional<std::vector<double>> ExponentialLR::closed_form_lr() {
  std::vector<double> out;
  for (double base : base_lrs_)
    out.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_)));
  return out;
}

// ---------------------------------------------------------------- LinearLR
LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(opt, "LinearLR"),
      start_(start_factor),
      end_(end_factor),
      total_iters_(total_iters) {
  RAVEL_CHECK(start_factor > 0 && start_factor <= 1,
              "LinearLR: start_factor must be in (0, 1], got ", start_factor);
  RAVEL_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ",
              end_factor);
  RAVEL_CHECK(total_iters > 0, "LinearLR: total_iters must be positive, got ", total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  auto lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  const double e = static_cast<double>(last_epoch_), n = static_cast<double>(total_iters_);
  for (double& lr : lrs)
    lr = lr * (1. + (end_ - start_) / (n * start_ + (e - 1) * (end_ - start_)));
  return lrs;
}

std::optional<std::vector<double>> LinearLR::closed_form_lr() {
  const double done = static_cast<double>(std::min(total_iters_, last_epoch_));
  std::vector<double> out;
  for (double base : base_lrs_)
    out.push_back(base * (start_ + (end_ - start_) * done / static_cast<double>(total_iters_)));
  return out;
}

// ---------------------------------------------------------------- CosineAnnealingLR
CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt, "CosineAnnealingLR"), T_max_(T_max), eta_min_(eta_min) {
  RAVEL_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  auto lrs = group_lrs();
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  if (last_epoch_ == 0) return lrs;
  if (step_count_ == 1 && last_epoch_ > 0) {
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos(e * kPi / T)) / 2;
  } else if (py_mod(last_epoch_ - 1 - T_max_, 2 * T_max_) == 0) {
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
  } else {
    for (double& lr : lrs)
      lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) +
           eta_min_;
  }
  return lrs;
}

std::optional<std::vector<double>> CosineAnnealingLR::closed_form_lr() {
  const double e = static_cast<double>(last_epoch_), T = static_cast<double>(T_max_);
  std::vector<double> out;
  for (double base : base_lrs_)
    out.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * e / T)) / 2);
  return out;
}

// ---------------------------------------------------------------- CosineAnnealingWarmRestarts
CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& opt, int64_t T_0,
                                                         int64_t T_mult, double eta_min)
    : LRScheduler(opt, "CosineAnnealingWarmRestarts"),
      T_0_(T_0),
      T_mult_(T_mult),
      eta_min_(eta_min),
      T_i_(static_cast<double>(T_0)),
      T_cur_(-1) {
  RAVEL_CHECK(T_0 > 0, "CosineAnnealingWarmRestarts: T_0 must be a positive integer, got ", T_0);
  RAVEL_CHECK(T_mult >= 1, "CosineAnnealingWarmRestarts: T_mult must be an integer >= 1, got ",
              T_mult);
  initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
  std::vector<double> out;
  for (double base : base_lrs_)
    out.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(kPi * T_cur_ / T_i_)) / 2);
  return out;
}

void CosineAnnealingWarmRestarts::step() {
  if (last_epoch_ < 0) return step_to(0);
  last_epoch_ += 1;
  T_cur_ = T_cur_ + 1;
  if (T_cur_ >= T_i_) {
    T_cur_ = T_cur_ - T_i_;
    T_i_ = T_i_ * static_cast<double>(T_mult_);
  }
  set_lrs(get_lr());
}

void CosineAnnealingWarmRestarts::step_to(double epoch) {
  RAVEL_CHECK(epoch >= 0, "CosineAnnealingWarmRestarts: expected a non-negative epoch, got ",
              epoch);
  const double T0 = static_cast<double>(T_0_), Tm = static_cast<double>(T_mult_);
  if (epoch >= T0) {
    if (T_mult_ == 1) {
      T_cur_ = std::fmod(epoch, T0);
    } else {
      const double n = std::trunc(std::log(epoch / T0 * (Tm - 1) + 1) / std::log(Tm));
      T_cur_ = epoch - T0 * (std::pow(Tm, n) - 1) / (Tm - 1);
      T_i_ = T0 * std::pow(Tm, n);
    }
  } else {
    T_i_ = T0;
    T_cur_ = epoch;
  }
  last_epoch_ = static_cast<int64_t>(std::floor(epoch));
  set_lrs(get_lr());
}

void CosineAnnealingWarmRestarts::state_fields(std::vector<std::pair<std::string, double*>>& out) {
  out.emplace_back("T_i", &T_i_);
  out.emplace_back("T_cur", &T_cur_);
}

// ---------------------------------------------------------------- OneCycleLR
OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, int64_t total_steps,
                       const OneCycleLROptions& options)
    : OneCycleLR(opt, std::vector<double>(opt.num_param_groups(), max_lr), total_steps, options) {}

OneCycleLR::OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, int64_t total_steps,
                       const OneCycleLROptions& options)
    : LRScheduler(opt, "OneCycleLR"), total_steps_(total_steps), o_(options) {
  const char* who = "OneCycleLR";
  RAVEL_CHECK(total_steps > 0, who, ": total_steps must be positive, got ", total_steps);
  RAVEL_CHECK(o_.pct_start >= 0 && o_.pct_start <= 1, who, ": pct_start must be in [0, 1], got ",
              o_.pct_start);
  RAVEL_CHECK(o_.anneal_strategy == "cos" || o_.anneal_strategy == "linear", who,
              ": anneal_strategy must be 'cos' or 'linear', got '", o_.anneal_strategy, "'");
  RAVEL_CHECK(max_lrs.size() == opt.num_param_groups(), who, ": expected ", opt.num_param_groups(),
              " values for max_lr (one per group), got ", max_lrs.size());
  enum { kInitial, kMax, kMin, kMaxMom, kBaseMom };
  const double n = static_cast<double>(total_steps), pct = o_.pct_start;
  if (o_.three_phase)
    phases_ = {{pct * n - 1, kInitial, kMax, kMaxMom, kBaseMom},
               {2 * pct * n - 2, kMax, kInitial, kBaseMom, kMaxMom},
               {n - 1, kInitial, kMin, kMaxMom, kMaxMom}};
  else
    phases_ = {{pct * n - 1, kInitial, kMax, kMaxMom, kBaseMom},
               {n - 1, kMax, kMin, kBaseMom, kMaxMom}};
  // A phase that ends where the one before it ends has no steps: PyTorch divides by zero there.
  double phase_start = 0;
  for (size_t i = 0; i < phases_.size(); ++i) {
    RAVEL_CHECK(phases_[i].end_step != phase_start, who, ": total_steps ", total_steps,
                " with pct_start ", pct, " leaves phase ", i + 1,
                " without steps (it ends at step ", phase_start,
                ", where it starts); use more steps or another pct_start");
    phase_start = phases_[i].end_step;
  }
  if (o_.cycle_momentum) {
    // Adam-style optimizers cycle beta1, the others their momentum (as PyTorch).
    momentum_option_ = opt.has_option("beta1") ? "beta1" : "momentum";
    RAVEL_CHECK(opt.has_option(momentum_option_), who, ": ", opt.name(),
                " has no momentum or beta1 to cycle (pass cycle_momentum = false)");
  }
  for (size_t g = 0; g < max_lrs.size(); ++g) {
    const double initial = max_lrs[g] / o_.div_factor;
    values_.push_back(
        {initial, max_lrs[g], initial / o_.final_div_factor, o_.max_momentum, o_.base_momentum});
    opt.set_initial_lr(g, initial);  // PyTorch overwrites initial_lr here
    base_lrs_[g] = initial;
    if (!momentum_option_.empty()) opt.set_option(g, momentum_option_, o_.max_momentum);
  }
  initial_step();
}

std::vector<double> OneCycleLR::get_lr() {
  const double step_num = static_cast<double>(last_epoch_);
  RAVEL_CHECK(last_epoch_ <= total_steps_, "OneCycleLR: tried to step ", last_epoch_ + 1,
              " times, but total_steps is ", total_steps_);
  const bool cos = o_.anneal_strategy == "cos";
  auto anneal = [cos](double start, double end, double pct) {
    if (cos) return end + (start - end) / 2.0 * (std::cos(kPi * pct) + 1);
    return (end - start) * pct + start;
  };
  std::vector<double> lrs;
  for (size_t g = 0; g < values_.size(); ++g) {
    const auto& v = values_[g];
    double start_step = 0, lr = 0, mom = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& ph = phases_[i];
      if (step_num <= ph.end_step || i == phases_.size() - 1) {
        const double pct = (step_num - start_step) / (ph.end_step - start_step);
        lr = anneal(v[ph.start_lr], v[ph.end_lr], pct);
        mom = anneal(v[ph.start_momentum], v[ph.end_momentum], pct);
        break;
      }
      start_step = ph.end_step;
    }
    lrs.push_back(lr);
    if (!momentum_option_.empty()) opt_->set_option(g, momentum_option_, mom);
  }
  return lrs;
}

// ---------------------------------------------------------------- SequentialLR
SequentialLR::SequentialLR(Optimizer& opt, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<int64_t> milestones)
    : LRScheduler(opt, "SequentialLR"),
      schedulers_(std::move(schedulers)),
      milestones_(std::move(milestones)) {
  RAVEL_CHECK(!schedulers_.empty(), "SequentialLR: needs at least one scheduler");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    RAVEL_CHECK(schedulers_[i] && &schedulers_[i]->optimizer() == &opt, "SequentialLR: scheduler ",
                i, " belongs to another optimizer (or is null)");
  RAVEL_CHECK(milestones_.size() + 1 == schedulers_.size(), "SequentialLR: expected ",
              schedulers_.size() - 1, " milestones for ", schedulers_.size(), " schedulers, got ",
              milestones_.size());
  RAVEL_CHECK(std::is_sorted(milestones_.begin(), milestones_.end()),
              "SequentialLR: milestones must be increasing");
  last_epoch_ = 0;
  for (size_t g = 0; g < opt.num_param_groups(); ++g) opt.set_lr(g, *opt.initial_lr(g));
  for (auto& s : schedulers_) s->last_epoch_ -= 1;  // undo their first step
  schedulers_[0]->initial_step();
  last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
  ++last_epoch_;
  const size_t idx =
      std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
  LRScheduler& s = *schedulers_[idx];
  if (idx > 0 && milestones_[idx - 1] == last_epoch_)
    s.step_to(0);
  else
    s.step();
  last_lr_ = s.get_last_lr();
}

StateDict SequentialLR::state_dict() const {
  StateDict out;
  save_into(out, "");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    schedulers_[i]->save_into(out, "schedulers." + std::to_string(i) + ".");
  return out;
}

void SequentialLR::load_state_dict(const StateDict& dict) {
  check_known(dict, state_dict(), name_);
  load_from(dict, "", false);
  for (size_t i = 0; i < schedulers_.size(); ++i)
    schedulers_[i]->load_from(dict, "schedulers." + std::to_string(i) + ".", false);
}

// ---------------------------------------------------------------- ChainedScheduler
namespace {
Optimizer& first_optimizer(const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
  RAVEL_CHECK(!schedulers.empty() && schedulers[0],
              "ChainedScheduler: needs at least one scheduler");
  return schedulers[0]->optimizer();
}
}  // namespace

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : LRScheduler(first_optimizer(schedulers), "ChainedScheduler"),
      schedulers_(std::move(schedulers)) {
  for (size_t i = 0; i < schedulers_.size(); ++i)
    RAVEL_CHECK(schedulers_[i] && &schedulers_[i]->optimizer() == opt_,
                "ChainedScheduler: scheduler ", i,
                " belongs to another optimizer than scheduler 0 (or is null)");
  last_lr_ = group_lrs();
}

void ChainedScheduler::step() {
  for (auto& s : schedulers_) s->step();
  last_lr_ = group_lrs();
}

StateDict ChainedScheduler::state_dict() const {
  StateDict out;
  save_into(out, "");
  for (size_t i = 0; i < schedulers_.size(); ++i)
    schedulers_[i]->save_into(out, "schedulers." + std::to_string(i) + ".");
  return out;
}

void ChainedScheduler::load_state_dict(const StateDict& dict) {
  check_known(dict, state_dict(), name_);
  load_from(dict, "", false);
  for (size_t i = 0; i < schedulers_.size(); ++i)
    schedulers_[i]->load_from(dict, "schedulers." + std::to_string(i) + ".", false);
}

// ---------------------------------------------------------------- ReduceLROnPlateau
ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, const ReduceLROnPlateauOptions& options)
    : opt_(&opt), o_(options) {
  const char* who = "ReduceLROnPlateau";
  RAVEL_CHECK(o_.factor < 1.0, who, ": factor must be < 1, got ", o_.factor);
  RAVEL_CHECK(o_.mode == "min" || o_.mode == "max", who, ": mode must be 'min' or 'max', got '",
              o_.mode, "'");
  RAVEL_CHECK(o_.threshold_mode == "rel" || o_.threshold_mode == "abs", who,
              ": threshold_mode must be 'rel' or 'abs', got '", o_.threshold_mode, "'");
  const size_t n = opt.num_param_groups();
  if (o_.min_lrs.empty()) {
    min_lrs_.assign(n, o_.min_lr);
  } else {
    RAVEL_CHECK(o_.min_lrs.size() == n, who, ": expected ", n, " min_lrs (one per group), got ",
                o_.min_lrs.size());
    min_lrs_ = o_.min_lrs;
  }
  best_ = o_.mode == "min" ? INFINITY : -INFINITY;
  for (size_t g = 0; g < n; ++g) last_lr_.push_back(opt.lr(g));
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool min = o_.mode == "min", rel = o_.threshold_mode == "rel";
  if (min && rel) return a < best * (1. - o_.threshold);
  if (min) return a < best - o_.threshold;
  if (rel) return a > best * (o_.threshold + 1.);
  return a > best + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > o_.patience) {
    for (size_t g = 0; g < opt_->num_param_groups(); ++g) {
      const double old_lr = opt_->lr(g);
      const double new_lr = std::max(old_lr * o_.factor, min_lrs_[g]);
      if (old_lr - new_lr > o_.eps) opt_->set_lr(g, new_lr);
    }
    cooldown_counter_ = o_.cooldown;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (size_t g = 0; g < opt_->num_param_groups(); ++g) last_lr_.push_back(opt_->lr(g));
}

StateDict ReduceLROnPlateau::state_dict() const {
  return {{"best", s64(best_)},
          {"num_bad_epochs", s64(static_cast<double>(num_bad_epochs_))},
          {"cooldown_counter", s64(static_cast<double>(cooldown_counter_))},
          {"last_epoch", s64(static_cast<double>(last_epoch_))},
          {"last_lr", vec64(last_lr_)}};
}

void ReduceLROnPlateau::load_state_dict(const StateDict& dict) {
  const char* who = "ReduceLROnPlateau";
  check_known(dict, state_dict(), who);
  const double best = scalar_of(dict, "best", who);
  const double bad = scalar_of(dict, "num_bad_epochs", who);
  const double cooldown = scalar_of(dict, "cooldown_counter", who);
  const double epoch = scalar_of(dict, "last_epoch", who);
  auto last = vector_of(dict, "last_lr", opt_->num_param_groups(), who);
  best_ = best;
  num_bad_epochs_ = static_cast<int64_t>(bad);
  cooldown_counter_ = static_cast<int64_t>(cooldown);
  last_epoch_ = static_cast<int64_t>(epoch);
  last_lr_ = std::move(last);
}

}  // namespace ravel::optim
