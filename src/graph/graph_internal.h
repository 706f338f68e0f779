// Pieces of the ONNX operator semantics shared by graph.cpp (checks, shape inference),
// graph_module.cpp (running a Graph) and trace.cpp (recording one).
#pragma once
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ravel/graph.h"

namespace ravel::graph::detail {

// The one table of supported operators.
const std::vector<std::string>& supported_ops();
bool is_supported(const std::string& op);
std::string supported_list();  // "Conv, Gemm, ..."

// "node 'Conv_3' (Conv)": how errors name a node.
std::string describe(const Node& n);

// "[1, 3, 8, 8]"
std::string shape_str(const std::vector<int64_t>& s);

// The constant a value name holds: an initializer or the output of a Constant node; nullopt when
// the value is computed.
std::optional<Tensor> find_constant(const Graph& g, const std::string& value);
// The value of a Constant node (its value / value_float(s) / value_int(s) attribute).
Tensor constant_node_value(const Node& n);
// Input `i` of `n` as an int64 list, read from a constant; when the input is absent, the INTS
// attribute named `what` (Slice, Pad, Reshape before opsets 10, 11, 5), else `fallback`.
std::vector<int64_t> constant_ints(const Graph& g, const Node& n, size_t i, const char* what,
                                   const std::vector<int64_t>& fallback = {});

// A sliding window (Conv, MaxPool, AveragePool) over the spatial axes of an input, with the pads
// resolved (auto_pad SAME_* / VALID included) for the given input spatial sizes.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end, out;
  bool ceil_mode = false;
};
Window window_of(const Node& n, const std::vector<int64_t>& spatial,
                 const std::vector<int64_t>& kernel);

// Slice's starts/ends/axes/steps resolved against a shape, clamped as ONNX does.
struct SliceAxis {
  int64_t axis, start, step, length;
};
std::vector<SliceAxis> slice_plan(const Node& n, const std::vector<int64_t>& shape,
                                  const std::vector<int64_t>& starts,
                                  const std::vector<int64_t>& ends, std::vector<int64_t> axes,
                                  std::vector<int64_t> steps);

// Reshape's target with 0 (copy) and -1 (infer) resolved.
std::vector<int64_t> reshape_target(const Node& n, const std::vector<int64_t>& in,
                                    const std::vector<int64_t>& target);

// Normalises an axis attribute for rank `rank`, naming the node when out of range.
int64_t node_axis(const Node& n, int64_t axis, int64_t rank);

template <typename... Args>
[[noreturn]] void node_error(const Node& n, const Args&... args) {
  ::ravel::detail::throw_error(describe(n), ": ", args...);
}

// Size arithmetic on values a hostile file chooses (pads, reshape targets, dimensions): an
// int64 overflow is a named error, not undefined behaviour.
inline int64_t size_mul(const Node& n, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) node_error(n, "sizes overflow: ", a, " * ", b);
  return r;
}
inline int64_t size_add(const Node& n, int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) node_error(n, "sizes overflow: ", a, " + ", b);
  return r;
}

}  // namespace ravel::graph::detail
