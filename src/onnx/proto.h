// Internal: ONNX protobuf messages <-> ravel values (tensors, attributes, value infos), shared by
// the model reader/writer (onnx.cpp). Readers treat every field as hostile: sizes are checked
// against the bytes present before anything is allocated, and every problem is a ravel::Error
// through Context::fail, which names the file.
#pragma once
#include <onnx/onnx_pb.h>  // defines ONNX_API, then includes onnx-ml.pb.h

#include <string>

#include "ravel/error.h"
#include "ravel/graph.h"

namespace ravel::onnx::detail {

// The file (or "onnx data") every error names.
struct Context {
  std::string what;
  template <typename... Args>
  [[noreturn]] void fail(const Args&... args) const {
    ::ravel::detail::throw_error("onnx: ", what, ": ", args...);
  }
};

// A name or string from the file, shortened for an error message (hostile names can be huge).
std::string clip(const std::string& s);

// `where` names the tensor in errors ("initializer 'fc.weight'", "node 'c1' attribute 'value'").
Tensor tensor_from_proto(const ::onnx::TensorProto& t, const std::string& where,
                         const Context& ctx);
void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto* out);

graph::Attribute attribute_from_proto(const ::onnx::AttributeProto& a, const std::string& node,
                                      const Context& ctx);
void attribute_to_proto(const std::string& name, const graph::Attribute& value,
                        ::onnx::AttributeProto* out);

// `kind` is "input" or "output". has_shape is false when the file gives no shape at all.
graph::ValueInfo value_info_from_proto(const ::onnx::ValueInfoProto& v, const char* kind,
                                       const Context& ctx, bool* has_shape);
void value_info_to_proto(const graph::ValueInfo& v, ::onnx::ValueInfoProto* out);

// Replaces shape arithmetic (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as exporters
// write `x.view(x.size(0), -1)`) by constant Reshape targets, and drops the nodes left unused
// (fold.cpp).
void fold_shape_arithmetic(graph::Graph& g);

// ONNX's TensorProto.DataType code of a ravel dtype.
int onnx_dtype(DType t);

}  // namespace ravel::onnx::detail
