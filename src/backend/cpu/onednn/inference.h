// Internal: ravel::infer's steps (infer/plan.h) as oneDNN primitives over preallocated buffers.
#pragma once
#include <memory>

#include "infer/program.h"
#include "ravel/infer.h"

namespace ravel::onednn {

// The plan compiled for its shapes; activations in options.dtype (Float32 or BFloat16). Throws
// an Error naming the step when oneDNN cannot run it (bfloat16 on a CPU without AVX-512).
std::unique_ptr<infer::Program> compile_program(const infer::Plan& plan, const graph::Graph& g,
                                                const infer::FreezeOptions& options);

}  // namespace ravel::onednn
