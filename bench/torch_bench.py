#!/usr/bin/python3
"""bench/torch_bench.py: PyTorch's side of nabla's performance suite (issue 5).

    /usr/bin/python3 bench/torch_bench.py WORKLOAD [--threads N] [--json] [--reps N]

The twin of every nabla-bench workload (W1 to W7, W3b, gemm-w1, gemm-w3), with
the same data generator (bench/datagen.h) and the same JSON fields. Run it
with Debian's /usr/bin/python3 and its python3-torch; without torch it prints
a clear message (and, with --json, {"skipped": true, ...}) and exits with 0.

Threads: BLIS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS are set before
torch is imported (BLIS reads its variable when it starts), then
torch.set_num_threads(N) sets PyTorch's own intra-op pool.
"""
import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workload")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--nodes", type=int, default=0, help="W5: only graphs of N op nodes")
    ap.add_argument("--pattern", choices=["chain", "dag"], help="W5: only one pattern")
    return ap.parse_args()


ARGS = parse_args()
for var in ("BLIS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # a clear skip, never a traceback
    msg = ("PyTorch is not installed for %s (%s); install Debian's python3-torch "
           "(apt-get install python3-torch) and run with /usr/bin/python3" % (sys.executable, e))
    if ARGS.json:
        print(json.dumps({"workload": ARGS.workload, "threads": ARGS.threads, "skipped": True,
                          "reason": msg}))
    else:
        print("torch_bench: skipped: " + msg)
    sys.exit(0)

torch.set_num_threads(ARGS.threads)

# ---------------------------------------------------------------------------
# The shared data generator (bench/datagen.h)
# ---------------------------------------------------------------------------
def lowbias32(x):
    x = x.astype(np.uint32)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7FEB352D)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846CA68B)
        x ^= x >> np.uint32(16)
    return x


def gen_u(stream, n):
    """Elements 0..n-1 of a stream, float64 in [0, 1)."""
    i = np.arange(n, dtype=np.uint64)
    x = ((i + np.uint64((stream * 0x9E3779B9) & 0xFFFFFFFF)) & np.uint64(0xFFFFFFFF))
    return (lowbias32(x) >> np.uint32(8)).astype(np.float64) / 16777216.0


def sym(stream, shape, scale=1.0):
    """The symmetric tensor (2u - 1) * scale, in double, rounded to float32 once."""
    n = int(np.prod(shape))
    return ((2 * gen_u(stream, n) - 1) * scale).astype(np.float32).reshape(shape)


# ---------------------------------------------------------------------------
# Clocks, statistics, memory
# ---------------------------------------------------------------------------
def now_ms():
    return time.perf_counter() * 1e3


