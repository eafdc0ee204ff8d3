// Benchmark: the dense-layer GEMM kernels (assembly/gemm.ts, in the shipped dist/softmax.wasm) against
// TensorFlow.js on its wasm backend, in GFLOP/s.
//
//   npm run bench:gemm            (node bench/gemm.js [--relaxed] [--json FILE])
//
// --relaxed times dist/softmax-relaxed.wasm instead of dist/softmax.wasm (Node 20: run node
// --experimental-wasm-relaxed-simd); --json FILE also writes the measurements as JSON. Progress goes to stderr, the
// table to stdout.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { fmtUs, fmtRatio, textTable } from "./format.js";
import { useTfWasm, mulberry32, medianMicros } from "./common.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");

const SHAPES = [[64, 784, 128], [64, 128, 10]]; // B, I, O
const ZEROS = 0.8; // the sparse forms' X: this fraction of zeros, i.i.d., as in MNIST's pixels
const TARGET = 30; // GFLOP/s for each of the three dense forms at 64x784x128 (the goal)
const TIME_MS = 500;
const WARMUP_MS = 100;
const BATCH_MS = 0.05; // calls faster than this are timed K to a sample, the sample being the batch's mean

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------- options
const USAGE = "usage: node bench/gemm.js [--relaxed] [--json FILE]";
const args = process.argv.slice(2);
let relaxed = false;
let jsonFile;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--relaxed") relaxed = true;
  else if (args[i] === "--json") jsonFile = args[++i];
  else if (args[i] === "--help" || args[i] === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else fail(`unknown argument ${args[i]}\n${USAGE}`);
}
if (args.includes("--json") && !jsonFile) fail(`--json needs a file name\n${USAGE}`);

// ---------------------------------------------------------------- build
const WASM = path.join(ROOT, "dist", relaxed ? "softmax-relaxed.wasm" : "softmax.wasm"); // the shipped module: `npm run bench:gemm` builds it first
if (!fs.existsSync(WASM)) fail("dist/softmax.wasm is missing: run `npm run build` (or `npm run bench:gemm`)");

// ---------------------------------------------------------------- ours
const memory = new WebAssembly.Memory({ initial: 256 });
const { instance } = await WebAssembly.instantiate(fs.readFileSync(WASM), {
  env: { memory, abort: () => fail("the Wasm module aborted") },
});
const k = instance.exports;
if ((k.relaxed_simd?.() === 1) !== relaxed) fail(`${path.basename(WASM)} is not the ${relaxed ? "relaxed" : "default"} build`);

let top = k.heap_base();
/** A Float32Array of n floats in Wasm memory, 64-byte aligned, with 16 bytes of slack after it. */
function wasmArray(n) {
  top = (top + 63) & ~63;
  const a = new Float32Array(memory.buffer, top, n);
  top += n * 4 + 16;
  if (top > memory.buffer.byteLength) fail("Wasm memory too small for the buffers");
  return a;
}

// ---------------------------------------------------------------- tfjs
const { simd: tfSimd, threads: tfThreads } = await useTfWasm(tf);

// ---------------------------------------------------------------- data
const rand = mulberry32(42);
const uniform = (a) => { for (let i = 0; i < a.length; i++) a[i] = 2 * rand() - 1; return a; };
const pixels = (a) => { for (let i = 0; i < a.length; i++) a[i] = rand() < ZEROS ? 0 : rand(); return a; };

/** Worst |got - want| / (1e-4 (1 + |want|)) over the arrays: <= 1 passes. */
function worst(got, want) {
  let w = 0;
  for (let i = 0; i < want.length; i++) w = Math.max(w, Math.abs(got[i] - want[i]) / (1e-4 * (1 + Math.abs(want[i]))));
  return Number.isNaN(w) ? Infinity : w;
}

// ---------------------------------------------------------------- timing

function measure(fn) {
  return medianMicros(fn, { timeMs: TIME_MS, warmupMs: WARMUP_MS, batchMs: BATCH_MS });
}

// ---------------------------------------------------------------- run
console.log(`GEMM kernels of ${JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).name}, ` +
  `${new Date().toISOString()}`);
console.log(`machine: ${os.cpus()[0]?.model?.trim()}, ${os.cpus().length} cores; node ${process.version}; ` +
  `tfjs ${tf.version.tfjs} wasm backend (SIMD ${tfSimd ? "on" : "off"}, threads ${tfThreads ? "on" : "off"})`);
console.log("");

