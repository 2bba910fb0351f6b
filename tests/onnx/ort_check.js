// tests/onnx/ort_check.js: runs a model nabla exported in ONNX Runtime and
// compares its outputs (and, with --grad, its gradients) with `nabla eval` and
// `nabla grad`. Used by tests/test_onnx.c:
//
//   node ort_check.js NODE_MODULES NABLA MODEL.nb OF OUT.onnx [--grad] [--dtype f32|f64]
//
// The inputs' values come from the model file (nabla eval --of INPUT --json).
// Prints "ok OUT.onnx: N values, max relative error E" and exits 0, or prints
// the mismatch and exits 1. A value passes when |ort - nabla| <= 1e-5 *
// max(|nabla|, floor * max |nabla| over its tensor), floor below.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const [modules, nabla, model, of, out, ...rest] = process.argv.slice(2);
const grad = rest.includes('--grad');
const di = rest.indexOf('--dtype');
const dtype = di >= 0 ? rest[di + 1] : 'f32';
const ort = require(path.join(modules, 'onnxruntime-node'));
const rtol = 1e-5;
// float64: elementwise (elements below 1e-3 of their tensor's largest measured
// against that); float32: relative to the tensor's largest element (the
// max-norm relative error), since float32 sums taken in another order differ
// by more than 1e-5 of an element much smaller than the rest
const floor = dtype === 'f64' ? 1e-3 : 1;

function nablaJson(args) {
    return JSON.parse(execFileSync(nabla, args.concat(['--json', '--dtype', dtype]), { encoding: 'utf8' }));
}

function flat(v) {
    return Array.isArray(v) ? v.flatMap(flat) : [v];
}

// i32 inputs, as the model file declares them ("input y[10] : i32")
const text = fs.readFileSync(model, 'utf8');
const ints = new Set();
for (const m of text.matchAll(/^\s*input\s+([A-Za-z_][A-Za-z0-9_]*)\s*\[[^\]]*\]\s*:\s*i32/gm)) {
    ints.add(m[1]);
}

async function main() {
    const exportArgs = ['export', model, '--of', of, '-o', out, '--dtype', dtype];
    if (grad) {
        exportArgs.push('--grad');
    }
    execFileSync(nabla, exportArgs, { stdio: 'inherit' });
    // ORT's extended optimizations fuse Transpose + MatMul into FusedMatMul,
    // which has no float64 kernel: keep the basic ones for float64
    const opts = dtype === 'f64' ? { graphOptimizationLevel: 'basic' } : {};
    const session = await ort.InferenceSession.create(out, opts);
    const feeds = {};
    for (const name of session.inputNames) {
        const node = name.split('/').pop();
        const e = nablaJson(['eval', model, '--of', node]);
        const values = flat(e.value);
        const type = ints.has(node) ? 'int32' : dtype === 'f64' ? 'float64' : 'float32';
        const Arr = type === 'int32' ? Int32Array : type === 'float64' ? Float64Array : Float32Array;
        feeds[name] = new ort.Tensor(type, Arr.from(values), e.shape);
    }
    const results = await session.run(feeds);
    const expected = {};
    const first = of.split(',')[0];
    for (const name of of.split(',')) {
        expected[name] = flat(nablaJson(['eval', model, '--of', name]).value);
    }
    if (grad) {
        const g = nablaJson(['grad', model, '--of', first]);
        for (const [k, v] of Object.entries(g.grads)) {
            expected['grad/' + k] = flat(v);
        }
    }
    let worst = 0;
    let count = 0;
    for (const [name, want] of Object.entries(expected)) {
        const got = results[name];
        if (!got) {
            console.log(`FAIL ${out}: ONNX Runtime gave no output ${name} (outputs: ${session.outputNames})`);
            process.exit(1);
        }
        const data = Array.from(got.data, Number);
        if (data.length !== want.length) {
            console.log(`FAIL ${out}: ${name} has ${data.length} values in ONNX Runtime, ${want.length} in nabla`);
            process.exit(1);
        }
        const scale = Math.max(...want.map(Math.abs)) * floor;
        for (let i = 0; i < want.length; i++) {
            const w = want[i] === null ? NaN : want[i];
            const err = Math.abs(data[i] - w) / Math.max(Math.abs(w), scale, 1e-30);
            if (!(err <= rtol) && !(Number.isNaN(w) && Number.isNaN(data[i]))) {
                console.log(`FAIL ${out}: ${name}[${i}] is ${data[i]} in ONNX Runtime, ${w} in nabla (relative error ${err})`);
                process.exit(1);
            }
            worst = Math.max(worst, err || 0);
            count++;
        }
    }
    console.log(`ok ${out}: ${count} values, max relative error ${worst.toExponential(2)}`);
}

main().catch((e) => {
    console.log(`FAIL ${out}: ${e.message || e}`);
    process.exit(1);
});
