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
// (resnet18: 11,689,512; resnet50: 25,557,032) and the paper's (resnet20: 0.27M).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ravel/nn/conv.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/pool.h"
#include "ravel/nn/container.h"

namespace ravel::models {

// ---- blocks ------------------------------------------------------------------------------
// Every block maps [N, in_planes, H, W] to [N, planes * expansion, H / stride, W / stride].
// The shortcut is the identity when shapes agree, else `downsample` (a projection:
// 1x1 conv + BN, torchvision's "downsample" child), or, for the CIFAR option A, a parameter-free
// subsample + zero channel padding.
enum class Shortcut {
  Projection,  // 1x1 conv (stride s) + BN where shapes change (option B)
  ZeroPad,     // x[:, :, ::s, ::s] padded with zero channels (option A; CIFAR ResNets)
};

struct BlockOptions {
  int64_t stride = 1;
  Shortcut shortcut = Shortcut::Projection;
  int64_t groups = 1, base_width = 64;  // Bottleneck width = planes * base_width / 64 * groups
};

// conv3x3-BN-ReLU-conv3x3-BN, + shortcut, ReLU. Children: conv1 bn1 conv2 bn2 [downsample].
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlock(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BasicBlock"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const { return bn2; }  // zero-init-residual target

  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Sequential> downsample;  // null when not a projection
 private:
  int64_t pad_channels_ = 0, stride_ = 1;      // ZeroPad shortcut
};

// 1x1-BN-ReLU-3x3(stride)-BN-ReLU-1x1-BN, + shortcut, ReLU (torchvision's ResNet v1.5: the
// stride is on the 3x3). Children: conv1 bn1 conv2 bn2 conv3 bn3 [downsample].
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  Bottleneck(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Bottleneck"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const { return bn3; }

  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Sequential> downsample;
 private:
  int64_t pad_channels_ = 0, stride_ = 1;
};

// Pre-activation (He et al. 2016, "Identity Mappings"): BN-ReLU-conv-BN-ReLU-conv, + shortcut,
// no ReLU after the add. A projection shortcut takes the pre-activated input.
// Children: bn1 conv1 bn2 conv2 [downsample] (Bottleneck: ... bn3 conv3).
class PreActBasicBlock : public nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  PreActBasicBlock(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PreActBasicBlock"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const { return bn2; }

  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::Sequential> downsample;
 private:
  int64_t pad_channels_ = 0, stride_ = 1;
};

class PreActBottleneck : public nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  PreActBottleneck(int64_t in_planes, int64_t planes, BlockOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "PreActBottleneck"; }
  std::shared_ptr<nn::BatchNorm2d> last_bn() const { return bn3; }

  std::shared_ptr<nn::BatchNorm2d> bn1, bn2, bn3;
  std::shared_ptr<nn::Conv2d> conv1, conv2, conv3;
  std::shared_ptr<nn::Sequential> downsample;
 private:
  int64_t pad_channels_ = 0, stride_ = 1;
};

enum class BlockKind { Basic, Bottleneck, PreActBasic, PreActBottleneck };

// ---- networks ----------------------------------------------------------------------------
struct ResNetOptions {
  int64_t num_classes = 1000;
  int64_t in_channels = 3;
  // Zero-initialise the last BN of each residual branch, so every block starts as the identity
  // (torchvision's zero_init_residual; "Bag of Tricks" reports it helps).
  bool zero_init_residual = false;
  int64_t width = 64;   // channels of the stem and layer1 (ImageNet style)
  int64_t groups = 1, width_per_group = 64;  // ResNeXt / wide variants (torchvision)
  // CIFAR style only: channels of the first stage (16 in the paper; 2x/4x for wider nets) and the
  // shortcut kind (the paper's option A: ZeroPad).
  int64_t cifar_width = 16;
  Shortcut cifar_shortcut = Shortcut::ZeroPad;
  bool pre_activation = false;  // CIFAR style: PreAct blocks (+ final BN-ReLU)
};

// torchvision.models.ResNet: conv1(7x7, s2) bn1 relu maxpool(3, s2) layer1..layer4 avgpool fc.
// Weights initialised as torchvision does (kaiming_normal fan_out for convs, BN 1/0).
class ResNet : public nn::Module {
 public:
  ResNet(BlockKind block, std::vector<int64_t> layers, ResNetOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResNet"; }

  std::shared_ptr<nn::Conv2d> conv1;
  std::shared_ptr<nn::BatchNorm2d> bn1;
  std::shared_ptr<nn::MaxPool2d> maxpool;
  std::shared_ptr<nn::Sequential> layer1, layer2, layer3, layer4;
  std::shared_ptr<nn::Linear> fc;
};

// CIFAR ResNet (depth = 6n + 2): conv1(3x3, 16) bn1 relu, layer1..layer3 of n blocks at 16, 32,
// 64 channels (strides 1, 2, 2), global average pool, fc. Pre-activation adds a final bn
// ("bn_final") before the pool. Works for any input size (28x28 Fashion-MNIST included).
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

 private:
  bool pre_activation_ = false;
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
