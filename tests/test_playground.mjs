// tests/test_playground.mjs: the browser playground (playground/, docs/teaching.md)
// in a real browser: Debian's chromium, headless, driven by puppeteer-core.
// Serves BUILD/playground over HTTP, types the figure 1.3 model and reads the
// page through its data-test handles: depth 3 over ops and 1 over scopes, the
// highlighted longest path in the SVG, three steps of the backward pass, the
// gradient check, --set, the concept depth of the refinement model, the MLP as
// the native nabla computes it (plain GEMM against BLIS), and a parse
// error underlined at its line and column. Saves screenshots to
// BUILD/playground-screenshots/ and the page's measurements (load time,
// update latency, gzip sizes) to BUILD/playground-measurements.json; timings
// are printed, never asserted (they vary by machine), the sizes are.
// Exit status 77 (skipped, with the reason) without chromium or the page.
//   node tests/test_playground.mjs BUILD_DIR SOURCE_DIR
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';

const [buildDir, srcDir] = process.argv.slice(2);
const pageDir = path.join(buildDir, 'playground');
// tools/quickstart.sh counts tests from Criterion's last line; this prints the same
const synthesis = (n, failing) =>
  console.log(`[====] Synthesis: Tested: ${n} | Passing: ${n - failing} | Failing: ${failing} | Crashing: 0`);
const skip = (why) => {
  console.log(`SKIP: ${why}`);
  synthesis(0, 0);
  process.exit(77);
};
const chromium = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser']
  .find((p) => fs.existsSync(p));
if (!chromium) skip('chromium is not installed (apt-get install chromium), so the browser test does not run');
if (!fs.existsSync(path.join(pageDir, 'index.html'))) {
  skip(`no playground in ${pageDir}: it is built where emcc is installed (apt-get install emscripten)`);
}
let puppeteer;
try {
  puppeteer = createRequire(path.join(srcDir, 'playground', 'package.json'))('puppeteer-core');
} catch (e) {
  skip('puppeteer-core is not installed: cd playground && npm install --ignore-scripts');
}

