// libFuzzer target for ravel's ONNX reader: every input must load or throw ravel::Error -- never
// crash, hang, leak or trip a sanitizer. What loads must also save and load back to the same
// bytes, build a GraphModule, and (when shape inference says every value is small) run on a
// random input of the declared shape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ravel/onnx.h"
#include "ravel/ravel.h"

namespace {
constexpr int64_t kMaxElements = 1 << 20;  // per value, for the run
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ravel::graph::Graph g = ravel::onnx::from_bytes(data, size, "fuzz input");
    const std::string bytes = ravel::onnx::to_bytes(g);
    ravel::graph::Graph back = ravel::onnx::from_bytes(bytes.data(), bytes.size());
    if (ravel::onnx::to_bytes(back) != bytes) __builtin_trap();  // a round trip must be exact
    ravel::graph::GraphModule m(g);
    std::vector<ravel::Tensor> inputs;
    std::vector<std::vector<int64_t>> shapes;
    for (const auto& in : g.inputs) {
      shapes.push_back(in.shape);
      for (auto& d : shapes.back())
        if (d < 0) d = 1;
    }
    for (const auto& [name, shape] : ravel::graph::infer_shapes(g, shapes)) {
      int64_t n = 1;
      for (int64_t d : shape) {
        n = d > kMaxElements ? kMaxElements + 1 : n * d;
        if (n > kMaxElements) return 0;
      }
    }
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const ravel::Shape s(shapes[i].begin(), shapes[i].end());
      inputs.push_back(ravel::is_floating(g.inputs[i].dtype) ? ravel::randn(s).to(g.inputs[i].dtype)
                                                             : ravel::zeros(s, g.inputs[i].dtype));
    }
    ravel::NoGradGuard no_grad;
    m.eval();
    (void)m.run(inputs);
  } catch (const ravel::Error&) {
  }
  return 0;
}
