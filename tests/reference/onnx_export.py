#!/usr/bin/python3
"""tests/reference/onnx_export.py: PyTorch's exporter writes the models that
tests/test_onnx.c imports (nb_onnx_read) and checks against PyTorch's outputs.

Run with Debian's Python (torch 1.13): /usr/bin/python3 tests/reference/onnx_export.py
It writes tests/onnx/{mlp,lenet,bn_dropout,lstm,gru,indexing}.onnx and, for each, a .ref
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


class GRUModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 4, num_layers=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x, h0):
        y, h = self.gru(x, h0)
        return self.head(y), h


class Indexing(nn.Module):
    """Indexing as PyTorch exports it: x[:, 1] and x[-1] (Gather of one
    index), x[:, ::2] (Slice with a step), and a sequence model's last step."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        col = x[:, 1]
        last = x[-1]
        even = x[:, ::2]
        return self.fc(x[-1, :, :3]) * col[-1, :2] + last.sum(), even.tanh()


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
    export("gru", GRUModel(),
           [torch.randn(5, 2, 3, generator=g), torch.randn(1, 2, 4, generator=g) * 0.5],
           ["x", "h0"], ["y", "h"])
    indexing()
    bad_files()
    fuzz_seeds()


def indexing():
    """The indexing model; its export is also a seed of fuzz/fuzz_onnx.c."""
    g = torch.Generator().manual_seed(2)
    export("indexing", Indexing(), [torch.randn(4, 5, 6, generator=g)], ["x"], ["y", "even"])
    with open(os.path.join(OUT, "indexing.onnx"), "rb") as src, \
            open(os.path.join(OUT, "..", "..", "fuzz", "corpus", "onnx", "pytorch_indexing.onnx"),
                 "wb") as dst:
        dst.write(src.read())


