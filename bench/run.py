#!/usr/bin/python3
"""bench/run.py: nabla against PyTorch on every workload of issues 5 and 17, in one run.

    /usr/bin/python3 bench/run.py [--build DIR] [--threads 1,2] [--rounds 2]
                                  [--workloads W1,gemm-w1,...] [--out FILE]

For each workload and thread count it runs nabla-bench and bench/torch_bench.py
alternately (A B A B ..., --rounds times each, W5 once), so both sides share
the machine's noise, then prints Markdown tables: times and ratios (with BLIS's
GEMM-only time for W1, W3 and W3b), the issues' targets, the reference-value checks,
W5's scaling and the machine. Raw results go to DIR/bench-results.json and the
tables to DIR/bench-results.md. bench/run.sh builds first and calls this.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL = ["W1", "gemm-w1", "W2", "W3", "W3b", "gemm-w3", "W4", "W5", "W6", "W7"]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build", help="meson build folder (default build)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--rounds", type=int, default=2,
                    help="A/B rounds per workload and thread count (default 2; W5 runs once)")
    ap.add_argument("--workloads", default=",".join(ALL))
    ap.add_argument("--python", default="/usr/bin/python3",
                    help="interpreter with Debian's python3-torch (default /usr/bin/python3)")
    ap.add_argument("--out", help="results JSON (default BUILD/bench-results.json)")
    ap.add_argument("--label", help="a note recorded with the machine (e.g. what was changed)")
    ap.add_argument("--render", metavar="JSON",
                    help="print the tables of an earlier run's results JSON, running nothing")
    return ap.parse_args()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, env):
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode != 0:
        return {"error": "exit %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()[-2000:])}, \
            time.time() - t0
    try:
        return json.loads(p.stdout.strip().splitlines()[-1]), time.time() - t0
    except (ValueError, IndexError):
        return {"error": "no JSON in output: " + p.stdout[-500:] + p.stderr[-500:]}, \
            time.time() - t0


def median(v):
    s = sorted(v)
    n = len(s)
    return None if n == 0 else s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def combine(runs):
    """Rounds of one side: the best (lowest) per-round median, since noise on a shared
    machine only adds time; min of mins, max of maxes; in-process ratios: their median."""
    ok = [r for r in runs if "error" not in r and not r.get("skipped")]
    if not ok:
        return runs[0] if runs else {"error": "not run"}
    best = min(ok, key=lambda r: r["median_ms"])
    c = dict(best)
    c["min_ms"] = min(r["min_ms"] for r in ok)
    c["max_ms"] = max(r["max_ms"] for r in ok)
    c["peak_rss_kb"] = max(r["peak_rss_kb"] for r in ok)
    c["round_medians_ms"] = [r["median_ms"] for r in ok]
    if all("ratio_to_blis" in r and r["ratio_to_blis"] is not None for r in ok):
        c["ratio_to_blis"] = median([r["ratio_to_blis"] for r in ok])
        c["blis_gemm_median_ms"] = median([r["blis_gemm_median_ms"] for r in ok])
    for k in ("ratio_to_blis_alone", "pair_ratio_median"):
        if all(r.get(k) is not None for r in ok):
            c[k] = median([r[k] for r in ok])
    if any("reference_match" in r for r in ok):
        c["reference_match"] = all(r.get("reference_match", False) for r in ok)
    return c


def cpu_snapshot():
    """Busy CPU seconds of the whole machine (/proc/stat) and of our finished children."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        busy = (sum(v) - v[3] - (v[4] if len(v) > 4 else 0)) / hz  # minus idle and iowait
    except (OSError, ValueError):
        busy = float("nan")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, ru.ru_utime + ru.ru_stime, time.time()


def background(before, after):
    """CPU other processes used between two snapshots: the run's noise."""
    busy = after[0] - before[0]
    ours = after[1] - before[1]
    wall = after[2] - before[2]
    other = max(0.0, busy - ours)
    return "%.0f s of CPU by other processes during %.0f s (%.0f%% of one core); load average " \
        "at the end %s" % (other, wall, 100 * other / wall if wall else 0,
                           open("/proc/loadavg").read().split()[0]
                           if os.path.exists("/proc/loadavg") else "?")


