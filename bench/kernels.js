// Benchmark: every kernel of softmax-wasm (../dist) against a plain-JS stable version (bench/reference.js),
// TensorFlow.js on its wasm backend, and the memory ceiling (a Float32Array.set copy of the same n floats).
// softmax, logSoftmax and crossEntropy (class-index labels) run at six shapes; softmaxBackward, logSoftmaxBackward,
// crossEntropy with probability targets ("crossEntropy (soft)"), binaryCrossEntropyWithLogits, sigmoid, quadraticCost
// and logitsFromProbs at [64,10], [256,1000] and [32,32000] only, to keep the run a few minutes long.
//
//   node bench/kernels.js [--quick] [--json FILE] [--threads N] [--relaxed] [--ours-only] [--base DIR]
//   (npm run bench:kernels = npm run build && node bench/kernels.js; npm run bench runs it from bench/report.js)
//
// --quick runs only [64,10] and [256,1000] and does not rewrite bench/RESULTS.md; --json FILE also writes every
// measurement as JSON. --threads N loads the library with ready({ threads: N }), --relaxed with ready({ relaxed: true })
// (both: the relaxed threads build)
// (Node 20 needs --experimental-wasm-relaxed-simd), --ours-only times only ours (the others are still run for the
// correctness check); any of these three leaves bench/RESULTS.md alone. --base DIR also loads another build of the
// library (DIR holds its index.js: `git worktree add /tmp/base <commit> && (cd /tmp/base && npm run build)`, or a copy
// of a dist/) and times softmax, logSoftmax and crossEntropy through Float32Arrays against it at every shape, in
// alternating rounds (a before / after in one run; RESULTS.md is left alone). Progress goes to stderr, the report to
// stdout (and, on a full run, to bench/RESULTS.md).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import url, { fileURLToPath } from "node:url";
import { Bench } from "tinybench";
import * as tf from "@tensorflow/tfjs";
import {
  softmaxJS, logSoftmaxJS, crossEntropyJS, softmaxBackwardJS, logSoftmaxBackwardJS, crossEntropySoftJS,
  binaryCrossEntropyWithLogitsJS, sigmoidJS, quadraticCostJS, logitsFromProbsJS,
} from "./reference.js";
import { useTfWasm, mulberry32, batched, runMeta } from "./common.js";
import { fmtUs, fmtGBps, fmtRatio, fmtPct, textTable, markdownTable } from "./format.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- options
const USAGE = "usage: node bench/kernels.js [--quick] [--json FILE] [--threads N] [--relaxed] [--ours-only] [--base DIR]";
const args = process.argv.slice(2);
let quick = false;
let jsonFile;
let threads = 1;
let relaxed = false;
let oursOnly = false;
let baseDir;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--quick") quick = true;
  else if (a === "--relaxed") relaxed = true;
  else if (a === "--ours-only") oursOnly = true;
  else if (a === "--base") {
    baseDir = args[++i];
    if (!baseDir) fail(`--base needs a directory (a build's dist/)\n${USAGE}`);
  }
  else if (a === "--threads") {
    threads = Number(args[++i]);
    if (!(Number.isInteger(threads) && threads >= 1)) fail(`--threads needs a whole number >= 1\n${USAGE}`);
  } else if (a === "--json") {
    jsonFile = args[++i];
    if (!jsonFile) fail(`--json needs a file name\n${USAGE}`);
  } else if (a.startsWith("--json=")) jsonFile = a.slice(7);
  else if (a === "--help" || a === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else fail(`unknown argument ${a}\n${USAGE}`);
}

const ALL_SHAPES = [[64, 10], [4096, 10], [256, 1000], [32, 32000], [4, 128000], [1, 1000000]];
const SHAPES = quick ? [[64, 10], [256, 1000]] : ALL_SHAPES;
const OPS = ["softmax", "logSoftmax", "crossEntropy"];
const MORE_OPS = ["softmaxBackward", "logSoftmaxBackward", "crossEntropy (soft)", "binaryCrossEntropyWithLogits", "sigmoid",
  "quadraticCost", "logitsFromProbs"];
const MORE_SHAPES = new Set(["64x10", "256x1000", "32x32000"]); // where MORE_OPS run (both --quick shapes among them)
const LOSS_OPS = new Set(["crossEntropy", "crossEntropy (soft)", "binaryCrossEntropyWithLogits", "quadraticCost"]);
const OP_WIDTH = Math.max(...OPS.concat(MORE_OPS).map((op) => op.length));
const IMPLS = oursOnly ? ["ours", "wasm"] : ["ours", "wasm", "js", "tfjs", "copy"];
const variant = threads > 1 || relaxed || oursOnly || baseDir !== undefined; // not the default run: RESULTS.md is left alone
const IMPL_TITLE = { ours: "ours", wasm: "ours WasmArray", js: "plain JS", tfjs: "tfjs-wasm", copy: "copy" };

// Per task: tinybench time budget and warmup (ms). Calls faster than BATCH_MS are batched K to a sample (the
// sample is the batch mean per call) so the timer's own cost (~50-100 ns a read) does not swamp sub-microsecond calls.
const TIME_MS = quick ? 200 : 400;
const WARMUP_MS = 100;
const BATCH_MS = 0.05;
const MAX_ITERATIONS = 64; // tinybench's default minimum iteration count, lowered for slow calls
const MIN_ITERATIONS = 3; // the floor for the slowest calls (tfjs crossEntropy on wide rows)

