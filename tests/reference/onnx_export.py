#!/usr/bin/python3
"""tests/reference/onnx_export.py: PyTorch's exporter writes the models that
tests/test_onnx.c imports (nb_onnx_read) and checks against PyTorch's outputs.

Run with Debian's Python (torch 1.13): /usr/bin/python3 tests/reference/onnx_export.py
It writes tests/onnx/{mlp,lenet,bn_dropout,lstm}.onnx and, for each, a .ref
file with the fixed input(s) and PyTorch's output(s) in float32 and float64
(the model run in float64 on the same float32 weights), one tensor a line.
Models are in eval mode (dropout off, batch norm on its running statistics)
and their weights are fixed by the seed.
"""
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx")


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return torch.log_softmax(self.fc2(torch.tanh(self.fc1(x))), dim=1)


class LeNet(nn.Module):
    """LeNet-5 on 1x28x28 images (padding 2 on the first convolution)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.avg_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class BNDropout(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, 16)
        self.bn1 = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        h = torch.relu(self.bn2(self.conv(x)))
        h = self.drop(torch.sigmoid(self.bn1(self.fc(h.reshape(h.shape[0], -1)))))
        return torch.softmax(self.out(h), dim=-1)


class LSTMModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=1)
        self.head = nn.Linear(5, 2)

    def forward(self, x, h0, c0):
        y, (h, c) = self.lstm(x, (h0, c0))
        return self.head(y), h, c


def bn_stats(model):
    """Running statistics that are not the defaults, as after some training."""
    g = torch.Generator().manual_seed(3)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def line(kind, name, t):
    dims = " ".join(str(d) for d in t.shape)
    return f"{kind} {name} {t.dim()} {dims} : " + " ".join(repr(float(v)) for v in t.flatten())


def export(name, model, inputs, input_names, output_names):
    model.eval()
    path = os.path.join(OUT, name + ".onnx")
    torch.onnx.export(model, tuple(inputs), path, input_names=input_names,
                      output_names=output_names, opset_version=17, do_constant_folding=True)
    with torch.no_grad():
        out32 = model(*inputs)
        out64 = model.double()(*[t.double() for t in inputs])
    if not isinstance(out32, tuple):
        out32, out64 = (out32,), (out64,)
    # one line per tensor: KIND NAME RANK DIMS... : VALUES (repr: round-trips)
    lines = []
    for n, t in zip(input_names, inputs):
        lines.append(line("input", n, t))
    for n, a, b in zip(output_names, out32, out64):
        lines.append(line("f32", n, a))
        lines.append(line("f64", n, b))
    with open(os.path.join(OUT, name + ".ref"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path)


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    export("mlp", MLP(), [torch.randn(5, 4, generator=g)], ["x"], ["y"])
    export("lenet", LeNet(), [torch.randn(2, 1, 28, 28, generator=g)], ["image"], ["logits"])
    bn = BNDropout()
    bn_stats(bn)
    export("bn_dropout", bn, [torch.randn(3, 2, 4, 4, generator=g)], ["x"], ["probs"])
    export("lstm", LSTMModel(),
           [torch.randn(4, 2, 3, generator=g), torch.randn(1, 2, 5, generator=g) * 0.5,
            torch.randn(1, 2, 5, generator=g) * 0.5],
           ["x", "h0", "c0"], ["y", "h", "c"])
    bad_files()


def bad_files():
    """Files the importer must refuse with a message naming the node and op."""
    from onnx import TensorProto, helper, save
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    node = helper.make_node("Hardmax", ["x"], ["y"], name="the_hardmax")
    save(helper.make_model(helper.make_graph([node], "bad_op", [x], [y]),
                           opset_imports=[helper.make_opsetid("", 17)]),
         os.path.join(OUT, "bad_op.onnx"))
    xd = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    yd = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    save(helper.make_model(helper.make_graph([node], "dynamic", [xd], [yd]),
                           opset_imports=[helper.make_opsetid("", 17)]),
         os.path.join(OUT, "dynamic.onnx"))
    node = helper.make_node("Softmax", ["x"], ["y"], name="soft", axis=1, fancy=2)
    save(helper.make_model(helper.make_graph([node], "bad_attr", [x], [y]),
                           opset_imports=[helper.make_opsetid("", 17)]),
         os.path.join(OUT, "bad_attr.onnx"))
    print("wrote the bad_*.onnx and dynamic.onnx files")


if __name__ == "__main__":
    main()
