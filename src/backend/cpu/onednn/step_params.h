// Internal: oneDNN's spelling of a plan step's parameters (infer/plan.h), shared by the frozen
// inference and compiled training programs.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

#include "infer/plan.h"

namespace ravel::onednn {

// oneDNN counts dilation from 0 (ONNX and ravel from 1).
inline dnnl::memory::dims dilations(const infer::Step& s) {
  dnnl::memory::dims d;
  for (int64_t v : s.dilations) d.push_back(v - 1);
  return d;
}

inline dnnl::algorithm pool_algorithm(const infer::Step& s) {
  return s.pool == infer::Step::Max             ? dnnl::algorithm::pooling_max
         : s.pool == infer::Step::AvgIncludePad ? dnnl::algorithm::pooling_avg_include_padding
                                                : dnnl::algorithm::pooling_avg_exclude_padding;
}

}  // namespace ravel::onednn