let failures = 0;
let checks = 0;
function check(ok, what, got) {
  checks++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${ok ? '' : `: got ${JSON.stringify(got)}`}`);
  if (!ok) failures++;
}

// a static file server, as `python3 -m http.server` would be
const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
const server = http.createServer((req, res) => {
  const file = path.join(pageDir, decodeURIComponent(new URL(req.url, 'http://x').pathname));
  if (!file.startsWith(pageDir) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
    const index = path.join(file, 'index.html');
    if (fs.existsSync(index)) {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      return res.end(fs.readFileSync(index));
    }
    res.writeHead(404);
    return res.end();
  }
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream' });
  res.end(fs.readFileSync(file));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/index.html`;

const shots = path.join(buildDir, 'playground-screenshots');
fs.mkdirSync(shots, { recursive: true });
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
const measured = {};
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 900 });
  page.on('pageerror', (e) => check(false, 'no error in the page', String(e)));
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
  measured.load_ms = Date.now() - t0;

  const text = (sel) => page.$eval(`[data-test="${sel}"]`, (e) => e.textContent.trim());
  const updates = () => page.evaluate(() => window.nablaTimings().updates);
  // waits for the page's next update after an action
  async function act(fn) {
    const before = await updates();
    await fn();
    await page.waitForFunction((n) => window.nablaTimings().updates > n, { timeout: 30000 }, before);
  }

  // type the figure 1.3 model into the editor
  const fig = fs.readFileSync(path.join(srcDir, 'examples/models/figure_1_3.nb'), 'utf8');
  const editor = '[data-test="model"]';
  await page.$eval(editor, (e) => { e.value = ''; });
  await act(() => page.type(editor, fig));
  check((await page.$eval(editor, (e) => e.value)) === fig, 'the editor holds the typed model');
  const fns = await page.$$eval('#highlight .fn', (s) => s.map((e) => e.textContent));
  const kws = await page.$$eval('#highlight .kw', (s) => s.map((e) => e.textContent));
  check(fns.join() === 'sigmoid,sum' && kws.join() === 'input,param,scope',
    'the editor colours functions and keywords', { fns, kws });
  check((await text('depth-ops')) === '3', 'figure 1.3: depth 3 over ops', await text('depth-ops'));
  check((await text('depth-scopes')) === '1', 'figure 1.3: depth 1 over scopes', await text('depth-scopes'));
  check((await text('depth-concepts')) === '1', 'figure 1.3: one concept', await text('depth-concepts'));
  check((await text('depth-grad-ops')) === '6' && (await text('depth-grad-scopes')) === '2',
    'figure 1.3: dy/dw is 6 deep over ops, 2 over scopes', await text('depth-grad-ops'));
  const svg = await page.$eval('[data-test="graph"]', (e) => e.innerHTML);
  check(svg.startsWith('<svg'), 'the graph is an SVG', svg.slice(0, 40));
  // nabla's DOT draws the longest path in red: w -> mul_1 -> sum_1 -> y
  const red = await page.$$eval('[data-test="graph"] g.edge path[stroke="red"]', (p) => p.length);
  check(red === 3, 'the longest path is highlighted (3 red edges)', red);
  check((await text('check')).includes('the gradient agrees with finite differences'), 'gradient check');
  await page.screenshot({ path: path.join(shots, 'figure_1_3.png') });

  // the backward pass, step by step
  const steps = [];
  steps.push(await text('trace-step'));
  for (let i = 0; i < 2; i++) {
    await page.click('[data-test="trace-next"]');
    steps.push(await text('trace-step'));
  }
  check(steps[0].startsWith('∂y/∂y = 1'), 'trace step 1: the seed', steps[0]);
  check(steps[1].startsWith('∂y/∂sum_1 = 0.2288') && steps[1].includes('sigmoid_grad(y, ∂y/∂y)'),
    'trace step 2: sigmoid\'s rule', steps[1]);
  check(steps[2].startsWith('∂y/∂mul_1 = [0.2288, 0.2288, 0.2288]'), 'trace step 3: sum\'s rule', steps[2]);
  const lit = await page.$$eval('#graph g.node.step-node text', (t) => t.map((e) => e.textContent));
  check(lit[0] === 'mul_1', 'step 3 highlights mul_1', lit);
  await page.screenshot({ path: path.join(shots, 'trace.png') });

  // the scope as one element, then the gradient graph
  await act(() => page.click('[data-test="scopes"]'));
  const collapsed = await page.$eval('[data-test="graph"]', (e) => e.textContent);
  check(collapsed.includes('logistic_regression') && !collapsed.includes('sum_1\n'),
    'scope-collapsed figure 1.3 names the scope', collapsed.slice(0, 80));
  await page.screenshot({ path: path.join(shots, 'figure_1_3_scopes.png') });
  await act(() => page.click('[data-test="scopes"]'));
  await act(() => page.click('[data-test="grad"]'));
  const gradSvg = await page.$eval('[data-test="graph"]', (e) => e.textContent);
  check(gradSvg.includes('sigmoid_grad_1'), 'the gradient graph is drawn', gradSvg.slice(0, 80));
  await page.screenshot({ path: path.join(shots, 'figure_1_3_grad.png') });
  await act(() => page.click('[data-test="grad"]'));

  // --set: x = [1, 2, -1] gives y = sigmoid(0.1 - 0.4 - 0.3) = sigmoid(-0.6)
  await act(() => page.type('[data-test="set"]', 'x=[1, 2, -1]'));
  const vals = await text('values');
  check(vals.includes('y = 0.354344'), '--set x changes y to sigmoid(-0.6)', vals);
  await act(() => page.$eval('[data-test="set"]', (e) => {
    e.value = '';
    e.dispatchEvent(new Event('input'));
  }));

  // a broken model: the error at its line and column, underlined
  const broken = fig.replace('sigmoid(sum(w * x))', 'sigmoid(sum(w * z))');
  await act(() => page.$eval(editor, (e, t) => {
    e.value = t;
    e.dispatchEvent(new Event('input'));
  }, broken));
  const err = await text('error');
  check(/^model\.nb:\d+:\d+: .*'z'/.test(err), 'a parse error with line and column', err);
  const under = await page.$$eval('#highlight .err', (s) => s.map((e) => e.textContent));
  check(under.length === 1 && under[0] === 'z', 'the error is underlined at z', under);
  await page.screenshot({ path: path.join(shots, 'error.png') });
  // a syntax error: a parenthesis left open
  await act(() => page.$eval(editor, (e, t) => {
    e.value = t;
    e.dispatchEvent(new Event('input'));
  }, fig.replace('sigmoid(sum(w * x))', 'sigmoid(sum(w * x)')));
  const syn = await text('error');
  check(/^model\.nb:\d+:\d+: /.test(syn) && (await page.$$('#highlight .err')).length === 1,
    'a syntax error with line and column, underlined', syn);

  // the menu: the refinement model's two concepts, the MLP's update latency
  const pick = (label) => page.$eval('[data-test="examples"]', (s, l) => {
    const o = [...s.options].find((x) => x.text.startsWith(l));
    s.value = o.value;
    s.dispatchEvent(new Event('change'));
  }, label);
  await act(() => pick('iterative refinement'));
  check((await text('depth-concepts')) === '2', 'refinement: concept depth 2', await text('depth-concepts'));
  check((await text('depth-scopes')) === '6', 'refinement: scope depth 6', await text('depth-scopes'));
  await act(() => pick('MLP'));
  check((await text('depth-ops')) === '6', 'MLP: depth 6 over ops', await text('depth-ops'));
  // the page's matrix products (plain C loops) print what the native nabla (BLIS) prints
  const mlp = path.join(srcDir, 'examples/models/mlp.nb');
  const native = (cmd) => execFileSync(path.join(buildDir, 'tools/nabla'), [cmd, mlp, '--of', 'loss'],
    { encoding: 'utf8' }).trim();
  check((await text('values')) === native('eval'), 'MLP: eval as the native nabla prints it',
    await text('values'));
  // the check's errors are rounding-level and differ with the summation order: compare
  // each row's leaf and verdict, and the conclusion
  const verdicts = (t) => t.split('\n').map((l) => l.trim().split(/\s+/)).map((w) => `${w[0]} ${w.at(-1)}`);
  const pageCheck = await text('check');
  check(verdicts(pageCheck).join() === verdicts(native('check')).join() &&
    pageCheck.endsWith('all 4 gradients agree with finite differences'),
    'MLP: the gradient check passes, leaf by leaf as the native nabla', pageCheck);
  // a keystroke (a space at the end of the text) until the page has updated
  const lat = [];
  for (let i = 0; i < 5; i++) {
    lat.push(await page.evaluate(() => new Promise((resolve) => {
      const e = document.querySelector('[data-test="model"]');
      const n = window.nablaTimings().updates;
      const t = performance.now();
      e.value += ' ';
      e.dispatchEvent(new Event('input'));
      const poll = () => (window.nablaTimings().updates > n ? resolve(performance.now() - t)
        : requestAnimationFrame(poll));
      poll();
    })));
  }
  measured.mlp_update_ms = Math.min(...lat);
  measured.mlp_update_ms_max = Math.max(...lat);
  await page.screenshot({ path: path.join(shots, 'mlp.png') });

  // opened from a file, without a server
  const local = await browser.newPage();
  await local.goto('file://' + path.join(pageDir, 'index.html'));
  await local.waitForSelector('body[data-ready="true"]', { timeout: 60000 });
  const d = await local.$eval('[data-test="depth-ops"]', (e) => e.textContent);
  check(d === '3', 'the page works opened from a file', d);
} finally {
  await browser.close();
  server.close();
}

const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(pageDir, f)), { level: 9 }).length;
measured.wasm_gzip_bytes = gz('nabla.wasm');
measured.page_gzip_bytes = fs.readdirSync(pageDir).filter((f) => f !== 'nabla.wasm')
  .reduce((s, f) => s + gz(f), 0);
check(measured.wasm_gzip_bytes < 2e6, 'the wasm module is under 2 MB gzipped', measured.wasm_gzip_bytes);
const out = path.join(buildDir, 'playground-measurements.json');
fs.writeFileSync(out + '.tmp', JSON.stringify(measured, null, 1) + '\n');
fs.renameSync(out + '.tmp', out);
console.log('measured:', JSON.stringify(measured));
console.log(`screenshots in ${shots}`);
synthesis(checks, failures);
process.exit(failures ? 1 : 0);
