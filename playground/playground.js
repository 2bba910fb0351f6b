// playground/playground.js: the page's logic. Every answer comes from the
// `nabla` command compiled to WebAssembly (playground/glue.c): the page writes
// the model to /model.nb in the module's memory file system and runs
// `nabla depth`, `dot`, `trace`, `check` and `eval` on it, as in a terminal,
// then shows what they print. The DOT is drawn by Graphviz (@viz-js/viz).
'use strict';

const state = {
  nabla: null,       // the WebAssembly module
  viz: null,         // Graphviz
  out: [], err: [],  // lines printed by the last command
  steps: [], step: 0, // the backward pass, one entry per adjoint
  timer: 0,
  loadMs: 0, lastUpdateMs: 0, updates: 0,
};

const $ = (id) => document.getElementById(id);

// Runs `nabla ARGS...`; returns its exit status and what it printed.
function nabla(args) {
  const M = state.nabla;
  state.out = [];
  state.err = [];
  const s = args.join('\n');
  const n = M.lengthBytesUTF8(s) + 1;
  const p = M._malloc(n);
  M.stringToUTF8(s, p, n);
  const rc = M._nbp_run(p);
  M._free(p);
  return { rc, out: state.out.join('\n'), err: state.err.join('\n') };
}

// A --json command: its parsed output, or {error, line, column}.
function nablaJson(args) {
  const r = nabla(args.concat(['--json']));
  try {
    return JSON.parse(r.out);
  } catch (e) {
    return { error: r.err || r.out || 'nabla printed nothing', line: 0, column: 0 };
  }
}

// ---- the editor: the language's words coloured, the error underlined ----

// The statement words of the language (docs/cli.md); the op names and their
// keyword arguments come from nabla's op table (nbp_words in glue.c).
const KEYWORDS = new Set(['input', 'param', 'const', 'state', 'scope', 'for', 'in']);
let OPS = new Set();
let ATTRS = new Set();