def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                              shell=isinstance(cmd, str)).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine(build):
    m = {}
    cpu = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    get = lambda k: (re.search(r"^%s\s*:\s*(.*)$" % k, cpu, re.M) or [None, "?"])[1]
    flags = get("flags").split()
    m["cpu"] = "%s (family %s, model %s%s)" % (
        get("model name"), get("cpu family"), get("model"),
        ", " + re.search(r"Hypervisor vendor:\s*(\S+)", sh("lscpu")).group(1) + " guest"
        if re.search(r"Hypervisor vendor:\s*(\S+)", sh("lscpu")) else "")
    m["simd"] = " ".join(f for f in ("avx2", "fma", "avx512f") if f in flags) + \
        ("" if "avx512f" in flags else " (no AVX-512 exposed)")
    m["cores"] = os.cpu_count()
    m["kernel"] = platform.release()
    m["gcc"] = sh(["gcc", "--version"]).splitlines()[0] if sh(["gcc", "--version"]) else "?"
    opts = sh(["meson", "introspect", "--buildoptions", build])
    try:
        o = {x["name"]: x["value"] for x in json.loads(opts)}
        m["buildtype"] = "%s, b_ndebug=%s" % (o.get("buildtype"), o.get("b_ndebug"))
    except ValueError:
        m["buildtype"] = "?"
    m["date"] = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    head = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = [l[3:] for l in sh(["git", "-C", ROOT, "status", "--porcelain"]).splitlines()
             if re.match(r"^.. (graph|ops|autodiff|optim|io|include)/", l)]
    m["commit"] = (head or "unknown (not a git checkout)") + \
        (" + uncommitted library changes in " + ", ".join(dirty) if dirty else "")
    return m


def fmt(v, d=2):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, (int, float)):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return ("%%.%df" % d) % v
    return str(v)


def ms(side):
    if side is None:
        return "-"
    if side.get("skipped"):
        return "skipped"
    if "error" in side:
        return "error"
    return fmt(side["median_ms"])


def ratio(a, b):
    try:
        return a / b
    except (TypeError, ZeroDivisionError):
        return None