// Bytes an op must move per element, 4 per float read or written (a loss value aside): 8 for one input and one output,
// 12 where two inputs are read. The copy ceiling moves 8 (n floats read, n written) whatever the op.
const BYTES_PER_ELEMENT = {
  softmax: 8, logSoftmax: 8, crossEntropy: 8, softmaxBackward: 12, logSoftmaxBackward: 12, "crossEntropy (soft)": 12,
  binaryCrossEntropyWithLogits: 12, sigmoid: 8, quadraticCost: 12, logitsFromProbs: 8,
};
const COPY_BYTES_PER_ELEMENT = 8;
const TWO_INPUT_OPS = Object.keys(BYTES_PER_ELEMENT).filter((op) => BYTES_PER_ELEMENT[op] === 12);

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------- setup
let lib;
try {
  lib = await import("../dist/index.js");
} catch (err) {
  fail(`cannot load ../dist/index.js (${err.message}); run \`npm run build\` first`);
}
if (relaxed && !(await import("../dist/ready.js")).relaxedSimdSupported()) {
  fail("--relaxed: this engine lacks relaxed SIMD (Node 20: run node --experimental-wasm-relaxed-simd)");
}
const { engine: engineOf } = await import("../dist/engine.js"); // the loaded engine, for the kernel-only floor
const readyOptions = threads > 1 || relaxed ? { ...(threads > 1 ? { threads } : {}), ...(relaxed ? { relaxed } : {}) }
  : undefined;
await lib.ready(readyOptions);
// --base: another build, its own module instance and engine, loaded the same way
let baseLib;
if (baseDir !== undefined) {
  const entry = path.resolve(baseDir, "index.js");
  if (!fs.existsSync(entry)) fail(`--base: no index.js in ${baseDir} (give a build's dist/ directory)`);
  baseLib = await import(url.pathToFileURL(entry).href);
  await baseLib.ready(readyOptions);
}

const { version: version_wasm, simd: tfSimd, threads: tfThreads } = await useTfWasm(tf);

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
// tinybench's exports map hides its package.json: read it beside the resolved entry point (dist/index.js)
const tinybenchVersion = JSON.parse(
  fs.readFileSync(path.join(path.dirname(require.resolve("tinybench")), "..", "package.json"), "utf8")).version;
const meta = {
  ...runMeta(pkg),
  tfjs: tf.version.tfjs,
  tfjsBackendWasm: version_wasm,
  tfjsWasmSimd: tfSimd,
  tfjsWasmThreads: tfThreads,
  tinybench: tinybenchVersion,
  command: variant || quick ? `node ${process.execArgv.concat(["bench/kernels.js"], args).join(" ")}`
    : "npm run bench:kernels",
  threads,
  relaxed,
  oursOnly,
  base: baseDir === undefined ? undefined : path.resolve(baseDir),
  timeMs: TIME_MS,
  warmupMs: WARMUP_MS,
};

const header = [
  `${meta.library} kernel benchmark, ${meta.date}`,
  `machine: ${meta.cpu}, ${meta.cores} cores (${meta.platform}); node ${meta.node}`,
  `tfjs ${meta.tfjs} + tfjs-backend-wasm ${meta.tfjsBackendWasm} (SIMD ${tfSimd ? "on" : "off"}, ` +
    `threads ${tfThreads ? "on" : "off"}); tinybench ${meta.tinybench}`,
];
const notes = [
  `Per call: tinybench median / mean over ${TIME_MS} ms per task after ${WARMUP_MS} ms warmup; calls under ` +
    `${BATCH_MS * 1000} us are batched, each sample being the mean of a batch.`,
  "ours: softmax-wasm API with a preallocated out / grad buffer (includes the copies into and out of Wasm memory). " +
    "ours WasmArray: the same call with every float operand and out / grad WasmArrays (in Wasm memory already: no copies). " +
    "plain JS: the stable loops of bench/reference.js over Float32Array. tfjs-wasm: op + dataSync() of the result(s); " +
    "crossEntropy: valueAndGrad of tf.losses.softmaxCrossEntropy with one-hot labels, crossEntropy (soft) with the " +
    "probability rows; softmaxBackward, logSoftmaxBackward: tfjs's own Softmax / LogSoftmax gradient formula on y (logp) " +
    "and dy, as a tfjs backward pass runs it (tf.grad would recompute the forward pass first); binaryCrossEntropyWithLogits: " +
    "valueAndGrad of tf.losses.sigmoidCrossEntropy (its default reduction is the mean over all elements); quadraticCost: " +
    "valueAndGrad of a.sub(y).square().sum().div(2 rows); logitsFromProbs: tf.log(p) minus its row mean. " +
    "copy: Float32Array.set of the same n floats.",
  "Inputs: logits x ~ N(0, 2^2) (and labels uniform); y = softmax(x) and logp = logSoftmax(x) (y is also logitsFromProbs' " +
    "p and quadraticCost's a); dy ~ N(0, 1); probability targets q = softmax of other N(0, 2^2) logits (also quadraticCost's " +
    "y); binaryCrossEntropyWithLogits targets ~ U[0, 1).",
  `GB/s = rows*cols*B/elem bytes / median, B/elem being 4 per float the op reads or writes per element: 8, or 12 for ` +
    `${TWO_INPUT_OPS.join(", ")}, which read two inputs (the copy: 8). vs JS, vs tfjs = their median / ours; of copy = ` +
    "copy median / ours median (a copy of n floats, even for an op that reads 2n). At these sizes (at most 4 MB each way) " +
    "the copy mostly runs from cache, so it is a ceiling, not DRAM bandwidth.",
  "Before timing, every shape's output (a loss's value and gradient) of ours and tfjs is checked element-wise against " +
    "plain JS (ours to 1e-4; tfjs to 20x that, as it sums a row in float32); a mismatch aborts the run.",
];
const load = os.loadavg()[0];
meta.loadAverage1m = load;
for (const l of header) console.log(l);
console.log("");

