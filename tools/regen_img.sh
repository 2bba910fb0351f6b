#!/bin/sh
# tools/regen_img.sh: makes the pictures in docs/img from the programs, so
# they cannot drift from what nabla draws. Each picture is a DOT file written
# by a program (below) and rendered by Graphviz; both are committed.
#
#   tools/regen_img.sh [BUILD]               rewrite docs/img/*.dot and *.svg (needs dot),
#                                            and copy test_playground's screenshots to
#                                            docs/img/playground_*.png when BUILD has them
#   tools/regen_img.sh --dot-only DIR [BUILD]  write only the DOT files, into DIR
#
# test_docs runs the second form and fails when a docs/img/*.dot differs from
# what the programs draw now, or when an .svg shows labels its .dot does not:
# after a change to the drawings, run the first form and commit the result.
set -eu
cd "$(dirname "$0")/.."

out=docs/img
render=1
if [ "${1:-}" = "--dot-only" ]; then
    out=$2
    render=0
    shift 2
fi
build=${1:-build}
nabla="$build/tools/nabla"
model=examples/models/figure_1_3.nb

# the book's figure 1.3 from examples/figure_1_3.c: ops, one element, with gradients
"$build/examples/figure_1_3" "$out" >/dev/null
# the lesson's drawings (docs/teaching.md): the model file with its fixed weights
"$nabla" dot "$model" --of y --values -o "$out/lesson_forward.dot"
"$nabla" dot "$model" --of y --grad --values -o "$out/lesson_backward.dot"
# lesson 9: a convolution and its gradient graph
"$nabla" dot examples/models/conv_lesson.nb --of y --grad --wrt x,w,b -o "$out/lesson_conv_grad.dot"

if [ "$render" = 1 ]; then
    # a plot, drawn as SVG by the program itself (test_docs compares it byte for byte)
    "$build/examples/rnn_lessons" --svg "$out/rnn_vanishing.svg" >/dev/null
    for f in "$out"/*.dot; do
        dot -Tsvg "$f" -o "${f%.dot}.svg"
    done
fi

# the playground's screenshots (docs/teaching.md), taken by test_playground:
# copied when that test has run in this build
shots="$build/playground-screenshots"
if [ "$render" = 1 ] && [ -d "$shots" ]; then
    for f in figure_1_3 trace figure_1_3_scopes figure_1_3_grad error; do
        cp "$shots/$f.png" "$out/playground_$f.png"
    done
fi
