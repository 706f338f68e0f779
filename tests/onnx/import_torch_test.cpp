// ONNX files written by torch.onnx.export in the test run, imported by ravel: the logits equal
// PyTorch's, and an imported model fine-tunes as PyTorch does.
//
// One Python process (torch, torchvision) exports every model into a directory and returns the
// inputs and PyTorch's outputs. Models: torchvision's resnet18 and resnet50 (random weights, BN
// statistics randomised so BN is not an identity; 64x64 inputs to keep the run short: the
// weights are the full models'), a PyTorch MLP ending in Softmax, a LeNet whose forward uses
// `x.view(x.size(0), -1)` (Shape/Gather/Unsqueeze/Concat/Reshape in the file), and a VGG-style
// net built with torchvision.models.vgg.make_layers (cfg [8, M, 16, M, 32, 32, M] with BN, then
// global average pooling and a 2-layer classifier with dropout: torchvision's full VGG is
// 500 MB). Exported at opsets 11, 13 and 17, with and without do_constant_folding, with a
// dynamic batch axis; checked at batch 1 and 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "ravel/nn.h"
#include "ravel/onnx.h"
#include "ravel/optim.h"
#include "ravel/ravel.h"
#include "support/numpy_oracle.h"

namespace ravel {
namespace {

namespace F = nn::functional;
using testing::matches;

struct Case {
  std::string model;
  int opset;
  bool fold;
  std::string file() const {
    return model + "_" + std::to_string(opset) + (fold ? "_fold" : "") + ".onnx";
  }
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"resnet18", 13, true}, {"resnet50", 13, true}, {"mlp", 13, true},   {"mlp", 13, false},
      {"mlp", 11, true},      {"mlp", 17, false},     {"lenet", 13, true}, {"lenet", 11, false},
      {"lenet", 17, true},    {"vgg", 13, true},      {"vgg", 13, false},  {"vgg", 11, true},
      {"vgg", 17, false}};
  return c;
}

constexpr const char* kModels = R"(
import torchvision
def randomize_bn(m):
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            mod.running_mean.normal_(0, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.normal_(1, 0.1)
            mod.bias.data.normal_(0, 0.1)
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10),
                         nn.Softmax(dim=1))
def vgg():
    return nn.Sequential(torchvision.models.vgg.make_layers([8, 'M', 16, 'M', 32, 32, 'M'], True),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Dropout(), nn.Linear(16, 10))
MODELS = {'resnet18': (torchvision.models.resnet18, (3, 64, 64)),
          'resnet50': (torchvision.models.resnet50, (3, 64, 64)),
          'mlp': (mlp, (1, 28, 28)), 'lenet': (LeNet, (1, 28, 28)), 'vgg': (vgg, (3, 32, 32))}
def export(m, x, path, opset=13, fold=True):
    torch.onnx.export(m, x, path, opset_version=opset, do_constant_folding=fold,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
)";