def fuzz_seeds():
    """Small models, one per group of operators, as seeds of fuzz/fuzz_onnx.c."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save
    corpus = os.path.join(OUT, "..", "..", "fuzz", "corpus", "onnx")
    rng = np.random.default_rng(5)

    def t(name, *shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    def ints(name, *v):
        return numpy_helper.from_array(np.array(v, dtype=np.int64), name)

    def vi(name, shape, ty=TensorProto.FLOAT):
        return helper.make_tensor_value_info(name, ty, shape)

    def save_model(name, nodes, inputs, outputs, inits):
        g = helper.make_graph(nodes, name, inputs, outputs, inits)
        save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
             os.path.join(corpus, "op_" + name + ".onnx"))

    N = helper.make_node
    save_model("gemm_flatten", [
        N("Flatten", ["x"], ["f"], axis=1),
        N("Gemm", ["f", "w", "b"], ["g"], transB=1, alpha=0.5, beta=2.0),
        N("LeakyRelu", ["g"], ["l"], alpha=0.1),
        N("Clip", ["l", "lo", "hi"], ["y"]),
    ], [vi("x", [2, 3, 2])], [vi("y", [2, 4])],
        [t("w", 4, 6), t("b", 4), numpy_helper.from_array(np.array(-0.5, np.float32), "lo"),
         numpy_helper.from_array(np.array(0.5, np.float32), "hi")])
    save_model("shape_chain", [
        N("Shape", ["x"], ["s"]),
        N("Gather", ["s", "zero"], ["n"], axis=0),
        N("Unsqueeze", ["n", "zero1"], ["n1"]),
        N("Concat", ["n1", "minus1"], ["shape"], axis=0),
        N("Reshape", ["x", "shape"], ["r"]),
        N("ReduceMean", ["r"], ["m"], axes=[1], keepdims=1),
        N("Sub", ["r", "m"], ["y"]),
    ], [vi("x", [3, 2, 2])], [vi("y", [3, 4])],
        [numpy_helper.from_array(np.array(0, np.int64), "zero"), ints("zero1", 0),
         ints("minus1", -1)])
    save_model("split_pad", [
        N("Split", ["x", "parts"], ["a", "b"], axis=1),
        N("Pad", ["a", "pads", "pv"], ["p"]),
        N("Squeeze", ["b", "ax"], ["sq"]),
        N("Unsqueeze", ["sq", "ax"], ["us"]),
        N("Max", ["p", "us"], ["y1"]),
        N("Min", ["p", "us"], ["y2"]),
        N("Where", ["c", "y1", "y2"], ["y"]),
    ], [vi("x", [2, 3])], [vi("y", [2, 3])],
        [ints("parts", 2, 1), ints("pads", 0, 0, 0, 1),
         numpy_helper.from_array(np.array(0, np.float32), "pv"), ints("ax", 1),
         numpy_helper.from_array(np.array([[True], [False]]), "c")])
    save_model("conv_pool", [
        N("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=1),
        N("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], strides=[2, 2]),
        N("ConvTranspose", ["m", "wt"], ["u"], kernel_shape=[2, 2], strides=[2, 2]),
        N("AveragePool", ["u"], ["a"], kernel_shape=[2, 2]),
        N("GlobalAveragePool", ["a"], ["gp"]),
        N("Flatten", ["gp"], ["y"]),
    ], [vi("x", [1, 2, 4, 4])], [vi("y", [1, 3])],
        [t("w", 4, 2, 3, 3), t("b", 4), t("wt", 4, 3, 2, 2)])
    save_model("norms", [
        N("BatchNormalization", ["x", "s", "bb", "mean", "var"], ["bn"], epsilon=1e-5),
        N("Dropout", ["bn", "ratio"], ["d"]),
        N("LayerNormalization", ["d", "ls", "lb"], ["ln"], axis=-1, epsilon=1e-5),
        N("Softmax", ["ln"], ["sm"], axis=1),
        N("LogSoftmax", ["ln"], ["lsm"], axis=-1),
        N("Add", ["sm", "lsm"], ["y"]),
    ], [vi("x", [3, 4])], [vi("y", [3, 4])],
        [t("s", 4), t("bb", 4), t("mean", 4),
         numpy_helper.from_array(np.ones(4, np.float32), "var"),
         numpy_helper.from_array(np.array(0.2, np.float32), "ratio"), t("ls", 4), t("lb", 4)])
    save_model("consts", [
        N("Constant", [], ["k"], value=numpy_helper.from_array(np.array([2, 3], np.int64))),
        N("ConstantOfShape", ["k"], ["z"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        N("Cast", ["table"], ["idf"], to=TensorProto.FLOAT),
        N("Gather", ["table", "ids"], ["e"], axis=0),
        N("ReduceSum", ["e", "ax"], ["s"], keepdims=0),
        N("Pow", ["z", "two"], ["zz"]),
        N("Mul", ["s", "zz"], ["m"]),
        N("Erf", ["m"], ["er"]),
        N("Sqrt", ["zz"], ["sq"]),
        N("Div", ["er", "sq"], ["y"]),
        N("Equal", ["idf", "idf"], ["eq"]),
        N("Greater", ["idf", "idf"], ["gt"]),
        N("Less", ["idf", "idf"], ["lt"]),
        N("Cast", ["lt"], ["y2"], to=TensorProto.FLOAT),
    ], [vi("ids", [2, 2], TensorProto.INT64)], [vi("y", [2, 3]), vi("y2", [5, 3])],
        [t("table", 5, 3), ints("ax", 1), numpy_helper.from_array(np.array(2, np.float32), "two")])
    save_model("slice_transpose", [
        N("Slice", ["x", "st", "en", "axs", "steps"], ["s"]),
        N("Transpose", ["s"], ["t"], perm=[1, 0]),
        N("Identity", ["t"], ["i"]),
        N("MatMul", ["i", "w"], ["mm"]),
        N("ReduceMax", ["mm"], ["y"], axes=[0], keepdims=0),
        N("Neg", ["y"], ["n"]), N("Exp", ["n"], ["e"]), N("Log", ["e"], ["l"]),
        N("Tanh", ["l"], ["th"]), N("Sigmoid", ["th"], ["sg"]), N("Relu", ["sg"], ["out"]),
    ], [vi("x", [4, 6])], [vi("out", [3])],
        [ints("st", 1), ints("en", 100), ints("axs", 1), ints("steps", 2), t("w", 4, 3)])
    print("wrote the fuzz seeds")
    fold_seeds()
    refusal_seeds()
    long_sequences()


def fold_seeds():
    """Seeds for the importer's folding of constant chains: a Slice of a Shape
    (with a step), and the attribute form of Slice of opset 9."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save
    corpus = os.path.join(OUT, "..", "..", "fuzz", "corpus", "onnx")

    def ints(name, *v):
        return numpy_helper.from_array(np.array(v, dtype=np.int64), name)

    N = helper.make_node
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 12])
    g = helper.make_graph([
        N("Shape", ["x"], ["s"]),
        N("Slice", ["s", "st", "en", "ax", "step"], ["n"]),
        N("Concat", ["n", "minus1"], ["shape"], axis=0),
        N("Reshape", ["x", "shape"], ["y"]),
    ], "shape_slice", [x], [y],
        [ints("st", 0), ints("en", 3), ints("ax", 0), ints("step", 3), ints("minus1", -1)])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
         os.path.join(corpus, "op_shape_slice.onnx"))
    y9 = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2, 4])
    g = helper.make_graph([N("Slice", ["x"], ["y"], starts=[1], ends=[3], axes=[1])],
                          "slice_opset9", [x], [y9])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 9)]),
         os.path.join(corpus, "op_slice_opset9.onnx"))


