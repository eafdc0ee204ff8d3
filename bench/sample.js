// Benchmark: the last step of a decode loop (issue 13) on one row of 128,256 logits (Llama 3's vocabulary) and a batch
// of 32 x 32,000: softmax-wasm's sample (on a Float32Array, copied in, and on a WasmArray, in place) against a careful
// plain-JS version (one pass for the max, a k-heap for top-k, exps and a sort of the indices for top-p) and a port of
// the approach of transformers.js v3's sampling (every logit paired with its index in an Array and the whole Array
// sorted, softmax over the top k, a linear draw). The @huggingface/transformers package itself is not a dependency:
// it pulls onnxruntime and sharp into node_modules, and its sampling is the plain JS ported here.
//
//   node bench/sample.js [--threads N]     (npm run bench:sample builds first)
//
// Logits: N(0, 1.5^2) with 40 tokens lifted by 6 .. 12, so a few dozen tokens hold most of the mass, as in a trained
// model's head (seeded; the nucleus size is printed). Times are the median of 15 batches, each long enough to time.
import * as lib from "../dist/index.js";
import { mulberry32 } from "./common.js";

const args = process.argv.slice(2);
const threads = args[0] === "--threads" ? Number(args[1]) : 1;
await lib.ready(threads > 1 ? { threads } : undefined);

function logits(n, seed) {
  const r = mulberry32(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(r(), 1e-12), v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * 1.5;
    x[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) x[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  for (let j = 0; j < 40; j++) x[Math.floor(r() * n)] += 6 + 6 * r();
  return x;
}

/** Median microseconds per call of f. */
function time(f) {
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    if (performance.now() - t0 > 20) break;
    reps *= 2;
  }
  const runs = [];
  for (let b = 0; b < 15; b++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    runs.push(((performance.now() - t0) * 1000) / reps);
  }
  runs.sort((a, b) => a - b);
  return runs[7];
}

// ------------------------------------------------------------ careful plain JS
const js = {
  greedy(x) {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;
  },
  /** A min-heap of the k largest (ties at the k-th value not all kept: the usual plain version), softmax, a draw. */
  topK(x, k, u) {
    const hv = new Float32Array(k), hi = new Int32Array(k);
    let size = 0;
    const down = (i) => {
      for (;;) {
        let c = 2 * i + 1;
        if (c >= size) return;
        if (c + 1 < size && hv[c + 1] < hv[c]) c++;
        if (hv[c] >= hv[i]) return;
        [hv[c], hv[i]] = [hv[i], hv[c]];
        [hi[c], hi[i]] = [hi[i], hi[c]];
        i = c;
      }
    };
    for (let i = 0; i < x.length; i++) {
      if (size < k) {
        let j = size++;
        hv[j] = x[i]; hi[j] = i;
        while (j > 0 && hv[(j - 1) >> 1] > hv[j]) {
          const p = (j - 1) >> 1;
          [hv[p], hv[j]] = [hv[j], hv[p]];
          [hi[p], hi[j]] = [hi[j], hi[p]];
          j = p;
        }
      } else if (x[i] > hv[0]) {
        hv[0] = x[i]; hi[0] = i;
        down(0);
      }
    }
    let m = -Infinity;
    for (let j = 0; j < size; j++) m = Math.max(m, hv[j]);
    let z = 0;
    const e = new Float64Array(size);
    for (let j = 0; j < size; j++) z += e[j] = Math.exp(hv[j] - m);
    let t = u * z;
    for (let j = 0; j < size; j++) if ((t -= e[j]) < 0) return hi[j];
    return hi[size - 1];
  },
  /** Exps of every logit, the indices sorted by logit, the prefix up to p, a draw. */
  topP(x, p, u) {
    const n = x.length;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[i] > m) m = x[i];
    const e = new Float64Array(n);
    let z = 0;
    for (let i = 0; i < n; i++) z += e[i] = Math.exp(x[i] - m);
    const idx = new Uint32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    idx.sort((a, b) => x[b] - x[a]);
    let c = 0, kept = 0;
    while (c < n && kept < p * z) kept += e[idx[c++]];
    let t = u * kept;
    for (let j = 0; j < c; j++) if ((t -= e[idx[j]]) < 0) return idx[j];
    return idx[c - 1];
  },
};

