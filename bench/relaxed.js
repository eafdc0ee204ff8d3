// Benchmark: the relaxed-SIMD build (dist/softmax-relaxed.wasm, f32x4.relaxed_madd in the exp and the GEMM
// micro-kernels) against the default SIMD build (dist/softmax.wasm), kernel by kernel on buffers already in Wasm
// memory: the three dense GEMM forms at 64x784x128 in GFLOP/s (and the two sparse forms MNIST's first layer takes,
// counted as dense) and softmax / logSoftmax / crossEntropy on [32, 32000] in GB/s (8 bytes per element, as
// bench/kernels.js counts).
//
//   npm run bench:relaxed          (npm run build && node bench/relaxed.js)
//   node bench/relaxed.js [--rounds N] [--also FILE.wasm ...]
//
// Node 20 runs relaxed SIMD only behind --experimental-wasm-relaxed-simd: where the engine lacks it, this script
// reruns itself with that flag. The builds are timed in alternation, --rounds times each (default 5), and each
// figure is the median of its rounds' medians, so a busy neighbour slows both alike. --also adds another .wasm of
// the same exports as a further column (e.g. an older default build, to check it did not get slower).
// Progress goes to stderr, the table to stdout.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32, medianMicros } from "./common.js";
import { fmtGBps, fmtRatio, fmtUs, textTable } from "./format.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const FLAG = "--experimental-wasm-relaxed-simd";

function fail(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

// ---------------------------------------------------------------- relaxed SIMD in this process
const { relaxedSimdSupported } = await import("../dist/ready.js").catch(() => fail("run `npm run build` first"));
if (!relaxedSimdSupported()) {
  if (process.execArgv.includes(FLAG)) fail(`this engine lacks relaxed SIMD even with ${FLAG}`);
  const r = spawnSync(process.execPath, [...process.execArgv, FLAG, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit" });
  process.exit(r.status ?? 1);
}

// ---------------------------------------------------------------- options
const USAGE = "usage: node bench/relaxed.js [--rounds N] [--also FILE.wasm ...]";
const args = process.argv.slice(2);
let rounds = 5;
const builds = [
  { name: "simd", file: path.join(ROOT, "dist", "softmax.wasm") },
  { name: "relaxed-simd", file: path.join(ROOT, "dist", "softmax-relaxed.wasm") },
];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--rounds") rounds = Number(args[++i]);
  else if (args[i] === "--also") {
    const file = args[++i];
    if (!file) fail(`--also needs a file\n${USAGE}`);
    builds.push({ name: path.basename(file, ".wasm"), file: path.resolve(file) });
  } else if (args[i] === "--help" || args[i] === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else fail(`unknown argument ${args[i]}\n${USAGE}`);
}
if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer\n${USAGE}`);

const TIME_MS = 400;
const WARMUP_MS = 100;
const BATCH_MS = 0.05; // calls faster than this are timed K to a sample
const GEMM = [64, 784, 128]; // B, I, O
const ROWS = [32, 32000];

// ---------------------------------------------------------------- the builds, each in its own memory
const rand = mulberry32(42);
const uniform = (n, s = 1) => Float32Array.from({ length: n }, () => (2 * rand() - 1) * s);
const [B, I, O] = GEMM;
const [R, C] = ROWS;
const data = {
  x: uniform(B * I), w: uniform(I * O), bias: uniform(O), dy: uniform(B * O),
  xs: Float32Array.from({ length: B * I }, () => (rand() < 0.8 ? 0 : rand())), // MNIST-like: 80% zeros
  logits: uniform(R * C, 4), labels: Int32Array.from({ length: R }, () => Math.floor(rand() * C)),
};

for (const b of builds) {
  if (!fs.existsSync(b.file)) fail(`${b.file} is missing: run \`npm run build\``);
  const memory = new WebAssembly.Memory({ initial: 256 });
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(b.file), { env: { memory } });
  const k = instance.exports;
  let top = k.heap_base();
  const f32 = (n, src) => {
    top = (top + 63) & ~63;
    const a = new Float32Array(memory.buffer, top, n);
    top += n * 4 + 16;
    if (src) a.set(src);
    return a;
  };
  const x = f32(B * I, data.x), xs = f32(B * I, data.xs), w = f32(I * O, data.w), bias = f32(O, data.bias), dy = f32(B * O, data.dy);
  const y = f32(B * O), dw = f32(I * O), dx = f32(B * I);
  const z = f32(R * C, data.logits), p = f32(R * C), g = f32(R * C);
  const labels = new Int32Array(memory.buffer, (top = (top + 63) & ~63), R);
  labels.set(data.labels);
  top += R * 4 + 16;
  if (top > memory.buffer.byteLength) fail("Wasm memory too small for the buffers");
  const at = (a) => a.byteOffset;
  b.relaxed = k.relaxed_simd?.() === 1;
  b.tasks = {
    forward: () => { k.gemm_forward(at(x), at(w), at(bias), at(y), B, I, O, 1); return y; },
    dW: () => { k.gemm_dw(at(x), at(dy), at(dw), B, I, O, 0); return dw; },
    dX: () => { k.gemm_dx(at(dy), at(w), at(dx), B, I, O); return dx; },
    forwardSparse: () => { k.gemm_forward_sparse(at(xs), at(w), at(bias), at(y), B, I, O, 1); return y; },
    dWSparse: () => { k.gemm_dw_sparse(at(xs), at(dy), at(dw), B, I, O, 0); return dw; },
    softmax: () => { k.softmax_forward(at(z), at(p), R, C, 1); return p; },
    logSoftmax: () => { k.log_softmax_forward(at(z), at(p), R, C, 1); return p; },
    crossEntropy: () => { k.cross_entropy_index(at(z), at(labels), 0, at(g), 0, R, C, -100, 0, C, 1 / R); return g; },
  };
}
if (builds[0].relaxed || !builds[1].relaxed) fail("dist/softmax.wasm must be the default build and softmax-relaxed.wasm the relaxed one");

