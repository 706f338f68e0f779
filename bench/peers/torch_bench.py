"""PyTorch's side of bench/compare: the same workloads as bench/ravel_bench.cpp.

Prints "TIME <workload> <median seconds per call>" for each workload named on the command line.
Two threads, as ravel gets on the benchmark machine.
"""
import sys

import torch
import torch.nn.functional as F

from numpy_bench import median_seconds_per_call

torch.set_num_threads(2)


def autograd_chain():
    # Forward and backward through 1,000 tiny ops on 16 elements: the graph's overhead.
    x = torch.rand(16, requires_grad=True)

    def fn():
        y = x
        for i in range(1000):
            y = y * 1.0001 if i % 3 == 0 else y + 0.001 if i % 3 == 1 else torch.tanh(y)
        y.sum().backward()
        x.grad = None
    return fn


def train_step(net, opt, x, y):
    # zero_grad, forward, cross-entropy, backward, optimizer step.
    def fn():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        loss.item()
    return fn


def mlp_train():
    # One step of a 784-512-512-10 ReLU MLP, batch 128, cross-entropy, SGD with momentum.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    return train_step(net, opt, torch.randn(128, 784), torch.randint(0, 10, (128,)))


def resnet20_train(channels, size):
    # One ResNet-20 training step, batch 128, SGD with Nesterov momentum.
    from torch_fmnist import ResNet20
    torch.manual_seed(0)
    net = ResNet20(in_ch=channels).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    return train_step(net, opt, torch.randn(128, channels, size, size),
                      torch.randint(0, 10, (128,)))


def small_op():
    a, b = torch.rand(16), torch.rand(16)
    return lambda: torch.add(a, b)


def infer(arch, batch):
    # torchvision's model in eval mode under no_grad (PyTorch's inference mode), 3x224x224.
    import torchvision
    torch.manual_seed(0)
    net = getattr(torchvision.models, arch)().eval()
    x = torch.rand(batch, 3, 224, 224)

    def fn():
        with torch.no_grad():
            net(x)
    return fn


WORKLOADS = {"autograd_chain": autograd_chain, "mlp_train": mlp_train,
             "resnet18_infer_b1": lambda: infer("resnet18", 1),
             "resnet18_infer_b16": lambda: infer("resnet18", 16),
             "resnet50_infer_b1": lambda: infer("resnet50", 1),
             "resnet20_train_fmnist": lambda: resnet20_train(1, 28),
             # ravel's eager modules on the same step (ravel's fast path is compiled)
             "resnet20_train_fmnist_eager": lambda: resnet20_train(1, 28),
             "resnet20_train_cifar": lambda: resnet20_train(3, 32),
             "small_op": small_op}


def main():
    names = sys.argv[1:] or sorted(WORKLOADS)
    for name in names:
        if name not in WORKLOADS:
            print(f"torch_bench: unknown workload '{name}'", file=sys.stderr)
            sys.exit(2)
        print(f"TIME {name} {median_seconds_per_call(WORKLOADS[name]()):.9g}", flush=True)


if __name__ == "__main__":
    main()
