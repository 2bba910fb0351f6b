#!/bin/sh
# tools/valgrind_examples.sh [BUILD_DIR]: runs every example program and the
# nabla command (each of its commands on a model) under valgrind's memcheck,
# and prints "valgrind <name>: ok" for each that has no invalid access, no use
# of an uninitialised value and no leak (definite, indirect or possible).
# BUILD_DIR defaults to build/. Exits 1 if any program fails, after printing
# valgrind's report for it. tools/valgrind.supp holds the few suppressions
# for code that is not nabla's (see the comments there).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd) || exit 2
supp="$root/tools/valgrind.supp"
models="$root/examples/models"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! command -v valgrind > /dev/null; then
    echo "valgrind is not installed (apt-get install valgrind)" >&2
    exit 2
fi

failed=0
run() {
    name=$1
    shift
    log="$work/$name.log"
    if valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --track-origins=yes \
        --error-exitcode=1 --suppressions="$supp" --log-file="$log" "$@" \
        > "$work/$name.out" 2>&1; then
        echo "valgrind $name: ok"
    else
        echo "valgrind $name: FAILED (exit status $?)"
        sed 's/^/    /' "$log" "$work/$name.out" | tail -n 60
        failed=1
    fi
}

ex="$build/examples"
nabla="$build/tools/nabla"
run figure_1_3 "$ex/figure_1_3"
run mlp "$ex/mlp"
run xor "$ex/xor"
run logreg "$ex/logreg"
run digits_mlp "$ex/digits_mlp" --epochs 2
run mnist_mlp "$ex/mnist_mlp" --epochs 1
run regularization "$ex/regularization" --epochs 1

# The first n items of an IDX file (its header's count rewritten), for short runs.
idx_head() { # SRC N HEADER_BYTES ITEM_BYTES OUT
    {
        head -c 4 "$1"
        for shift in 24 16 8 0; do
            printf "\\$(printf %o $((($2 >> shift) & 255)))"
        done
        tail -c +9 "$1" | head -c $(($3 - 8 + $2 * $4))
    } > "$5"
}
mkdir -p "$work/mnist"
for split in train:128 test:64; do
    s=${split%:*} n=${split#*:} pre="$root/data/mnist-subset-${split%:*}"
    idx_head "$pre-images-idx3-ubyte" "$n" 16 784 "$work/mnist/mnist-subset-$s-images-idx3-ubyte"
    idx_head "$pre-labels-idx1-ubyte" "$n" 8 1 "$work/mnist/mnist-subset-$s-labels-idx1-ubyte"
done
run mnist_cnn "$ex/mnist_cnn" --epochs 1 --data "$work/mnist"
run norm_mlp "$ex/norm_mlp" --epochs 1
# the names model on the first 64 names of each file (one step, one evaluation,
# one name drawn): its full data take minutes a step under memcheck
mkdir "$work/names"
head -n 64 "$root/data/names-train.txt" > "$work/names/names-train.txt"
head -n 64 "$root/data/names-test.txt" > "$work/names/names-test.txt"
run names_lstm "$ex/names_lstm" --epochs 1 --quiet --data "$work/names" --sample 1 \
    --save "$work/names.ckpt"
run rnn_lessons "$ex/rnn_lessons" --svg "$work/rnn_vanishing.svg"
run nabla-eval "$nabla" eval "$models/mlp.nb" --of probs --json
run nabla-depth "$nabla" depth "$models/xor.nb" --of loss --scopes --grad
run nabla-trace "$nabla" trace "$models/figure_1_3.nb" --of y
run nabla-dot "$nabla" dot "$models/figure_1_3.nb" --of y --grad --values
run nabla-train "$nabla" train "$models/iris_train.nb" --loss loss \
    --data "$root/data/iris-train.csv" --standardize --epochs 2 --quiet --save "$work/iris.ckpt"
run nabla-load "$nabla" eval "$models/iris_train.nb" --of loss --load "$work/iris.ckpt"
exit $failed