def refusal_seeds(corpus=None):
    """One small model per refusal of the importer that no seed reached and
    fuzz_onnx found rarely or never (docs/reliability.md, the twelfth
    session): seeds named refuse_*.onnx, which test_onnx also reads for
    their messages, and two op_*.onnx for paths that import (an
    initializer listed as an input, IR 3; Slice of opset 9 without axes)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save
    corpus = corpus or os.path.join(OUT, "..", "..", "fuzz", "corpus", "onnx")
    F = TensorProto.FLOAT
    N = helper.make_node
    V = helper.make_tensor_value_info

    def ints(name, *v):
        return numpy_helper.from_array(np.array(v, dtype=np.int64), name)

    def floats(name, shape):
        return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)

    def model(name, nodes, ins, outs, inits=(), opset=17, ir=None):  # name: the file's, no .onnx
        m = helper.make_model(helper.make_graph(nodes, name, ins, outs, list(inits)),
                              opset_imports=[helper.make_opsetid("", opset)])
        if ir is not None:
            m.ir_version = ir
        save(m, os.path.join(corpus, name + ".onnx"))

    x23 = V("x", F, [2, 3])
    x1234 = V("x", F, [1, 2, 3, 4])
    model("refuse_squeeze_axes", [N("Squeeze", ["x"], ["y"], name="sq", axes=list(range(9)))],
          [x23], [V("y", F, [2, 3])], opset=11)
    model("refuse_conv_output_padding",
          [N("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[1, 1], output_padding=[1, 1])],
          [x1234], [V("y", F, [1, 2, 3, 4])], [floats("w", [2, 2, 1, 1])])
    model("refuse_bn_training_outputs",
          [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y", "rm", "rv"], name="bn")],
          [x1234], [V("y", F, [1, 2, 3, 4])],
          [floats("s", [2]), floats("b", [2]), floats("m", [2]), floats("v", [2])])
    model("refuse_layer_norm_mean",
          [N("LayerNormalization", ["x", "s"], ["y", "mean"], name="ln")],
          [x23], [V("y", F, [2, 3])], [floats("s", [3])])
    model("refuse_constant_of_shape_value",
          [N("ConstantOfShape", ["shape"], ["y"], name="cos",
             value=helper.make_tensor("value", F, [2], [1.0, 2.0]))],
          [], [V("y", F, [2, 3])], [ints("shape", 2, 3)])
    model("refuse_input_rank_9", [N("Relu", ["x"], ["y"], name="relu")],
          [V("x", F, [1] * 9)], [V("y", F, [1] * 9)])
    model("refuse_split_many_outputs",
          [N("Split", ["x"], ["y%d" % k for k in range(65)], name="split", axis=1)],
          [V("x", F, [1, 65])], [V("y0", F, [1, 1])])
    model("refuse_gather_indices_rank_2",
          [N("Gather", ["x", "i"], ["y"], name="gather", axis=1)],
          [x23, V("i", TensorProto.INT64, [2, 2])], [V("y", F, [2, 2, 2])])
    model("refuse_lstm_too_long",
          [N("LSTM", ["x", "w", "r"], ["y"], name="lstm", hidden_size=1)],
          [V("x", F, [100001, 1, 1])], [V("y", F, [100001, 1, 1, 1])],
          [floats("w", [1, 4, 1]), floats("r", [1, 4, 1])])
    model("refuse_gru_too_long",
          [N("GRU", ["x", "w", "r"], ["y"], name="gru", hidden_size=1)],
          [V("x", F, [100001, 1, 1])], [V("y", F, [100001, 1, 1, 1])],
          [floats("w", [1, 3, 1]), floats("r", [1, 3, 1])])
    model("op_initializer_as_input", [N("Relu", ["w"], ["y"], name="relu")],
          [V("w", F, [2])], [V("y", F, [2])], [floats("w", [2])], ir=3)
    model("op_slice_opset9_no_axes", [N("Slice", ["x"], ["y"], name="sl", starts=[0], ends=[1])],
          [x23], [V("y", F, [1, 3])], opset=9)
    model("refuse_dropout_mask", [N("Dropout", ["x"], ["y", "mask"], name="drop")],
          [x23], [V("y", F, [2, 3])])
    model("refuse_lstm_clip",
          [N("LSTM", ["x", "w", "r"], ["y"], name="lstm", hidden_size=1, clip=1.0)],
          [V("x", F, [2, 1, 1])], [V("y", F, [2, 1, 1, 1])],
          [floats("w", [1, 4, 1]), floats("r", [1, 4, 1])])
    model("refuse_gather_constant_indices_rank_2",
          [N("Gather", ["x", "i"], ["y"], name="gather", axis=1)],
          [x23], [V("y", F, [2, 2, 2])],
          [numpy_helper.from_array(np.array([[0, 1], [1, 0]], dtype=np.int64), "i")])
    model("refuse_constant_no_output",
          [N("Constant", [], [], name="c", value=helper.make_tensor("v", F, [1], [1.0])),
           N("Relu", ["x"], ["y"], name="relu")], [x23], [V("y", F, [2, 3])])
    # indices in int64_data, not raw_data (numpy_helper writes raw_data)
    model("op_int64_data", [N("Gather", ["x", "i"], ["y"], name="gather", axis=1)],
          [x23], [V("y", F, [2, 2])], [helper.make_tensor("i", TensorProto.INT64, [2], [2, 0])])


def long_sequences():
    """An LSTM and a GRU over 300 steps (B = I = H = 1, every weight 0.5):
    more steps than one concat takes, so the importer joins Y in groups."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save
    F = TensorProto.FLOAT
    V = helper.make_tensor_value_info
    T = 300
    for op, gates in (("LSTM", 4), ("GRU", 3)):
        w = [numpy_helper.from_array(np.full((1, gates, 1), 0.5, dtype=np.float32), n)
             for n in ("w", "r")]
        node = helper.make_node(op, ["x", "w", "r"], ["y", "y_h"], name=op.lower(),
                                hidden_size=1)
        g = helper.make_graph([node], op.lower() + "_300", [V("x", F, [T, 1, 1])],
                              [V("y", F, [T, 1, 1, 1]), V("y_h", F, [1, 1, 1])], w)
        save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
             os.path.join(OUT, op.lower() + "_300.onnx"))


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
