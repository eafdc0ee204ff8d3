// Benchmark: the last step of a decode loop (issue 13) on one row of 128,256 logits (Llama 3's vocabulary) and a batch
// of 32 x 32,000: softmax-wasm's sample (on a Float32Array, copied in, and on a WasmArray, in place) against a careful
// plain-JS version (one pass for the max, a k-heap for top-k; for top-p the exps with the mass under three thresholds,
// then a sort of the few elements above the largest safe one) and @huggingface/transformers' own generation classes
// on the same logits: LogitsSampler.getSampler(new GenerationConfig(...)) picks its GreedySampler or
// MultinomialSampler (topk through its ONNX Runtime TopK op, softmax, a linear weighted draw), after a
// LogitsProcessorList holding its TemperatureLogitsWarper where the temperature is not 1. Its TopKLogitsWarper and
// TopPLogitsWarper have no _call in v4 (generation pushes only the temperature warper: "TODO: Add TopPLogitsWarper and
// TopKLogitsWarper"), so its top-k is the sampler's and it has no top-p: with top_p 0.9 and top_k 0 it draws from
// the whole vocabulary after a TopK of all of it, which is what a transformers.js user asking for top-p 0.9 gets.
//
//   node bench/sample.js [--threads N] [--wasm file]     (npm run bench:sample builds first)
//
// Logits: N(0, 1.5^2) with 40 tokens lifted by 6 .. 12, so a few dozen tokens hold most of the mass, as in a trained
// model's head (seeded; the nucleus size is printed). Times are the median of 15 batches, each long enough to time,
// ours, plain JS and transformers.js interleaved batch by batch per case, in one process.
import * as lib from "../dist/index.js";
import { GenerationConfig, LogitsProcessorList, TemperatureLogitsWarper, Tensor } from "@huggingface/transformers";
import { readFileSync, existsSync } from "node:fs";
import { mulberry32 } from "./common.js";
// LogitsSampler is not among the package's exports: its own module, as generation imports it
const { LogitsSampler } = await import("../node_modules/@huggingface/transformers/src/generation/logits_sampler.js");

const { version: tjsVersion } = JSON.parse(readFileSync(new URL("../node_modules/@huggingface/transformers/package.json", import.meta.url), "utf8"));
const loadavg = () => (existsSync("/proc/loadavg") ? readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") : "n/a");
const args = process.argv.slice(2);
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const threads = Number(flag("--threads") ?? 1);
const wasm = flag("--wasm"); // another build's .wasm (an older commit's, for a before/after)
await lib.ready(wasm ? readFileSync(wasm) : threads > 1 ? { threads } : undefined);

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

/**
 * Median microseconds per call of each of fs, timed interleaved (a batch of each in turn, 15 rounds, so a burst of
 * load on this shared machine falls on all of them alike); async functions (transformers.js' samplers) are awaited.
 */
async function timeAll(fs) {
  const call = async (f, reps) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) { const r = f(); if (r instanceof Promise) await r; }
    return performance.now() - t0;
  };
  const reps = [];
  for (const f of fs) {
    let r = 1;
    while ((await call(f, r)) < 20) r *= 2;
    reps.push(r);
  }
  const runs = fs.map(() => []);
  for (let b = 0; b < 15; b++) for (let j = 0; j < fs.length; j++) runs[j].push((await call(fs[j], reps[j])) * 1000 / reps[j]);
  return runs.map((r) => r.sort((a, b) => a - b)).map((r) => ({ med: r[7], min: r[0] }));
}

// ------------------------------------------------------------ careful plain JS
const EPS = [Math.exp(-4), Math.exp(-8), Math.exp(-13)];
const js = {
  greedy(x) {
    let best = 0;
    let m = x[0];
    for (let i = 1; i < x.length; i++) if (x[i] > m) m = x[best = i];
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
  /**
   * One pass for the max, one of exps summing Z and the mass under three thresholds (no array of n), the elements
   * above the largest threshold whose mass below is under (1 - p) Z gathered and sorted (a few dozen), the prefix up
   * to p Z, a draw.
   */
  topP(x, p, u) {
    const n = x.length;
    let m = -Infinity;
    for (let i = 0; i < n; i++) if (x[i] > m) m = x[i];
    let z = 0, b0 = 0, b1 = 0, b2 = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp(x[i] - m);
      z += e;
      if (e < EPS[0]) { b0 += e; if (e < EPS[1]) { b1 += e; if (e < EPS[2]) b2 += e; } }
    }
    const room = (1 - p) * z;
    const eps = b0 < room ? EPS[0] : b1 < room ? EPS[1] : b2 < room ? EPS[2] : 0;
    const t = m + Math.log(eps);
    const idx = [];
    for (let i = 0; i < n; i++) if (x[i] >= t) idx.push(i);
    idx.sort((a, b) => x[b] - x[a] || a - b);
    let c = 0, kept = 0;
    const e = new Float64Array(idx.length);
    while (c < idx.length && kept < p * z) kept += e[c] = Math.exp(x[idx[c++]] - m);
    let r = u * kept;
    for (let j = 0; j < c; j++) if ((r -= e[j]) < 0) return idx[j];
    return idx[c - 1];
  },
};

