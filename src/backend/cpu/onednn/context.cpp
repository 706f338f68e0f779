#include "backend/cpu/onednn/context.h"

#include "core/allocator.h"

namespace ravel::onednn {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}

Temps::~Temps() {
  for (auto [p, n] : blocks_) deallocate_bytes(p, n);
}

dnnl::memory Temps::make(const dnnl::memory::desc& md) {
  const size_t n = md.get_size();
  blocks_.reserve(4);
  blocks_.emplace_back(allocate_bytes(n), n);
  return dnnl::memory(md, engine(), blocks_.back().first);
}

void Temps::scratchpad(std::unordered_map<int, dnnl::memory>& args, const dnnl::memory::desc& md) {
  if (md.get_size() > 0) args.emplace(DNNL_ARG_SCRATCHPAD, make(md));
}

}  // namespace ravel::onednn
