#!/bin/sh
# fuzz/smoke.sh: a short run of every fuzz target, for CI. Builds the targets
# into build-fuzz/ (CC=clang, -Dfuzz=true) unless they are there, then runs
# each over its seed corpus and its saved regressions and a few thousand
# mutations more. Prints "fuzz <target>: ok (N runs)" per target, or the
# failure and the end of the fuzzer's log, and exits non-zero on any failure.
# Environment: NB_FUZZ_BUILD (build folder, default build-fuzz), NB_FUZZ_RUNS
# (executions per target, default 5000).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${NB_FUZZ_BUILD:-$root/build-fuzz}
runs=${NB_FUZZ_RUNS:-5000}
targets="parser checkpoint idx csv"

if [ ! -f "$build/build.ninja" ]; then
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Dtests=false \
        --buildtype=debugoptimized >/dev/null || {
        echo "fuzz: cannot configure $build (needs clang and libclang-rt-14-dev)"
        exit 1
    }
fi
# the ONNX importer's target exists in builds with ONNX support (meson -Donnx)
ninja -C "$build" -t targets all 2>/dev/null | grep -q '^fuzz/fuzz_onnx:' && targets="$targets onnx"
exes=""
for t in $targets; do
    exes="$exes fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
ninja -C "$build" $exes >/dev/null || {
    echo "fuzz: building the targets failed (ninja -C $build$exes)"
    exit 1
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for t in $targets; do
    mkdir -p "$work/$t"
    dirs="$root/fuzz/corpus/$t"
    [ -d "$root/tests/fuzz_regressions/$t" ] && dirs="$dirs $root/tests/fuzz_regressions/$t"
    dict=""
    [ -f "$root/fuzz/dict/$t.dict" ] && dict="-dict=$root/fuzz/dict/$t.dict"
    # new inputs go to the scratch folder; the corpus in the tree is only read
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 "$build/fuzz/fuzz_$t" "$work/$t" $dirs $dict \
        -runs="$runs" -seed=1 -max_len=4096 -timeout=5 -rss_limit_mb=2048 \
        -artifact_prefix="$work/" >"$work/$t.log" 2>&1
    rc=$?
    done_runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$work/$t.log")
    if [ $rc -eq 0 ] && [ -n "$done_runs" ]; then
        echo "fuzz $t: ok ($done_runs runs)"
    else
        echo "fuzz $t: FAILED (exit $rc); the end of its log:"
        tail -n 40 "$work/$t.log"
        for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
            [ -f "$a" ] && echo "fuzz $t: failing input (base64): $(base64 -w0 "$a")"
        done
        status=1
    fi
done
exit $status
