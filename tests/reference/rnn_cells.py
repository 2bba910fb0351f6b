# tests/reference/rnn_cells.py: the PyTorch float64 values that tests/test_rnn.c
# checks nabla's RNN, LSTM and GRU cells against. Run once offline with
# Debian's /usr/bin/python3 (torch 1.13); it prints the C arrays pasted into
# test_rnn.c. Inputs are two-decimal values drawn with Python's random module
# (seed 20241201); the loss is sum(h' * w) (+ sum(c' * w) for the LSTM) with
# w_k = ((k * 37) % 17 - 8.5) / 8, the weights test_ops_grad.c uses.
import random
import torch

random.seed(20241201)
B, I, H = 2, 3, 2


def draw(*shape):
    n = 1
    for d in shape:
        n *= d
    return torch.tensor([round(random.uniform(-1, 1), 2) for _ in range(n)],
                        dtype=torch.float64).reshape(shape).requires_grad_()


def weights(n):
    return torch.tensor([((k * 37) % 17 - 8.5) / 8 for k in range(n)], dtype=torch.float64)


def c_array(name, t):
    vals = ", ".join(repr(v) for v in t.detach().reshape(-1).tolist())
    print(f"static const double {name}[] = {{ {vals} }};")


def case(prefix, module, states):
    x = draw(B, I)
    st = [draw(B, H) for _ in range(states)]
    with torch.no_grad():
        for p in (module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh):
            p.copy_(torch.tensor([round(random.uniform(-1, 1), 2) for _ in range(p.numel())],
                                 dtype=torch.float64).reshape(p.shape))
    out = module(x, tuple(st) if states == 2 else st[0])
    outs = list(out) if states == 2 else [out]
    loss = sum((o * weights(B * H).reshape(B, H)).sum() for o in outs)
    params = [module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh]
    grads = torch.autograd.grad(loss, [x] + st + params)
    c_array(prefix + "_x", x)
    for k, s in enumerate(st):
        c_array(prefix + ("_h", "_c")[k], s)
    for nm, p in zip(("w_ih", "w_hh", "b_ih", "b_hh"), params):
        c_array(prefix + "_" + nm, p)
    for k, o in enumerate(outs):
        c_array(prefix + ("_h_out", "_c_out")[k], o)
    print(f"static const double {prefix}_loss = {loss.item()!r};")
    names = ["dx"] + ["dh", "dc"][:states] + ["dw_ih", "dw_hh", "db_ih", "db_hh"]
    for nm, d in zip(names, grads):
        c_array(prefix + "_" + nm, d)


torch.set_default_dtype(torch.float64)
print("/* torch.nn.RNNCell(3, 2, nonlinearity='tanh') */")
case("rnn", torch.nn.RNNCell(I, H, nonlinearity="tanh"), 1)
print("/* torch.nn.RNNCell(3, 2, nonlinearity='relu') */")
case("relu", torch.nn.RNNCell(I, H, nonlinearity="relu"), 1)
print("/* torch.nn.LSTMCell(3, 2) */")
case("lstm", torch.nn.LSTMCell(I, H), 2)
print("/* torch.nn.GRUCell(3, 2) */")
case("gru", torch.nn.GRUCell(I, H), 1)
