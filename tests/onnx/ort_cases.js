// tests/onnx/ort_cases.js: ONNX Runtime on every op case of tests/op_cases.h,
// as tests/test_onnx.c exported them: DIR holds case_N.onnx and case_N.json
// ({"name", "inputs": {NAME: {"type", "dims", "data"}}, "outputs": {NAME: [values]}},
// the values nabla computed in float32). Prints one line per mismatch and
// "ok N cases, M values, max relative error E", and exits 1 on any mismatch.
// Errors are measured against each tensor's largest element (float32 sums in
// another order), as in ort_check.js.
//
//   node ort_cases.js NODE_MODULES DIR
'use strict';
const fs = require('fs');
const path = require('path');

const [modules, dir] = process.argv.slice(2);
const ort = require(path.join(modules, 'onnxruntime-node'));

async function main() {
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    let bad = 0;
    let values = 0;
    let worst = 0;
    for (const f of files) {
        const c = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
        const model = path.join(dir, f.replace(/\.json$/, '.onnx'));
        try {
            const s = await ort.InferenceSession.create(model);
            const feeds = {};
            for (const [name, t] of Object.entries(c.inputs)) {
                const Arr = t.type === 'int32' ? Int32Array : Float32Array;
                feeds[name] = new ort.Tensor(t.type, Arr.from(t.data), t.dims);
            }
            const r = await s.run(feeds);
            for (const [name, want] of Object.entries(c.outputs)) {
                const got = Array.from(r[name].data, Number);
                if (got.length !== want.length) {
                    throw new Error(`${name}: ${got.length} values, nabla has ${want.length}`);
                }
                const scale = Math.max(1e-30, ...want.map(Math.abs));
                for (let i = 0; i < want.length; i++) {
                    const e = Math.abs(got[i] - want[i]) / scale;
                    if (!(e <= 1e-5)) {
                        throw new Error(`${name}[${i}] is ${got[i]} in ONNX Runtime, ${want[i]} in nabla`);
                    }
                    worst = Math.max(worst, e);
                    values++;
                }
            }
        } catch (e) {
            console.log(`FAIL ${c.name} (${f}): ${e.message || e}`);
            bad++;
        }
    }
    console.log(`${bad ? 'FAIL' : 'ok'} ${files.length} cases, ${values} values, max relative error ${worst.toExponential(2)}`);
    process.exit(bad ? 1 : 0);
}

main();
