#!/bin/sh
# bench/run.sh: build nabla-bench and run the whole suite, nabla against
# PyTorch, every workload at 1 and 2 threads (docs/performance.md).
#
#     bench/run.sh [BUILD_DIR] [options of bench/run.py]
#
# BUILD_DIR defaults to build; it is set up with `meson setup` when missing
# (a release build, the project's default). The tables go to stdout and to
# BUILD_DIR/bench-results.md, the raw JSON to BUILD_DIR/bench-results.json.
set -eu
cd "$(dirname "$0")/.."
build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    build=$1
    shift
fi
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build"
fi
meson compile -C "$build" nabla-bench >/dev/null
exec /usr/bin/python3 bench/run.py --build "$build" "$@"
