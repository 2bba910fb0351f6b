#!/bin/sh
# tools/quickstart.sh: set up, build and run nabla on Debian or Ubuntu.
#
#   tools/quickstart.sh demo    install what is missing, build, run examples/figure_1_3
#   tools/quickstart.sh test    install what is missing, build, run the test suite
#   tools/quickstart.sh asan    the test suite again in build-asan/ under ASan+UBSan
#   tools/quickstart.sh playground  install what is missing, build the browser
#                               playground into build/playground/ (docs/teaching.md)
#
# Missing packages are installed with apt-get (as root, or through sudo). The
# test modes end with one line "N passed, N failed" counting Criterion tests.
set -eu
cd "$(dirname "$0")/.."

mode=${1:-demo}
packages="gcc libc6-dev meson ninja-build pkg-config libblis-dev libcriterion-dev graphviz"
case $mode in test | playground) packages="$packages emscripten chromium nodejs" ;; esac # the browser playground
# the suite also trains on two processes under mpirun (tests/test_dist.c)
case "$mode" in
test | asan) packages="$packages libopenmpi-dev openmpi-bin" ;;
esac
[ "$mode" = demo ] || packages="$packages libprotobuf-c-dev protobuf-c-compiler libonnx-dev python3-onnx nodejs$(command -v npm >/dev/null 2>&1 || echo ' npm')" # ONNX tests

install_missing() {
    missing=""
    for p in $packages; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    if [ "$(id -u)" -eq 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "missing packages:$missing; run as root: apt-get install$missing" >&2
        exit 2
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
}

# Sums Criterion's "Synthesis" lines from meson's test log; a binary that died
# before printing one counts as one failure.
summarize() {
    log="$1/meson-logs/testlog.txt"
    awk '
        /^==================================== [0-9]+\/[0-9]+ ====/ { bins++ }
        /Synthesis: Tested:/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "Passing:") pass += $(i + 1)
                if ($i == "Failing:") fail += $(i + 1)
                if ($i == "Crashing:") fail += $(i + 1)
            }
            seen++
        }
        END { if (bins > seen) fail += bins - seen; printf "%d passed, %d failed\n", pass, fail }
    ' "$log"
}

run_tests() {
    dir=$1
    shift
    [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
    meson compile -C "$dir" >/dev/null
    status=0
    meson test -C "$dir" --print-errorlogs -q || status=$?
    summarize "$dir"
    return $status
}

# The playground's npm packages (pinned in playground/package-lock.json):
# Graphviz for the page and puppeteer-core for its test; no browser download.
playground_packages() {
    if ! command -v npm >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] && sudo="" || sudo=sudo
        $sudo apt-get install -y -q --no-install-recommends npm >/dev/null
    fi
    [ -d playground/node_modules/@viz-js/viz ] && [ -d playground/node_modules/puppeteer-core ] ||
        (cd playground && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) ||
        echo "npm could not install the playground's packages (no registry?): building" \
            "without the playground, and its test is skipped" >&2
}

install_missing
case $mode in test | playground) playground_packages ;; esac
case "$mode" in
demo)
    [ -f build/build.ninja ] || meson setup build >/dev/null
    meson compile -C build >/dev/null
    # from the root, so the paths it prints (build/figure_1_3.dot) are right there
    build/examples/figure_1_3 build
    if command -v dot >/dev/null 2>&1; then
        dot -Tsvg build/figure_1_3.dot -o build/figure_1_3.svg
        dot -Tsvg build/figure_1_3_grad.dot -o build/figure_1_3_grad.svg
        echo "rendered build/figure_1_3.svg and build/figure_1_3_grad.svg"
    fi
    ;;
test)
    run_tests build
    ;;
playground)
    [ -f build/build.ninja ] || meson setup build >/dev/null
    # a build set up before emscripten was installed has no playground yet
    [ -f build/playground/index.html ] || meson setup --reconfigure build >/dev/null
    meson compile -C build >/dev/null
    echo "built build/playground/index.html: open it, or serve it with"
    echo "    python3 -m http.server -d build/playground 8000"
    echo "and open http://localhost:8000/"
    ;;
asan)
    run_tests build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false \
        -Dplayground=disabled
    ;;
*)
    echo "usage: $0 demo|test|asan|playground" >&2
    exit 2
    ;;
esac
