// Helpers shared by the model tests. A whole model's state travels to the torch oracle as one
// flat float32 vector (the oracle binds at most 16 inputs) and is loaded back in state_dict
// order; names are compared in the script, which raises (an oracle error) naming the first
// difference. add_parity runs a model in ravel and in torch on the same state and input:
//
//   TorchOracle torch;
//   Parity p = add_parity(torch, *net, x, {.torch_ctor = "torchvision.models.resnet18()",
//                                          .grads = {"conv1.weight"}});
//   torch.run();
//   check_parity(torch, p, 1e-4);
#pragma once
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "ravel/nn/module.h"
#include "ravel/nn/norm.h"
#include "ravel/ops.h"
#include "ravel/random.h"
#include "support/numpy_oracle.h"

namespace ravel::testing {

// Python for the scripts: check_names(m, names); load_flat(m, flat) (integer entries such as
// num_batches_tracked keep torch's value); count(m) (parameter elements); no_init() (a context
// in which modules are built without drawing weights: counting and loading only need shapes);
// leaf(v). Then the torch models ravel's are compared with where torchvision has none: LeNet-5
// and MLPs as Sequentials; the CIFAR ResNets as akamaster/pytorch_resnet_cifar10 (option A:
// subsample + zero channels on both sides) with ravel's names, option B (downsample), the
// pre-activation variant (a shortcut that is not the identity takes the pre-activated input),
// and a pre-activation bottleneck.
inline const char* const kTorchModels = R"(
import contextlib
import torchvision
def check_names(m, names):
    got = list(m.state_dict().keys())
    if got != names:
        i = next(i for i in range(min(len(got), len(names)) + 1)
                 if i == len(got) or i == len(names) or got[i] != names[i])
        raise AssertionError(f'state_dict names differ at {i}: torch {got[i:i + 3]} '
                             f'ravel {names[i:i + 3]} (sizes {len(got)}, {len(names)})')
def load_flat(m, flat):
    sd, off = m.state_dict(), 0
    for k, v in sd.items():
        if v.is_floating_point():
            sd[k] = torch.tensor(flat[off:off + v.numel()]).view_as(v)
            off += v.numel()
    assert off == flat.size, (off, flat.size)
    m.load_state_dict(sd)
def count(m):
    return np.array(sum(p.numel() for p in m.parameters()), dtype=np.int64)
@contextlib.contextmanager
def no_init():
    names = ['kaiming_normal_', 'kaiming_uniform_', 'normal_', 'uniform_', 'constant_',
             'zeros_', 'ones_', 'trunc_normal_']
    saved = {n: getattr(nn.init, n) for n in names}
    for n in names:
        setattr(nn.init, n, lambda t, *a, **k: t)
    try:
        yield
    finally:
        for n, f in saved.items():
            setattr(nn.init, n, f)
def leaf(v):
    return torch.tensor(v, requires_grad=True)
def lenet5(inch, classes, size):
    pad = 2 if size < 32 else 0
    side = ((size + 2 * pad - 4) // 2 - 4) // 2
    return nn.Sequential(nn.Conv2d(inch, 6, 5, padding=pad), nn.Tanh(), nn.AvgPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(16 * side * side, 120), nn.Tanh(), nn.Linear(120, 84),
                         nn.Tanh(), nn.Linear(84, classes))
def mlp(sizes, act=nn.ReLU, bn=False, p=0.0):
    layers = [nn.Flatten()]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers += [nn.BatchNorm1d(sizes[i + 1])] if bn else []
            layers.append(act())
            layers += [nn.Dropout(p)] if p > 0 else []
    return nn.Sequential(*layers)
class Block(nn.Module):
    def __init__(self, inp, planes, stride, option, pre):
        super().__init__()
        self.pre, self.stride, self.pad, self.zero_pad = pre, stride, planes - inp, False
        if pre:
            self.bn1 = nn.BatchNorm2d(inp)
            self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            if option == 'A':
                self.zero_pad = True
            else:
                self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))
    def shortcut(self, x):
        if self.zero_pad:
            p = self.pad
            return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, p // 2, p - p // 2))
        return x if self.downsample is None else self.downsample(x)
    def forward(self, x):
        if self.pre:
            o = F.relu(self.bn1(x))
            s = self.shortcut(o) if (self.zero_pad or self.downsample is not None) else x
            return self.conv2(F.relu(self.bn2(self.conv1(o)))) + s
        o = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(o)) + self.shortcut(x))
