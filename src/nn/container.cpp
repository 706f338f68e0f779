// Sequential, ModuleList, ModuleDict.
#include "ravel/nn/container.h"

namespace ravel::nn {

ModuleList::ModuleList(const std::vector<std::shared_ptr<Module>>& modules) { extend(modules); }

void ModuleList::push_back(std::shared_ptr<Module> m) {
  register_module(std::to_string(items_.size()), m);
  items_.push_back(std::move(m));
}

void ModuleList::extend(const std::vector<std::shared_ptr<Module>>& modules) {
  for (const auto& m : modules) push_back(m);
}

size_t ModuleList::index(int64_t i) const {
  const auto n = static_cast<int64_t>(items_.size());
  RAVEL_CHECK(i >= -n && i < n, type_name(), ": index ", i, " is out of range for ", n, " modules");
  return static_cast<size_t>(i < 0 ? i + n : i);
}

Sequential::Sequential(const NamedModules& named) {
  for (const auto& [name, m] : named) push_back(name, m);
}

void Sequential::push_back(const std::string& name, std::shared_ptr<Module> m) {
  register_module(name, m);
  items_.push_back(std::move(m));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& m : items_) y = (*m)(y);
  return y;
}

ModuleDict::ModuleDict(const NamedModules& items) {
  for (const auto& [key, m] : items) insert(key, m);
}

void ModuleDict::insert(const std::string& key, std::shared_ptr<Module> m) {
  register_module(key, std::move(m));
}

std::shared_ptr<Module> ModuleDict::operator[](const std::string& key) const {
  auto m = child(key);
  RAVEL_CHECK(m != nullptr, type_name(), ": no module named \"", key, "\"");
  return m;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [key, m] : named_children()) out.push_back(key);
  return out;
}

}  // namespace ravel::nn