function escapeHtml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// One line as HTML; errCol (1-based, or 0) marks the token the error points at.
function highlightLine(line, errCol) {
  const re = /(#.*$)|(\b\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)(\s*\()?|(\s+)|(.)/g;
  let html = '';
  let m;
  while ((m = re.exec(line)) !== null) {
    const start = m.index + 1;
    const text = m[0];
    let cls = '';
    let body = text;
    if (m[1]) cls = 'com';
    else if (m[2]) cls = 'num';
    else if (m[3]) {
      cls = KEYWORDS.has(m[3]) ? 'kw'
        : m[4] ? (OPS.has(m[3]) ? 'fn' : 'call')
        : ATTRS.has(m[3]) && /^\s*=/.test(line.slice(m.index + text.length)) ? 'attr' : '';
      body = m[3];
    }
    const hit = errCol && errCol >= start && errCol < start + Math.max(body.length, 1);
    let piece = cls ? `<span class="${cls}">${escapeHtml(body)}</span>` : escapeHtml(body);
    if (hit) piece = `<span class="err">${piece}</span>`;
    html += piece + (body !== text ? escapeHtml(text.slice(body.length)) : '');
    if (m[0].length === 0) re.lastIndex++;
  }
  // an error just past the end of the line (something is missing there)
  if (errCol && errCol > line.length) html += '<span class="err"> </span>';
  return html;
}

function renderEditor(err) {
  const lines = $('model').value.split('\n');
  $('highlight').innerHTML = lines
    .map((l, i) => highlightLine(l, err && err.line === i + 1 ? err.column : 0))
    .join('\n') + '\n';
  syncScroll();
}

function syncScroll() {
  $('highlight').scrollTop = $('model').scrollTop;
  $('highlight').scrollLeft = $('model').scrollLeft;
}

// ---- the backward pass, step by step, from `nabla trace` ----

// Splits the trace's backward pass into steps: "  ∂y/∂NAME = value" and the
// indented lines under it (the rule with its bindings and values).
function traceSteps(text) {
  const lines = text.split('\n');
  const from = lines.findIndex((l) => l.startsWith('backward pass'));
  const steps = [];
  for (const l of lines.slice(from + 1)) {
    const m = /^  ∂[^/]*\/∂(\S+) = /.exec(l);
    if (m) steps.push({ node: m[1], text: l.trim() });
    else if (steps.length && /^    /.test(l)) steps[steps.length - 1].text += '\n' + l.replace(/^    /, '');
  }
  return steps;
}

function showStep() {
  const s = state.steps[state.step];
  $('trace-step').textContent = s ? s.text : state.traceMessage || '';
  $('trace-pos').textContent = s ? `step ${state.step + 1} of ${state.steps.length}` : '';
  $('trace-prev').disabled = state.step <= 0;
  $('trace-next').disabled = state.step >= state.steps.length - 1;
  // highlight the node whose adjoint this step computes
  for (const g of document.querySelectorAll('#graph g.node')) {
    const label = g.querySelector('text');
    const on = s && label && label.textContent === s.node;
    g.classList.toggle('step-node', !!on);
  }
}

// ---- one update: everything recomputed from the model text ----

function sets() {
  return $('set').value.split(';').map((s) => s.trim()).filter(Boolean)
    .flatMap((s) => ['--set', s]);
}

function showError(e) {
  const where = e.line ? `model.nb:${e.line}:${e.column}: ` : '';
  $('error').textContent = where + e.error;
  renderEditor(e.line ? e : null);
}

async function update() {
  const t0 = performance.now();
  const M = state.nabla;
  M.FS.writeFile('/model.nb', $('model').value);
  const of = $('of').value.trim();
  const base = ['/model.nb', '--of', of];
  const ops = nablaJson(['depth', ...base]);
  if (ops.error !== undefined) {
    showError(ops);
    for (const k of ['ops', 'scopes', 'grad-ops', 'grad-scopes', 'concepts']) {
      $('depth-' + k).textContent = '';
      $('path-' + k).textContent = '';
    }
    // what is shown is the last good model's: dimmed until the error is fixed
    for (const id of ['graph', 'trace', 'check', 'values']) $(id).classList.add('stale');
    state.lastUpdateMs = performance.now() - t0;
    state.updates++;
    $('status').textContent = 'the model has an error';
    return;
  }
  $('error').textContent = '';
  renderEditor(null);
  for (const id of ['graph', 'trace', 'check', 'values']) $(id).classList.remove('stale');
  const sc = nablaJson(['depth', ...base, '--scopes']);
  const co = nablaJson(['depth', ...base, '--concepts']);
  $('depth-ops').textContent = ops.depth;
  $('path-ops').textContent = ops.path.join(' → ');
  $('depth-scopes').textContent = sc.error === undefined ? sc.depth : '';
  $('path-scopes').textContent = sc.error === undefined ? sc.path.join(' → ') : sc.error;
  // the deepest gradient of `of` (a scalar) w.r.t. the parameters, both ways
  for (const [k, extra] of [['grad-ops', []], ['grad-scopes', ['--scopes']]]) {
    const gd = nablaJson(['depth', ...base, '--grad', ...extra]);
    $('depth-' + k).textContent = gd.error === undefined ? gd.grad_depth : '';
    $('path-' + k).textContent = gd.error === undefined
      ? `∂${of}/∂${gd.grad_of}: ${gd.grad_path.join(' → ')}` : gd.error;
  }
  $('depth-concepts').textContent = co.error === undefined ? co.concept_depth : '';
  $('path-concepts').textContent = co.error === undefined ? co.concepts.join(', ') : co.error;

  const dotArgs = ['dot', ...base];
  if ($('grad').checked) dotArgs.push('--grad');
  if ($('scopes').checked) dotArgs.push('--scopes');
  if ($('showvalues').checked) dotArgs.push('--values', ...sets());
  const dot = nabla(dotArgs);
  if (dot.rc === 0) {
    try {
      const svg = state.viz.renderSVGElement(dot.out);
      $('graph').replaceChildren(svg);
    } catch (e) {
      $('graph').textContent = 'Graphviz: ' + e;
    }
  } else {
    $('graph').textContent = dot.err;
  }

  const tr = nabla(['trace', ...base, ...sets()]);
  state.steps = tr.rc === 0 ? traceSteps(tr.out) : [];
  state.traceMessage = tr.rc === 0 ? '' : tr.err;
  state.step = Math.min(state.step, Math.max(state.steps.length - 1, 0));
  showStep();

  const ck = nabla(['check', ...base, ...sets()]);
  $('check').textContent = ck.out + (ck.err ? '\n' + ck.err : '');
  const ev = nabla(['eval', ...base, ...sets()]);
  $('values').textContent = ev.out + (ev.err ? '\n' + ev.err : '');
  const setErr = ev.rc !== 0 ? ev.err : '';
  if (setErr) $('error').textContent = setErr;

  state.lastUpdateMs = performance.now() - t0;
  state.updates++;
  $('status').textContent = `updated in ${state.lastUpdateMs.toFixed(0)} ms`;
}

function schedule() {
  renderEditor(null);
  clearTimeout(state.timer);
  state.timer = setTimeout(update, 20);
}

function chooseExample(i) {
  const m = NABLA_MODELS[i];
  $('model').value = m.text;
  $('of').value = m.of;
  state.step = 0;
  update();
}

async function start() {
  const t0 = performance.now();
  const wasm = Uint8Array.from(atob(NABLA_WASM_BASE64), (c) => c.charCodeAt(0));
  state.nabla = await createNabla({
    wasmBinary: wasm,
    print: (l) => state.out.push(l),
    printErr: (l) => state.err.push(l),
  });
  const words = JSON.parse(state.nabla.UTF8ToString(state.nabla._nbp_words()));
  OPS = new Set(words.ops);
  ATTRS = new Set(words.attrs);
  state.viz = await Viz.instance();
  const menu = $('examples');
  NABLA_MODELS.forEach((m, i) => menu.add(new Option(m.label, String(i))));
  menu.addEventListener('change', () => chooseExample(Number(menu.value)));
  $('model').addEventListener('input', schedule);
  $('model').addEventListener('scroll', syncScroll);
  for (const id of ['of', 'set']) $(id).addEventListener('input', schedule);
  for (const id of ['grad', 'scopes', 'showvalues']) $(id).addEventListener('change', update);
  $('trace-next').addEventListener('click', () => {
    state.step = Math.min(state.step + 1, state.steps.length - 1);
    showStep();
  });
  $('trace-prev').addEventListener('click', () => {
    state.step = Math.max(state.step - 1, 0);
    showStep();
  });
  chooseExample(0);
  state.loadMs = performance.now() - t0;
  document.body.dataset.ready = 'true'; // the browser test waits for this
}

// for the browser test and the curious: the timings of this page
window.nablaTimings = () => ({
  startMs: state.loadMs, lastUpdateMs: state.lastUpdateMs, updates: state.updates,
});
start().catch((e) => {
  $('status').textContent = 'failed to start: ' + e;
  throw e;
});