// ---------------------------------------------------------------- data

/** n samples of N(0, sd^2) by Box-Muller. */
function gaussians(rand, n, sd) {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - rand();
    const v = rand();
    const r = sd * Math.sqrt(-2 * Math.log(u));
    x[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) x[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return x;
}

/** Logits ~ N(0, 2^2), labels uniform, the same for a given shape on every run. */
function makeData(rows, cols) {
  const rand = mulberry32(rows * 1000003 + cols);
  const x = gaussians(rand, rows * cols, 2);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = Math.min(cols - 1, Math.floor(rand() * cols));
  return { x, labels };
}

/**
 * The other kernels' operands, from x and a generator of their own (so x and the labels stay those of makeData):
 * y = softmax(x), logp = logSoftmax(x), dy ~ N(0, 1), probability rows q = softmax of other N(0, 2^2) logits and
 * binary targets t ~ U[0, 1). Each as a Float32Array, a tfjs tensor (yT, ...) and a WasmArray (yW, ...).
 */
function makeMoreData(rows, cols, x) {
  const rand = mulberry32(rows * 1000003 + cols + 1);
  const n = rows * cols;
  const floats = {
    y: softmaxJS(x, cols, new Float32Array(n)),
    logp: logSoftmaxJS(x, cols, new Float32Array(n)),
    dy: gaussians(rand, n, 1),
    q: softmaxJS(gaussians(rand, n, 2), cols, new Float32Array(n)),
    t: Float32Array.from({ length: n }, rand),
  };
  const more = { ...floats };
  for (const [k, v] of Object.entries(floats)) {
    more[`${k}T`] = tf.tensor2d(v, [rows, cols]);
    more[`${k}W`] = lib.wasmArray(v);
  }
  return more;
}

// ---------------------------------------------------------------- correctness
/** Largest |a - b| / (atol + rtol |b|) over the arrays: <= 1 passes. */
function worst(a, b, rtol, atol) {
  let w = 0;
  let at = -1;
  if (a.length !== b.length) return { w: Infinity, at, detail: `length ${a.length} vs ${b.length}` };
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / (atol + rtol * Math.abs(b[i]));
    if (!(e <= w)) {
      w = e;
      at = i;
      if (Number.isNaN(e)) break;
    }
  }
  return { w, at, detail: at >= 0 ? `at [${at}]: ${a[at]} vs reference ${b[at]}` : "" };
}

// Tolerances (|a - b| <= atol + rtol |b| element-wise): row probabilities (softmax, a softmax cross-entropy or
// quadratic-cost gradient times rows, i.e. p - q, and softmaxBackward's y (dy - s)) to 1e-4 relative with a floor of
// 1e-4 of a uniform row's probability; element-wise ones (sigmoid, the BCE gradient times n) to 1e-4 relative plus
// 1e-6; logits and log-probabilities (and logSoftmaxBackward's dy - p s) to 1e-4 absolute plus 1e-5 relative; the loss
// to 1e-4 (relative above 1). tfjs is held to TFJS_SLACK times these: it sums a row's exponentials in float32 one by
// one, so its log-sum-exp on a 1,000,000-wide row is off by ~1e-3.
const TFJS_SLACK = 20;
const accuracy = new Map(); // "op [r,c] impl" -> worst error as a fraction of the strict tolerance
const KIND = {
  softmax: "prob", logSoftmax: "log", crossEntropy: "prob", softmaxBackward: "prob", logSoftmaxBackward: "log",
  "crossEntropy (soft)": "prob", binaryCrossEntropyWithLogits: "unit", sigmoid: "unit", quadraticCost: "prob",
  logitsFromProbs: "log",
};

function tolerance(kind, cols, impl) {
  const k = impl === "tfjs" ? TFJS_SLACK : 1;
  if (kind === "prob") return [k * 1e-4, (k * 1e-4) / cols];
  return kind === "unit" ? [k * 1e-4, k * 1e-6] : [k * 1e-5, k * 1e-4];
}

function checkArray(what, impl, a, b, kind, cols) {
  const [rtol, atol] = tolerance(kind, cols, impl);
  const r = worst(a, b, rtol, atol);
  const key = `${what} ${impl}`;
  const strict = r.w * (impl === "tfjs" ? TFJS_SLACK : 1);
  accuracy.set(key, Math.max(accuracy.get(key) ?? 0, strict));
  if (!(r.w <= 1)) {
    fail(`${what}: ${IMPL_TITLE[impl]} disagrees with the plain-JS reference (rtol ${rtol.toExponential(1)}, ` +
      `atol ${atol.toExponential(1)}) ${r.detail}; not timing a broken call`);
  }
}

