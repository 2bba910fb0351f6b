#!/bin/sh
# fuzz/replay_coverage.sh: the importer's line and branch coverage over a
# fuzzing session, from snapshots of its corpus.
#
#   fuzz/replay_coverage.sh COV_BUILD SNAPSHOT... > coverage.tsv
#
# COV_BUILD is a fuzz build compiled with clang's source coverage
# (CFLAGS="-fprofile-instr-generate -fcoverage-mapping", fuzz/README.md);
# each SNAPSHOT is a copy of the session's corpus folder taken while it ran
# (cp -al, so that inputs libFuzzer later replaces stay in the copy), named
# tMMM for its minute. Each snapshot is replayed once, with the seeds and the
# saved regressions, through fuzz_onnx in that build, and llvm-cov counts
# what io/onnx_read.c (the importer) and io/onnx_write.c (the exporter, which
# the harness runs on every imported model) executed. Prints a header and
# one tab-separated line per snapshot: minute, inputs, then covered and total
# lines and branches of each file. A file that is unchanged over the last
# snapshots is the importer's plateau; fuzz/plateau.py --replay draws it.
# SEEDS=DIR replays DIR instead of fuzz/corpus/onnx with each snapshot: the
# seeds the session ran with, when seeds were added since.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
shift
seeds=${SEEDS:-$root/fuzz/corpus/onnx}
exe=$build/fuzz/fuzz_onnx
[ -x "$exe" ] || {
    echo "replay_coverage: no $exe (a coverage fuzz build, fuzz/README.md)" >&2
    exit 2
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# covered and total of a file's lines and branches in llvm-cov's report
counts() {
    awk -v f="$2" '$1 ~ f "$" { printf "%d\t%d\t%d\t%d", $8 - $9, $8, $11 - $12, $11 }' "$1"
}

printf 'minute\tinputs\tread_lines\tread_lines_total\tread_branches\tread_branches_total'
printf '\twrite_lines\twrite_lines_total\twrite_branches\twrite_branches_total\n'
for snap in "$@"; do
    minute=$(basename "$snap" | sed 's/^t0*//; s/^$/0/')
    LLVM_PROFILE_FILE="$work/run.profraw" OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 \
        "$exe" -runs=0 -max_len=16384 -timeout=30 -rss_limit_mb=2048 \
        "$snap" "$seeds" "$root/tests/fuzz_regressions/onnx" >"$work/run.log" 2>&1 || {
        echo "replay_coverage: $snap failed to replay; the end of its log:" >&2
        tail -n 20 "$work/run.log" >&2
        exit 1
    }
    llvm-profdata merge -sparse "$work/run.profraw" -o "$work/run.profdata"
    llvm-cov report "$exe" -instr-profile="$work/run.profdata" -show-branch-summary >"$work/report.txt"
    printf '%s\t%s\t%s\t%s\n' "$minute" "$(find "$snap" -type f | wc -l)" \
        "$(counts "$work/report.txt" io/onnx_read.c)" "$(counts "$work/report.txt" io/onnx_write.c)"
    rm -f "$work/run.profraw"
done
