// How ops take part in graph::trace (internal). While a trace runs, ops record themselves as
// ONNX nodes; when none runs, each hook costs one thread-local load.
//
// An op with an ONNX form of its own wraps its work in a TracedOp (which also keeps the ops it
// calls inside from being recorded: F::linear's matmul + add become one Gemm):
//
//   graph::detail::TracedOp t("Conv", {x, w, b});
//   if (t) t.attr("strides", strides);          // attributes only while tracing
//   ...compute y...
//   return t.output(y);
//
// Every other op on a traced value reaches autograd::record (the trace makes its inputs require
// grad), where on_record maps it by name (add, relu, reshape, ...) or throws naming it.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::graph::detail {

class Tracer;  // trace.cpp
extern thread_local constinit Tracer* active_tracer;

class TracedOp {
 public:
  using Inputs = std::initializer_list<std::reference_wrapper<const Tensor>>;
  TracedOp(const char* op, Inputs inputs) {
    if (active_tracer != nullptr) [[unlikely]]
      begin(op, inputs);
  }
  ~TracedOp() {
    if (state_ != nullptr) [[unlikely]]
      end();
  }
  TracedOp(const TracedOp&) = delete;
  TracedOp& operator=(const TracedOp&) = delete;

  // True while this op records (a trace runs and no enclosing TracedOp records already).
  explicit operator bool() const { return state_ != nullptr; }

  // Only while recording:
  void set_op(const char* op);
  void input(const Tensor& t);     // one more input (a traced value, a weight or a constant)
  void constant(const Tensor& t);  // one more input, always a constant
  void no_input();                 // an optional input left out ("")
  void attr(const char* name, int64_t v);
  void attr(const char* name, double v);  // a FLOAT attribute
  void attr(const char* name, const std::vector<int64_t>& v);
  void attr(const char* name, const std::string& v);
  // The op on these arguments has no ONNX form: throws "trace: <what> ..." when an input is a
  // traced value (an op on constants only is just computed).
  void unsupported(const std::string& what);
  // x[slices...] as one Slice node (Tensor::index); other index kinds are unsupported.
  void index(const std::vector<Index>& idx, const Shape& shape);
  // The node's result has the output's elements in another shape (keepdims): a Flatten or
  // Reshape follows it.
  void reshape_output();
  // `t op scalar` for ravel's add/sub/mul/div (reverse: `scalar op t`).
  void scalar_operand(const char* op, const Scalar& s, DType dtype, bool reverse = false);

  // Records the node with output y (no node when y is an input unchanged); returns y.
  const Tensor& output(const Tensor& y) {
    if (state_ != nullptr) [[unlikely]]
      record(y);
    return y;
  }

 private:
  struct State;
  void begin(const char* op, Inputs inputs);
  void end();
  void record(const Tensor& y);
  State* state_ = nullptr;
};

// Called by autograd::record_multi for every recorded op while a trace runs.
void on_record(const char* name, const std::vector<Tensor>& inputs,
               const std::vector<Tensor>& outputs);

}  // namespace ravel::graph::detail