function checkScalar(what, impl, a, b) {
  const tol = (impl === "tfjs" ? TFJS_SLACK : 1) * 1e-4 * Math.max(1, Math.abs(b));
  const e = Math.abs(a - b) / tol;
  const key = `${what} ${impl}`;
  accuracy.set(key, Math.max(accuracy.get(key) ?? 0, e * (impl === "tfjs" ? TFJS_SLACK : 1)));
  if (!(e <= 1)) {
    fail(`${what}: ${IMPL_TITLE[impl]} loss ${a} disagrees with the plain-JS reference ${b}; not timing a broken call`);
  }
}

/** The floats of a result: a WasmArray's data, or the Float32Array itself. */
function floatsOf(v) {
  return v instanceof lib.WasmArray ? v.data : v;
}

// ---------------------------------------------------------------- timing
let sink = 0; // results of calls land here so nothing is dead code


async function measure(fn) {
  // rough per-call cost: the best of five ~1 ms windows (the best, so a busy neighbour does not shrink the batch)
  fn();
  let est = Infinity;
  for (let w = 0; w < 5; w++) {
    let calls = 0;
    let elapsed = 0;
    const t0 = performance.now();
    do {
      fn();
      calls++;
      elapsed = performance.now() - t0;
    } while (elapsed < 1 && calls < 100000);
    est = Math.min(est, elapsed / calls);
    if (elapsed > 20) break; // a slow call: one window tells enough
  }
  const K = Math.max(1, Math.min(10000, Math.round(BATCH_MS / est)));
  const perSample = est * K;
  const iterations = Math.max(MIN_ITERATIONS, Math.min(MAX_ITERATIONS, Math.floor(TIME_MS / perSample)));
  const warmupIterations = Math.max(1, Math.min(16, Math.floor(WARMUP_MS / perSample)));
  const bench = new Bench({ time: TIME_MS, warmupTime: WARMUP_MS, iterations, warmupIterations, warmup: true, throws: true });
  bench.add("task", batched(fn, K));
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== "completed") fail(`task ended in state ${r.state}${r.error ? `: ${r.error.message}` : ""}`);
  const l = r.latency;
  return {
    medianUs: l.p50 * 1000, meanUs: l.mean * 1000, minUs: l.min * 1000, p75Us: l.p75 * 1000, p99Us: l.p99 * 1000,
    maxUs: l.max * 1000, sdUs: l.sd * 1000, rmePct: l.rme, samples: l.samplesCount, batch: K,
  };
}

// ---------------------------------------------------------------- implementations
// tfjs: the dataSync() result is carried out of tf.tidy through a variable, never returned from the tidy callback:
// tidy walks whatever its callback returns looking for tensors, key by key, which for a returned Float32Array of
// 256,000 floats costs ~90 ms a call and would be timed as if it were tfjs's softmax.
/** A tfjs call: the tensor f() makes, read back with dataSync() inside a tidy. */
function tfArray(f) {
  return () => {
    let r;
    tf.tidy(() => { r = f().dataSync(); });
    return r;
  };
}

/** A tfjs loss: lossAndGrad (a tf.valueAndGrad) at z, its value and gradient read back inside a tidy. */
function tfLoss(lossAndGrad, z) {
  return () => {
    let r;
    tf.tidy(() => {
      const { value, grad } = lossAndGrad(z);
      r = { loss: value.dataSync()[0], grad: grad.dataSync() };
    });
    sink += r.loss;
    return r;
  };
}

/** A loss call's result, its loss kept in the sink. */
function kept(r) {
  sink += r.loss;
  return r;
}