class CifarResNet(nn.Module):
    def __init__(self, depth, inch, classes, option='A', pre=False, w=16):
        super().__init__()
        n, self.pre = (depth - 2) // 6, pre
        self.conv1 = nn.Conv2d(inch, w, 3, 1, 1, bias=False)
        if not pre:
            self.bn1 = nn.BatchNorm2d(w)
        inp = w
        for i, (planes, stride) in enumerate([(w, 1), (2 * w, 2), (4 * w, 2)]):
            blocks = []
            for j in range(n):
                blocks.append(Block(inp, planes, stride if j == 0 else 1, option, pre))
                inp = planes
            setattr(self, f'layer{i + 1}', nn.Sequential(*blocks))
        if pre:
            self.bn_final = nn.BatchNorm2d(inp)
        self.fc = nn.Linear(inp, classes)
    def forward(self, x):
        o = self.conv1(x)
        if not self.pre:
            o = F.relu(self.bn1(o))
        o = self.layer3(self.layer2(self.layer1(o)))
        if self.pre:
            o = F.relu(self.bn_final(o))
        return self.fc(F.avg_pool2d(o, o.size()[3]).view(o.size(0), -1))
class PreActBottleneck(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inp)
        self.conv1 = nn.Conv2d(inp, planes, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.downsample = None
        if stride != 1 or inp != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes * 4, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes * 4))
    def forward(self, x):
        o = F.relu(self.bn1(x))
        s = x if self.downsample is None else self.downsample(o)
        o = self.conv2(F.relu(self.bn2(self.conv1(o))))
        return self.conv3(F.relu(self.bn3(o))) + s
)";

// The floating entries of m's state_dict (parameters and running statistics), flattened, in
// order, as float32.
// A standard-normal input of the given shape, from its own seed.
inline Tensor random_input(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return randn(shape, gen);
}

inline Tensor flat_state(const nn::Module& m) {
  std::vector<Tensor> parts;
  for (const auto& [name, t] : m.state_dict())
    if (is_floating(t.dtype())) parts.push_back(t.reshape({-1}).to(DType::Float32));
  return concatenate(parts);
}

inline std::string py_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (const auto& x : v) s += "'" + x + "',";
  return s + "]";
}

// The state_dict names as a Python list.
inline std::string py_state_names(const nn::Module& m) {
  std::vector<std::string> names;
  for (const auto& [name, t] : m.state_dict()) names.push_back(name);
  return py_list(names);
}

// A script that builds `torch_ctor` without drawing weights and checks its state_dict names
// against m's; its result is torch's parameter count.
inline int add_names_and_count(NumpyOracle& torch, const nn::Module& m,
                               const std::string& torch_ctor) {
  return torch.add_script(std::string(kTorchModels) + "with no_init():\n    m = " + torch_ctor +
                              "\ncheck_names(m, " + py_state_names(m) + ")\nout = count(m)",
                          {});
}

// Every batch norm gets random affine parameters and running statistics, so eval mode and the
// affine gradients are tested with values that matter (a fresh BN is the identity).
inline void randomize_batch_norms(nn::Module& m, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard ng;
  for (auto& [name, mod] : m.named_modules()) {
    auto norm = std::dynamic_pointer_cast<nn::NormBase>(mod);
    if (!norm) continue;
    norm->weight.copy_(rand(norm->weight.shape(), gen) + 0.5);
    norm->bias.copy_(randn(norm->bias.shape(), gen) * 0.2);
    norm->running_mean.copy_(randn(norm->running_mean.shape(), gen) * 0.2);
    norm->running_var.copy_(rand(norm->running_var.shape(), gen) + 0.5);
  }
}