// ------------------------------------------------------------ @huggingface/transformers' own classes
/** Its generation's last step: the processors (temperature), then the sampler getSampler picks for the config. */
function tjs(config) {
  const cfg = new GenerationConfig(config);
  const processors = new LogitsProcessorList();
  if (cfg.do_sample && cfg.temperature !== 1) processors.push(new TemperatureLogitsWarper(cfg.temperature));
  const sampler = LogitsSampler.getSampler(cfg);
  const copy = processors.processors.length > 0; // the warper divides in place: a fresh row each step, as a model gives
  return async (x) => {
    const logits = new Tensor("float32", copy ? x.slice() : x, [1, x.length]);
    const [[id]] = await sampler.sample(processors([[0n]], logits));
    return Number(id);
  };
}

const n = 128256;
const x = logits(n, 1);
const xa = lib.wasmArray(x);
const nucleus = Array.from(lib.sampleProbs(x, n, { topP: 0.9 })).filter((p) => p > 0).length;
const uni = mulberry32(5);
const cases = [
  ["greedy", { temperature: 0 }, (v) => js.greedy(v), tjs({ do_sample: false })],
  ["topK 50", { topK: 50 }, (v) => js.topK(v, 50, uni()), tjs({ do_sample: true, top_k: 50 })],
  ["topP 0.9", { topP: 0.9 }, (v) => js.topP(v, 0.9, uni()), tjs({ do_sample: true, top_k: 0, top_p: 0.9 })],
  ["topK 40 topP 0.95 minP 0.05 T 0.8", { topK: 40, topP: 0.95, minP: 0.05, temperature: 0.8 }, null,
    tjs({ do_sample: true, top_k: 40, top_p: 0.95, min_p: 0.05, temperature: 0.8 })],
  ["no filter", {}, null, tjs({ do_sample: true, top_k: 0 })],
];
console.log(`node ${process.version}, ${lib.wasmBuild()} build, ${threads} thread(s); one row of ${n} logits ` +
  `(top-p 0.9 keeps ${nucleus} tokens); load average ${loadavg()}\n`);
// "copy in": the Float32Array path's floor, the row copied into Wasm memory (a memmove, as the arena's put does)
// before any pass reads it, timed interleaved with the rest. The passes are bound by vector ops, not by memory (the
// same µs per element on 4,096 floats in L1 as on 128,256), so running each pass on chunks just copied (4-32 K
// floats) measured no faster here than copy, then pass.
const into = lib.wasmArray(n);
const rows = [["", "ours (Float32Array)", "ours (WasmArray)", "copy in", "plain JS", "x", "transformers.js", "x"]];
const us = (t) => `${t.med.toFixed(t.med < 1000 ? 1 : 0)} (${t.min.toFixed(t.min < 1000 ? 1 : 0)}) µs`;
const ratio = (t, a) => `${(t.med / a.med).toFixed(1)} (${(t.min / a.min).toFixed(1)})`;
for (const [name, opts, plain, tf] of cases) {
  const s = lib.sampler(opts);
  const fs = [() => s.next(x), () => s.next(xa), () => into.data.set(x), plain && (() => plain(x)), tf && (() => tf(x))];
  const got = await timeAll(fs.filter(Boolean));
  const [a, b, c, p, t] = fs.map((f) => (f ? got.shift() : undefined));
  rows.push([name, us(a), us(b), us(c), p ? us(p) : "", p ? ratio(p, a) : "", t ? us(t) : "", t ? ratio(t, a) : ""]);
}
const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join("  "));
console.log("(median (min) of 15 batches; x: the other's time over ours on a Float32Array; transformers.js: @huggingface/transformers " +
  `${tjsVersion}, its GreedySampler / MultinomialSampler; its top-p is not applied, see the head of this file)`);

const batch = new Float32Array(32 * 32000);
for (let r = 0; r < 32; r++) batch.set(logits(32000, r + 10), r * 32000);
const bs = lib.sampler({ topK: 50, topP: 0.9 });
console.log(`\n32 x 32000, topK 50 topP 0.9: ${us((await timeAll([() => bs.next(batch, 32000)]))[0])} (${threads} thread(s))`);
console.log(`load average ${loadavg()}`);
xa.dispose();
into.dispose();
process.exit(0);
