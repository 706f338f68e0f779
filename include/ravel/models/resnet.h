// Residual networks (He et al. 2015/2016): ImageNet-style ResNet-18/34/50/101/152 with
// torchvision's layout and parameter names (so torchvision weights map one to one), and the
// CIFAR-style ResNet-20/32/44/56/110 of "Deep Residual Learning", section 4.2.
//
//   auto net = models::resnet20({.num_classes = 10, .in_channels = 1});   // Fashion-MNIST
//   Tensor logits = (*net)(images);                                       // [N, 10]
//   auto r50 = models::resnet50();                                        // 1000 classes
//   r50->load_state_dict(torchvision_state_dict);                         // same names
//
// Blocks are ordinary nn::Modules usable on their own. Parameter counts equal torchvision's
// (resnet18: 11,689,512; resnet50: 25,557,032) and the paper's (resnet20: 0.27M: 269,722 with
// the option A shortcut, 272,474 with option B, at 10 classes and 3 input channels).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ravel/nn/container.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/pool.h"

namespace ravel::models {

// ---- blocks ------------------------------------------------------------------------------
// Every block maps [N, in_planes, H, W] to [N, planes * expansion, H / stride, W / stride].
// The shortcut is the identity when shapes agree, else `downsample` (a projection:
// 1x1 conv + BN, torchvision's "downsample" child), or, for the CIFAR option A, a parameter-free
// subsample + zero channel padding.
enum class Shortcut {
  Projection,  // 1x1 conv (stride s) + BN where shapes change (option B)
  ZeroPad,     // x[:, :, ::s, ::s] padded with zero channels on both sides (option A; CIFAR)
};

struct BlockOptions {
  int64_t stride = 1;
  Shortcut shortcut = Shortcut::Projection;
  int64_t groups = 1, base_width = 64;  // Bottleneck width = planes * base_width / 64 * groups
};

// What every residual block shares: the shortcut and the input check.
class ResidualBlock : public nn::Module {
 public:
  // The BN whose weight zero_init_residual zeroes, so the residual branch starts at 0.
  virtual std::shared_ptr<nn::BatchNorm2d> last_bn() const = 0;
  int64_t in_planes() const { return in_planes_; }
  int64_t out_planes() const { return out_planes_; }

  std::shared_ptr<nn::Sequential> downsample;  // the projection; null for the other shortcuts

 protected:
  // Called last by each block's constructor, so "downsample" follows the branch's children
  // (torchvision's order).
  void init_shortcut(int64_t in_planes, int64_t out_planes, const BlockOptions& o);
  Tensor shortcut(const Tensor& x);  // identity, projection, or subsample + zero pad
  bool shortcut_is_identity() const { return !downsample && stride_ == 1 && pad_channels_ == 0; }
  void check_input(const Tensor& x) const;  // [N, in_planes, H, W], else an Error naming the block

 private:
  int64_t in_planes_ = 0, out_planes_ = 0;
  int64_t pad_channels_ = 0, stride_ = 1;  // ZeroPad shortcut
};

// conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU. Children: conv1 bn1 conv2 bn2 [downsample].
class BasicBlock : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const override { return bn2; }

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
};

// 1x1-BN-ReLU-3x3(stride)-BN-ReLU-1x1-BN, + shortcut, ReLU (torchvision's ResNet v1.5: the
// stride is on the 3x3). Children: conv1 bn1 conv2 bn2 conv3 bn3 [downsample].
class Bottleneck : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const override { return bn3; }

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
};

// Pre-activation (He et al. 2016, "Identity Mappings"): BN-ReLU-conv-BN-ReLU-conv, + shortcut,
// no ReLU after the add. A shortcut that is not the identity (projection or ZeroPad) takes the
// pre-activated input, as fb.resnet.torch's "both_preact" blocks.
// Children: bn1 conv1 bn2 conv2 [downsample] (Bottleneck: ... bn3 conv3).
class PreActBasicBlock : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 1;
  PreActBasicBlock(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PreActBasicBlock"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const override { return bn2; }

  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Conv2d> conv1, conv2;
};

class PreActBottleneck : public ResidualBlock {
 public:
  static constexpr int64_t expansion = 4;
  PreActBottleneck(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PreActBottleneck"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const override { return bn3; }

  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
};

enum class BlockKind { Basic, Bottleneck, PreActBasic, PreActBottleneck };

// ---- networks ----------------------------------------------------------------------------
struct ResNetOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  // Zero-initialise the last BN of each residual branch, so every block starts as the identity
  // (torchvision's zero_init_residual; "Bag of Tricks" reports it helps).
  bool zero_init_residual = false;
  int64_t width = 64;                        // channels of the stem and layer1 (ImageNet style)
  int64_t groups = 1, width_per_group = 64;  // ResNeXt / wide variants (torchvision)
  // CIFAR style only: channels of the first stage (16 in the paper; 2x/4x for wider nets) and the
  // shortcut kind (the paper's option A: ZeroPad).
  int64_t cifar_width = 16;
  Shortcut cifar_shortcut = Shortcut::ZeroPad;
  bool pre_activation = false;  // CIFAR style: PreAct blocks (+ final BN-ReLU)
};

// torchvision.models.ResNet: conv1(7x7, s2) bn1 relu maxpool(3, s2) layer1..layer4 avgpool fc.
// Weights initialised as torchvision does (kaiming_normal fan_out for convs, BN 1/0, fc as
// nn.Linear). Pre-activation block kinds add "bn_final" (BN-ReLU) after layer4.
class ResNet : public nn::Module {
 public:
  ResNet(BlockKind block, std::vector<int64_t> layers, ResNetOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> maxpool;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::BatchNorm2d> bn_final;  // pre-activation blocks only
  std::shared_ptr<nn::AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<nn::Linear> fc;
};

// CIFAR ResNet (depth = 6n + 2): conv1(3x3, 16) bn1 relu, layer1..layer3 of n blocks at 16, 32,
// 64 channels (strides 1, 2, 2), global average pool, fc. Pre-activation has no bn1 and adds a
// final BN-ReLU ("bn_final") before the pool. Works for any input size (28x28 Fashion-MNIST
// included). Weights as akamaster/pytorch_resnet_cifar10: kaiming_normal (fan_in) for the convs
// and the fc weight, BN 1/0, fc bias as nn.Linear.
class CifarResNet : public nn::Module {
 public:
  CifarResNet(int64_t depth, ResNetOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "CifarResNet"; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;  // null for pre-activation
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3;
  std::shared_ptr<nn::BatchNorm2d> bn_final;  // pre-activation only
  std::shared_ptr<nn::Linear> fc;
};

std::shared_ptr<ResNet> resnet18(ResNetOptions options = {});
std::shared_ptr<ResNet> resnet34(ResNetOptions options = {});
std::shared_ptr<ResNet> resnet50(ResNetOptions options = {});
std::shared_ptr<ResNet> resnet101(ResNetOptions options = {});
std::shared_ptr<ResNet> resnet152(ResNetOptions options = {});

// CIFAR-style defaults: num_classes 10, in_channels 3 unless given.
std::shared_ptr<CifarResNet> resnet20(ResNetOptions options = {.num_classes = 10});
std::shared_ptr<CifarResNet> resnet32(ResNetOptions options = {.num_classes = 10});
std::shared_ptr<CifarResNet> resnet44(ResNetOptions options = {.num_classes = 10});
std::shared_ptr<CifarResNet> resnet56(ResNetOptions options = {.num_classes = 10});
std::shared_ptr<CifarResNet> resnet110(ResNetOptions options = {.num_classes = 10});

}  // namespace ravel::models
