// Helpers for comparing a ravel module with the same PyTorch module in the test oracle. The
// oracle binds at most 16 inputs, so a module's parameters travel as one flat vector and are
// loaded back by name (names and order must be PyTorch's):
//
//   int h = torch.add_script(std::string(kTorchModuleHelpers) + "m = nn.LSTM(4, 8)\n" +
//                            "load(m, a, " + py_names(lstm) + ")\n...", {flat_params(lstm), x});
//   // after backward on both sides:
//   EXPECT_TRUE(matches(flat_grads(lstm), torch.results(h)[1], 1e-4, 1e-5));
//
// In the script: load(m, flat, names), flat_grad(m, names) and leaf(v) (a tensor requiring grad).
#pragma once
#include <string>

#include "ravel/nn/module.h"

namespace ravel::testing {

extern const char* const kTorchModuleHelpers;

Tensor flat_params(const nn::Module& m);    // parameters in named_parameters() order, flattened
Tensor flat_grads(const nn::Module& m);     // their gradients (a test failure where one is missing)
std::string py_names(const nn::Module& m);  // "['weight_ih_l0', ...]"
inline std::string py_bool(bool b) { return b ? "True" : "False"; }

}  // namespace ravel::testing
