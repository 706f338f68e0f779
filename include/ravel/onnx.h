// ONNX files in and out (opset 13+), through the ONNX protobuf definitions of Debian's
// libonnx-dev.
//
//   auto net = models::resnet18();
//   onnx::export_model(*net, {ravel::randn({1, 3, 224, 224})}, "resnet18.onnx");
//   auto m = onnx::import_model("resnet18.onnx");   // graph::GraphModule: run or fine-tune it
//   Tensor logits = (*m)(x);
//
// Exported files have named inputs/outputs ("input"/"output" unless given), a dynamic batch
// dimension ("batch"), the weights as initializers named as in the module's state_dict, and
// pass onnx.checker. Imported files: a malformed file, an unsupported operator (named with its
// node), or an inconsistent graph is a ravel::Error, never a crash (the loader is fuzzed).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ravel/graph.h"

namespace ravel::onnx {

// Graph <-> ONNX ModelProto bytes / files (written atomically).
std::string to_bytes(const graph::Graph& g);
graph::Graph from_bytes(const void* data, size_t size, const std::string& what = "onnx data");
void save(const graph::Graph& g, const std::string& path);
graph::Graph load(const std::string& path);

// trace + save.
void export_model(nn::Module& module, const std::vector<Tensor>& example_inputs,
                  const std::string& path, const graph::TraceOptions& options = {});
// load + GraphModule.
std::shared_ptr<graph::GraphModule> import_model(const std::string& path);

}  // namespace ravel::onnx
