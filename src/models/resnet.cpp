// Residual blocks and networks (torchvision's ResNet, the CIFAR ResNets of He et al. 2015 and
// the pre-activation variants of He et al. 2016).
#include "ravel/models/resnet.h"

#include <utility>

#include "ravel/nn/functional/activation.h"
#include "ravel/nn/init.h"
#include "ravel/ops.h"

namespace ravel::models {

namespace F = nn::functional;

namespace {

std::shared_ptr<nn::Conv2d> conv3x3(int64_t in, int64_t out, int64_t stride = 1,
                                    int64_t groups = 1) {
  return std::make_shared<nn::Conv2d>(
      in, out, 3,
      nn::Conv2dOptions{.stride = stride, .padding = 1, .groups = groups, .bias = false});
}

std::shared_ptr<nn::Conv2d> conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return std::make_shared<nn::Conv2d>(in, out, 1,
                                      nn::Conv2dOptions{.stride = stride, .bias = false});
}

std::shared_ptr<nn::BatchNorm2d> bn(int64_t channels) {
  return std::make_shared<nn::BatchNorm2d>(channels);
}

// The branch output plus the shortcut, written into the branch's own buffer (it is not saved
// for any backward), so a block allocates no extra tensor for the sum.
Tensor add_shortcut(Tensor branch, const Tensor& shortcut) {
  branch.add_(shortcut);
  return branch;
}

}  // namespace

// ---------------------------------------------------------------- shortcut
void ResidualBlock::init_shortcut(int64_t in_planes, int64_t out_planes, const BlockOptions& o) {
  RAVEL_CHECK(o.stride >= 1, type_name(), ": stride must be positive, got ", o.stride);
  in_planes_ = in_planes;
  out_planes_ = out_planes;
  stride_ = o.stride;
  if (o.stride == 1 && in_planes == out_planes) return;  // identity
  if (o.shortcut == Shortcut::Projection) {
    downsample = register_module(
        "downsample",
        std::make_shared<nn::Sequential>(conv1x1(in_planes, out_planes, o.stride), bn(out_planes)));
    return;
  }
  RAVEL_CHECK(out_planes >= in_planes, type_name(), ": a ZeroPad shortcut cannot go from ",
              in_planes, " to ", out_planes, " channels; expected out >= in (use Projection)");
  pad_channels_ = out_planes - in_planes;
}

Tensor ResidualBlock::shortcut(const Tensor& x) {
  if (downsample) return (*downsample)(x);
  if (stride_ == 1 && pad_channels_ == 0) return x;
  // One strided view (one autograd node) and one pad (the only copy).
  Tensor sub =
      stride_ == 1
          ? x
          : x.index({Slice(), Slice(), Slice(None, None, stride_), Slice(None, None, stride_)});
  const int64_t before = pad_channels_ / 2;
  return pad(sub, {{0, 0}, {before, pad_channels_ - before}, {0, 0}, {0, 0}});
}

void ResidualBlock::check_input(const Tensor& x) const {
  RAVEL_CHECK(x.ndim() == 4 && x.size(1) == in_planes_, type_name(), ": expected an input [N, ",
              in_planes_, ", H, W], got shape ", x.shape());
}

// ---------------------------------------------------------------- blocks
BasicBlock::BasicBlock(int64_t in_planes, int64_t planes, BlockOptions o) {
  RAVEL_CHECK(o.groups == 1 && o.base_width == 64,
              "BasicBlock: only supports groups=1 and base_width=64, got groups=", o.groups,
              ", base_width=", o.base_width);
  conv1 = register_module("conv1", conv3x3(in_planes, planes, o.stride));
  bn1 = register_module("bn1", bn(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes));
  bn2 = register_module("bn2", bn(planes));
  init_shortcut(in_planes, planes * expansion, o);
}

Tensor BasicBlock::forward(const Tensor& x) {
  check_input(x);
  Tensor out = F::relu((*bn1)((*conv1)(x)));
  out = (*bn2)((*conv2)(out));
  return F::relu(add_shortcut(out, shortcut(x)));
}

