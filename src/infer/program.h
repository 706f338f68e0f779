// Internal: a Graph compiled for one set of input shapes, as a backend runs it.
#pragma once
#include <string>
#include <vector>

#include "infer/plan.h"

namespace ravel::infer {

class Program {
 public:
  virtual ~Program() = default;
  // Inputs contiguous, in the graph's declared dtypes and the shapes it was compiled for.
  virtual std::vector<Tensor> run(const std::vector<Tensor>& inputs) = 0;
  virtual std::string describe() const = 0;
};

}  // namespace ravel::infer
