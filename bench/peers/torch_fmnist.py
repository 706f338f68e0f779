"""PyTorch's side of the fmnist_resnet20_epoch workload: the recipe of examples/fashion_mnist.cpp.

CIFAR-style ResNet-20 (option A shortcuts) on Fashion-MNIST from Debian's package, random crop
(padding 2) + horizontal flip + normalisation through torchvision transforms in a DataLoader with
2 worker processes, SGD (nesterov, momentum 0.9, weight decay 5e-4 on weights only), one-cycle
schedule (pct_start 0.25), batch 128, drop_last, 2 compute threads. Prints
"TIME fmnist_resnet20_epoch <seconds per training epoch>" and "ACCURACY fmnist_resnet20_epoch <test
accuracy>".

usage: torch_fmnist.py [--epochs N] [--train-limit N]
"""
import argparse
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, (cout - cin) // 2

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        sc = x
        if self.stride != 1 or self.pad:
            sc = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(y + sc)


class ResNet20(nn.Module):
    def __init__(self, in_ch=1, classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in [(16, 1), (32, 2), (64, 2)]:
            for i in range(n):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Images(torch.utils.data.Dataset):
    def __init__(self, images, labels, transform):
        self.images = torch.from_numpy(images.copy()).unsqueeze(1)  # uint8 [N,1,28,28]
        self.labels = torch.from_numpy(labels.astype(np.int64))
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(self.images[i]), self.labels[i]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    xtr = read_idx(f"{DATA}/train-images-idx3-ubyte.gz")
    ytr = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz")
    xte = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz")
    yte = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")
    if args.train_limit:
        xtr, ytr = xtr[:args.train_limit], ytr[:args.train_limit]
    to_float = T.ConvertImageDtype(torch.float32)
    norm = T.Normalize((0.2860,), (0.3530,))
    train_tf = T.Compose([to_float, T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), norm])
    test_tf = T.Compose([to_float, norm])
    train = torch.utils.data.DataLoader(Images(xtr, ytr, train_tf), batch_size=128, shuffle=True,
                                        drop_last=True, num_workers=2, persistent_workers=True)
    test = torch.utils.data.DataLoader(Images(xte, yte, test_tf), batch_size=1000, num_workers=2)

    model = ResNet20()
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=0.1, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=args.epochs * len(train),
                                                pct_start=0.25)
    train_seconds = 0.0
    for epoch in range(args.epochs):
        model.train()
        t0 = time.perf_counter()
        for x, y in train:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            loss.item()
        train_seconds += time.perf_counter() - t0
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in test:
                correct += (model(x).argmax(1) == y).sum().item()
        print(f"epoch {epoch + 1}: test accuracy {correct / len(yte):.4f}", file=sys.stderr)
    print(f"TIME fmnist_resnet20_epoch {train_seconds / args.epochs:.6f}")
    print(f"ACCURACY fmnist_resnet20_epoch {correct / len(yte):.6f}")


if __name__ == "__main__":
    main()