namespace {
int64_t bottleneck_width(int64_t planes, const BlockOptions& o, const char* name) {
  RAVEL_CHECK(o.groups > 0 && o.base_width > 0, name,
              ": groups and base_width must be positive, got groups=", o.groups,
              ", base_width=", o.base_width);
  return planes * o.base_width / 64 * o.groups;  // int(planes * (base_width / 64.)) * groups
}
}  // namespace

Bottleneck::Bottleneck(int64_t in_planes, int64_t planes, BlockOptions o) {
  const int64_t width = bottleneck_width(planes, o, "Bottleneck");
  conv1 = register_module("conv1", conv1x1(in_planes, width));
  bn1 = register_module("bn1", bn(width));
  conv2 = register_module("conv2", conv3x3(width, width, o.stride, o.groups));
  bn2 = register_module("bn2", bn(width));
  conv3 = register_module("conv3", conv1x1(width, planes * expansion));
  bn3 = register_module("bn3", bn(planes * expansion));
  init_shortcut(in_planes, planes * expansion, o);
}

Tensor Bottleneck::forward(const Tensor& x) {
  check_input(x);
  Tensor out = F::relu((*bn1)((*conv1)(x)));
  out = F::relu((*bn2)((*conv2)(out)));
  out = (*bn3)((*conv3)(out));
  return F::relu(add_shortcut(out, shortcut(x)));
}

PreActBasicBlock::PreActBasicBlock(int64_t in_planes, int64_t planes, BlockOptions o) {
  RAVEL_CHECK(o.groups == 1 && o.base_width == 64,
              "PreActBasicBlock: only supports groups=1 and base_width=64, got groups=", o.groups,
              ", base_width=", o.base_width);
  bn1 = register_module("bn1", bn(in_planes));
  conv1 = register_module("conv1", conv3x3(in_planes, planes, o.stride));
  bn2 = register_module("bn2", bn(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes));
  init_shortcut(in_planes, planes * expansion, o);
}

Tensor PreActBasicBlock::forward(const Tensor& x) {
  check_input(x);
  Tensor pre = F::relu((*bn1)(x));
  Tensor out = (*conv1)(pre);
  out = (*conv2)(F::relu((*bn2)(out)));
  return add_shortcut(out, shortcut(shortcut_is_identity() ? x : pre));
}

PreActBottleneck::PreActBottleneck(int64_t in_planes, int64_t planes, BlockOptions o) {
  const int64_t width = bottleneck_width(planes, o, "PreActBottleneck");
  bn1 = register_module("bn1", bn(in_planes));
  conv1 = register_module("conv1", conv1x1(in_planes, width));
  bn2 = register_module("bn2", bn(width));
  conv2 = register_module("conv2", conv3x3(width, width, o.stride, o.groups));
  bn3 = register_module("bn3", bn(width));
  conv3 = register_module("conv3", conv1x1(width, planes * expansion));
  init_shortcut(in_planes, planes * expansion, o);
}

Tensor PreActBottleneck::forward(const Tensor& x) {
  check_input(x);
  Tensor pre = F::relu((*bn1)(x));
  Tensor out = (*conv1)(pre);
  out = (*conv2)(F::relu((*bn2)(out)));
  out = (*conv3)(F::relu((*bn3)(out)));
  return add_shortcut(out, shortcut(shortcut_is_identity() ? x : pre));
}

