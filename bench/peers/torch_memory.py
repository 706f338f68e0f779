"""PyTorch's half of bench/memory: the same training passes as bench/memory_bench.cpp."""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
torch.set_num_threads(2)


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def measure(name, step):
    base = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    step()
    peak = status_kib("VmHWM")
    print(f"PEAK_MIB {name} {(peak - base) / 1024.0:.1f}")


def mlp20_backward():
    layers = []
    for _ in range(20):
        layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers)
    x, y = torch.randn(512, 1024), torch.randint(0, 1024, (512,))

    def step():
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()

    measure("mlp20_backward", step)


def resnet20_train_step():
    from torch_fmnist import ResNet20
    net = ResNet20()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))

    def step():
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()

    measure("resnet20_train_step", step)


if __name__ == "__main__":
    torch.manual_seed(0)
    {"mlp20_backward": mlp20_backward, "resnet20_train_step": resnet20_train_step}[sys.argv[1]]()
