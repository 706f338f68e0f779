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

std::string layout_name(const dnnl::memory::desc& md) {
  using dnnl::memory;
  using tag = memory::format_tag;
  const size_t nd = md.dims().size();
  static const std::vector<std::pair<tag, const char*>> tags[] = {
      {},
      {{tag::a, "x"}},
      {{tag::ab, "nc"}, {tag::ba, "cn"}},
      {{tag::abc, "ncw"}, {tag::acb, "nwc"}, {tag::aBc8b, "nCw8c"}, {tag::aBc16b, "nCw16c"}},
      {{tag::abcd, "nchw"},
       {tag::acdb, "nhwc"},
       {tag::aBcd8b, "nChw8c"},
       {tag::aBcd16b, "nChw16c"}},
      {{tag::abcde, "ncdhw"},
       {tag::acdeb, "ndhwc"},
       {tag::aBcde8b, "nCdhw8c"},
       {tag::aBcde16b, "nCdhw16c"}},
  };
  if (nd < 6)
    for (const auto& [t, name] : tags[nd])
      if (memory::desc(md.dims(), md.data_type(), t) == md) return name;
  return "blocked";
}

}  // namespace ravel::onednn
