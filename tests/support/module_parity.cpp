#include "support/module_parity.h"

#include <gtest/gtest.h>

#include "ravel/ops.h"

namespace ravel::testing {

const char* const kTorchModuleHelpers = R"(
def load(m, flat, names):
    sd = m.state_dict()
    assert list(sd.keys()) == names, (list(sd.keys()), names)
    new, off = {}, 0
    for n in names:
        k = sd[n].numel()
        new[n] = torch.tensor(flat[off:off + k]).view_as(sd[n])
        off += k
    assert off == flat.size
    m.load_state_dict(new, strict=True)
def flat_grad(m, names):
    ps = dict(m.named_parameters())
    return torch.cat([ps[n].grad.reshape(-1) for n in names])
def leaf(v):
    return torch.tensor(v, requires_grad=True)
)";

Tensor flat_params(const nn::Module& m) {
  std::vector<Tensor> ps;
  for (const auto& [name, p] : m.named_parameters()) ps.push_back(p.detach().reshape({-1}));
  return concatenate(ps);
}

Tensor flat_grads(const nn::Module& m) {
  std::vector<Tensor> gs;
  for (const auto& [name, p] : m.named_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << name << " got no gradient";
    gs.push_back(p.grad().defined() ? p.grad().reshape({-1}) : zeros({p.numel()}));
  }
  return concatenate(gs);
}

std::string py_names(const nn::Module& m) {
  std::string s = "[";
  for (const auto& [name, p] : m.named_parameters()) s += "'" + name + "', ";
  return s + "]";
}

}  // namespace ravel::testing
