// Containers of modules (torch.nn.Sequential, ModuleList, ModuleDict). Children are registered
// under their index ("0", "1", ...) or key, so parameter names read "features.0.weight".
//
//   auto mlp = std::make_shared<nn::Sequential>(std::make_shared<nn::Linear>(784, 128),
//                                               std::make_shared<nn::ReLU>(),
//                                               std::make_shared<nn::Linear>(128, 10));
//   Tensor logits = (*mlp)(x);                     // each module in turn, hooks included
//   auto fc = mlp->at<nn::Linear>(0);              // typed access
//   nn::ModuleList blocks;  blocks.push_back(std::make_shared<Block>());
//   nn::ModuleDict heads({{"cls", cls_head}, {"box", box_head}});
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ravel/nn/module.h"

namespace ravel::nn {

using NamedModules = std::vector<std::pair<std::string, std::shared_ptr<Module>>>;

// A list of modules, kept in the order given.
class ModuleList : public Module {
 public:
  ModuleList() = default;
  template <typename... Ms>
  explicit ModuleList(std::shared_ptr<Ms>... modules) {
    (push_back(std::move(modules)), ...);
  }
  explicit ModuleList(const std::vector<std::shared_ptr<Module>>& modules);

  void push_back(std::shared_ptr<Module> m);  // registered as str(size())
  void extend(const std::vector<std::shared_ptr<Module>>& modules);
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  // i may be negative (from the end); out of range throws.
  std::shared_ptr<Module> operator[](int64_t i) const { return items_[index(i)]; }
  template <typename M>
  std::shared_ptr<M> at(int64_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    RAVEL_CHECK(m != nullptr, type_name(), ": module ", i, " is a ", (*this)[i]->type_name(),
                ", not the type asked for");
    return m;
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  std::string type_name() const override { return "ModuleList"; }

 protected:
  size_t index(int64_t i) const;
  std::vector<std::shared_ptr<Module>> items_;
};

// Runs its modules in order, each on the previous one's output.
class Sequential : public ModuleList {
 public:
  Sequential() = default;
  template <typename... Ms>
  explicit Sequential(std::shared_ptr<Ms>... modules) : ModuleList(std::move(modules)...) {}
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules) : ModuleList(modules) {}
  // Named children ("fc1", "act", ...) instead of indices (PyTorch's OrderedDict form).
  explicit Sequential(const NamedModules& named);
  void push_back(const std::string& name, std::shared_ptr<Module> m);
  using ModuleList::push_back;

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
};

// Modules by name, in insertion order.
class ModuleDict : public Module {
 public:
  ModuleDict() = default;
  explicit ModuleDict(const NamedModules& items);
  void insert(const std::string& key, std::shared_ptr<Module> m);  // a new key
  bool contains(const std::string& key) const { return child(key) != nullptr; }
  std::shared_ptr<Module> operator[](const std::string& key) const;  // throws for a missing key
  template <typename M>
  std::shared_ptr<M> at(const std::string& key) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[key]);
    RAVEL_CHECK(m != nullptr, type_name(), ": module \"", key, "\" is a ",
                (*this)[key]->type_name(), ", not the type asked for");
    return m;
  }
  std::vector<std::string> keys() const;
  size_t size() const { return named_children().size(); }
  NamedModules items() const { return named_children(); }
  std::string type_name() const override { return "ModuleDict"; }
};

}  // namespace ravel::nn