// float32 through a deep network: within rtol of each element plus rtol of the tensor's largest
// magnitude (small entries of a sum of many terms carry absolute, not relative, error).
inline ::testing::AssertionResult close(const Tensor& ours, const Tensor& ref, double rtol = 1e-4) {
  const double scale = ref.numel() ? amax(abs(ref)).item<double>() : 0.0;
  return matches(ours, ref, rtol, rtol * scale);
}

// One model run by ravel and by torch on the same state and input. For each mode, in order:
// forward and (with backward) loss = sum(y * w), backward; the results are y and dloss/dx,
// then, after a training pass, the gradients of `grads` and the values of `buffers` (running
// statistics that pass updated).
struct ParitySpec {
  std::string torch_ctor;                   // a Python expression building the torch model
  std::vector<bool> modes = {true, false};  // true: train, false: eval
  bool backward = true;
  std::vector<std::string> grads = {}, buffers = {};
};
struct Parity {
  int handle = -1;
  std::vector<std::string> labels;
  std::vector<Tensor> ours;
};

inline Parity add_parity(NumpyOracle& torch, nn::Module& net, const Tensor& x,
                         const ParitySpec& spec) {
  Generator gen(99);
  std::vector<Tensor> inputs = {flat_state(net), x};  // before training updates the statistics
  std::string script = std::string(kTorchModels) + "with no_init():\n    m = " + spec.torch_ctor +
                       "\ncheck_names(m, " + py_state_names(net) + ")\n" +
                       "load_flat(m, a)\nps, out = dict(m.named_parameters()), []\n";
  Parity p;
  std::map<std::string, Tensor> params;
  for (const auto& [name, t] : net.named_parameters()) params[name] = t;
  for (size_t i = 0; i < spec.modes.size(); ++i) {
    const bool train = spec.modes[i];
    const std::string mode = train ? "train" : "eval";
    net.train(train);
    net.zero_grad();
    script += "m.train(" + std::string(train ? "True" : "False") + ")\nm.zero_grad()\n";
    if (!spec.backward) {
      NoGradGuard ng;
      p.ours.push_back(net(x));
      p.labels.push_back(mode + " output");
      script += "with torch.no_grad():\n    out.append(m(torch.tensor(b)))\n";
      continue;
    }
    Tensor xi = x.clone().requires_grad_();
    Tensor y = net(xi);
    Tensor w = randn(y.shape(), gen);
    inputs.push_back(w);  // c, d, ...
    (y * w).sum().backward();
    p.ours.push_back(y.detach());
    p.labels.push_back(mode + " output");
    p.ours.push_back(xi.grad());
    p.labels.push_back(mode + " input grad");
    script += "x = leaf(b)\ny = m(x)\n(y * torch.tensor(" +
              std::string(1, static_cast<char>('a' + inputs.size() - 1)) +
              ")).sum().backward()\nout += [y, x.grad]\n";
    if (!train) continue;
    for (const auto& n : spec.grads) {
      p.ours.push_back(params.at(n).grad().clone());
      p.labels.push_back("grad of " + n);
    }
    std::map<std::string, Tensor> state;
    for (const auto& [name, t] : net.state_dict()) state[name] = t;
    for (const auto& n : spec.buffers) {
      p.ours.push_back(state.at(n).clone());
      p.labels.push_back(n + " after training");
    }
    script += "out += [ps[n].grad.clone() for n in " + py_list(spec.grads) + "]\n" +
              "out += [m.state_dict()[n].clone() for n in " + py_list(spec.buffers) + "]\n";
  }
  p.handle = torch.add_script(script, inputs);
  return p;
}

inline void check_parity(const NumpyOracle& torch, const Parity& p, double rtol) {
  ASSERT_EQ(torch.error(p.handle), "");
  const auto& ref = torch.results(p.handle);
  ASSERT_EQ(ref.size(), p.ours.size());
  for (size_t i = 0; i < ref.size(); ++i)
    EXPECT_TRUE(close(p.ours[i], ref[i], rtol)) << p.labels[i];
}

}  // namespace ravel::testing