def tables(res, threads, mach, torch_info):
    out = []
    p = out.append
    p("### Times (ms: the best of the rounds' medians; ratio = nabla time / other time, "
      "lower is better for nabla)\n")
    p("| workload | threads | nabla ms | PyTorch ms | nabla/PyTorch | BLIS GEMMs ms | nabla/BLIS "
      "| PyTorch/BLIS |")
    p("|---|---|---|---|---|---|---|---|")
    for w in res:
        for t in threads:
            e = res[w].get(t)
            if not e:
                continue
            a, b = e["nabla"], e["torch"]
            ok = "error" not in a and "error" not in b and not b.get("skipped")
            if w == "W5":
                for sa in a.get("sizes", []):
                    sb = next((x for x in b.get("sizes", []) if x["pattern"] == sa["pattern"]
                               and x["nodes"] == sa["nodes"]), None)
                    p("| W5 %s %.0e | %d | %s | %s | %s | | | |" % (
                        sa["pattern"], sa["nodes"], t, fmt(sa["median_ms"]),
                        fmt(sb["median_ms"]) if sb else "-",
                        fmt(ratio(sa["median_ms"], sb["median_ms"]) if sb else None, 3)))
                continue
            name = w + (" (BLIS direct vs torch.mm)" if w.startswith("gemm") else "")
            blis = a.get("blis_gemm_median_ms")
            p("| %s | %d | %s | %s | %s | %s | %s | %s |" % (
                name, t, ms(a), ms(b), fmt(ratio(a.get("median_ms"), b.get("median_ms"))
                                           if ok else None, 3),
                fmt(blis), fmt(a.get("ratio_to_blis"), 3),
                fmt(ratio(b.get("median_ms"), blis) if ok and blis else None, 3)))
    p("\nnabla/BLIS for W1, W3, W3b and W7 is measured inside one nabla-bench process, "
      "alternating one nabla step (or run) with BLIS's GEMMs alone at the same shapes (W1: 100 "
      "pairs after 20 warm-up; W3 and W3b: 20 after 3, W3b's dC a random matrix; W7: 100 after "
      "5, the 51 GEMMs of the fused form), and is the median of the per-round ratios. "
      "PyTorch/BLIS divides PyTorch's time by that same BLIS figure (two processes). W1's "
      "\"each timed alone\" target times the step and the GEMMs in rotating blocks of four "
      "in the same process (40 blocks of each); the \"own process\" targets of W1 and W3b are "
      "the median over rounds of the workload's median over its GEMM-only twin's (gemm-w1, "
      "gemm-w3), whose rounds alternate with it so that each pair of processes runs back to "
      "back; they still move with the machine's noise by several percent.\n")

    # targets
    p("### Targets (issues 5, 11, 12 and 17)\n")
    p("| target | threads | measured | met |")
    p("|---|---|---|---|")

    def get(w, t, side):
        e = res.get(w, {}).get(t)
        return e[side] if e else None

    for t in threads:
        a = get("W1", t, "nabla")
        if a and "ratio_to_blis" in a:
            r = a["ratio_to_blis"]
            p("| W1 step <= 1.05x BLIS's eight GEMMs (interleaved in one process) | %d | %.3fx "
              "| %s |" % (t, r, fmt(r <= 1.05)))
    for t in threads:
        a = get("W1", t, "nabla")
        if a and a.get("ratio_to_blis_alone") is not None:
            r = a["ratio_to_blis_alone"]
            p("| W1 step <= 1.05x BLIS's eight GEMMs, each timed alone (blocks in one process) "
              "| %d | %.3fx | %s |" % (t, r, fmt(r <= 1.05)))
    for t in threads:
        r = paired_ratio(res, "W1", "gemm-w1", t)
        if r is not None:
            p("| W1 step <= 1.05x BLIS's eight GEMMs timed alone (gemm-w1, its own process) | %d "
              "| %.3fx | %s |" % (t, r, fmt(r <= 1.05)))
    for t in threads:
        a, b = get("W1", t, "nabla"), get("W1", t, "torch")
        if a and b and "peak_rss_kb" in a and "peak_rss_kb" in b:
            r = a["peak_rss_kb"] / b["peak_rss_kb"]
            p("| W1 peak RSS <= 0.15x PyTorch's | %d | %.0f / %.0f MiB = %.3fx | %s |" % (
                t, a["peak_rss_kb"] / 1024, b["peak_rss_kb"] / 1024, r, fmt(r <= 0.15)))
    for t in threads:
        a, b = get("W2", t, "nabla"), get("W2", t, "torch")
        if a and b and "ns_per_node" in a and "ns_per_node" in b:
            r = b["ns_per_node"] / a["ns_per_node"]
            p("| W2 >= 100x faster per node than PyTorch | %d | %.0f vs %.0f ns/node = %.1fx | %s |"
              % (t, a["ns_per_node"], b["ns_per_node"], r, fmt(r >= 100)))
    a = get("W2", threads[0], "nabla")
    if a and "bytes_per_node" in a:
        p("| W2 <= 256 bytes per node (forward + gradient graphs), per forward op node | %d | "
          "%.0f B (peak %.0f B) | %s |" % (threads[0], a["bytes_per_node"],
                                          a["peak_bytes_per_node"],
                                          fmt(a["bytes_per_node"] <= 256)))
        p("| the same per graph node (%d forward and gradient nodes) | %d | %.0f B | %s |" % (
            a["graph_nodes"], threads[0], a["bytes_per_graph_node"],
            fmt(a["bytes_per_graph_node"] <= 256)))
    for t in threads:
        a = get("W3", t, "nabla")
        if a and "ratio_to_blis" in a:
            r = a["ratio_to_blis"]
            p("| W3 <= 1.03x BLIS's three GEMMs | %d | %.3fx | %s |" % (t, r, fmt(r <= 1.03)))
    for t in threads:
        a = get("W3b", t, "nabla")
        if a and "ratio_to_blis" in a and a["ratio_to_blis"] is not None:
            r = a["ratio_to_blis"]
            p("| W3b <= 1.05x BLIS's three GEMMs (interleaved in one process) | %d | %.3fx "
              "| %s |" % (t, r, fmt(r <= 1.05)))
        r = paired_ratio(res, "W3b", "gemm-w3", t)
        if r is not None:
            p("| W3b <= 1.05x BLIS's three GEMMs timed alone (gemm-w3, its own process) | %d | "
              "%.3fx | %s |" % (t, r, fmt(r <= 1.05)))
    for t in threads:
        a, b = get("W4", t, "nabla"), get("W4", t, "torch")
        if a and b and "median_ms" in a and "median_ms" in b:
            r = b["median_ms"] / a["median_ms"]
            p("| W4 >= 20x faster than PyTorch | %d | %.1fx | %s |" % (t, r, fmt(r >= 20)))
    for t in threads:
        a, b = get("W6", t, "nabla"), get("W6", t, "torch")
        if a and b and "median_ms" in a and "median_ms" in b:
            r = a["median_ms"] / b["median_ms"]
            p("| W6 LeNet-5 step <= 0.5x PyTorch's time (issue 11) | %d | %.2fx | %s |"
              % (t, r, fmt(r <= 0.5)))
        a, b = get("W7", t, "nabla"), get("W7", t, "torch")
        if a and b and "median_ms" in a and "median_ms" in b:
            r = a["median_ms"] / b["median_ms"]
            p("| W7 names-model step <= 0.5x PyTorch's time (issue 12) | %d | %.3fx | %s |" % (
                t, r, fmt(r <= 0.5)))
    for w, what in (("W6", "W6 LeNet-5 step"), ("W7", "W7 names-model step")):
        for t in threads:
            a, b = get(w, t, "nabla"), get(w, t, "torch")
            if a and b and a.get("peak_rss_kb") and b.get("peak_rss_kb"):
                r = a["peak_rss_kb"] / b["peak_rss_kb"]
                p("| %s peak RSS <= 0.15x PyTorch's | %d | %.0f / %.0f MiB = %.3fx | %s |" % (
                    what, t, a["peak_rss_kb"] / 1024, b["peak_rss_kb"] / 1024, r,
                    fmt(r <= 0.15)))
    a = get("W5", threads[0], "nabla")
    if a and "sizes" in a:
        for pat in ("chain", "dag"):
            for k, what in (("time", "time"), ("mem", "memory (allocated)")):
                r = a.get("%s_%s_ratio" % (pat, k))
                if r is not None:
                    p("| W5 %s: %s per node at 1e6 within 1.3x of 1e4 | %d | %.2fx | %s |" % (
                        pat, what, threads[0], r, fmt(r <= 1.3)))
    if "W5" in res:
        ran = bool(a and "sizes" in a and any(s["nodes"] == 1000000 for s in a["sizes"]))
        p("| W5: nothing recursive (a 1e6-node chain, 750,000 deep, and DAG) | %d | %s | %s |" % (
            threads[0], "built, differentiated and ran" if ran else "failed", fmt(ran)))

    # references
    p("\n### Reference values (W3 and W3b against double sums)\n")
    p("| workload | threads | side | values | match |")
    p("|---|---|---|---|---|")
    keys = {"W1": ["loss_step0", "loss_step19", "loss_step219"],
            "W2": ["loss", "grad_p_sum", "grad_x0"], "W3": ["loss", "grad_a_sum", "grad_b_sum"],
            "W3b": ["loss", "grad_a_sum", "grad_b_sum"],
            "W4": ["final_loss", "accuracy"], "W6": ["loss_step0", "loss_step9"],
            "W7": ["loss_step0"]}
    for w, ks in keys.items():
        for t in threads:
            for side in ("nabla", "torch"):
                x = get(w, t, side)
                if not x or "error" in x or x.get("skipped"):
                    continue
                vals = ", ".join("%s %.7g (ref %.7g)" % (k, x[k], x[k + "_ref"])
                                 for k in ks if k in x)
                p("| %s | %d | %s | %s | %s |" % (w, t, "nabla" if side == "nabla" else
                                                  "PyTorch", vals,
                                                  fmt(x.get("reference_match"))))
    a, b = get("W5", threads[0], "nabla"), get("W5", threads[0], "torch")
    if a and b and "sizes" in a and "sizes" in b:
        agree = []
        for sa in a["sizes"]:
            sb = next((x for x in b["sizes"] if x["pattern"] == sa["pattern"]
                       and x["nodes"] == sa["nodes"]), None)
            if sb:
                tol = 1e-3 * max(1.0, abs(sb["loss"]))
                agree.append(abs(sa["loss"] - sb["loss"]) <= tol)
        p("| W5 | %d | both | loss of every size and pattern, nabla against PyTorch | %s |"
          % (threads[0], fmt(all(agree) and bool(agree))))

    # W5 scaling
    if not any("sizes" in (get("W5", t, "nabla") or {}) for t in threads):
        p("\n### Machine\n")
        for k, v in list(mach.items()) + list(torch_info.items()):
            p("- %s: %s" % (k, v))
        return "\n".join(out)
    p("\n### W5 scaling (per forward op node)\n")
    p("| pattern | nodes | threads | nabla ns/node | PyTorch ns/node | nabla bytes/node "
      "(allocated peak) | nabla RSS B/node | PyTorch RSS B/node | nabla phases ms: build, "
      "forward, grad build, grad run |")
    p("|---|---|---|---|---|---|---|---|---|")
    for t in threads:
        a, b = get("W5", t, "nabla"), get("W5", t, "torch")
        if not a or "sizes" not in a:
            continue
        for sa in a["sizes"]:
            sb = next((x for x in (b or {}).get("sizes", []) if x["pattern"] == sa["pattern"]
                       and x["nodes"] == sa["nodes"]), {})
            p("| %s | %.0e | %d | %s | %s | %s | %s | %s | %s, %s, %s, %s |" % (
                sa["pattern"], sa["nodes"], t, fmt(sa["ns_per_node"]),
                fmt(sb.get("ns_per_node")), fmt(sa["bytes_per_node"]),
                fmt(sa.get("rss_bytes_per_node")), fmt(sb.get("rss_bytes_per_node")),
                fmt(sa["build_ms"]), fmt(sa["forward_ms"]), fmt(sa["grad_build_ms"]),
                fmt(sa["grad_run_ms"])))

    p("\n### Machine\n")
    for k, v in mach.items():
        p("- %s: %s" % (k, v))
    for k, v in torch_info.items():
        p("- %s: %s" % (k, v))
    return "\n".join(out)