function implementations(op, rows, cols, d) {
  const { x, labels, out, grad, ref, copyDst, xT, onehotT, xW, outW } = d;
  const { y, logp, dy, q, t, yT, logpT, dyT, qT, tT, yW, logpW, dyW, qW, tW } = d;
  const opts = { out };
  const optsW = { out: outW };
  const mean = { reduction: "mean", grad };
  const meanW = { reduction: "mean", grad: outW };
  const copy = () => copyDst.set(x);
  switch (op) {
    case "softmax": return {
      ours: () => lib.softmax(x, cols, opts),
      wasm: () => lib.softmax(xW, cols, optsW),
      js: () => softmaxJS(x, cols, ref),
      tfjs: tfArray(() => tf.softmax(xT)),
      copy,
    };
    case "logSoftmax": return {
      ours: () => lib.logSoftmax(x, cols, opts),
      wasm: () => lib.logSoftmax(xW, cols, optsW),
      js: () => logSoftmaxJS(x, cols, ref),
      tfjs: tfArray(() => tf.logSoftmax(xT)),
      copy,
    };
    case "crossEntropy": return {
      ours: () => kept(lib.crossEntropy(x, cols, labels, mean)),
      wasm: () => kept(lib.crossEntropy(xW, cols, labels, meanW)),
      js: () => kept({ loss: crossEntropyJS(x, cols, labels, ref), grad: ref }),
      tfjs: tfLoss(tf.valueAndGrad((z) => tf.losses.softmaxCrossEntropy(onehotT, z)), xT),
      copy,
    };
    // tfjs has no backward op taking y: this is its registered Softmax gradient, what its backward pass runs on the saved y
    case "softmaxBackward": return {
      ours: () => lib.softmaxBackward(y, dy, cols, opts),
      wasm: () => lib.softmaxBackward(yW, dyW, cols, optsW),
      js: () => softmaxBackwardJS(y, dy, cols, ref),
      tfjs: tfArray(() => {
        const dyy = dyT.mul(yT);
        return dyy.sub(dyy.sum(1, true).mul(yT));
      }),
      copy,
    };
    // likewise tfjs's registered LogSoftmax gradient on the saved logp
    case "logSoftmaxBackward": return {
      ours: () => lib.logSoftmaxBackward(logp, dy, cols, opts),
      wasm: () => lib.logSoftmaxBackward(logpW, dyW, cols, optsW),
      js: () => logSoftmaxBackwardJS(logp, dy, cols, ref),
      tfjs: tfArray(() => dyT.sub(dyT.sum(1, true).mul(tf.exp(logpT)))),
      copy,
    };
    case "crossEntropy (soft)": return {
      ours: () => kept(lib.crossEntropy(x, cols, q, mean)),
      wasm: () => kept(lib.crossEntropy(xW, cols, qW, meanW)),
      js: () => kept({ loss: crossEntropySoftJS(x, cols, q, ref), grad: ref }),
      tfjs: tfLoss(tf.valueAndGrad((z) => tf.losses.softmaxCrossEntropy(qT, z)), xT),
      copy,
    };
    // tf.losses.sigmoidCrossEntropy's default reduction (SUM_BY_NONZERO_WEIGHTS, no weights) is the mean over all elements
    case "binaryCrossEntropyWithLogits": return {
      ours: () => kept(lib.binaryCrossEntropyWithLogits(x, t, mean)),
      wasm: () => kept(lib.binaryCrossEntropyWithLogits(xW, tW, meanW)),
      js: () => kept({ loss: binaryCrossEntropyWithLogitsJS(x, t, ref), grad: ref }),
      tfjs: tfLoss(tf.valueAndGrad((z) => tf.losses.sigmoidCrossEntropy(tT, z)), xT),
      copy,
    };
    case "sigmoid": return {
      ours: () => lib.sigmoid(x, opts),
      wasm: () => lib.sigmoid(xW, optsW),
      js: () => sigmoidJS(x, ref),
      tfjs: tfArray(() => tf.sigmoid(xT)),
      copy,
    };
    case "quadraticCost": {
      const g = { grad };
      const gW = { grad: outW };
      return {
        ours: () => kept(lib.quadraticCost(y, q, cols, g)),
        wasm: () => kept(lib.quadraticCost(yW, qW, cols, gW)),
        js: () => kept({ loss: quadraticCostJS(y, q, cols, ref), grad: ref }),
        tfjs: tfLoss(tf.valueAndGrad((a) => a.sub(qT).square().sum().div(2 * rows)), yT),
        copy,
      };
    }
    case "logitsFromProbs": return {
      ours: () => lib.logitsFromProbs(y, cols, opts),
      wasm: () => lib.logitsFromProbs(yW, cols, optsW),
      js: () => logitsFromProbsJS(y, cols, ref),
      tfjs: tfArray(() => {
        const l = tf.log(yT);
        return l.sub(l.mean(1, true));
      }),
      copy,
    };
  }
}

function check(op, rows, cols, impls, d) {
  const what = `${op} [${rows},${cols}]`;
  if (LOSS_OPS.has(op)) {
    const ref = impls.js();
    // a gradient times what the mean divides by (rows; every element for BCE) is p - target, checked at that scale
    const scale = op === "binaryCrossEntropyWithLogits" ? rows * cols : rows;
    const refG = ref.grad.map((g) => g * scale);
    for (const impl of ["ours", "wasm", "tfjs"]) {
      const got = impls[impl]();
      checkScalar(what, impl, got.loss, ref.loss);
      checkArray(what, impl, Float32Array.from(floatsOf(got.grad), (g) => g * scale), refG, KIND[op], cols);
    }
    // the class-index target really is honoured: the label entry is the one pushed down
    if (op === "crossEntropy" && !(ref.grad[d.labels[0]] < 0)) {
      fail(`${what}: reference gradient at the label is not negative (${ref.grad[d.labels[0]]})`);
    }
  } else {
    const ref = Float32Array.from(impls.js());
    for (const impl of ["ours", "wasm", "tfjs"]) {
      checkArray(what, impl, Float32Array.from(floatsOf(impls[impl]())), ref, KIND[op], cols);
    }
    if (op === "softmax") {
      let s = 0;
      for (let i = 0; i < cols; i++) s += d.out[i];
      if (!(Math.abs(s - 1) < 1e-3)) fail(`${what}: ours' first row sums to ${s}`);
    }
  }
  impls.copy();
  for (let i = 0; i < d.x.length; i += 997) if (d.copyDst[i] !== d.x[i]) fail(`${what}: copy ceiling did not copy`);
}

/**
 * Ours against plain JS in alternating rounds of K calls each (ours first in even rounds, JS first in odd ones): a busy
 * machine slows both sides of a round alike, so the median of the rounds' ratios (JS time / ours) moves less than the
 * ratio of two medians measured seconds apart. Used for the small calls, whose goals are ratios.
 */
function interleavedRatio(ours, js, rounds = 41, K = 400) {
  const sides = [batched(ours, K), batched(js, K)]; // each its own function, so neither call site is polymorphic
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    const t = [0, 0];
    for (const side of r % 2 === 0 ? [0, 1] : [1, 0]) t[side] = sides[side]().overriddenDuration;
    ratios.push(t[1] / t[0]);
  }
  ratios.sort((a, b) => a - b);
  return ratios[rounds >> 1];
}

