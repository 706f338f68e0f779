// Normalisation layers over the functional ops of ravel/nn/functional/norm.h; the running
// statistics logic (momentum, cumulative average, num_batches_tracked) follows PyTorch's
// _BatchNorm and _InstanceNorm.
#include "ravel/nn/norm.h"

#include "ravel/nn/functional/norm.h"
#include "ravel/nn/init.h"

namespace ravel::nn {

namespace F = functional;

NormBase::NormBase(std::string name, int64_t num_features, double eps,
                   std::optional<double> momentum, bool affine, bool track_running_stats)
    : num_features(num_features),
      eps(eps),
      momentum(momentum),
      affine(affine),
      track_running_stats(track_running_stats),
      name_(std::move(name)) {
  RAVEL_CHECK(num_features > 0, name_, ": num_features must be positive, got ", num_features);
  if (affine) {
    weight = register_parameter("weight", empty({num_features}));
    bias = register_parameter("bias", empty({num_features}));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}));
    running_var = register_buffer("running_var", ones({num_features}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::Int64));
  }
  reset_parameters();
}

void NormBase::reset_running_stats() {
  if (!track_running_stats) return;
  init::zeros_(running_mean);
  init::ones_(running_var);
  init::zeros_(num_batches_tracked);
}

void NormBase::reset_parameters() {
  reset_running_stats();
  if (affine) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

std::string NormBase::extra_repr() const {
  return std::to_string(num_features) + ", eps=" + repr_float(eps) +
         ", momentum=" + (momentum ? repr_float(*momentum) : std::string("None")) +
         ", affine=" + repr_bool(affine) +
         ", track_running_stats=" + repr_bool(track_running_stats);
}

void NormBase::check_input(const Tensor& x, std::initializer_list<int64_t> ranks,
                           int64_t channel_axis, bool check_channels) const {
  bool ok = false;
  for (int64_t r : ranks) ok = ok || x.ndim() == r;
  if (!ok) {
    std::string want;
    for (int64_t r : ranks) want += (want.empty() ? "" : " or ") + std::to_string(r) + "-D";
    detail::throw_error(name_, ": expected a ", want, " input, got shape ", x.shape());
  }
  RAVEL_CHECK(!check_channels || x.size(channel_axis) == num_features, name_, ": expected ",
              num_features, " channels on axis ", channel_axis, ", got input of shape ", x.shape());
}

// ---------------------------------------------------------------- batch norm
BatchNormNd::BatchNormNd(int64_t dims, int64_t num_features, const BatchNormOptions& o)
    : NormBase("BatchNorm" + std::to_string(dims) + "d", num_features, o.eps, o.momentum, o.affine,
               o.track_running_stats),
      dims_(dims) {}

Tensor BatchNormNd::forward(const Tensor& x) {
  if (dims_ == 1)
    check_input(x, {2, 3}, 1, true);
  else
    check_input(x, {dims_ + 2}, 1, true);
  double factor = momentum.value_or(0.0);
  if (training_ && track_running_stats) {
    num_batches_tracked.add_(1);
    if (!momentum) factor = 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  // Batch statistics in training, and always when no running statistics are kept.
  const bool use_batch_stats = training_ || !running_mean.defined();
  return F::batch_norm(x, running_mean, running_var, weight, bias, use_batch_stats, factor, eps);
}

// ---------------------------------------------------------------- instance norm
InstanceNormNd::InstanceNormNd(int64_t dims, int64_t num_features, const InstanceNormOptions& o)
    : NormBase("InstanceNorm" + std::to_string(dims) + "d", num_features, o.eps, o.momentum,
               o.affine, o.track_running_stats),
      dims_(dims) {}

Tensor InstanceNormNd::forward(const Tensor& x) {
  const bool unbatched = x.ndim() == dims_ + 1;
  // Like PyTorch, a channel count that differs from num_features is only an error when
  // parameters or statistics depend on it.
  check_input(x, {dims_ + 1, dims_ + 2}, unbatched ? 0 : 1, affine || track_running_stats);
  Tensor in = unbatched ? x.unsqueeze(0) : x;
  Tensor y = F::instance_norm(in, running_mean, running_var, weight, bias,
                              training_ || !track_running_stats, momentum.value_or(0.1), eps);
  return unbatched ? y.squeeze(0) : y;
}

// ---------------------------------------------------------------- layer norm
LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, const LayerNormOptions& o)
    : normalized_shape(std::move(normalized_shape)),
      eps(o.eps),
      elementwise_affine(o.elementwise_affine) {
  Shape shape(this->normalized_shape.begin(), this->normalized_shape.end());
  if (elementwise_affine) {
    weight = register_parameter("weight", empty(shape));
    if (o.bias) bias = register_parameter("bias", empty(shape));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& x) {
  return F::layer_norm(x, Shape(normalized_shape.begin(), normalized_shape.end()), weight, bias,
                       eps);
}

std::string LayerNorm::extra_repr() const {
  return repr_tuple(normalized_shape) + ", eps=" + repr_float(eps) +
         ", elementwise_affine=" + repr_bool(elementwise_affine);
}

// ---------------------------------------------------------------- group norm
GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, const GroupNormOptions& o)
    : num_groups(num_groups), num_channels(num_channels), eps(o.eps), affine(o.affine) {
  RAVEL_CHECK(num_groups > 0 && num_channels % num_groups == 0, "GroupNorm: num_channels (",
              num_channels, ") must be divisible by num_groups (", num_groups, ")");
  if (affine) {
    weight = register_parameter("weight", empty({num_channels}));
    bias = register_parameter("bias", empty({num_channels}));
  }
  reset_parameters();
}

void GroupNorm::reset_parameters() {
  if (!affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor GroupNorm::forward(const Tensor& x) {
  return F::group_norm(x, num_groups, weight, bias, eps);
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(num_groups) + ", " + std::to_string(num_channels) +
         ", eps=" + repr_float(eps) + ", affine=" + repr_bool(affine);
}

}  // namespace ravel::nn
