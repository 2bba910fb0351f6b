#!/usr/bin/python3
"""tests/reference/lenet_mnist.py: PyTorch's LeNet-5 on the MNIST subset in data/,
the recipe of examples/mnist_cnn.c (conv 5x5x6 pad 2, ReLU, max-pool 2, conv 5x5x16,
ReLU, max-pool 2, dense 120, 84, 10; Adam lr 1e-3, batches of 64, pixels in [0, 1]),
so the example's accuracy floor has a reference.

    /usr/bin/python3 tests/reference/lenet_mnist.py [--epochs N] [--seeds N] [--threads N]
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def read_idx(name):
    with open(os.path.join(ROOT, "data", name), "rb") as f:
        b = f.read()
    dims = b[3]
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c2 = nn.Conv2d(6, 16, 5)
        self.f1 = nn.Linear(16 * 5 * 5, 120)
        self.f2 = nn.Linear(120, 84)
        self.f3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = x.flatten(1)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x)))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pre = "mnist-subset-"
    xtr = torch.from_numpy(read_idx(pre + "train-images-idx3-ubyte").astype(np.float32) / 255)
    ytr = torch.from_numpy(read_idx(pre + "train-labels-idx1-ubyte").astype(np.int64))
    xte = torch.from_numpy(read_idx(pre + "test-images-idx3-ubyte").astype(np.float32) / 255)
    yte = torch.from_numpy(read_idx(pre + "test-labels-idx1-ubyte").astype(np.int64))
    xtr, xte = xtr.unsqueeze(1), xte.unsqueeze(1)
    for seed in range(a.seeds):
        torch.manual_seed(seed)
        m = LeNet()
        opt = torch.optim.Adam(m.parameters(), lr=1e-3)
        for epoch in range(a.epochs):
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr) - 63, 64):  # full batches, as the example
                idx = perm[i:i + 64]
                opt.zero_grad()
                F.cross_entropy(m(xtr[idx]), ytr[idx]).backward()
                opt.step()
        with torch.no_grad():
            acc = (m(xte).argmax(1) == yte).float().mean().item()
        print("seed %d: test accuracy %.4f after %d epochs" % (seed, acc, a.epochs))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