const TASKS = [
  ["forward", "GEMM forward, bias + ReLU", `${B}x${I}x${O}`, 2 * B * I * O, "GFLOP/s"],
  ["dW", "GEMM dW = X^T dY", `${B}x${I}x${O}`, 2 * B * I * O, "GFLOP/s"],
  ["dX", "GEMM dX = dY W^T", `${B}x${I}x${O}`, 2 * B * I * O, "GFLOP/s"],
  ["forwardSparse", "GEMM forward, X 80% zeros", `${B}x${I}x${O}`, 2 * B * I * O, "GFLOP/s"],
  ["dWSparse", "GEMM dW, X 80% zeros", `${B}x${I}x${O}`, 2 * B * I * O, "GFLOP/s"],
  ["softmax", "softmax", `${R}x${C}`, 8 * R * C, "GB/s"],
  ["logSoftmax", "logSoftmax", `${R}x${C}`, 8 * R * C, "GB/s"],
  ["crossEntropy", "crossEntropy (labels)", `${R}x${C}`, 8 * R * C, "GB/s"],
];

// ---------------------------------------------------------------- agreement: relaxed vs default before timing
// (to 1e-5 of the output's largest magnitude: a GEMM entry summing 784 products may cancel to near zero, where the
// two roundings of mul + add and the one of a fused multiply-add legitimately differ by more than 1e-5 of the entry)
for (const [key, what] of TASKS) {
  const want = Float32Array.from(builds[0].tasks[key]());
  const tol = 1e-5 * want.reduce((m, v) => Math.max(m, Math.abs(v)), 0) + 1e-6;
  for (const b of builds.slice(1)) {
    const got = b.tasks[key]();
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / tol);
    if (!(worst <= 1)) fail(`${what}: ${b.name} differs from the default build beyond 1e-5 of max |output| (${worst.toFixed(1)}x)`);
  }
}

// ---------------------------------------------------------------- timing
function measure(fn) {
  return medianMicros(fn, { timeMs: TIME_MS, warmupMs: WARMUP_MS, batchMs: BATCH_MS });
}

const median = (a) => {
  const s = [...a].sort((p, q) => p - q);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

console.log(`${JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).name}: relaxed-SIMD build vs ` +
  `default, ${new Date().toISOString()}`);
const runtime = globalThis.Bun ? `bun ${globalThis.Bun.version}` : globalThis.Deno ? `deno ${globalThis.Deno.version.deno}`
  : `node ${process.version} ${process.execArgv.join(" ")}`.trim();
console.log(`machine: ${os.cpus()[0]?.model?.trim()}, ${os.cpus().length} cores; ${runtime}; ${rounds} alternating rounds`);
console.log("");

const times = new Map(); // "task build" -> microseconds per round
const cpu0 = process.cpuUsage(), wall0 = performance.now();
for (let round = 0; round < rounds; round++) {
  for (const [key, what] of TASKS) {
    // alternate the order too, so neither build always runs right after the other's warm caches
    const order = round % 2 ? [...builds].reverse() : builds;
    for (const b of order) {
      const us = await measure(b.tasks[key]);
      const id = `${key} ${b.name}`;
      times.set(id, [...(times.get(id) ?? []), us]);
      process.stderr.write(`  round ${round + 1}/${rounds}  ${what.padEnd(26)} ${b.name.padEnd(13)} ${fmtUs(us)} us\n`);
    }
  }
}
const cpu = process.cpuUsage(cpu0), wall = performance.now() - wall0;
const share = (cpu.user + cpu.system) / 1000 / wall;

const rows = [];
for (const [key, what, shape, amount, unit] of TASKS) {
  const us = builds.map((b) => median(times.get(`${key} ${b.name}`)));
  const rate = us.map((t) => amount / t / 1e3); // FLOP or bytes per microsecond / 1e3 = G per second
  rows.push([what, shape, unit, ...builds.flatMap((_, i) => [fmtUs(us[i]), unit === "GB/s" ? fmtGBps(rate[i]) : rate[i].toFixed(1)]),
    fmtRatio(us[0] / us[1])]);
}
const columns = [
  { title: "kernel", align: "l" }, { title: "shape", align: "l" }, { title: "unit", align: "l" },
  ...builds.flatMap((b) => [{ title: "us", align: "r", group: b.name }, { title: "rate", align: "r", group: b.name }]),
  { title: "relaxed gain", align: "r" },
];
console.log(textTable(columns, rows));
console.log("");
for (const note of [
  `Median over ${rounds} rounds of tinybench medians (${TIME_MS} ms per task), the builds alternating; kernels on buffers`,
  "already in Wasm memory (no copies). GFLOP/s = 2 B I O / time (the sparse forms counted as dense); GB/s =",
  "rows x cols x 8 bytes / time.",
  "relaxed gain = default time / relaxed time. Before timing, every build's outputs were checked against the",
  "default's (to 1e-5 of the largest output magnitude).",
]) console.log(note);
if (share < 0.9) {
  console.log(`WARNING: this process got ${Math.round(share * 100)}% of a core: other processes competed for the CPU, ` +
    "so these figures are noisy.");
}