def render(path):
    with open(path) as f:
        d = json.load(f)
    res = {}
    for w, per in d["results"].items():
        res[w] = {}
        for t, e in per.items():
            res[w][int(t)] = dict(e, nabla=combine(e["nabla_rounds"]),
                                  torch=combine(e["torch_rounds"]))
    threads = sorted({t for w in res for t in res[w]})
    print(tables(res, threads, d["machine"], d["torch"]))


# ---- W8: data-parallel W1 under mpirun (docs/distributed.md) ----

# (name, processes, threads, extra arguments); the last is one process's shard of two alone:
# its step is what each of the two processes computes, so it bounds their speed-up
W8_CONFIGS = [("1 process x 1 thread", 1, 1, []), ("1 process x 2 threads", 1, 2, []),
              ("2 processes x 1 thread", 2, 1, []),
              ("1 process x 1 thread, one shard of 2 (128 rows)", 1, 1, ["--shard-of", "2"])]


def run_w8(exe, rounds):
    """Runs W8 in its three configurations, alternating, rounds times; medians per configuration."""
    mpirun = shutil.which("mpirun")
    out = {}
    for r in range(rounds):
        for name, procs, t, extra in W8_CONFIGS:
            if procs > 1 and not mpirun:
                out.setdefault(name, []).append({"error": "mpirun not found (apt-get install "
                                                          "openmpi-bin)"})
                continue
            env = dict(os.environ, BLIS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
            cmd = [exe, "W8", "--threads", str(t), "--json"] + extra
            if procs > 1:
                cmd = [mpirun, "--oversubscribe", "--allow-run-as-root", "--bind-to", "none",
                       "-np", str(procs)] + cmd
            a, da = run_json(cmd, env)
            log("[W8 %d/%d] %s: %s ms (%.0f s)" % (r + 1, rounds, name, ms(a), da))
            out.setdefault(name, []).append(a)
    return {name: combine(v) for name, v in out.items()}


def w8_table(w8):
    lines = ["", "### W8: W1's MLP data-parallel, global batch 256", "",
             "| configuration | step ms | examples/s | vs 1 process x 1 thread | "
             "one all-reduce after the run, ms |",
             "| --- | --- | --- | --- | --- |"]
    base = w8.get(W8_CONFIGS[0][0], {}).get("median_ms")
    for name, _, _, _ in W8_CONFIGS:
        a = w8.get(name, {})
        m = a.get("median_ms")
        lines.append("| %s | %s | %s | %s | %s |" % (
            name, fmt(m), fmt(a.get("examples_per_s"), 0),
            "%.2fx" % (base / m) if base and m else "-",
            fmt(a.get("one_allreduce_median_ms")) if a.get("processes", 1) > 1 else "-"))
    return "\n".join(lines) + "\n"


# A workload and the GEMM-only workload it is compared with across processes: their rounds
# alternate (W1, gemm-w1, W1, gemm-w1, ...), so each pair of processes runs back to back.
PAIRS = {"W1": "gemm-w1", "W3b": "gemm-w3"}


def groups(wanted):
    """The wanted workloads in order, each paired one with its GEMM-only reference."""
    partner = dict(PAIRS)
    if "W3b" not in wanted:
        partner["W3"] = "gemm-w3"
    out, taken = [], set()
    for w in wanted:
        if w in taken:
            continue
        g = [w] + ([partner[w]] if partner.get(w) in wanted else [])
        taken.update(g)
        out.append(g)
    return out


def paired_ratio(res, w, g, t):
    """Median over rounds of w's median over g's, each round's two processes back to back."""
    a, b = res.get(w, {}).get(t), res.get(g, {}).get(t)
    if not a or not b:
        return None
    r = [x["median_ms"] / y["median_ms"] for x, y in zip(a["nabla_rounds"], b["nabla_rounds"])
         if "median_ms" in x and "median_ms" in y]
    return median(r)


def main():
    args = parse_args()
    if args.render:
        render(args.render)
        return
    build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) else args.build
    exe = os.path.join(build, "bench", "nabla-bench")
    if not os.access(exe, os.X_OK):
        sys.exit("run.py: %s not found; build first: meson setup %s && meson compile -C %s"
                 % (exe, args.build, args.build))
    threads = [int(x) for x in args.threads.split(",")]
    wanted = [w for w in ALL if w.lower() in [x.lower() for x in args.workloads.split(",")]]
    res = {w: {} for w in wanted}
    torch_info = {}
    jobs = sum(len(threads) * (1 if w == "W5" else args.rounds) for w in wanted)
    done, t_start = 0, time.time()
    snap0 = cpu_snapshot()
    log("load average at the start: %s" % (open("/proc/loadavg").read().strip()
                                            if os.path.exists("/proc/loadavg") else "?"))
    for group in groups(wanted):
        for t in threads:
            env = dict(os.environ, BLIS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t),
                       MKL_NUM_THREADS=str(t))
            rounds = {w: ([], []) for w in group}
            for _, w in [(r, w) for r in range(1 if group == ["W5"] else args.rounds)
                         for w in group]:
                na, tb = rounds[w]
                a, da = run_json([exe, w, "--threads", str(t), "--json"], env)
                b, db = run_json([args.python, os.path.join(ROOT, "bench", "torch_bench.py"), w,
                                  "--threads", str(t), "--json"], env)
                na.append(a)
                tb.append(b)
                done += 1
                log("[%d/%d] %-8s threads %d: nabla %s ms (%.0f s), PyTorch %s ms (%.0f s)" % (
                    done, jobs, w, t, ms(a), da, ms(b), db))
                for x in (a, b):
                    if "error" in x:
                        log("    error: " + x["error"])
                if not torch_info and "torch_version" in b:
                    torch_info = {k: b[k] for k in ("torch_version", "torch_blas_info",
                                                    "libblas_alternative", "blas_libs_mapped",
                                                    "blas_is_blis")}
                    if not b["blas_is_blis"]:
                        log("WARNING: PyTorch is not using BLIS (%s): its GEMMs are not "
                            "comparable" % b["blas_libs_mapped"])
            for w, (na, tb) in rounds.items():
                res[w][t] = {"nabla": combine(na), "torch": combine(tb), "nabla_rounds": na,
                             "torch_rounds": tb}
    mach = machine(build)
    if args.label:
        mach["label"] = args.label
    first = next((e["nabla"] for w in res for e in res[w].values()
                  if "blis" in e["nabla"]), {})
    mach["blis"] = first.get("blis", "?")
    mach["threads"] = ("nabla-bench: BLIS_NUM_THREADS=OMP_NUM_THREADS=N before BLIS starts, then "
                       "bli_thread_set_num_threads(N); PyTorch: BLIS_NUM_THREADS=OMP_NUM_THREADS="
                       "MKL_NUM_THREADS=N before import torch, then torch.set_num_threads(N)")
    mach["suite time"] = "%.0f s" % (time.time() - t_start)
    mach["noise"] = background(snap0, cpu_snapshot())
    md = tables(res, threads, mach, torch_info)
    w8 = None
    if "w8" in [x.lower() for x in args.workloads.split(",")]:
        w8 = run_w8(exe, args.rounds)
        md += w8_table(w8)
    print(md)
    out = args.out or os.path.join(build, "bench-results.json")
    with open(out, "w") as f:
        json.dump({"machine": mach, "torch": torch_info, "results": res, "w8": w8}, f, indent=1)
    with open(os.path.splitext(out)[0] + ".md", "w") as f:
        f.write(md + "\n")
    log("results: %s and %s" % (out, os.path.splitext(out)[0] + ".md"))


if __name__ == "__main__":
    main()