/**
 * Ours against the --base build: the same call through Float32Arrays on each (out / grad buffers of their own), in
 * alternating rounds as interleavedRatio, the batch sized to about 0.4 ms. Returns base time / ours (above 1: ours is
 * faster) as the median of the rounds' ratios and as the ratio of each side's fastest round, and each side's median
 * microseconds.
 */
function versusBase(op, rows, cols, d) {
  const n = rows * cols;
  const outB = new Float32Array(n);
  const gradB = { reduction: "mean", grad: new Float32Array(n) };
  const outOpts = { out: outB };
  const base = op === "softmax" ? () => baseLib.softmax(d.x, cols, outOpts)
    : op === "logSoftmax" ? () => baseLib.logSoftmax(d.x, cols, outOpts)
    : () => { sink += baseLib.crossEntropy(d.x, cols, d.labels, gradB).loss; };
  const ours = implementations(op, rows, cols, d).ours;
  // the same bits: the two builds' results element for element
  const mine = op === "crossEntropy" ? ours().grad : ours();
  base();
  const theirs = op === "crossEntropy" ? gradB.grad : outB;
  for (let i = 0; i < n; i++) {
    if (!Object.is(mine[i], theirs[i]) && !(Number.isNaN(mine[i]) && Number.isNaN(theirs[i]))) {
      fail(`${op} [${rows},${cols}]: ours and --base differ at [${i}]: ${mine[i]} vs ${theirs[i]}`);
    }
  }
  // both sides warmed alike first (the base build's code has not run yet: V8 has not optimized it), ~100 ms each
  let calls = 0;
  const t0 = performance.now();
  do {
    ours();
    base();
    calls++;
  } while (performance.now() - t0 < 200);
  const est = Math.max((performance.now() - t0) / calls / 2, 1e-4);
  const K = Math.max(1, Math.min(400, Math.round(0.4 / est)));
  const rounds = K === 1 ? 31 : 41;
  const sides = [batched(ours, K), batched(base, K)];
  const ratios = [];
  const times = [[], []];
  for (let r = 0; r < rounds; r++) {
    const t = [0, 0];
    for (const side of r % 2 === 0 ? [0, 1] : [1, 0]) t[side] = sides[side]().overriddenDuration;
    ratios.push(t[1] / t[0]);
    times[0].push(t[0]);
    times[1].push(t[1]);
  }
  const median = (v) => v.sort((a, b) => a - b)[v.length >> 1];
  // the fastest round of each side too: on a busy machine the least disturbed rounds, the steadier figure for long calls
  return {
    ratio: median(ratios), fastest: Math.min(...times[1]) / Math.min(...times[0]),
    oursUs: median(times[0]) * 1000, baseUs: median(times[1]) * 1000,
  };
}

/**
 * The small-call floor: `measure` given the module's own kernel for op, called on blocks of Wasm memory that already
 * hold the operands (no checks, no copies, no scaffold), the same math as ours.
 */
function kernelOnly(op, rows, cols, d, measure) {
  const e = engineOf("bench");
  const n = rows * cols;
  const px = e.allocBlock(n * 4);
  const py = e.allocBlock(n * 4);
  const pl = e.allocBlock(rows * 4);
  try {
    e.write(px, d.x);
    e.write(pl, d.labels);
    const k = e.k;
    const kernel = op === "softmax" ? () => k.softmax_forward(px, py, rows, cols, 1)
      : op === "logSoftmax" ? () => k.log_softmax_forward(px, py, rows, cols, 1)
      : () => { sink += k.cross_entropy_index(px, pl, 0, py, 0, rows, cols, -100, 0, cols, 1 / rows); };
    return measure(kernel);
  } finally {
    e.freeBlock(pl, rows * 4);
    e.freeBlock(py, n * 4);
    e.freeBlock(px, n * 4);
  }
}

// ---------------------------------------------------------------- targets (printed, not asserted)
function target(op, rows, cols, medianUs, gbps, vsJs) {
  const us = (limit) => ({ text: `<=${limit} us`, met: medianUs <= limit });
  const js = (ratio) => ({ text: `>=${ratio}x JS`, met: vsJs >= ratio });
  if (op === "softmax" && cols >= 1000) return { text: ">=8 GB/s", met: gbps >= 8 };
  // small calls (issue 12): ratios, which a busy machine moves less than absolute times
  if (op === "softmax" && rows === 64 && cols === 10) return js(10);
  if (op === "crossEntropy" && rows === 64 && cols === 10) return js(8);
  if (op === "crossEntropy" && rows === 256 && cols === 1000) return us(250);
  if (op === "crossEntropy" && rows === 32 && cols === 32000) return us(1100);
  return undefined;
}

