#!/usr/bin/python3
"""tests/reference/names_lstm.py: PyTorch's twin of examples/names_lstm.c, the
reference for its test NLL floor (data/README.md: 2.0076 after 8 epochs).

    /usr/bin/python3 tests/reference/names_lstm.py [--epochs 8] [--seed 0] [--cell lstm|rnn|gru]

Each name is "." + name + "." over the 27 symbols ".a-z"; the model reads a
symbol and predicts the next: nn.Embedding(27, 32), one nn.LSTM of 128
(batch first), nn.Linear(128, 27); Adam lr 3e-3, batches of 64 in a fresh
random order each epoch, gradients clipped to global norm 5. Names are padded
to 16 steps, padded targets are -1 and ignored by the loss. Prints one line per
epoch and last "test nll: X", nats per predicted symbol over the test file.
"""
import argparse
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T = 16


def load(path):
    names = [line.strip() for line in open(path) if line.strip()]
    ids = torch.zeros(len(names), T, dtype=torch.long)
    tg = torch.full((len(names), T), -1, dtype=torch.long)
    for r, n in enumerate(names):
        s = [0] + [ord(c) - ord('a') + 1 for c in n] + [0]
        ids[r, :len(s) - 1] = torch.tensor(s[:-1])
        tg[r, :len(s) - 1] = torch.tensor(s[1:])
    return ids, tg


class Model(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.embed = nn.Embedding(27, 32)
        self.rnn = {"lstm": nn.LSTM, "rnn": nn.RNN, "gru": nn.GRU}[cell](32, 128, batch_first=True)
        self.out = nn.Linear(128, 27)

    def forward(self, ids):
        h, _ = self.rnn(self.embed(ids))
        return self.out(h)


def nll(model, ids, tg):
    with torch.no_grad():
        z = model(ids)
        return F.cross_entropy(z.reshape(-1, 27), tg.reshape(-1), ignore_index=-1,
                               reduction="sum").item() / (tg >= 0).sum().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cell", default="lstm", choices=["lstm", "rnn", "gru"])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(os.path.join(ROOT, "data", "names-train.txt"))
    xte, yte = load(os.path.join(ROOT, "data", "names-test.txt"))
    model = Model(a.cell)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    t0 = time.time()
    for epoch in range(a.epochs):
        perm = torch.randperm(len(xtr))
        for k in range(0, len(xtr), 64):
            b = perm[k:k + 64]
            z = model(xtr[b])
            loss = F.cross_entropy(z.reshape(-1, 27), ytr[b].reshape(-1), ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
        print("epoch %d/%d  test nll %.4f  %.1f s" % (epoch + 1, a.epochs, nll(model, xte, yte),
                                                    time.time() - t0), flush=True)
    print("test nll: %.4f" % nll(model, xte, yte))


if __name__ == "__main__":
    main()
