// MLP, LeNet-5 and VGG-with-BN, built as Sequentials with torchvision's layouts.
#include "ravel/models/classic.h"

#include <utility>

#include "ravel/nn/activation.h"
#include "ravel/nn/conv.h"
#include "ravel/nn/dropout.h"
#include "ravel/nn/init.h"
#include "ravel/nn/linear.h"
#include "ravel/nn/norm.h"
#include "ravel/nn/pool.h"

namespace ravel::models {

namespace {

std::shared_ptr<nn::Module> activation(const std::string& name) {
  if (name == "relu") return std::make_shared<nn::ReLU>();
  if (name == "gelu") return std::make_shared<nn::GELU>();
  if (name == "tanh") return std::make_shared<nn::Tanh>();
  if (name == "sigmoid") return std::make_shared<nn::Sigmoid>();
  if (name == "silu") return std::make_shared<nn::SiLU>();
  if (name == "leaky_relu") return std::make_shared<nn::LeakyReLU>();
  throw Error("mlp: unknown activation \"" + name +
              "\"; expected relu, gelu, tanh, sigmoid, silu or leaky_relu");
}

void check_classic(const ClassicOptions& o, const char* name) {
  RAVEL_CHECK(o.num_classes > 0 && o.in_channels > 0, name,
              ": num_classes and in_channels must be positive, got ", o.num_classes, " and ",
              o.in_channels);
}

// torchvision's cfgs "A" (VGG-11) and "D" (VGG-16); 0 is a 2x2 max pool.
const std::vector<int64_t> kVgg11 = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
const std::vector<int64_t> kVgg16 = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                                     0,  512, 512, 512, 0,   512, 512, 512, 0};

std::shared_ptr<nn::Sequential> vgg_bn(const std::vector<int64_t>& cfg, const ClassicOptions& o,
                                       const char* name) {
  check_classic(o, name);
  auto features = std::make_shared<nn::Sequential>();
  int64_t in = o.in_channels;
  for (int64_t c : cfg) {
    if (c == 0) {
      features->push_back(std::make_shared<nn::MaxPool2d>(2));
      continue;
    }
    features->push_back(std::make_shared<nn::Conv2d>(in, c, 3, nn::Conv2dOptions{.padding = 1}));
    features->push_back(std::make_shared<nn::BatchNorm2d>(c));
    features->push_back(std::make_shared<nn::ReLU>());
    in = c;
  }
  auto classifier = std::make_shared<nn::Sequential>(
      std::make_shared<nn::Linear>(in * 7 * 7, 4096), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Dropout>(0.5), std::make_shared<nn::Linear>(4096, 4096),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5),
      std::make_shared<nn::Linear>(4096, o.num_classes));
  auto net = std::make_shared<nn::Sequential>(
      nn::NamedModules{{"features", features},
                       {"avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(7)},
                       {"flatten", std::make_shared<nn::Flatten>()},
                       {"classifier", classifier}});
  // torchvision's VGG._initialize_weights
  for (auto& [n, m] : net->named_modules()) {
    if (auto conv = std::dynamic_pointer_cast<nn::Conv2d>(m)) {
      nn::init::kaiming_normal_(conv->weight, 0, "fan_out", "relu");
      nn::init::zeros_(conv->bias);
    } else if (auto fc = std::dynamic_pointer_cast<nn::Linear>(m)) {
      nn::init::normal_(fc->weight, 0, 0.01);
      nn::init::zeros_(fc->bias);
    }
  }
  return net;
}

}  // namespace

std::shared_ptr<nn::Sequential> mlp(const std::vector<int64_t>& sizes, MLPOptions o) {
  RAVEL_CHECK(sizes.size() >= 2, "mlp: expected at least 2 sizes (inputs and outputs), got ",
              sizes.size());
  for (int64_t s : sizes) RAVEL_CHECK(s > 0, "mlp: sizes must be positive, got ", s);
  RAVEL_CHECK(o.dropout >= 0 && o.dropout < 1, "mlp: dropout must be in [0, 1), got ", o.dropout);
  activation(o.activation);  // an unknown name throws before anything is built
  auto net = std::make_shared<nn::Sequential>(std::make_shared<nn::Flatten>());
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    net->push_back(std::make_shared<nn::Linear>(sizes[i], sizes[i + 1]));
    if (i + 2 == sizes.size()) break;  // no activation after the output layer
    if (o.batch_norm) net->push_back(std::make_shared<nn::BatchNorm1d>(sizes[i + 1]));
    net->push_back(activation(o.activation));
    if (o.dropout > 0) net->push_back(std::make_shared<nn::Dropout>(o.dropout));
  }
  return net;
}

std::shared_ptr<nn::Sequential> lenet5(ClassicOptions o) {
  check_classic(o, "lenet5");
  const int64_t padding = o.input_size < 32 ? 2 : 0;  // 28x28 inputs padded to the paper's 32x32
  const int64_t side = ((o.input_size + 2 * padding - 4) / 2 - 4) / 2;  // after the 2nd pool
  RAVEL_CHECK(side >= 1, "lenet5: input_size ", o.input_size,
              " is too small; expected at least 12 (28 or 32 as the paper)");
  auto tanh = [] { return std::make_shared<nn::Tanh>(); };
  auto pool = [] { return std::make_shared<nn::AvgPool2d>(2); };
  return std::make_shared<nn::Sequential>(
      std::make_shared<nn::Conv2d>(o.in_channels, 6, 5, nn::Conv2dOptions{.padding = padding}),
      tanh(), pool(), std::make_shared<nn::Conv2d>(6, 16, 5), tanh(), pool(),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(16 * side * side, 120), tanh(),
      std::make_shared<nn::Linear>(120, 84), tanh(),
      std::make_shared<nn::Linear>(84, o.num_classes));
}

std::shared_ptr<nn::Sequential> vgg11_bn(ClassicOptions o) { return vgg_bn(kVgg11, o, "vgg11_bn"); }
std::shared_ptr<nn::Sequential> vgg16_bn(ClassicOptions o) { return vgg_bn(kVgg16, o, "vgg16_bn"); }

}  // namespace ravel::models
