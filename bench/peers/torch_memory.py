"""PyTorch's half of bench/memory: the same 20-layer MLP pass as bench/memory_bench.cpp."""
import torch
import torch.nn.functional as F

torch.set_num_threads(2)


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def main():
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers)
    x, y = torch.randn(512, 1024), torch.randint(0, 1024, (512,))

    def step():
        net.zero_grad()
        F.cross_entropy(net(x), y).backward()

    base = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    step()
    peak = status_kib("VmHWM")
    print(f"PEAK_MIB mlp20_backward {(peak - base) / 1024.0:.1f}")


if __name__ == "__main__":
    main()