const rows = [];
const measured = [];
for (const [B, I, O] of SHAPES) {
  const start = top;
  const x = uniform(wasmArray(B * I)), xs = pixels(wasmArray(B * I)), w = uniform(wasmArray(I * O));
  const bias = uniform(wasmArray(O)), dy = uniform(wasmArray(B * O));
  const y = wasmArray(B * O), dw = wasmArray(I * O), wt = wasmArray(I * O), dx = wasmArray(B * I);
  const xT = tf.tensor2d(x, [B, I]), xsT = tf.tensor2d(xs, [B, I]), wT = tf.tensor2d(w, [I, O]);
  const dyT = tf.tensor2d(dy, [B, O]), biasT = tf.tensor1d(bias);
  const p = (a) => a.byteOffset;
  const tfjs = (a, b, ta, tb) => () => {
    const r = tf.matMul(a, b, ta, tb);
    const d = r.dataSync();
    r.dispose();
    return d;
  };
  // ours: the forward forms with bias and ReLU fused (what a layer calls), tfjs: the bare product
  const forms = [
    ["forward", () => { k.gemm_forward(p(x), p(w), p(bias), p(y), B, I, O, 1); return y; }, tfjs(xT, wT, false, false),
      () => tf.tidy(() => tf.relu(tf.add(tf.matMul(xT, wT), biasT)).dataSync())],
    ["forward sparse", () => { k.gemm_forward_sparse(p(xs), p(w), p(bias), p(y), B, I, O, 1); return y; },
      tfjs(xsT, wT, false, false), () => tf.tidy(() => tf.relu(tf.add(tf.matMul(xsT, wT), biasT)).dataSync())],
    ["dW = X^T dY", () => { k.gemm_dw(p(x), p(dy), p(dw), B, I, O, 0); return dw; }, tfjs(xT, dyT, true, false)],
    ["dW sparse", () => { k.gemm_dw_sparse(p(xs), p(dy), p(dw), B, I, O, 0); return dw; }, tfjs(xsT, dyT, true, false)],
    ["dX = dY W^T", () => { k.gemm_dx(p(dy), p(w), p(wt), p(dx), B, I, O); return dx; }, tfjs(dyT, wT, false, true)],
  ];
  const flop = 2 * B * I * O;
  for (const [form, ours, theirs, reference = theirs] of forms) {
    const e = worst(ours(), reference());
    if (!(e <= 1)) fail(`${form} ${B}x${I}x${O}: ours disagrees with tfjs (${e.toFixed(1)}x the 1e-4 tolerance)`);
    const tensors = tf.memory().numTensors;
    const usOurs = await measure(ours);
    const usTfjs = await measure(theirs);
    if (tf.memory().numTensors !== tensors) fail(`${form}: tfjs tensors leaked`);
    const g = flop / usOurs / 1e3;
    const dense = !form.includes("sparse");
    const met = B === 64 && I === 784 && O === 128 && dense ? (g >= TARGET ? "met" : "MISSED") : "";
    rows.push([form, `${B}x${I}x${O}`, fmtUs(usOurs), g.toFixed(1), fmtUs(usTfjs), (flop / usTfjs / 1e3).toFixed(1),
      fmtRatio(usTfjs / usOurs), met && `>=${TARGET} ${met}`]);
    measured.push({ form, B, I, O, flop, oursUs: usOurs, tfjsUs: usTfjs, oursGflops: g, tfjsGflops: flop / usTfjs / 1e3 });
    process.stderr.write(`  ${form.padEnd(15)} ${B}x${I}x${O}  ours ${fmtUs(usOurs)} us, tfjs ${fmtUs(usTfjs)} us\n`);
  }
  for (const t of [xT, xsT, wT, dyT, biasT]) t.dispose();
  top = start;
}

const columns = [
  { title: "form", align: "l" }, { title: "B x I x O", align: "l" },
  { title: "us", align: "r", group: "ours" }, { title: "GFLOP/s", align: "r", group: "ours" },
  { title: "us", align: "r", group: "tfjs-wasm" }, { title: "GFLOP/s", align: "r", group: "tfjs-wasm" },
  { title: "vs tfjs", align: "r" }, { title: "target", align: "l" },
];
console.log(textTable(columns, rows));
console.log("");
for (const note of [
  `Medians of tinybench samples (${TIME_MS} ms per task); GFLOP/s = 2 B I O / median time, the sparse forms counted as`,
  `dense (X ${ZEROS * 100}% zeros, i.i.d.); vs tfjs = tfjs time / ours. ours: the kernel on buffers already in Wasm`,
  "memory, the forward forms with bias and ReLU fused. tfjs: tf.matMul (transposeA for dW, transposeB for dX) +",
  "dataSync, tensors made beforehand, the result disposed in the loop.",
]) console.log(note);
if (jsonFile) {
  fs.writeFileSync(jsonFile, JSON.stringify({ meta: { relaxed, wasm: path.basename(WASM), node: process.version,
    execArgv: process.execArgv, tfjsSimd: tfSimd, tfjsThreads: tfThreads, timeMs: TIME_MS }, results: measured }, null, 2) + "\n");
  console.log(`Wrote ${jsonFile}.`);
}
