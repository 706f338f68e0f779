// The model zoo: every model of ravel::models by name.
#include "ravel/models/zoo.h"

#include <functional>
#include <utility>

#include "ravel/models/classic.h"
#include "ravel/models/resnet.h"

namespace ravel::models {

namespace {

using Factory = std::function<std::shared_ptr<nn::Module>(const ZooOptions&)>;

ResNetOptions resnet_options(const ZooOptions& o) {
  ResNetOptions r{.num_classes = o.num_classes,
                  .in_channels = o.in_channels,
                  .zero_init_residual = o.zero_init_residual};
  if (o.width > 0) r.cifar_width = o.width;
  return r;
}

ClassicOptions classic_options(const ZooOptions& o) {
  return {.num_classes = o.num_classes, .in_channels = o.in_channels, .input_size = o.input_size};
}

template <typename Make>
Factory vgg(Make make, const char* name) {
  return [make, name](const ZooOptions& o) -> std::shared_ptr<nn::Module> {
    RAVEL_CHECK(o.input_size >= 32, name, ": needs inputs of at least 32x32 (five 2x2 max pools), ",
                "got input_size ", o.input_size);
    return make(classic_options(o));
  };
}

// In the order names() lists them.
const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> r = [] {
    std::vector<std::pair<std::string, Factory>> v;
    v.emplace_back("mlp", [](const ZooOptions& o) {
      return mlp({o.in_channels * o.input_size * o.input_size, 512, 512, o.num_classes});
    });
    v.emplace_back("lenet5", [](const ZooOptions& o) { return lenet5(classic_options(o)); });
    v.emplace_back("vgg11_bn", vgg(vgg11_bn, "vgg11_bn"));
    v.emplace_back("vgg16_bn", vgg(vgg16_bn, "vgg16_bn"));
    using ImageNet = std::shared_ptr<ResNet> (*)(ResNetOptions);
    for (const auto& entry : {std::pair<const char*, ImageNet>{"resnet18", resnet18},
                              {"resnet34", resnet34},
                              {"resnet50", resnet50},
                              {"resnet101", resnet101},
                              {"resnet152", resnet152}}) {
      ImageNet make = entry.second;  // a plain variable: clang 14 cannot capture a binding
      v.emplace_back(entry.first, [make](const ZooOptions& o) { return make(resnet_options(o)); });
    }
    for (bool pre : {false, true})
      for (int64_t depth : {20, 32, 44, 56, 110})
        v.emplace_back((pre ? "preact_resnet" : "resnet") + std::to_string(depth),
                       [depth, pre](const ZooOptions& o) {
                         ResNetOptions r = resnet_options(o);
                         r.pre_activation = pre;
                         return std::make_shared<CifarResNet>(depth, r);
                       });
    return v;
  }();
  return r;
}

}  // namespace

std::shared_ptr<nn::Module> create(const std::string& name, const ZooOptions& options) {
  for (const auto& [n, make] : registry())
    if (n == name) return make(options);
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("models::create: unknown model \"" + name + "\"; known models: " + known);
}

std::vector<std::string> names() {
  std::vector<std::string> out;
  for (const auto& [n, make] : registry()) out.push_back(n);
  return out;
}

}  // namespace ravel::models