def stats(v):
    s = sorted(v)
    n = len(s)
    med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return {"median_ms": med, "min_ms": s[0], "max_ms": s[-1]}


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def status_kb(key):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def trim_heap():
    """Give freed heap pages back (glibc), so an RSS baseline is not padded by old passes."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def check(r, key, value, ref, rtol):
    ok = abs(value - ref) <= rtol * abs(ref)
    r[key] = value
    r[key + "_ref"] = ref
    r[key + "_match"] = ok
    r.setdefault("_checks", []).append(ok)


def reps_or(d):
    return ARGS.reps if ARGS.reps > 0 else d


# ---------------------------------------------------------------------------
# Which BLAS PyTorch got
# ---------------------------------------------------------------------------
def blas_info():
    a = torch.ones(64, 64)
    _ = a @ a  # make sure the BLAS library is loaded and used
    mapped = set()
    with open("/proc/self/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and re.search(r"blas|blis|mkl|openblas", parts[5], re.I):
                mapped.add(parts[5])
    alt = None
    try:
        q = subprocess.run(["update-alternatives", "--query", "libblas.so.3-x86_64-linux-gnu"],
                           capture_output=True, text=True, timeout=10)
        m = re.search(r"^Value:\s*(\S+)", q.stdout, re.M)
        alt = m.group(1) if m else None
    except (OSError, subprocess.SubprocessError):
        pass
    if not alt:
        p = "/etc/alternatives/libblas.so.3-x86_64-linux-gnu"
        alt = os.path.realpath(p) if os.path.exists(p) else "unknown"
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    return {
        "torch_version": torch.__version__,
        "torch_blas_info": m.group(1) if m else "unknown",
        "libblas_alternative": alt,
        "blas_libs_mapped": sorted(mapped),
        "blas_is_blis": any("blis" in p for p in mapped),
        "threads_via": ("BLIS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=%d before import "
                        "torch, then torch.set_num_threads(%d); torch reports %d"
                        % (ARGS.threads, ARGS.threads, torch.get_num_threads())),
    }


# ---------------------------------------------------------------------------
# GEMM-only: torch.mm at the shapes of W1 and W3
# ---------------------------------------------------------------------------
def w1_flops():
    b, i, h, o = 128, 784, 512, 10
    return 2 * (2 * b * i * h + 3 * b * h * h + 3 * b * h * o)


def bench_gemm_w1(r):
    g = lambda k, *shape: torch.from_numpy(sym(k, shape, 1.0))
    x, w1, w2, w3 = g(21, 128, 784), g(22, 512, 784), g(23, 512, 512), g(24, 10, 512)
    h1, h2, dz1, dz2, dz3 = g(25, 128, 512), g(26, 128, 512), g(27, 128, 512), g(28, 128, 512), \
        g(29, 128, 10)
    z1, z2, z3 = torch.empty(128, 512), torch.empty(128, 512), torch.empty(128, 10)
    dh1, dh2 = torch.empty(128, 512), torch.empty(128, 512)
    dw1, dw2, dw3 = torch.empty(512, 784), torch.empty(512, 512), torch.empty(10, 512)

    def once():
        torch.mm(x, w1.t(), out=z1)
        torch.mm(h1, w2.t(), out=z2)
        torch.mm(h2, w3.t(), out=z3)
        torch.mm(dz3.t(), h2, out=dw3)
        torch.mm(dz3, w3, out=dh2)
        torch.mm(dz2.t(), h1, out=dw2)
        torch.mm(dz2, w2, out=dh1)
        torch.mm(dz1.t(), x, out=dw1)

    warm, reps = 20, reps_or(200)
    t = []
    for i in range(warm + reps):
        t0 = now_ms()
        once()
        if i >= warm:
            t.append(now_ms() - t0)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = "torch.mm with out=: the eight GEMMs of one W1 step"
    r["reps"], r["warmup"] = reps, warm
    r["gflops"] = w1_flops() / (r["median_ms"] * 1e6)


def bench_gemm_w3(r):
    a = torch.from_numpy(sym(9, (1024, 1024)))
    b = torch.from_numpy(sym(10, (1024, 1024)))
    dc = torch.ones(1024, 1024)
    c, da, db = torch.empty(1024, 1024), torch.empty(1024, 1024), torch.empty(1024, 1024)
    warm, reps = 3, reps_or(20)
    t = []
    for i in range(warm + reps):
        t0 = now_ms()
        torch.mm(a, b, out=c)
        torch.mm(dc, b.t(), out=da)
        torch.mm(a.t(), dc, out=db)
        if i >= warm:
            t.append(now_ms() - t0)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = "torch.mm with out=: the three 1024^3 GEMMs of W3"
    r["reps"], r["warmup"] = reps, warm
    r["gflops"] = 6 * 1024 ** 3 / (r["median_ms"] * 1e6)


# ---------------------------------------------------------------------------
# W1: MLP 784-512-512-10, batch 128, plain SGD
# ---------------------------------------------------------------------------
def bench_w1(r):
    x = torch.from_numpy(sym(1, (128, 784)))
    y = torch.from_numpy(np.floor(gen_u(2, 128) * 10).astype(np.int64))
    shapes = [((512, 784), 784), ((512,), 784), ((512, 512), 512), ((512,), 512),
              ((10, 512), 512), ((10,), 512)]
    params = [torch.from_numpy(sym(3 + k, s, fan ** -0.5)).requires_grad_()
              for k, (s, fan) in enumerate(shapes)]
    w1, b1, w2, b2, w3, b3 = params
    opt = torch.optim.SGD(params, lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        h1 = F.relu(F.linear(x, w1, b1))
        h2 = F.relu(F.linear(h1, w2, b2))
        loss = F.cross_entropy(F.linear(h2, w3, b3), y)
        loss.backward()
        opt.step()
        return loss

    warm, reps = 20, reps_or(200)
    t, losses = [], {}
    for i in range(warm + reps):
        t0 = now_ms()
        loss = step()
        dt = now_ms() - t0
        if i in (0, 19, warm + reps - 1):
            losses[i] = loss.item()
        if i >= warm:
            t.append(dt)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("one training step (zero_grad, forward with F.linear, cross_entropy, backward, "
                 "torch.optim.SGD step)")
    r["reps"], r["warmup"] = reps, warm
    last = warm + reps - 1
    r["last_step"] = last
    check(r, "loss_step0", losses[0], 2.300901, 1e-4)
    check(r, "loss_step19", losses[19], 2.281702, 1e-4)
    if last == 219:
        check(r, "loss_step219", losses[219], 2.063738, 1e-4)
    else:
        r["loss_last_step"] = losses[last]
    r["ref_rtol"] = 1e-4
    r["gflops"] = w1_flops() / (r["median_ms"] * 1e6)


# ---------------------------------------------------------------------------
# W2 and W5: scalar graphs
# ---------------------------------------------------------------------------
def scalar_graph(pattern, n_ops, dag_data=None):
    """One pass: build and run the forward (eager), the gradient (autograd.grad), free."""
    t0 = now_ms()
    if pattern == "chain":
        p = [torch.tensor(1.5 + j / 100, requires_grad=True) for j in range(100)]
        x0 = torch.tensor(0.5, requires_grad=True)
        x, s = x0, torch.tensor(0.0)
        for i in range(n_ops // 4):
            m = x * p[i % 100]
            x = torch.tanh(m)
            s = s + torch.sigmoid(x)
        loss, wrt = s, p + [x0]
        del m, x, s
    else:
        pv, r, jj = dag_data
        p = [torch.tensor(v, requires_grad=True) for v in pv]
        v = list(p)
        for t in range(n_ops):
            prev = v[-1]
            rt = r[t]
            if rt < 0.25:
                v.append(torch.tanh(prev))
            elif rt < 0.5:
                v.append(torch.sigmoid(prev))
            elif rt < 0.75:
                v.append(prev * v[jj[t]])
            else:
                v.append(prev + v[jj[t]])
        loss, wrt = v[-1], p
        del prev
    t1 = now_ms()
    # a DAG need not use every p (nabla returns zeros for those, torch None)
    grads = torch.autograd.grad(loss, wrt, allow_unused=pattern == "dag")
    t2 = now_ms()
    res = {
        "loss": loss.item(),
        "grad_p_sum": sum(g.item() for g in grads[:100] if g is not None),
        "grad_x0": grads[100].item() if pattern == "chain" else float("nan"),
    }
    t3 = now_ms()
    if pattern == "dag":
        del v
    del loss, grads, wrt, p
    t4 = now_ms()
    res.update(forward_ms=t1 - t0, grad_ms=t2 - t1, free_ms=t4 - t3, total_ms=t2 - t0)
    return res


def dag_data(n_ops):
    pv = [float(v) for v in sym(13, (100,))]
    r = gen_u(14, n_ops).tolist()
    at = 100 + np.arange(n_ops, dtype=np.float64)
    jj = np.floor(gen_u(15, n_ops) * at).astype(np.int64).tolist()
    return pv, r, jj


SLOW_MS = 3000


def scalar_bench(pattern, n_ops, reps):
    """A first pass (warm-up, memory), then reps timed passes (none when the first is slow)."""
    data = dag_data(n_ops) if pattern == "dag" else None
    trim_heap()
    hwm = reset_peak_rss()
    rss0 = status_kb("VmRSS:")
    first = scalar_graph(pattern, n_ops, data)
    rss_delta = status_kb("VmHWM:") - rss0 if hwm and rss0 >= 0 else -1
    runs = [first] if first["total_ms"] > SLOW_MS else \
        [scalar_graph(pattern, n_ops, data) for _ in range(reps)]
    med = lambda k: stats([x[k] for x in runs])["median_ms"]
    out = {"pattern": pattern, "nodes": n_ops, "reps": len(runs)}
    out.update(stats([x["total_ms"] for x in runs]))
    out.update(ns_per_node=out["median_ms"] * 1e6 / n_ops, forward_ms=med("forward_ms"),
               grad_ms=med("grad_ms"), free_ms=med("free_ms"), rss_delta_kb=rss_delta,
               rss_bytes_per_node=rss_delta * 1024 / n_ops if rss_delta >= 0 else None,
               loss=first["loss"], grad_p_sum=first["grad_p_sum"], grad_x0=first["grad_x0"])
    return out


def bench_w2(r):
    n = 100000
    reps = reps_or(3)
    s = scalar_bench("chain", n, reps)
    r.update({k: s[k] for k in ("median_ms", "min_ms", "max_ms")})
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("eager forward of 100,000 scalar ops (build and run at once), then "
                 "torch.autograd.grad for 101 scalars; freeing the graph excluded")
    r["reps"] = s["reps"]
    r["nodes"] = n
    r["ns_per_node"] = s["ns_per_node"]
    r["forward_ms"], r["grad_ms"], r["free_ms"] = s["forward_ms"], s["grad_ms"], s["free_ms"]
    r["rss_delta_kb"] = s["rss_delta_kb"]
    r["rss_bytes_per_node"] = s["rss_bytes_per_node"]
    check(r, "loss", s["loss"], 18007.68, 1e-5)
    check(r, "grad_p_sum", s["grad_p_sum"], 649.409, 1e-5)
    check(r, "grad_x0", s["grad_x0"], 0.447687, 1e-5)
    r["ref_rtol"] = 1e-5


def bench_w5(r):
    sizes = [(10000, 5), (100000, 3), (1000000, 1)]
    if ARGS.nodes:
        sizes = [(ARGS.nodes, reps_or(3))]
    out = []
    for pattern in ("chain", "dag"):
        if ARGS.pattern and pattern != ARGS.pattern:
            continue
        for n, reps in sizes:
            out.append(scalar_bench(pattern, n, reps_or(reps)))
    r["median_ms"] = sum(s["median_ms"] for s in out)
    r["min_ms"] = sum(s["min_ms"] for s in out)
    r["max_ms"] = sum(s["max_ms"] for s in out)
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("scalar graphs of 1e4, 1e5, 1e6 ops, chain and random DAG, eager forward and "
                 "autograd.grad; median_ms, min_ms, max_ms are sums over the sizes")
    for pattern in ("chain", "dag"):
        by = {s["nodes"]: s for s in out if s["pattern"] == pattern}
        small, big = by.get(10000), by.get(1000000)
        ok = small and big
        r[pattern + "_time_ratio"] = big["ns_per_node"] / small["ns_per_node"] if ok else None
        r[pattern + "_rss_ratio"] = (big["rss_bytes_per_node"] / small["rss_bytes_per_node"]
                                     if ok and big["rss_bytes_per_node"]
                                     and small["rss_bytes_per_node"] else None)
    r["sizes"] = out


# ---------------------------------------------------------------------------
# W3: gradients of sum(A @ B)
# ---------------------------------------------------------------------------
def bench_w3(r):
    a = torch.from_numpy(sym(9, (1024, 1024))).requires_grad_()
    b = torch.from_numpy(sym(10, (1024, 1024))).requires_grad_()
    warm, reps = 3, reps_or(20)
    t = []
    for i in range(warm + reps):
        t0 = now_ms()
        loss = (a @ b).sum()
        ga, gb = torch.autograd.grad(loss, (a, b))
        dt = now_ms() - t0
        if i >= warm:
            t.append(dt)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = "loss = (A @ B).sum() and torch.autograd.grad for A and B, 1024x1024 f32"
    r["reps"], r["warmup"] = reps, warm
    r["gflops"] = 6 * 1024 ** 3 / (r["median_ms"] * 1e6)
    a64, b64 = a.detach().double(), b.detach().double()
    ref = float((a64.sum(0) * b64.sum(1)).sum())
    check(r, "loss", loss.item(), ref, 1e-3)
    check(r, "grad_a_sum", float(ga.double().sum()), 1024 * float(b64.sum()), 1e-3)
    check(r, "grad_b_sum", float(gb.double().sum()), 1024 * float(a64.sum()), 1e-3)


# ---------------------------------------------------------------------------
# W3b: gradients of sum((A @ B) * R), R fixed: both backward GEMMs run
# ---------------------------------------------------------------------------
def bench_w3b(r):
    a = torch.from_numpy(sym(9, (1024, 1024))).requires_grad_()
    b = torch.from_numpy(sym(10, (1024, 1024))).requires_grad_()
    rw = torch.from_numpy(sym(50, (1024, 1024)))
    warm, reps = 3, reps_or(20)
    t = []
    for i in range(warm + reps):
        t0 = now_ms()
        loss = ((a @ b) * rw).sum()
        ga, gb = torch.autograd.grad(loss, (a, b))
        dt = now_ms() - t0
        if i >= warm:
            t.append(dt)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("loss = ((A @ B) * R).sum(), R a fixed [1024,1024] tensor, and "
                 "torch.autograd.grad for A and B, 1024x1024 f32")
    r["reps"], r["warmup"] = reps, warm
    r["gflops"] = 6 * 1024 ** 3 / (r["median_ms"] * 1e6)
    # in double: sum(dA) = sum(R B^T) and sum(dB) = sum(A^T R) by column and row sums (exact
    # up to rounding), the loss as sum(A * (R B^T)) with a float64 GEMM
    a64, b64, r64 = a.detach().double(), b.detach().double(), rw.double()
    check(r, "loss", loss.item(), float((a64 * (r64 @ b64.t())).sum()), 1e-3)
    check(r, "grad_a_sum", float(ga.double().sum()), float((r64.sum(0) * b64.sum(0)).sum()), 1e-3)
    check(r, "grad_b_sum", float(gb.double().sum()), float((a64.sum(1) * r64.sum(1)).sum()), 1e-3)
    r["ref_source"] = ("float64: sum(dA) = sum_j colsum(R)_j colsum(B)_j, sum(dB) = "
                       "sum_i rowsum(A)_i rowsum(R)_i, loss = sum(A * (R Bt))")


# ---------------------------------------------------------------------------
# W4: logistic regression, 1000 full-batch SGD steps
# ---------------------------------------------------------------------------
def bench_w4(r):
    xs = sym(11, (1797, 64))
    v = sym(12, (64,))
    ys = ((xs.astype(np.float64) @ v.astype(np.float64)) > 0).astype(np.float32)
    x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    w = torch.zeros(64, requires_grad=True)
    b = torch.zeros((), requires_grad=True)
    opt = torch.optim.SGD([w, b], lr=0.1)
    reps = reps_or(5)
    t = []
    for i in range(1 + reps):  # one warm-up pass
        with torch.no_grad():
            w.zero_()
            b.zero_()
        t0 = now_ms()
        for _ in range(1000):
            opt.zero_grad(set_to_none=True)
            loss = F.binary_cross_entropy_with_logits(x @ w + b, y)
            loss.backward()
            opt.step()
        dt = now_ms() - t0
        if i >= 1:
            t.append(dt)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("1000 full-batch steps: zero_grad, binary_cross_entropy_with_logits(X w + b), "
                 "backward, torch.optim.SGD(lr=0.1) step")
    r["reps"] = reps
    r["us_per_step"] = r["median_ms"] * 1e3 / 1000
    check(r, "final_loss", loss.item(), 0.173087, 1e-4)
    with torch.no_grad():
        z = x @ w + b
        r["loss_after_last_update"] = F.binary_cross_entropy_with_logits(z, y).item()
        acc = float(((z > 0).float() == y).float().mean())
    check(r, "accuracy", acc, 0.9783, 1e-4)
    r["ref_rtol"] = 1e-4
    r["ref_note"] = "final_loss is the loss computed by step 1000, before its update"

# ---------------------------------------------------------------------------
# W6: one LeNet-5 training step, batch 64 of 1x28x28, Adam
# ---------------------------------------------------------------------------
# conv1 6x1x5x5 pad 2, conv2 16x6x5x5, dense 400-120, 120-84, 84-10; weights in
# PyTorch's layout, drawn from the shared generator with fan_in^-1/2 scale
W6_SHAPES = [((6, 1, 5, 5), 25), ((6,), 25), ((16, 6, 5, 5), 150), ((16,), 150),
             ((120, 400), 400), ((120,), 400), ((84, 120), 120), ((84,), 120),
             ((10, 84), 84), ((10,), 84)]


def w6_flops():
    n = 64
    conv = 2 * n * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150)  # forward MACs x 2
    dense = 2 * n * (400 * 120 + 120 * 84 + 84 * 10)
    return 3 * (conv + dense) - 2 * n * 6 * 28 * 28 * 25  # no input gradient for conv1


def bench_w6(r):
    x = torch.from_numpy(sym(61, (64, 1, 28, 28), 1.0))
    y = torch.from_numpy(np.floor(gen_u(62, 64) * 10).astype(np.int64))
    params = [torch.from_numpy(sym(63 + k, s, fan ** -0.5)).requires_grad_()
              for k, (s, fan) in enumerate(W6_SHAPES)]
    c1, cb1, c2, cb2, w1, b1, w2, b2, w3, b3 = params
    opt = torch.optim.Adam(params, lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        h = F.max_pool2d(F.relu(F.conv2d(x, c1, cb1, padding=2)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, c2, cb2)), 2).flatten(1)
        h = F.relu(F.linear(F.relu(F.linear(h, w1, b1)), w2, b2))
        loss = F.cross_entropy(F.linear(h, w3, b3), y)
        loss.backward()
        opt.step()
        return loss

    warm, reps = 10, reps_or(100)
    t, losses = [], {}
    for i in range(warm + reps):
        t0 = now_ms()
        loss = step()
        dt = now_ms() - t0
        if i in (0, 9):
            losses[i] = loss.item()
        if i >= warm:
            t.append(dt)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("one LeNet-5 training step: zero_grad, F.conv2d/max_pool2d/linear forward, "
                 "cross_entropy, backward, torch.optim.Adam step")
    r["reps"], r["warmup"] = reps, warm
    check(r, "loss_step0", losses[0], 2.316288, 1e-4)
    check(r, "loss_step9", losses[9], 2.208669, 1e-4)
    r["ref_rtol"] = 1e-4
    r["gflops"] = w6_flops() / (r["median_ms"] * 1e6)


# ---------------------------------------------------------------------------
# W7: one training step of the names model (examples/names_lstm.c)
# ---------------------------------------------------------------------------
def bench_w7(r):
    B, T, V, E, H = 64, 16, 27, 32, 128
    ids = torch.from_numpy(np.floor(gen_u(30, B * T) * V).astype(np.int64)).reshape(B, T)
    tg = torch.from_numpy(np.floor(gen_u(31, B * T) * V).astype(np.int64))
    embed = torch.nn.Embedding(V, E)
    lstm = torch.nn.LSTM(E, H, batch_first=True)
    out = torch.nn.Linear(H, V)
    params = [embed.weight, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0,
              lstm.bias_hh_l0, out.weight, out.bias]
    with torch.no_grad():  # the same values as nabla-bench's, streams 32..38
        for k, p in enumerate(params):
            p.copy_(torch.from_numpy(sym(32 + k, tuple(p.shape), 1.0 if k == 0 else H ** -0.5)))
    opt = torch.optim.Adam(params, lr=3e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        h, _ = lstm(embed(ids))
        loss = F.cross_entropy(out(h).reshape(B * T, V), tg, ignore_index=-1)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return loss

    warm, reps = 20, reps_or(200)
    t, losses = [], {}
    for i in range(warm + reps):
        t0 = now_ms()
        loss = step()
        dt = now_ms() - t0
        if i in (0, warm + reps - 1):
            losses[i] = loss.item()
        if i >= warm:
            t.append(dt)
    r.update(stats(t))
    r["peak_rss_kb"] = peak_rss_kb()
    r["what"] = ("one training step (zero_grad, nn.Embedding, nn.LSTM batch_first, nn.Linear, "
                 "cross_entropy, backward, clip_grad_norm_ 5, torch.optim.Adam lr 3e-3)")
    r["reps"], r["warmup"] = reps, warm
    check(r, "loss_step0", losses[0], 3.297356, 1e-4)
    r["loss_last_step"] = losses[warm + reps - 1]
    r["ref_rtol"] = 1e-4


def clean(v):
    """JSON has no NaN: not-a-number becomes null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v


