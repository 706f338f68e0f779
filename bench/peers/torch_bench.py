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


def mlp_train():
    # One step of a 784-512-512-10 ReLU MLP, batch 128, cross-entropy, SGD with momentum.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 512), torch.nn.ReLU(),
                              torch.nn.Linear(512, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(128, 784), torch.randint(0, 10, (128,))

    def fn():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        loss.item()
    return fn


WORKLOADS = {"autograd_chain": autograd_chain, "mlp_train": mlp_train}


def main():
    names = sys.argv[1:] or sorted(WORKLOADS)
    for name in names:
        if name not in WORKLOADS:
            print(f"torch_bench: unknown workload '{name}'", file=sys.stderr)
            sys.exit(2)
        print(f"TIME {name} {median_seconds_per_call(WORKLOADS[name]()):.9g}", flush=True)


if __name__ == "__main__":
    main()
