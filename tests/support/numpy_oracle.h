// The NumPy oracle: runs NumPy (Debian's /usr/bin/python3 + python3-numpy) on the same inputs as
// a ravel test, in the test run, so expected values are never written by hand.
//
//   NumpyOracle np;
//   Tensor a = randn({3, 4}), b = randn({4});
//   int h = np.add("np.add(a, b)", {a, b});        // inputs are bound to a, b, c, d, ...
//   int h2 = np.add("np.unique(a, return_counts=True)", {x});  // tuples give several results
//   np.run();                                      // one python process for all cases
//   EXPECT_TRUE(matches(add(a, b), np.result(h), 1e-6));
//   np.results(h2)[1];                             // the counts
//
// bfloat16 inputs are sent as float32 (exact); float16 as float16. `np` and `math` are in scope
// in expressions. An expression that raises in NumPy gives an error string (np.error(h)).
//
// The same oracle runs PyTorch (Debian's python3-torch) scripts: add_script takes several lines
// of Python that see the inputs as NumPy arrays a, b, ... and `torch`, `nn`, `F`
// (torch.nn.functional), `np`, and set `out` to one result or a tuple/list of them (torch
// tensors or NumPy arrays):
//
//   TorchOracle torch;
//   int h = torch.add_script(R"(
//   x = torch.tensor(a, requires_grad=True)
//   y = torch.tanh(x).sum()
//   y.backward()
//   out = (y, x.grad))", {a});
//   torch.run();  // torch.results(h)[1] is the gradient
#pragma once
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ravel/tensor.h"

namespace ravel::testing {

class NumpyOracle {
 public:
  int add(const std::string& expr, const std::vector<Tensor>& inputs);
  int add_script(const std::string& code, const std::vector<Tensor>& inputs);
  void run();
  const Tensor& result(int handle) const;                // first (or only) result
  const std::vector<Tensor>& results(int handle) const;  // all results of a tuple
  const std::string& error(int handle) const;            // "" when NumPy succeeded

 private:
  struct Case {
    std::string expr;  // an expression, or a script when is_script
    bool is_script = false;
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;
    std::string error;
  };
  std::vector<Case> cases_;
  bool ran_ = false;
};

using TorchOracle = NumpyOracle;

// One expression, one result (runs python once: batch with NumpyOracle when there are many).
Tensor numpy_eval(const std::string& expr, const std::vector<Tensor>& inputs);

// ours == ref: same shape; same dtype unless check_dtype is false (then ref is cast to ours);
// integers and bools exactly, floats within atol + rtol * |ref| (NaN equals NaN, inf equals
// inf of the same sign). The failure message prints both tensors and the worst element.
::testing::AssertionResult matches(const Tensor& ours, const Tensor& ref, double rtol = 1e-6,
                                   double atol = 1e-6, bool check_dtype = true);

// Every dtype ravel has, for looping tests over them.
std::vector<DType> all_dtypes();

}  // namespace ravel::testing
