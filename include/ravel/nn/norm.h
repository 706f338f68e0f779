// Normalisation layers (torch.nn.BatchNorm1d/2d/3d, InstanceNorm1d/2d, LayerNorm, GroupNorm).
//
//   nn::BatchNorm2d bn(16);                          // weight/bias [16], running stats buffers
//   Tensor y = bn(x);                                // training: batch stats, updates running
//   bn.eval();  y = bn(x);                           // eval: running_mean / running_var
//   nn::BatchNorm1d cumulative(8, {.momentum = std::nullopt});   // cumulative moving average
//   nn::LayerNorm ln(64);                            // over the last axis
//   nn::LayerNorm ln2({8, 64}, {.eps = 1e-6, .bias = false});
//   nn::GroupNorm gn(4, 16);                         // 4 groups of 4 channels
//   nn::InstanceNorm2d in(16, {.affine = true});
//
// Buffers as PyTorch: running_mean (zeros), running_var (ones), num_batches_tracked (int64 0);
// weight ones, bias zeros. momentum nullopt uses the cumulative average 1 / num_batches_tracked.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "ravel/nn/module.h"

namespace ravel::nn {

struct BatchNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = true;
  bool track_running_stats = true;
};
struct InstanceNormOptions {
  double eps = 1e-5;
  std::optional<double> momentum = 0.1;
  bool affine = false;
  bool track_running_stats = false;
};

// The shared part of batch and instance norm (PyTorch's _NormBase).
class NormBase : public Module {
 public:
  void reset_running_stats();
  void reset_parameters();
  std::string type_name() const override { return name_; }
  std::string extra_repr() const override;

  int64_t num_features;
  double eps;
  std::optional<double> momentum;
  bool affine, track_running_stats;
  Tensor weight, bias;                                    // [C] when affine
  Tensor running_mean, running_var, num_batches_tracked;  // when track_running_stats

 protected:
  NormBase(std::string name, int64_t num_features, double eps, std::optional<double> momentum,
           bool affine, bool track_running_stats);
  // Throws unless x has one of `ranks` dimensions (e.g. {2, 3} for BatchNorm1d) and, when
  // check_channels, num_features entries on channel_axis.
  void check_input(const Tensor& x, std::initializer_list<int64_t> ranks, int64_t channel_axis,
                   bool check_channels) const;

 private:
  std::string name_;
};

class BatchNormNd : public NormBase {
 public:
  BatchNormNd(int64_t dims, int64_t num_features, const BatchNormOptions& o);
  Tensor forward(const Tensor& x) override;

 private:
  int64_t dims_;
};
class BatchNorm1d : public BatchNormNd {  // input [N, C] or [N, C, L]
 public:
  explicit BatchNorm1d(int64_t num_features, const BatchNormOptions& o = {})
      : BatchNormNd(1, num_features, o) {}
};
class BatchNorm2d : public BatchNormNd {  // input [N, C, H, W]
 public:
  explicit BatchNorm2d(int64_t num_features, const BatchNormOptions& o = {})
      : BatchNormNd(2, num_features, o) {}
};
class BatchNorm3d : public BatchNormNd {  // input [N, C, D, H, W]
 public:
  explicit BatchNorm3d(int64_t num_features, const BatchNormOptions& o = {})
      : BatchNormNd(3, num_features, o) {}
};

class InstanceNormNd : public NormBase {
 public:
  InstanceNormNd(int64_t dims, int64_t num_features, const InstanceNormOptions& o);
  Tensor forward(const Tensor& x) override;

 private:
  int64_t dims_;
};
class InstanceNorm1d : public InstanceNormNd {  // input [N, C, L] or [C, L]
 public:
  explicit InstanceNorm1d(int64_t num_features, const InstanceNormOptions& o = {})
      : InstanceNormNd(1, num_features, o) {}
};
class InstanceNorm2d : public InstanceNormNd {  // input [N, C, H, W] or [C, H, W]
 public:
  explicit InstanceNorm2d(int64_t num_features, const InstanceNormOptions& o = {})
      : InstanceNormNd(2, num_features, o) {}
};

struct LayerNormOptions {
  double eps = 1e-5;
  bool elementwise_affine = true;
  bool bias = true;
};
// Normalises over the trailing dimensions normalized_shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(std::vector<int64_t> normalized_shape, const LayerNormOptions& o = {});
  explicit LayerNorm(int64_t normalized_size, const LayerNormOptions& o = {})
      : LayerNorm(std::vector<int64_t>{normalized_size}, o) {}
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;
  std::vector<int64_t> normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;  // normalized_shape, when elementwise_affine (bias also needs bias)
};

struct GroupNormOptions {
  double eps = 1e-5;
  bool affine = true;
};
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, const GroupNormOptions& o = {});
  Tensor forward(const Tensor& x) override;
  void reset_parameters();
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  int64_t num_groups, num_channels;
  double eps;
  bool affine;
  Tensor weight, bias;  // [num_channels] when affine
};

}  // namespace ravel::nn
