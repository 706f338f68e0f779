// ONNX files in and out, through the ONNX protobuf definitions of Debian's
// libonnx-dev.
//
//   auto net = models::resnet18();
//   onnx::export_model(*net, {ravel::randn({1, 3, 224, 224})}, "resnet18.onnx");
//   auto m = onnx::import_model("resnet18.onnx");   // graph::GraphModule: run or fine-tune it
//   Tensor logits = (*m)(x);
//
// Exported files (IR version 8, the Graph's opset, 13 to 18) have named inputs/outputs
// ("input"/"output" unless given), a dynamic batch dimension ("batch"), the weights as raw
// little-endian initializers named as in the module's state_dict, and pass onnx.checker.
// Imported files: opsets 11 to 18. Operators whose older forms differ are converted to opset
// 13's (Softmax/LogSoftmax before 13 normalise over all axes from `axis` on), or refused by name
// (Clip/Slice/Pad with opset < 11 attributes); the shape arithmetic exporters emit for
// `x.view(x.size(0), -1)` (Shape, Gather, Unsqueeze, Concat feeding a Reshape) folds into a
// constant target. Weights in raw_data or the typed fields; initializers listed as inputs (old
// exporters) are not inputs. Not supported (a clear Error): external data, files over 2 GiB,
// sparse tensors, subgraphs (If/Loop), non-default domains. A malformed file, an unsupported
// operator (named with its node) or an inconsistent graph is a ravel::Error naming the file,
// never a crash (the loader is fuzzed: tests/fuzz/fuzz_onnx.cpp).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ravel/graph.h"

namespace ravel::onnx {

// Graph <-> ONNX ModelProto bytes / files (written atomically). from_bytes names `what` in its
// errors; load names the path. Both run Graph::check on what they read.
std::string to_bytes(const graph::Graph& g);
graph::Graph from_bytes(const void* data, size_t size, const std::string& what = "onnx data");
void save(const graph::Graph& g, const std::string& path);
graph::Graph load(const std::string& path);

// trace + save.
void export_model(nn::Module& module, const std::vector<Tensor>& example_inputs,
                  const std::string& path, const graph::TraceOptions& options = {});
// load + GraphModule (whose shape inference errors name the file too).
std::shared_ptr<graph::GraphModule> import_model(const std::string& path);

}  // namespace ravel::onnx