// ---------------------------------------------------------------- networks
namespace {

bool is_pre_activation(BlockKind kind) {
  return kind == BlockKind::PreActBasic || kind == BlockKind::PreActBottleneck;
}

int64_t expansion_of(BlockKind kind) {
  return kind == BlockKind::Bottleneck || kind == BlockKind::PreActBottleneck ? 4 : 1;
}

std::shared_ptr<ResidualBlock> make_block(BlockKind kind, int64_t in, int64_t planes,
                                          const BlockOptions& o) {
  switch (kind) {
    case BlockKind::Basic:
      return std::make_shared<BasicBlock>(in, planes, o);
    case BlockKind::Bottleneck:
      return std::make_shared<Bottleneck>(in, planes, o);
    case BlockKind::PreActBasic:
      return std::make_shared<PreActBasicBlock>(in, planes, o);
    case BlockKind::PreActBottleneck:
      return std::make_shared<PreActBottleneck>(in, planes, o);
  }
  throw Error("make_block: unknown BlockKind");
}

// torchvision's _make_layer: the first block changes stride and channels, the rest keep them.
// `in_planes` is updated to the stage's output channels.
std::shared_ptr<nn::Sequential> make_stage(BlockKind kind, int64_t& in_planes, int64_t planes,
                                           int64_t blocks, BlockOptions o) {
  auto stage = std::make_shared<nn::Sequential>();
  for (int64_t i = 0; i < blocks; ++i) {
    stage->push_back(make_block(kind, in_planes, planes, o));
    in_planes = planes * expansion_of(kind);
    o.stride = 1;
  }
  return stage;
}

// BN weight 1, bias 0 (already so from BatchNorm2d's constructor); the last BN of each residual
// branch 0 with zero_init_residual.
void zero_init_residual(nn::Module& net) {
  for (auto& [name, m] : net.named_modules())
    if (auto block = std::dynamic_pointer_cast<ResidualBlock>(m))
      nn::init::zeros_(block->last_bn()->weight);
}

void check_classes_and_channels(const ResNetOptions& o, const char* name) {
  RAVEL_CHECK(o.num_classes > 0 && o.in_channels > 0, name,
              ": num_classes and in_channels must be positive, got ", o.num_classes, " and ",
              o.in_channels);
}

void check_image_input(const Tensor& x, int64_t channels, const char* name) {
  RAVEL_CHECK(x.ndim() == 4 && x.size(1) == channels, name, ": conv1 expects an input [N, ",
              channels, ", H, W], got shape ", x.shape());
}

}  // namespace

ResNet::ResNet(BlockKind block, std::vector<int64_t> layers, ResNetOptions o) {
  check_classes_and_channels(o, "ResNet");
  RAVEL_CHECK(layers.size() == 4, "ResNet: expected 4 stage sizes, got ", layers.size());
  for (int64_t n : layers) RAVEL_CHECK(n > 0, "ResNet: stage sizes must be positive, got ", n);
  RAVEL_CHECK(o.width > 0, "ResNet: width must be positive, got ", o.width);
  const int64_t w = o.width;
  conv1 = register_module(
      "conv1",
      std::make_shared<nn::Conv2d>(o.in_channels, w, 7,
                                   nn::Conv2dOptions{.stride = 2, .padding = 3, .bias = false}));
  bn1 = register_module("bn1", bn(w));
  maxpool = register_module(
      "maxpool", std::make_shared<nn::MaxPool2d>(3, nn::MaxPoolOptions{.stride = 2, .padding = 1}));
  BlockOptions bo{.groups = o.groups, .base_width = o.width_per_group};
  int64_t in = w;
  layer1 = register_module("layer1", make_stage(block, in, w, layers[0], bo));
  bo.stride = 2;
  layer2 = register_module("layer2", make_stage(block, in, 2 * w, layers[1], bo));
  layer3 = register_module("layer3", make_stage(block, in, 4 * w, layers[2], bo));
  layer4 = register_module("layer4", make_stage(block, in, 8 * w, layers[3], bo));
  if (is_pre_activation(block)) bn_final = register_module("bn_final", bn(in));
  avgpool = register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(1));
  fc = register_module("fc", std::make_shared<nn::Linear>(in, o.num_classes));

  for (auto& [name, m] : named_modules())
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2d>(m))
      nn::init::kaiming_normal_(conv->weight, 0, "fan_out", "relu");
  if (o.zero_init_residual) zero_init_residual(*this);
}

Tensor ResNet::forward(const Tensor& x) {
  check_image_input(x, conv1->in_channels, "ResNet");
  Tensor y = (*maxpool)(F::relu((*bn1)((*conv1)(x))));
  y = (*layer4)((*layer3)((*layer2)((*layer1)(y))));
  if (bn_final) y = F::relu((*bn_final)(y));
  return (*fc)((*avgpool)(y).flatten(1));
}