// ------------------------------------------------------------ transformers.js v3's approach, ported
const tjs = {
  /** getTopItems: [index, value] pairs of the whole vocabulary, sorted, the first k. */
  top(x, k) {
    const items = Array.from(x, (v, i) => [i, v]).sort((a, b) => b[1] - a[1]);
    return k > 0 ? items.slice(0, k) : items;
  },
  softmax(v) {
    const m = v.reduce((a, b) => (b > a ? b : a), -Infinity);
    const e = v.map((a) => Math.exp(a - m));
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((a) => a / s);
  },
  greedy(x) {
    let best = 0;
    for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
    return best;
  },
  topK(x, k, u) {
    const top = tjs.top(x, k);
    const probs = tjs.softmax(top.map((t) => t[1]));
    let acc = 0;
    for (let j = 0; j < probs.length; j++) if ((acc += probs[j]) >= u) return top[j][0];
    return top[top.length - 1][0];
  },
  topP(x, p, u) {
    const top = tjs.top(x, 0);
    const probs = tjs.softmax(top.map((t) => t[1]));
    let c = 0, acc = 0;
    while (c < probs.length && acc < p) acc += probs[c++];
    let t = u * acc;
    for (let j = 0; j < c; j++) if ((t -= probs[j]) < 0) return top[j][0];
    return top[c - 1][0];
  },
};

const n = 128256;
const x = logits(n, 1);
const xa = lib.wasmArray(x);
const nucleus = Array.from(lib.sampleProbs(x, n, { topP: 0.9 })).filter((p) => p > 0).length;
const uni = mulberry32(5);
const cases = [
  ["greedy", { temperature: 0 }, (v) => js.greedy(v), (v) => tjs.greedy(v)],
  ["topK 50", { topK: 50 }, (v) => js.topK(v, 50, uni()), (v) => tjs.topK(v, 50, uni())],
  ["topP 0.9", { topP: 0.9 }, (v) => js.topP(v, 0.9, uni()), (v) => tjs.topP(v, 0.9, uni())],
  ["topK 40 topP 0.95 minP 0.05 T 0.8", { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8 }, null, null],
  ["no filter", {}, null, null],
];
console.log(`node ${process.version}, ${lib.wasmBuild()} build, ${threads} thread(s); one row of ${n} logits ` +
  `(top-p 0.9 keeps ${nucleus} tokens)\n`);
const rows = [["", "ours (Float32Array)", "ours (WasmArray)", "plain JS", "x", "transformers.js-style", "x"]];
for (const [name, opts, plain, tf] of cases) {
  const s = lib.sampler(opts);
  const a = time(() => s.next(x));
  const b = time(() => s.next(xa));
  const p = plain ? time(() => plain(x)) : NaN;
  const t = tf ? time(() => tf(x)) : NaN;
  rows.push([name, `${a.toFixed(1)} µs`, `${b.toFixed(1)} µs`, plain ? `${p.toFixed(1)} µs` : "", plain ? (p / a).toFixed(1) : "",
    tf ? `${t.toFixed(0)} µs` : "", tf ? (t / a).toFixed(0) : ""]);
}
const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
console.log("(x: the plain version's time over ours on a Float32Array)");

const batch = new Float32Array(32 * 32000);
for (let r = 0; r < 32; r++) batch.set(logits(32000, r + 10), r * 32000);
const bs = lib.sampler({ topK: 50, topP: 0.9 });
console.log(`\n32 x 32000, topK 50 topP 0.9: ${time(() => bs.next(batch, 32000)).toFixed(1)} µs (${threads} thread(s))`);
xa.dispose();
process.exit(0);