WORKLOADS = {"w1": bench_w1, "w2": bench_w2, "w3": bench_w3, "w3b": bench_w3b, "w4": bench_w4,
             "w5": bench_w5, "w6": bench_w6, "w7": bench_w7, "gemm-w1": bench_gemm_w1,
             "gemm-w3": bench_gemm_w3}


def main():
    name = ARGS.workload.lower()
    if name not in WORKLOADS:
        sys.exit("torch_bench: unknown workload %r (one of %s)" % (ARGS.workload,
                                                                  ", ".join(WORKLOADS)))
    info = blas_info()
    r = {"workload": "W3b" if name == "w3b" else name.upper() if name.startswith("w") else name,
         "threads": ARGS.threads}
    WORKLOADS[name](r)
    checks = r.pop("_checks", None)
    if checks is not None:
        r["reference_match"] = all(checks)
    r.update(info)
    head = ("workload", "threads", "median_ms", "min_ms", "max_ms", "peak_rss_kb")
    r = clean({**{k: r[k] for k in head}, **r})  # the contract's fields first
    if ARGS.json:
        print(json.dumps(r))
    else:
        for k, v in r.items():
            print("%-26s %s" % (k, json.dumps(v) if isinstance(v, (list, dict)) else v))


if __name__ == "__main__":
    main()