class OnnxTorchImport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        std::filesystem::temp_directory_path() / ("ravel_onnx_torch_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::string list;
    for (const auto& c : cases())
      list += "('" + c.model + "', " + std::to_string(c.opset) + ", " +
              (c.fold ? "True" : "False") + ", '" + c.file() + "'),";
    oracle_ = new testing::TorchOracle;
    exports_ = oracle_->add_script(
        std::string(kModels) + "D = '" + dir_.string() + "'\n" + "CASES = [" + list + "]\n" + R"(
torch.manual_seed(0)
out = []
for name, opset, fold, file in CASES:
    build, shape = MODELS[name]
    m = build()
    randomize_bn(m)
    m.eval()
    x = torch.randn(3, *shape)
    export(m, x[:1], D + '/' + file, opset, fold)
    with torch.no_grad():
        out += [x[:1], m(x[:1]), x[1:], m(x[1:])])",
        {});
    // Fine-tuning: 3 SGD steps (momentum 0.9) on the original modules.
    tune_ = oracle_->add_script(std::string(kModels) + "D = '" + dir_.string() + "'\n" + R"(
torch.manual_seed(1)
out = []
for name, net in [('lenet', LeNet()), ('mlp', nn.Sequential(nn.Flatten(), nn.Linear(784, 32),
                                                            nn.ReLU(), nn.Linear(32, 10)))]:
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    export(net.eval(), x[:1], D + '/tune_' + name + '.onnx')
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sd = net.state_dict()
    out += [x, y, torch.tensor(losses)] + [sd[k] for k in sorted(sd)])",
                                {});
    oracle_->run();
  }
  static void TearDownTestSuite() {
    delete oracle_;
    std::filesystem::remove_all(dir_);
  }

  static std::string path(const std::string& file) { return (dir_ / file).string(); }

  // Imports case `c` and compares with PyTorch at batch 1 and 2; tolerance 1e-4 relative to the
  // scale of the logits (float32 sums over up to 4608 products, summed in another order).
  static void check_case(size_t i) {
    const Case& c = cases().at(i);
    SCOPED_TRACE(c.file());
    ASSERT_EQ(oracle_->error(exports_), "");
    auto m = onnx::import_model(path(c.file()));
    m->eval();
    const auto& r = oracle_->results(exports_);
    for (int b = 0; b < 2; ++b) {
      const Tensor& x = r.at(4 * i + 2 * b);
      const Tensor& want = r.at(4 * i + 2 * b + 1);
      Tensor got = (*m)(x);
      const double scale = want.abs().max().item<double>();
      EXPECT_TRUE(matches(got, want, 1e-4, 1e-4 * scale)) << "batch " << x.size(0);
    }
  }

  static std::filesystem::path dir_;
  static testing::TorchOracle* oracle_;
  static int exports_, tune_;
};
std::filesystem::path OnnxTorchImport::dir_;
testing::TorchOracle* OnnxTorchImport::oracle_ = nullptr;
int OnnxTorchImport::exports_ = -1, OnnxTorchImport::tune_ = -1;

TEST_F(OnnxTorchImport, TorchvisionResNet18MatchesTorch) { check_case(0); }

TEST_F(OnnxTorchImport, TorchvisionResNet50MatchesTorch) { check_case(1); }

TEST_F(OnnxTorchImport, MlpLeNetVggAtOpsets11To17MatchTorch) {
  for (size_t i = 2; i < cases().size(); ++i) check_case(i);
}

TEST_F(OnnxTorchImport, StateDictKeysAreTorchNames) {
  auto m = onnx::import_model(path("resnet18_13_fold.onnx"));
  std::set<std::string> keys;
  for (const auto& [name, t] : m->state_dict()) keys.insert(name);
  // torch folds BN into the convolutions in eval exports; the classifier keeps its name.
  EXPECT_TRUE(keys.count("fc.weight")) << "keys: " << keys.size();
  EXPECT_TRUE(keys.count("fc.bias"));
  const auto g = onnx::load(path("lenet_13_fold.onnx"));
  for (const auto& n : g.nodes) EXPECT_NE(n.op, "Shape") << "the view's shape arithmetic folds";
}

// 3 SGD steps on the imported LeNet and MLP equal PyTorch's on the original modules: losses
// within 1e-5 relative, weights within 1e-5 + 1e-4 relative.
TEST_F(OnnxTorchImport, ImportedModelsFineTuneAsTorch) {
  ASSERT_EQ(oracle_->error(tune_), "");
  const auto& r = oracle_->results(tune_);
  size_t k = 0;
  for (const char* name : {"lenet", "mlp"}) {
    SCOPED_TRACE(name);
    auto m = onnx::import_model(path(std::string("tune_") + name + ".onnx"));
    m->train();
    const Tensor x = r.at(k), y = r.at(k + 1), want_losses = r.at(k + 2);
    k += 3;
    optim::SGD opt(m->parameters(), {.lr = 0.05, .momentum = 0.9});
    std::vector<float> losses;
    for (int step = 0; step < 3; ++step) {
      opt.zero_grad();
      Tensor loss = F::cross_entropy((*m)(x), y);
      loss.backward();
      opt.step();
      losses.push_back(loss.item<float>());
    }
    EXPECT_TRUE(matches(from_vector(losses), want_losses, 1e-5, 1e-6));
    auto sd = m->named_parameters();  // torch's state_dicts here hold parameters only
    std::sort(sd.begin(), sd.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [key, value] : sd) {
      ASSERT_LT(k, r.size());
      EXPECT_TRUE(matches(value, r.at(k++), 1e-4, 1e-5)) << key;
    }
  }
  EXPECT_EQ(k, r.size()) << "every torch parameter compared";
}

}  // namespace
}  // namespace ravel
