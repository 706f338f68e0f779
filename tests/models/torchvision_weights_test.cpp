// torchvision's ResNet-18 and ResNet-50 weights (random, saved by torch.save in the test run)
// in ravel's models::resnet18/50: loaded directly with load_pytorch, and through
// `ravel convert` -> safetensors -> load_state_dict, both give torch's logits (eval mode,
// float32, on 64x64 inputs to keep the test fast; within 1e-4 relative + 1e-4 absolute for
// ResNet-18, 5e-4 for ResNet-50, whose logits are about 1).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>

#include "ravel/autograd.h"
#include "ravel/models/resnet.h"
#include "ravel/pytorch.h"
#include "ravel/random.h"
#include "ravel/safetensors.h"
#include "support/numpy_oracle.h"
#include "support/temp_dir.h"

namespace ravel::testing {
namespace {

class TorchvisionWeights : public TempDirTest {};

// BatchNorm statistics and affine parameters are randomised too, so every buffer matters.
const char* kSaveResNets = R"(
import torchvision
torch.manual_seed(0)
outs = []
for name in ['resnet18', 'resnet50']:
  m = getattr(torchvision.models, name)()
  with torch.no_grad():
    for mod in m.modules():
      if isinstance(mod, nn.BatchNorm2d):
        mod.running_mean.uniform_(-0.1, 0.1)
        mod.running_var.uniform_(0.5, 1.5)
        mod.weight.uniform_(0.5, 1.5)
        mod.bias.uniform_(-0.1, 0.1)
        mod.num_batches_tracked.fill_(7)
  m.eval()
  torch.save(m.state_dict(), P + '/' + name + '.pth')
  with torch.no_grad():
    outs.append(m(torch.tensor(a)))
out = outs
)";

// `ravel convert IN OUT`; the exit status. (--model is checked in tests/tools/convert_test.cpp;
// building a ResNet-50 to check against costs a second here.)
int convert(const std::string& in, const std::string& out) {
  const auto cli = std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() /
                   "tools" / "ravel" / "ravel";
  const std::string cmd =
      "OMP_NUM_THREADS=2 " + cli.string() + " convert " + in + " " + out + " >/dev/null";
  int raw = std::system(cmd.c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

TEST_F(TorchvisionWeights, ResNet18And50GiveTorchsLogits) {
  Generator gen(7);
  Tensor x = randn({2, 3, 64, 64}, gen);
  TorchOracle torch;
  int h = torch.add_script("P = '" + dir_.string() + "'\n" + kSaveResNets, {x});
  torch.run();
  ASSERT_EQ(torch.error(h), "");
  const std::vector<std::string> names = {"resnet18", "resnet50"};
  const double tol[] = {1e-4, 5e-4};  // float32 sums in other orders, over 18 and 50 layers
  for (size_t k = 0; k < names.size(); ++k) {
    const std::string& name = names[k];
    SCOPED_TRACE(name);
    const Tensor& want = torch.results(h)[k];
    auto net = name == "resnet18" ? models::resnet18() : models::resnet50();
    net->load_state_dict(load_pytorch(path(name + ".pth")));  // strict: every key, every shape
    net->eval();
    EXPECT_EQ(net->bn1->num_batches_tracked.item<int64_t>(), 7);  // loaded like the rest
    Tensor direct = (*net)(x);
    EXPECT_TRUE(matches(direct, want, tol[k], tol[k]));

    ASSERT_EQ(convert(path(name + ".pth"), path(name + ".safetensors")), 0);
    {
      NoGradGuard g;  // wipe the weights (one model build less than a fresh model)
      for (auto& [key, t] : net->state_dict()) t.zero_();
    }
    net->load_state_dict(load_safetensors(path(name + ".safetensors")).tensors);
    Tensor converted = (*net)(x);
    EXPECT_TRUE(matches(converted, want, tol[k], tol[k]));
    EXPECT_TRUE(matches(converted, direct, 0, 0));  // the same weights, bit for bit
  }
}

}  // namespace
}  // namespace ravel::testing