// ---------------------------------------------------------------- run
const results = [];
const started = performance.now();
const cpuStarted = process.cpuUsage();
for (const [rows, cols] of SHAPES) {
  const n = rows * cols;
  const { x, labels } = makeData(rows, cols);
  const more = MORE_SHAPES.has(`${rows}x${cols}`);
  const d = {
    x, labels, out: new Float32Array(n), grad: new Float32Array(n), ref: new Float32Array(n),
    copyDst: new Float32Array(n), xT: tf.tensor2d(x, [rows, cols]), xW: lib.wasmArray(x), outW: lib.wasmArray(n),
    onehotT: tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), cols).toFloat()),
    ...(more ? makeMoreData(rows, cols, x) : {}),
  };
  for (const op of more ? OPS.concat(MORE_OPS) : OPS) {
    const impls = implementations(op, rows, cols, d);
    check(op, rows, cols, impls, d);
    const row = { op, rows, cols, n, bytesPerElement: BYTES_PER_ELEMENT[op], impl: {} };
    const acc = (impl) => accuracy.get(`${op} [${rows},${cols}] ${impl}`);
    row.errorVsStrictTolerance = { ours: acc("ours"), wasm: acc("wasm"), tfjs: acc("tfjs") };
    process.stderr.write(`  ${op.padEnd(OP_WIDTH)} ${`[${rows},${cols}]`.padEnd(13)} check: worst error ours ` +
      `${acc("ours").toFixed(3)}, tfjs ${acc("tfjs").toFixed(3)} of the 1e-4 tolerance\n`);
    for (const impl of IMPLS) {
      const tensorsBefore = tf.memory().numTensors;
      const m = await measure(impls[impl]);
      const leaked = tf.memory().numTensors - tensorsBefore;
      if (leaked !== 0) fail(`${op} [${rows},${cols}] ${impl}: ${leaked} tensors leaked per run; memory is not flat`);
      m.gbps = (n * (impl === "copy" ? COPY_BYTES_PER_ELEMENT : row.bytesPerElement)) / (m.medianUs * 1e-6) / 1e9;
      row.impl[impl] = m;
      process.stderr.write(`  ${op.padEnd(OP_WIDTH)} ${`[${rows},${cols}]`.padEnd(13)} ${IMPL_TITLE[impl].padEnd(9)} ` +
        `${fmtUs(m.medianUs).padStart(8)} us  ${fmtGBps(m.gbps).padStart(6)} GB/s  (${m.samples} samples x ${m.batch})\n`);
    }
    const o = row.impl.ours;
    row.speedupVsJs = row.impl.js?.medianUs / o.medianUs;
    if (rows === 64 && cols === 10 && OPS.includes(op) && IMPLS.includes("js")) {
      row.interleavedVsJs = interleavedRatio(impls.ours, impls.js);
      row.kernelVsJs = kernelOnly(op, rows, cols, d, (kernel) => interleavedRatio(kernel, impls.js));
    }
    if (baseLib !== undefined && OPS.includes(op)) {
      row.vsBase = versusBase(op, rows, cols, d);
      process.stderr.write(`  ${op.padEnd(OP_WIDTH)} ${`[${rows},${cols}]`.padEnd(13)} vs --base ` +
        `${fmtRatio(row.vsBase.ratio)}, fastest rounds ${fmtRatio(row.vsBase.fastest)} (${fmtUs(row.vsBase.oursUs)} us, ` +
        `base ${fmtUs(row.vsBase.baseUs)} us)\n`);
    }
    row.speedupVsTfjs = row.impl.tfjs?.medianUs / o.medianUs;
    row.fractionOfCopy = row.impl.copy?.medianUs / o.medianUs;
    // a ratio goal is judged on the interleaved ratio where there is one
    row.target = target(op, rows, cols, o.medianUs, o.gbps, row.interleavedVsJs ?? row.speedupVsJs);
    results.push(row);
  }
  for (const v of Object.values(d)) if (v instanceof tf.Tensor || v instanceof lib.WasmArray) v.dispose();
}
const elapsedS = (performance.now() - started) / 1000;
// The bench is single-threaded: if it got much less than one core of CPU time over the run, something else on the
// machine was competing for the cores and the figures (means most of all) are noisy.
const cpu = process.cpuUsage(cpuStarted);
const cpuShare = (cpu.user + cpu.system) / 1e6 / elapsedS;
meta.cpuShare = cpuShare;
if (cpuShare < 0.9) {
  notes.push(`WARNING: this process got ${fmtPct(cpuShare)} of a core over the run: other processes were competing ` +
    "for the CPU, so these figures are noisy (rerun on an idle machine).");
}
if (!Number.isFinite(sink)) console.error("bench: (a loss was not finite)");

// ---------------------------------------------------------------- report
const medMean = (m) => `${fmtUs(m.medianUs)} / ${fmtUs(m.meanUs)}`;
const shapeText = (r) => `${r.rows}x${r.cols}`;
const targetText = (t) => (t ? `${t.text} ${t.met ? "met" : "MISSED"}` : "-");

const LAT = "us per call, median / mean";
const GB_TITLE = "Throughput at the op's bytes per element (B/elem; GB/s from the median), relative margin of error, " +
  "samples (x batch)";
const mainColumns = [
  { title: "op", align: "l" }, { title: "shape", align: "l" },
  ...IMPLS.map((i) => ({ title: IMPL_TITLE[i], md: `${IMPL_TITLE[i]} us (median / mean)`, align: "r", group: LAT })),
  { title: "ours GB/s", align: "r" }, { title: "vs JS", align: "r" }, { title: "vs tfjs", align: "r" },
  { title: "of copy", align: "r" }, { title: "target", align: "l" },
];
const mainRows = results.map((r) => [
  r.op, shapeText(r), ...IMPLS.map((i) => medMean(r.impl[i])), fmtGBps(r.impl.ours.gbps),
  fmtRatio(r.speedupVsJs), fmtRatio(r.speedupVsTfjs), fmtPct(r.fractionOfCopy), targetText(r.target),
]);

