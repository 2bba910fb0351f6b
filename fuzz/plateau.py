#!/usr/bin/python3
"""fuzz/plateau.py: draws a fuzzing run's coverage over time as an SVG.

    fuzz/plateau.py RUN.log TITLE > docs/img/fuzz_<target>_plateau.svg

    fuzz/plateau.py --replay COVERAGE.tsv TITLE > docs/img/fuzz_onnx_replay.svg

RUN.log is libFuzzer's output with each line prefixed by the Unix time at
which it was printed (`... 2>&1 | while IFS= read -r l; do echo "$(date +%s) $l"; done`,
as docs/reliability.md shows). The figure plots `cov` (covered edges) and
`ft` (features, on its own scale at the right) against minutes since the
first line. With --replay, COVERAGE.tsv is fuzz/replay_coverage.sh's output
and the figure plots the share of the importer's (io/onnx_read.c) lines and
branches, and of the exporter's lines, that each snapshot of the corpus
covers, against the snapshot's minute. Standard library only.
"""
import re
import sys


def replay(path, title):
    rows = []
    with open(path, encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            v = dict(zip(head, (int(c) for c in line.split("\t"))))
            rows.append(v)
    if not rows:
        sys.exit("no snapshots in " + path)
    series = [("read_lines", "#1f5fa8", "importer lines"),
              ("read_branches", "#b0521c", "importer branches"),
              ("write_lines", "#3a8a3a", "exporter lines")]
    w, h, left, right, top, bottom = 640, 300, 60, 30, 30, 40
    tmax = max(r["minute"] for r in rows) or 1
    pts = {k: [(r["minute"], 100.0 * r[k] / r[k + "_total"]) for r in rows] for k, _, _ in series}
    lo = min(p[1] for k in pts for p in pts[k])
    lo = max(0, 10 * int(lo // 10) - 10)

    def x(t):
        return left + (w - left - right) * t / tmax

    def y(v):
        return top + (h - top - bottom) * (1 - (v - lo) / (100 - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>']
    for r in rows:
        t = r["minute"]
        out.append(f'<line x1="{x(t):.1f}" y1="{h - bottom}" x2="{x(t):.1f}" y2="{h - bottom + 4}" stroke="black"/>')
        out.append(f'<text x="{x(t):.1f}" y="{h - bottom + 16}" text-anchor="middle">{t}</text>')
    out.append(f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle">minutes</text>')
    for v in range(int(lo), 101, 10):
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v}%</text>')
        out.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w - right}" y2="{y(v):.1f}" stroke="#ddd"/>')
    for i, (k, colour, label) in enumerate(series):
        line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts[k])
        out.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        last = pts[k][-1][1]
        # below the curves, which start high: bottom right
        out.append(f'<text x="{w - right - 8}" y="{h - bottom - 40 + 14 * i}" text-anchor="end" '
                   f'fill="{colour}">{label} ({last:.1f}% at the end)</text>')
    out.append("</svg>")
    print("\n".join(out))


def main():
    if sys.argv[1] == "--replay":
        replay(sys.argv[2], sys.argv[3])
        return
    path, title = sys.argv[1], sys.argv[2]
    pts = []
    t0 = None
    for line in open(path, encoding="utf-8", errors="replace"):
        # "#N  NEW  cov: ..." alone, "#N: cov: ..." from -fork's parent
        m = re.match(r"(\d+) #(\d+)(?::|\s+\w+)\s+cov: (\d+) ft: (\d+)", line)
        stamp = re.match(r"(\d+) ", line)
        if stamp and t0 is None:
            t0 = int(stamp.group(1))
        if m:
            pts.append(((int(m.group(1)) - t0) / 60.0, int(m.group(3)), int(m.group(4))))
    if not pts:
        sys.exit("no coverage lines in " + path)
    w, h, left, right, top, bottom = 640, 300, 60, 60, 30, 40
    tmax = max(p[0] for p in pts) or 1
    cmin, cmax = min(p[1] for p in pts), max(p[1] for p in pts)
    fmin, fmax = min(p[2] for p in pts), max(p[2] for p in pts)
    cmin = cmin - (cmax - cmin) * 0.05 - 1
    fmin = fmin - (fmax - fmin) * 0.05 - 1

    def x(t):
        return left + (w - left - right) * t / tmax

    def y(v, lo, hi):
        return top + (h - top - bottom) * (1 - (v - lo) / (hi - lo))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="13">{title}</text>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="black"/>',
           f'<line x1="{w - right}" y1="{top}" x2="{w - right}" y2="{h - bottom}" stroke="black"/>']
    step = max(1, round(tmax / 8))
    t = 0
    while t <= tmax + 1e-9:
        out.append(f'<line x1="{x(t):.1f}" y1="{h - bottom}" x2="{x(t):.1f}" y2="{h - bottom + 4}" stroke="black"/>')
        out.append(f'<text x="{x(t):.1f}" y="{h - bottom + 16}" text-anchor="middle">{t:g}</text>')
        t += step
    out.append(f'<text x="{w / 2}" y="{h - 6}" text-anchor="middle">minutes</text>')
    for k in range(5):
        cv = cmin + (cmax - cmin) * k / 4
        fv = fmin + (fmax - fmin) * k / 4
        out.append(f'<text x="{left - 6}" y="{y(cv, cmin, cmax) + 4:.1f}" text-anchor="end" fill="#1f5fa8">{cv:.0f}</text>')
        out.append(f'<text x="{w - right + 6}" y="{y(fv, fmin, fmax) + 4:.1f}" fill="#b0521c">{fv:.0f}</text>')
    cov = " ".join(f"{x(p[0]):.1f},{y(p[1], cmin, cmax):.1f}" for p in pts)
    ft = " ".join(f"{x(p[0]):.1f},{y(p[2], fmin, fmax):.1f}" for p in pts)
    out.append(f'<polyline points="{ft}" fill="none" stroke="#b0521c" stroke-width="1.5"/>')
    out.append(f'<polyline points="{cov}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    out.append(f'<text x="{left + 8}" y="{top + 12}" fill="#1f5fa8">cov (edges, left)</text>')
    out.append(f'<text x="{left + 8}" y="{top + 26}" fill="#b0521c">ft (features, right)</text>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