CifarResNet::CifarResNet(int64_t depth, ResNetOptions o) {
  check_classes_and_channels(o, "CifarResNet");
  RAVEL_CHECK(depth >= 8 && (depth - 2) % 6 == 0, "CifarResNet: depth ", depth,
              " is not 6n + 2 (20, 32, 44, 56, 110, ...)");
  RAVEL_CHECK(o.cifar_width > 0, "CifarResNet: cifar_width must be positive, got ", o.cifar_width);
  const int64_t n = (depth - 2) / 6, w = o.cifar_width;
  const BlockKind kind = o.pre_activation ? BlockKind::PreActBasic : BlockKind::Basic;
  conv1 = register_module("conv1", conv3x3(o.in_channels, w));
  if (!o.pre_activation) bn1 = register_module("bn1", bn(w));
  BlockOptions bo{.shortcut = o.cifar_shortcut};
  int64_t in = w;
  layer1 = register_module("layer1", make_stage(kind, in, w, n, bo));
  bo.stride = 2;
  layer2 = register_module("layer2", make_stage(kind, in, 2 * w, n, bo));
  layer3 = register_module("layer3", make_stage(kind, in, 4 * w, n, bo));
  if (o.pre_activation) bn_final = register_module("bn_final", bn(in));
  fc = register_module("fc", std::make_shared<nn::Linear>(in, o.num_classes));

  for (auto& [name, m] : named_modules())
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2d>(m))
      nn::init::kaiming_normal_(conv->weight);
  nn::init::kaiming_normal_(fc->weight);
  if (o.zero_init_residual) zero_init_residual(*this);
}

Tensor CifarResNet::forward(const Tensor& x) {
  check_image_input(x, conv1->in_channels, "CifarResNet");
  Tensor y = (*conv1)(x);
  if (bn1) y = F::relu((*bn1)(y));
  y = (*layer3)((*layer2)((*layer1)(y)));
  if (bn_final) y = F::relu((*bn_final)(y));
  return (*fc)(mean(y, {2, 3}));  // global average pool, flattened
}

// ---------------------------------------------------------------- constructors by depth
std::shared_ptr<ResNet> resnet18(ResNetOptions o) {
  return std::make_shared<ResNet>(BlockKind::Basic, std::vector<int64_t>{2, 2, 2, 2}, o);
}
std::shared_ptr<ResNet> resnet34(ResNetOptions o) {
  return std::make_shared<ResNet>(BlockKind::Basic, std::vector<int64_t>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet50(ResNetOptions o) {
  return std::make_shared<ResNet>(BlockKind::Bottleneck, std::vector<int64_t>{3, 4, 6, 3}, o);
}
std::shared_ptr<ResNet> resnet101(ResNetOptions o) {
  return std::make_shared<ResNet>(BlockKind::Bottleneck, std::vector<int64_t>{3, 4, 23, 3}, o);
}
std::shared_ptr<ResNet> resnet152(ResNetOptions o) {
  return std::make_shared<ResNet>(BlockKind::Bottleneck, std::vector<int64_t>{3, 8, 36, 3}, o);
}
std::shared_ptr<CifarResNet> resnet20(ResNetOptions o) {
  return std::make_shared<CifarResNet>(20, o);
}
std::shared_ptr<CifarResNet> resnet32(ResNetOptions o) {
  return std::make_shared<CifarResNet>(32, o);
}
std::shared_ptr<CifarResNet> resnet44(ResNetOptions o) {
  return std::make_shared<CifarResNet>(44, o);
}
std::shared_ptr<CifarResNet> resnet56(ResNetOptions o) {
  return std::make_shared<CifarResNet>(56, o);
}
std::shared_ptr<CifarResNet> resnet110(ResNetOptions o) {
  return std::make_shared<CifarResNet>(110, o);
}

}  // namespace ravel::models