const gbColumns = [
  { title: "op", align: "l" }, { title: "shape", align: "l" }, { title: "B/elem", align: "r" },
  ...IMPLS.map((i) => ({ title: IMPL_TITLE[i], md: `${IMPL_TITLE[i]} GB/s`, align: "r", group: "GB/s (median)" })),
  ...IMPLS.map((i) => ({ title: IMPL_TITLE[i], md: `${IMPL_TITLE[i]} +-rme`, align: "r", group: "+-rme" })),
  ...IMPLS.map((i) => ({ title: IMPL_TITLE[i], md: `${IMPL_TITLE[i]} samples`, align: "r", group: "samples x batch" })),
];
const pctText = (p) => (Number.isFinite(p) ? `${p < 10 ? p.toFixed(1) : Math.round(p)}%` : "-");
const gbRows = results.map((r) => [
  r.op, shapeText(r), String(r.bytesPerElement), ...IMPLS.map((i) => fmtGBps(r.impl[i].gbps)),
  ...IMPLS.map((i) => pctText(r.impl[i].rmePct)),
  ...IMPLS.map((i) => (r.impl[i].batch > 1 ? `${r.impl[i].samples}x${r.impl[i].batch}` : `${r.impl[i].samples}`)),
]);

console.log("");
console.log("Latency per call (us, median / mean) and ours against the others");
console.log(textTable(mainColumns, mainRows));
console.log("");
console.log(GB_TITLE);
console.log(textTable(gbColumns, gbRows));
console.log("");
// The small-call goals beside their ceilings: plain JS over ours on WasmArrays (no copies in or out, the checks and
// the kernel only) and over the kernel alone, which no path through the API can beat.
for (const r of results.filter((r) => r.rows === 64 && r.cols === 10 && OPS.includes(r.op))) {
  if (r.impl.js === undefined) continue;
  const line = `${r.op} 64x10: ${fmtRatio(r.interleavedVsJs)} plain JS through Float32Arrays, the median of 41 ` +
    `alternating rounds (${targetText(r.target)}; ${fmtRatio(r.speedupVsJs)} from the medians above); ` +
    `${fmtRatio(r.impl.js.medianUs / r.impl.wasm.medianUs)} on WasmArrays, the ceiling without copies; ` +
    `${fmtRatio(r.kernelVsJs)} for the kernel alone on Wasm memory (no checks, no copies: the floor), interleaved too`;
  notes.push(line);
}
if (baseLib !== undefined) {
  console.log(`Ours against --base ${meta.base} through Float32Arrays in alternating rounds (base time / ours, above 1x ` +
    "ours is faster: the median of the rounds' ratios, and each side's fastest round; us: each side's median per call):");
  console.log(textTable(
    [{ title: "op", align: "l" }, { title: "shape", align: "l" }, { title: "ours us", align: "r" },
      { title: "base us", align: "r" }, { title: "vs base", align: "r" }, { title: "fastest", align: "r" }],
    results.filter((r) => r.vsBase).map((r) => [r.op, shapeText(r), fmtUs(r.vsBase.oursUs), fmtUs(r.vsBase.baseUs),
      fmtRatio(r.vsBase.ratio), fmtRatio(r.vsBase.fastest)])));
  console.log("");
}
const loadAfter = os.loadavg()[0];
meta.loadAverage1mAfter = loadAfter;
for (const l of notes) console.log(l);
console.log(`Total ${elapsedS.toFixed(1)} s; the bench process had ${fmtPct(cpuShare)} of a core; 1-minute load average ` +
  `${load.toFixed(2)} before, ${loadAfter.toFixed(2)} after.`);

if (!quick && !variant) {
  const md = [
    "# Benchmark results",
    "",
    `Produced by \`npm run bench:kernels\` (\`bench/kernels.js\`) on ${meta.date.slice(0, 10)}.`,
    "",
    `- Machine: ${meta.cpu}, ${meta.cores} cores (${meta.platform})`,
    `- Node ${meta.node}; ${meta.library}; tfjs ${meta.tfjs} with tfjs-backend-wasm ${meta.tfjsBackendWasm} ` +
      `(SIMD ${tfSimd ? "on" : "off"}, threads ${tfThreads ? "on" : "off"}); tinybench ${meta.tinybench}`,
    `- Total run ${elapsedS.toFixed(0)} s; the bench process had ${fmtPct(cpuShare)} of a core over it ` +
      `(1-minute load average before it: ${load.toFixed(2)}, after: ${loadAfter.toFixed(2)})`,
    "",
    "## Latency per call (us, median / mean) and ours against the others",
    "",
    markdownTable(mainColumns, mainRows),
    "",
    `## ${GB_TITLE}`,
    "",
    markdownTable(gbColumns, gbRows),
    "",
    ...notes.map((l) => `- ${l}`),
    "- Targets are the project's goals, printed beside the figures, not asserted.",
    "",
  ].join("\n");
  fs.writeFileSync(path.join(HERE, "RESULTS.md"), md);
  console.log(`Wrote ${path.relative(process.cwd(), path.join(HERE, "RESULTS.md")) || "bench/RESULTS.md"}.`);
}
if (jsonFile) {
  fs.writeFileSync(jsonFile, JSON.stringify({ meta: { ...meta, elapsedS }, results }, null, 2) + "\n");
  console.log(`Wrote ${jsonFile}.`);
}
