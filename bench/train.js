// Training benchmark: one epoch of MNIST 784-128-10 (ReLU hidden, softmax + cross-entropy, batch 64, all 60,000
// training images) with softmax-wasm's Network (../dist) and with TensorFlow.js on its wasm backend (model.fit),
// for SGD (lr 0.1, momentum 0.9) and Adam (lr 1e-3): seconds per epoch, test accuracy, peak RSS; beside fixed
// reference figures measured earlier on this machine and the project's goals (printed, never asserted).
//
//   node --expose-gc bench/train.js [--quick] [--json FILE]     (npm run bench:train = npm run build && that)
//
// The parent process measures nothing itself: every (library, optimizer) runs in its own child process, so one
// library's memory (or one optimizer's) never shows in another's peak RSS. The children are this script with
//   --ours-only [--opt sgd|adam] [--epochs N]     softmax-wasm: one warm-up epoch, then N timed epochs (default 3)
//   --tfjs-only [--opt sgd|adam]                  tfjs-wasm: a warm-up on 20 batches, then one timed epoch
//   --augment-only [--epochs N] [--threads T]     softmax-wasm 784-800-10 (SGD): epochs with and without fit's augment
//                                                 option and on images transformed beforehand, alternating in one
//                                                 process (after a warm-up of each), N each; the parent runs it with 1
//                                                 and with 2 threads
// with, for a child run on its own (bench/report.js does): --threads N and / or --relaxed (ours: ready({ threads: N })
// and / or ready({ relaxed: true }), the latter under node --experimental-wasm-relaxed-simd); --tfjs-backend cpu (tfjs on its
// plain-JS cpu backend instead of wasm) and --batches N (tfjs: time only the first N batches of the epoch and scale).
// each printing its measurements as one JSON line on stdout (progress goes to stderr); with no --opt a child runs
// both optimizers in turn (then the second one's peak RSS includes the first's). --quick runs only ours, 1 timed
// epoch per optimizer, and does not rewrite bench/TRAIN-RESULTS.md; --json FILE also writes every measurement as JSON.
// All of it is single-threaded but the augmentation row with 2 threads (tfjs-backend-wasm runs without threads in Node;
// the children run one at a time).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { fmtRatio, fmtPct, textTable, markdownTable } from "./format.js";
import { useTfWasm, runMeta } from "./common.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const SCRIPT = fileURLToPath(import.meta.url);
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- the recipe
const SIZES = [784, 128, 10];
const BATCH = 64;
const SEED = 1;
const OPTIMIZERS = {
  sgd: { title: "SGD", ours: { name: "sgd", lr: 0.1, momentum: 0.9 }, text: "SGD lr 0.1, momentum 0.9" },
  adam: { title: "Adam", ours: { name: "adam", lr: 1e-3 }, text: "Adam lr 1e-3" },
};
const OURS_TIMED_EPOCHS = 3;
const TFJS_WARMUP_BATCHES = 20;
const TFJS_PARTIAL_OVER_S = 30; // a tfjs epoch estimated longer than this is timed on TFJS_PARTIAL_BATCHES and scaled
const TFJS_PARTIAL_BATCHES = 100;
const CHILD_TIMEOUT_MS = 150_000;
// the augmentation budget (issue 10): fit's augment option costs at most 30% on top of an epoch of 784-800-10
const AUG = {
  sizes: [784, 800, 10], optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 }, budget: 0.3,
  augment: { width: 28, height: 28, shift: 2, rotate: 10, scale: 0.1, elastic: { alpha: 34, sigma: 4 } },
  text: "shift 2 px, rotate 10 deg, scale 0.1, elastic alpha 34 sigma 4",
  threads: [1, 2], // the transforms split by images over the pool: measured alone and on 2 threads
};

// ---------------------------------------------------------------- references (measured earlier, not in this run)
const REF = {
  pytorch: { sgd: 0.82, adam: 1.1, text: "native PyTorch 1.13, CPU" }, // as given: 2 significant digits
  plainJs: { seconds: 11.7, text: "plain JS, Float32Array loops" },
  tfjsFit: { low: 13, high: 14.6, rssMB: 649, text: "TensorFlow.js wasm, model.fit" },
};
const GOALS = { epochS: 0.8, rssMB: 200 };

const MB = 2 ** 20;

// ---------------------------------------------------------------- options
const USAGE = "usage: node --expose-gc bench/train.js [--quick] [--json FILE]\n" +
  "       node --expose-gc bench/train.js --ours-only | --tfjs-only [--opt sgd|adam] [--epochs N]";
const args = process.argv.slice(2);
let mode = "parent";
let quick = false;
let jsonFile;
let only;
let epochsArg;
let oursThreads = 1;
let oursRelaxed = false;
let tfjsBackend = "wasm";
let tfjsBatches;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--quick") quick = true;
  else if (a === "--ours-only") mode = "ours";
  else if (a === "--tfjs-only") mode = "tfjs";
  else if (a === "--augment-only") mode = "augment";
  else if (a === "--opt") only = args[++i];
  else if (a.startsWith("--opt=")) only = a.slice(6);
  else if (a === "--epochs") epochsArg = args[++i];
  else if (a.startsWith("--epochs=")) epochsArg = a.slice(9);
  else if (a === "--threads") oursThreads = Number(args[++i]);
  else if (a === "--relaxed") oursRelaxed = true;
  else if (a === "--tfjs-backend") tfjsBackend = args[++i];
  else if (a === "--batches") tfjsBatches = Number(args[++i]);
  else if (a === "--json") jsonFile = args[++i];
  else if (a.startsWith("--json=")) jsonFile = a.slice(7);
  else if (a === "--help" || a === "-h") {
    console.log(USAGE);
    process.exit(0);
  } else fail(`unknown argument ${a}\n${USAGE}`);
}
if (only !== undefined && !(only in OPTIMIZERS)) fail(`--opt must be one of ${Object.keys(OPTIMIZERS).join(", ")}\n${USAGE}`);
if (jsonFile === undefined && args.some((a) => a === "--json")) fail(`--json needs a file name\n${USAGE}`);
if (!["wasm", "cpu"].includes(tfjsBackend)) fail(`--tfjs-backend must be wasm or cpu\n${USAGE}`);
if (!(Number.isInteger(oursThreads) && oursThreads >= 1)) fail(`--threads must be a whole number >= 1\n${USAGE}`);
if (tfjsBatches !== undefined && !(Number.isInteger(tfjsBatches) && tfjsBatches >= 1)) fail(`--batches must be a whole number >= 1\n${USAGE}`);
const timedEpochs = epochsArg === undefined ? OURS_TIMED_EPOCHS : Number(epochsArg);
if (!(Number.isInteger(timedEpochs) && timedEpochs >= 1)) fail(`--epochs must be a whole number >= 1\n${USAGE}`);

function fail(msg) {
  console.error(`bench:train${mode === "parent" ? "" : ` (${mode} child)`}: ${msg}`);
  process.exit(1);
}

const rss = () => process.memoryUsage.rss();
const mb = (bytes) => bytes / MB;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function collect() {
  if (typeof globalThis.gc !== "function") return false;
  globalThis.gc();
  globalThis.gc();
  return true;
}
const log = (msg) => process.stderr.write(`  ${msg}\n`);


// ---------------------------------------------------------------- child: augmentation's cost
async function augmentChild() {
  const lib = await import("../dist/index.js");
  const { engine } = await import("../dist/engine.js");
  await lib.ready(oursThreads > 1 ? { threads: oursThreads } : undefined); // the transforms split by images over the pool
  const { train } = await lib.loadMnist();
  // The same images transformed once beforehand (the kernel, one draw each, the pixels scaled as fit scales bytes) and
  // trained on without the option: what the denser transformed pixels cost the zero-skipping first layer alone
  // (bilinear resampling spreads the ink), so the rest of the overhead is the kernel's.
  const pre = preaugmented(engine("bench"), train.images);
  // three networks of one seed, one epoch each in turn, so all see the same load on a busy machine
  const kinds = { plain: [train.images, undefined], preaugmented: [pre, undefined], augmented: [train.images, AUG.augment] };
  const nets = {}, seconds = {}, cpuSeconds = {}; // cpu: this process's CPU time (all its threads), less noisy on a busy machine
  for (const kind of Object.keys(kinds)) {
    nets[kind] = new lib.Network({ sizes: AUG.sizes, seed: SEED });
    seconds[kind] = [];
    cpuSeconds[kind] = [];
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i <= timedEpochs; i++) {
    for (const [kind, [x, augment]] of Object.entries(kinds)) {
      const c0 = process.cpuUsage();
      const { epochs } = await nets[kind].fit(x, train.labels, { epochs: 1, batchSize: BATCH, seed: SEED + i,
        optimizer: AUG.optimizer, ...(augment ? { augment } : {}) });
      const c = process.cpuUsage(c0);
      if (i > 0) {
        seconds[kind].push(epochs[0].seconds);
        cpuSeconds[kind].push((c.user + c.system) / 1e6);
      }
      log(`augmentation bench: ${kind} epoch ${i}${i === 0 ? " (warm-up)" : ""}: ${epochs[0].seconds.toFixed(3)} s, train accuracy ${fmtAcc(epochs[0].accuracy)}`);
    }
  }
  const fitS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const n of Object.values(nets)) n.dispose();
  const plain = median(seconds.plain), augmented = median(seconds.augmented), denser = median(seconds.preaugmented);
  process.stdout.write(JSON.stringify({ child: "augment", results: [{ library: "ours", optimizer: "sgd", sizes: AUG.sizes, threads: oursThreads,
    augment: AUG.augment, plainSeconds: plain, augmentedSeconds: augmented, overhead: augmented / plain - 1,
    preaugmentedSeconds: denser, densityOverhead: denser / plain - 1, density: pre.density,
    cpuOverhead: median(cpuSeconds.augmented) / median(cpuSeconds.plain) - 1,
    cpuDensityOverhead: median(cpuSeconds.preaugmented) / median(cpuSeconds.plain) - 1, cpuSeconds,
    timedPlain: seconds.plain, timedAugmented: seconds.augmented, timedPreaugmented: seconds.preaugmented,
    cpuShare: (cpu.user + cpu.system) / 1e6 / fitS }] }) + "\n");
}

/** The training images (bytes) as floats in [0, 1], each transformed once with AUG.augment; `density`: the nonzero shares before and after. */
function preaugmented(e, images) {
  const a = AUG.augment, D = a.width * a.height, n = images.length / D, chunk = 1000;
  const r = Math.ceil(3 * a.elastic.sigma);
  const x = Float32Array.from(images, (v) => v / 255);
  const out = new Float32Array(x.length);
  const mark = e.mark();
  try {
    const s = e.alloc(16);
    e.k.rng_seed(s, SEED);
    const p = e.alloc(chunk * D * 4);
    const work = e.alloc(e.k.augment_work_floats(a.width, a.height, r) * 4);
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      e.write(p, x.subarray(i * D, (i + m) * D));
      e.k.augment_batch(s, p, work, m, a.width, a.height, a.shift, a.rotate, a.scale, a.elastic.alpha, a.elastic.sigma, r);
      out.set(e.f32(p, m * D), i * D);
    }
  } finally {
    e.release(mark);
  }
  const nonzero = (v) => v.reduce((c, u) => c + (u !== 0 ? 1 : 0), 0) / v.length;
  return Object.assign(out, { density: [nonzero(x), nonzero(out)] });
}

// ---------------------------------------------------------------- child: softmax-wasm
async function oursChild() {
  let lib;
  try {
    lib = await import("../dist/index.js");
    if (oursRelaxed && !(await import("../dist/ready.js")).relaxedSimdSupported()) throw new Error("no relaxed SIMD in this engine");
    await lib.ready({ ...(oursThreads > 1 ? { threads: oursThreads } : {}), ...(oursRelaxed ? { relaxed: true } : {}) });
  } catch (err) {
    fail(`cannot load ../dist/index.js (${err.message}); run \`npm run build\` first`);
  }
  const { train, test } = await lib.loadMnist();
  const results = [];
  for (const key of only ? [only] : Object.keys(OPTIMIZERS)) {
    const opt = OPTIMIZERS[key];
    const gcOk = collect();
    const rssBefore = rss();
    const net = new lib.Network({ sizes: SIZES, hidden: "relu", output: "softmax", cost: "crossEntropy", seed: SEED });
    let peak = rss();
    const sample = () => {
      const m = rss();
      if (m > peak) peak = m;
    };
    const seconds = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { epochs } = await net.fit(train.images, train.labels, {
      epochs: 1 + timedEpochs, batchSize: BATCH, shuffle: true, seed: SEED, optimizer: opt.ours,
      onBatch: sample,
      onEpoch: (e) => {
        sample();
        seconds.push(e.seconds);
        log(`ours ${opt.title.padEnd(4)} epoch ${e.epoch}${e.epoch === 0 ? " (warm-up)" : ""}: ${e.seconds.toFixed(3)} s, ` +
          `train loss ${e.loss.toFixed(4)}, train accuracy ${fmtAcc(e.accuracy)}, RSS ${mb(peak).toFixed(0)} MB`);
      },
    });
    const fitS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const ev = net.evaluate(test.images, test.labels);
    const wasmBytes = lib.wasmMemory()?.buffer.byteLength ?? NaN;
    net.dispose();
    const timed = seconds.slice(1);
    log(`ours ${opt.title.padEnd(4)} median of ${timed.length} timed epoch(s) ${median(timed).toFixed(3)} s, ` +
      `test accuracy ${fmtAcc(ev.accuracy)}, peak RSS ${mb(peak).toFixed(0)} MB`);
    results.push({
      library: "ours", threads: oursThreads, relaxed: oursRelaxed, optimizer: key, epochSeconds: median(timed), timedEpochSeconds: timed, warmupEpochSeconds: seconds[0],
      epochsTrained: epochs.length, batchesTimed: null, extrapolated: false,
      trainLoss: epochs.at(-1).loss, trainAccuracy: epochs.at(-1).accuracy, testLoss: ev.loss, testAccuracy: ev.accuracy,
      peakRssMB: mb(peak), rssBeforeMB: mb(rssBefore), wasmMemoryMB: mb(wasmBytes), gc: gcOk,
      fitSeconds: fitS, cpuShare: (cpu.user + cpu.system) / 1e6 / fitS,
    });
  }
  process.stdout.write(JSON.stringify({ child: "ours", node: process.version, results }) + "\n");
}

// ---------------------------------------------------------------- child: TensorFlow.js, wasm backend
async function tfjsChild() {
  const tf = await import("@tensorflow/tfjs");
  let version_wasm = null, simd = null, threads = null;
  if (tfjsBackend === "wasm") ({ version: version_wasm, simd, threads } = await useTfWasm(tf));
  else {
    if (!(await tf.setBackend("cpu"))) fail("tfjs could not set its cpu backend");
    await tf.ready();
  }
  // only the IDX reader (mnist-files.js), not the library: nothing of softmax-wasm's Wasm in this process
  let loadMnist;
  try {
    ({ loadMnist } = await import("../dist/mnist-files.js"));
  } catch (err) {
    fail(`cannot load ../dist/mnist-files.js (${err.message}); run \`npm run build\` first`);
  }
  const { train, test } = await loadMnist();

  // the data as tensors, made outside every timed region: pixels / 255 as float32, labels one-hot as float32
  const toTensor = (split) => {
    const f = new Float32Array(split.images.length);
    for (let i = 0; i < f.length; i++) f[i] = split.images[i] / 255;
    const x = tf.tensor2d(f, [split.count, 784]);
    const y = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(split.labels), "int32"), 10).toFloat());
    return { x, y };
  };
  const tr = toTensor(train);
  const te = toTensor(test);

  class Probe extends tf.Callback {
    // a plain tf.Callback, not a CustomCallback: no per-batch read-back of the loss, nothing but an RSS sample
    constructor(limit) {
      super();
      this.limit = limit;
      this.batches = 0;
      this.stamps = [];
      this.peak = 0;
    }
    sample() {
      const m = rss();
      if (m > this.peak) this.peak = m;
    }
    async onBatchEnd() {
      this.sample();
      this.stamps.push(performance.now());
      if (++this.batches >= this.limit) this.model.stopTraining = true;
    }
    async onEpochEnd() {
      this.sample();
    }
  }

  const results = [];
  for (const key of only ? [only] : Object.keys(OPTIMIZERS)) {
    const opt = OPTIMIZERS[key];
    const gcOk = collect();
    const rssBefore = rss();
    const model = tf.sequential();
    // He-normal weights and zero biases, as ours initialises a ReLU network (tfjs's heNormal is truncated at 2 sd)
    model.add(tf.layers.dense({
      units: SIZES[1], activation: "relu", inputShape: [SIZES[0]], kernelInitializer: tf.initializers.heNormal({ seed: SEED }),
    }));
    model.add(tf.layers.dense({
      units: SIZES[2], activation: "softmax", kernelInitializer: tf.initializers.heNormal({ seed: SEED + 1 }),
    }));
    const optimizer = key === "sgd" ? tf.train.momentum(opt.ours.lr, opt.ours.momentum) : tf.train.adam(opt.ours.lr);
    model.compile({ optimizer, loss: "categoricalCrossentropy" });

    // warm-up: model.fit over the first TFJS_WARMUP_BATCHES batches; its later batches estimate an epoch
    const warm = new Probe(Infinity);
    warm.peak = rss();
    const xw = tr.x.slice([0, 0], [TFJS_WARMUP_BATCHES * BATCH, 784]);
    const yw = tr.y.slice([0, 0], [TFJS_WARMUP_BATCHES * BATCH, 10]);
    await model.fit(xw, yw, { epochs: 1, batchSize: BATCH, shuffle: true, verbose: 0, callbacks: [warm] });
    xw.dispose();
    yw.dispose();
    const gaps = warm.stamps.slice(TFJS_WARMUP_BATCHES / 2).map((t, i, s) => (i ? t - s[i - 1] : NaN)).slice(1);
    const batchesPerEpoch = Math.ceil(train.count / BATCH);
    const estimateS = (median(gaps) * batchesPerEpoch) / 1000;
    const partial = tfjsBatches !== undefined || estimateS > TFJS_PARTIAL_OVER_S;
    const partialBatches = tfjsBatches ?? TFJS_PARTIAL_BATCHES;
    log(`tfjs ${opt.title.padEnd(4)} warm-up ${TFJS_WARMUP_BATCHES} batches: ${median(gaps).toFixed(2)} ms a batch, an epoch ` +
      `~${estimateS.toFixed(1)} s${partial ? `: timing ${partialBatches} batches` : ""}`);

    // the timed epoch (or its first TFJS_PARTIAL_BATCHES batches, scaled to a whole epoch)
    const probe = new Probe(partial ? partialBatches : Infinity);
    probe.peak = warm.peak;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await model.fit(tr.x, tr.y, { epochs: 1, batchSize: BATCH, shuffle: true, verbose: 0, callbacks: [probe] });
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const epochS = partial ? (wall * batchesPerEpoch) / probe.batches : wall;
    if (!partial && probe.batches !== batchesPerEpoch) fail(`tfjs ran ${probe.batches} batches, expected ${batchesPerEpoch}`);

    // test accuracy, untimed
    let correct = 0;
    tf.tidy(() => {
      const pred = model.predict(te.x, { batchSize: 256 }).argMax(1);
      const truth = te.y.argMax(1);
      correct = pred.equal(truth).sum().dataSync()[0];
    });
    const testAccuracy = correct / test.count;
    const tensorsLeft = tf.memory().numTensors;
    model.dispose();
    optimizer.dispose();
    log(`tfjs ${opt.title.padEnd(4)} ${partial ? `${probe.batches} batches ${wall.toFixed(2)} s, an epoch scaled to ` : "one epoch "}` +
      `${epochS.toFixed(2)} s, test accuracy ${fmtAcc(testAccuracy)}, peak RSS ${mb(probe.peak).toFixed(0)} MB`);
    results.push({
      library: "tfjs", backend: tfjsBackend, optimizer: key, epochSeconds: epochS, timedEpochSeconds: [epochS], warmupBatches: TFJS_WARMUP_BATCHES,
      warmupEstimateSeconds: estimateS, epochsTrained: partial ? probe.batches / batchesPerEpoch : 1,
      batchesTimed: probe.batches, extrapolated: partial, timedSeconds: wall, testAccuracy,
      peakRssMB: mb(probe.peak), rssBeforeMB: mb(rssBefore), gc: gcOk, cpuShare: (cpu.user + cpu.system) / 1e6 / wall,
      tensorsAfter: tensorsLeft,
    });
  }
  process.stdout.write(JSON.stringify({
    child: "tfjs", backend: tfjsBackend, node: process.version, tfjs: tf.version.tfjs, tfjsBackendWasm: version_wasm, simd, threads, results,
  }) + "\n");
}

function fmtAcc(a) {
  return Number.isFinite(a) ? `${(a * 100).toFixed(2)}%` : "-";
}

// ---------------------------------------------------------------- parent
/** Runs this script as a child with `childArgs`; resolves to its JSON line. One retry (dist/ may be mid-rebuild). */
async function runChild(childArgs, retries = 1) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--expose-gc", SCRIPT, ...childArgs], {
          cwd: ROOT, stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (s) => { out += s; });
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          reject(new Error(`timed out after ${CHILD_TIMEOUT_MS / 1000} s`));
        }, CHILD_TIMEOUT_MS);
        child.on("error", (err) => { clearTimeout(timer); reject(err); });
        child.on("close", (code, signal) => {
          clearTimeout(timer);
          if (code !== 0) return reject(new Error(`exited with ${signal ?? `code ${code}`}`));
          const line = out.trim().split("\n").reverse().find((l) => l.startsWith("{"));
          try {
            resolve(JSON.parse(line));
          } catch {
            reject(new Error(`printed no JSON result (stdout: ${JSON.stringify(out.slice(-200))})`));
          }
        });
      });
    } catch (err) {
      if (attempt >= retries) throw new Error(`child \`${childArgs.join(" ")}\` ${err.message}`);
      console.error(`bench:train: child \`${childArgs.join(" ")}\` ${err.message}; retrying once`);
      retried.push(childArgs.join(" "));
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

const retried = [];

async function parent() {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const pkgVersion = (name) => {
    try {
      return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
    } catch {
      return "?";
    }
  };
  if (!fs.existsSync(path.join(ROOT, "dist", "index.js"))) fail("../dist/index.js is missing; run `npm run build` first");
  const meta = {
    ...runMeta(pkg),
    tfjs: pkgVersion("@tensorflow/tfjs"),
    tfjsBackendWasm: pkgVersion("@tensorflow/tfjs-backend-wasm"),
    command: "npm run bench:train" + (quick ? " -- --quick" : ""),
    loadAverage1m: os.loadavg()[0],
  };
  const title = `${meta.library} training benchmark, ${meta.date}`;
  const machine = `machine: ${meta.cpu}, ${meta.cores} cores (${meta.platform}); node ${meta.node}`;
  console.log(title);
  console.log(machine);
  console.log("");

  const started = performance.now();
  const rows = []; // one per (library, optimizer)
  let tfInfo;
  const keys = Object.keys(OPTIMIZERS);
  for (const key of keys) {
    const r = await runChild(["--ours-only", "--opt", key, "--epochs", String(quick ? 1 : OURS_TIMED_EPOCHS)]);
    rows.push(...r.results);
  }
  const augs = [];
  for (const threads of AUG.threads) {
    augs.push((await runChild(["--augment-only", "--epochs", String(quick ? 1 : OURS_TIMED_EPOCHS), "--threads", String(threads)])).results[0]);
  }
  if (!quick) {
    for (const key of keys) {
      const r = await runChild(["--tfjs-only", "--opt", key]);
      tfInfo = r;
      rows.push(...r.results);
    }
  }
  const elapsedS = (performance.now() - started) / 1000;
  if (tfInfo) {
    meta.tfjs = tfInfo.tfjs;
    meta.tfjsBackendWasm = tfInfo.tfjsBackendWasm;
    meta.tfjsWasmSimd = tfInfo.simd;
    meta.tfjsWasmThreads = tfInfo.threads;
  }
  const versions = `${meta.library}; tfjs ${meta.tfjs} + tfjs-backend-wasm ${meta.tfjsBackendWasm}` +
    (tfInfo ? ` (SIMD ${tfInfo.simd ? "on" : "off"}, threads ${tfInfo.threads ? "on" : "off"})` : " (not run: --quick)");
  const find = (lib, key) => rows.find((r) => r.library === lib && r.optimizer === key);

  // ---- table 1: measured now
  const sec = (s) => (Number.isFinite(s) ? (s < 10 ? s.toFixed(3) : s.toFixed(1)) : "-");
  const mbText = (m) => (Number.isFinite(m) ? m.toFixed(0) : "-");
  const goal = (met, text) => `${text} ${met ? "met" : "MISSED"}`;
  const measuredColumns = [
    { title: "optimizer", align: "l" }, { title: "library", align: "l" },
    { title: "s/epoch", align: "r", md: "s / epoch" }, { title: "timed as", align: "l" },
    { title: "test acc", align: "r", md: "test accuracy" }, { title: "trained", align: "l", md: "test accuracy after" },
    { title: "peak RSS MB", align: "r" }, { title: "pre-fit RSS MB", align: "r" }, { title: "CPU", align: "r" },
    { title: `epoch <=${GOALS.epochS} s`, align: "l", group: "goals", md: `goal: epoch <= ${GOALS.epochS} s` },
    { title: `RSS <=${GOALS.rssMB} MB`, align: "l", group: "goals", md: `goal: peak RSS <= ${GOALS.rssMB} MB` },
  ];
  const measuredRows = [];
  for (const key of keys) {
    for (const lib of ["ours", "tfjs"]) {
      const r = find(lib, key);
      if (!r) continue;
      const timedAs = lib === "ours" ? `median of ${r.timedEpochSeconds.length}`
        : r.extrapolated ? `${r.batchesTimed} batches x${(Math.ceil(60000 / BATCH) / r.batchesTimed).toFixed(2)} EXTRAPOLATED`
          : "1 epoch";
      const after = lib === "ours" ? `${r.epochsTrained} epochs`
        : r.extrapolated ? `${r.warmupBatches} + ${r.batchesTimed} batches` : `${r.warmupBatches} batches + 1 epoch`;
      measuredRows.push([
        OPTIMIZERS[key].title, lib === "ours" ? "softmax-wasm" : "tfjs-wasm", sec(r.epochSeconds), timedAs,
        fmtAcc(r.testAccuracy), after, mbText(r.peakRssMB), mbText(r.rssBeforeMB), fmtPct(r.cpuShare),
        lib === "ours" ? goal(r.epochSeconds <= GOALS.epochS, `${sec(r.epochSeconds)} s`) : "-",
        lib === "ours" ? goal(r.peakRssMB <= GOALS.rssMB, `${mbText(r.peakRssMB)} MB`) : "-",
      ]);
    }
  }

  // ---- table 2: ratios
  const ratioColumns = [
    { title: "optimizer", align: "l" },
    { title: "ours s", align: "r", md: "ours s / epoch" },
    { title: "tfjs-wasm s", align: "r", group: "vs tfjs-wasm (now)", md: "tfjs-wasm s / epoch (now)" },
    { title: "time ratio", align: "r", group: "vs tfjs-wasm (now)", md: "tfjs-wasm / ours, time" },
    { title: "RSS ratio", align: "r", group: "vs tfjs-wasm (now)", md: "tfjs-wasm / ours, peak RSS" },
    { title: "PyTorch s", align: "r", group: "vs PyTorch (reference)", md: "PyTorch s / epoch (reference)" },
    { title: "time ratio", align: "r", group: "vs PyTorch (reference)", md: "PyTorch / ours, time" },
  ];
  const ratioRows = keys.filter((key) => find("ours", key)).map((key) => {
    const o = find("ours", key);
    const t = find("tfjs", key);
    return [
      OPTIMIZERS[key].title, sec(o.epochSeconds),
      t ? sec(t.epochSeconds) + (t.extrapolated ? "*" : "") : "-", t ? fmtRatio(t.epochSeconds / o.epochSeconds) : "-",
      t ? fmtRatio(t.peakRssMB / o.peakRssMB) : "-",
      String(REF.pytorch[key]), fmtRatio(REF.pytorch[key] / o.epochSeconds),
    ];
  });

  // ---- table 3: the fixed references
  const oursSgd = find("ours", "sgd");
  const vsOurs = (s, key = "sgd") => {
    const o = find("ours", key);
    return o ? fmtRatio(s / o.epochSeconds) : "-";
  };
  const refColumns = [
    { title: "reference (NOT measured in this run)", align: "l" }, { title: "optimizer", align: "l" },
    { title: "s/epoch", align: "r", md: "s / epoch" }, { title: "peak RSS MB", align: "r" },
    { title: "its s / ours s now", align: "r", md: "its s / ours s now (same optimizer; SGD where none is stated)" },
  ];
  const refRows = [
    [REF.pytorch.text, "SGD", String(REF.pytorch.sgd), "-", vsOurs(REF.pytorch.sgd, "sgd")],
    [REF.pytorch.text, "Adam", String(REF.pytorch.adam), "-", vsOurs(REF.pytorch.adam, "adam")],
    [REF.plainJs.text, "-", String(REF.plainJs.seconds), "-", vsOurs(REF.plainJs.seconds)],
    [REF.tfjsFit.text, "-", `${REF.tfjsFit.low}-${REF.tfjsFit.high}`, String(REF.tfjsFit.rssMB),
      oursSgd ? `${fmtRatio(REF.tfjsFit.low / oursSgd.epochSeconds)}-${fmtRatio(REF.tfjsFit.high / oursSgd.epochSeconds)}` : "-"],
  ];

  // ---- notes
  const notes = [
    `Recipe: MNIST ${SIZES.join("-")}, ReLU hidden, softmax + cross-entropy, batch ${BATCH}, shuffled, all 60,000 training ` +
      `images; ${OPTIMIZERS.sgd.text}; ${OPTIMIZERS.adam.text}. Test accuracy on the 10,000 test images, untimed.`,
    `softmax-wasm: Network.fit on the Uint8Array pixels (scaled to [0, 1] inside Wasm), ${1 + (quick ? 1 : OURS_TIMED_EPOCHS)} ` +
      `epochs in one fit call; s/epoch is the median of the last ${quick ? 1 : OURS_TIMED_EPOCHS} epoch(s) by onEpoch's ` +
      "seconds (the first is a warm-up); RSS sampled in onBatch and onEpoch. Each epoch (s): " +
      keys.filter((k) => find("ours", k)).map((k) => `${OPTIMIZERS[k].title} warm-up ${find("ours", k).warmupEpochSeconds.toFixed(3)}, ` +
        `timed ${find("ours", k).timedEpochSeconds.map((x) => x.toFixed(3)).join(", ")}`).join("; ") + ".",
    `tfjs-wasm: tf.sequential dense(${SIZES[1]}, relu) + dense(${SIZES[2]}, softmax), He-normal init, ` +
      "categoricalCrossentropy, tf.train.momentum / tf.train.adam, no metrics; x = a float32 tensor of the pixels / 255 and y " +
      `one-hot, both made before timing; model.fit(x, y, { epochs: 1, batchSize: ${BATCH}, shuffle: true }) timed around ` +
      `the call after a warm-up fit on ${TFJS_WARMUP_BATCHES} batches; RSS sampled by a tf.Callback at each batch's and ` +
      `epoch's end. An epoch estimated by the warm-up at over ${TFJS_PARTIAL_OVER_S} s is timed on ` +
      `${TFJS_PARTIAL_BATCHES} batches and scaled to ${Math.ceil(60000 / BATCH)} (marked EXTRAPOLATED and *).`,
    "Each library and optimizer runs in its own child process (node --expose-gc, gc() before the network is made), so " +
      "no peak RSS includes the other library's memory. RSS before fit: after loading MNIST (and, for tfjs, making the " +
      "tensors). MB = 2^20 bytes. CPU = the child's CPU time over the timed fit / its wall time (single-threaded code " +
      "shows ~100%; V8's GC threads can add a little; well under 90% means something else took the core).",
    "Ratios: their seconds (or MB) / ours; above 1x ours is faster (smaller). The references' optimizer is SGD where " +
      "none is stated (plain JS, tfjs reference), so they are set against ours with SGD. Goals are printed, never asserted.",
  ];
  notes.push("softmax-wasm's first layer skips zero inputs when over 20% of them are zero (Network's sparse path; " +
    "MNIST's pixels are ~80% zeros), which dense GEMMs (tfjs, PyTorch) do not.");
  const tfRows = rows.filter((r) => r.library === "tfjs");
  const off = tfRows.filter((r) => r.epochSeconds < REF.tfjsFit.low * 0.8 || r.epochSeconds > REF.tfjsFit.high * 1.25);
  if (off.length) {
    notes.push(`NOTE: tfjs-wasm measured now (${off.map((r) => `${OPTIMIZERS[r.optimizer].title} ${sec(r.epochSeconds)} s`).join(", ")}) ` +
      `is well outside the earlier reference of ${REF.tfjsFit.low}-${REF.tfjsFit.high} s; the ratios against tfjs use this ` +
      "run's figure, the reference row is kept as given.");
  }
  const rssOff = tfRows.filter((r) => Math.abs(r.peakRssMB / REF.tfjsFit.rssMB - 1) > 0.2);
  if (rssOff.length) {
    notes.push(`NOTE: tfjs-wasm's peak RSS now (${rssOff.map((r) => `${OPTIMIZERS[r.optimizer].title} ${mbText(r.peakRssMB)} MB`).join(", ")}) ` +
      `differs from the earlier ${REF.tfjsFit.rssMB} MB by over 20%; here the JS Float32Array the x tensor was made from ` +
      "is collected (gc()) before fit.");
  }
  const extrapolated = rows.some((r) => r.extrapolated);
  if (extrapolated) {
    notes.push(`NOTE: a tfjs epoch took over ${TFJS_PARTIAL_OVER_S} s by the warm-up estimate, so its figure is ` +
      `${TFJS_PARTIAL_BATCHES} timed batches scaled to a whole epoch, and its test accuracy is after that partial epoch.`);
  }
  const slow = rows.filter((r) => r.cpuShare < 0.9);
  if (slow.length) {
    notes.push(`WARNING: ${slow.map((r) => `${r.library} ${r.optimizer} had ${fmtPct(r.cpuShare)}`).join(", ")} of a ` +
      "core over its timed fit: other processes were competing for the CPU, so those figures are noisy.");
  }
  if (rows.some((r) => !r.gc)) notes.push("WARNING: gc() was not exposed to a child (run with node --expose-gc).");
  if (retried.length) notes.push(`NOTE: child(ren) ${retried.map((c) => `\`${c}\``).join(", ")} failed once and were retried.`);
  if (quick) notes.push("--quick: only softmax-wasm, 1 timed epoch per optimizer; tfjs not run; bench/TRAIN-RESULTS.md not rewritten.");

  console.log(`Measured in this run: one epoch of MNIST ${SIZES.join("-")}, batch ${BATCH} (each row in its own process)`);
  console.log(textTable(measuredColumns, measuredRows));
  console.log("");
  console.log("Ratios (their figure / ours; above 1x ours is faster or smaller)");
  console.log(textTable(ratioColumns, ratioRows));
  console.log("");
  console.log("Reference figures measured earlier on this machine (fixed numbers, NOT measured in this run)");
  console.log(textTable(refColumns, refRows));
  console.log("");
  const augLines = augs.map((aug) =>
    `${aug.threads} thread${aug.threads > 1 ? "s" : ""}: ${AUG.sizes.join("-")}, batch ${BATCH}, SGD, ${quick ? 1 : OURS_TIMED_EPOCHS} ` +
      `epoch(s) each after a warm-up, alternating in one process: ${sec(aug.plainSeconds)} s/epoch plain, ` +
      `${sec(aug.augmentedSeconds)} s/epoch with augment (${AUG.text}): ${fmtPct(aug.overhead)} on top (budget ` +
      `${fmtPct(AUG.budget)}: ${aug.overhead <= AUG.budget ? "met" : "MISSED"}), ${fmtPct(aug.cpuShare)} of a core. Trained ` +
      `plainly on images transformed beforehand: ${sec(aug.preaugmentedSeconds)} s/epoch, ${fmtPct(aug.densityOverhead)} on ` +
      `top (the first layer skips zeros, and ${fmtPct(aug.density[0])} nonzero pixels become ${fmtPct(aug.density[1])}); ` +
      `the rest, ${fmtPct(aug.overhead - aug.densityOverhead)} of a plain epoch, is the transform itself. In CPU time ` +
      `(steadier on a busy machine): ${fmtPct(aug.cpuOverhead)} on top, ${fmtPct(aug.cpuDensityOverhead)} of it the denser pixels.`);
  console.log("Augmentation's cost (fit's augment option, measured in this run)");
  for (const l of augLines) console.log(l);
  console.log("");
  console.log(versions);
  for (const l of notes) console.log(l);
  console.log(`Total ${elapsedS.toFixed(1)} s (1-minute load average before the run: ${meta.loadAverage1m.toFixed(2)}).`);

  if (!quick) {
    const md = [
      "# Training benchmark results",
      "",
      `Produced by \`${meta.command}\` (\`bench/train.js\`) on ${meta.date.slice(0, 10)} (${meta.date}).`,
      "",
      `- Machine: ${meta.cpu}, ${meta.cores} cores (${meta.platform})`,
      `- Node ${meta.node}; ${versions}`,
      `- Total run ${elapsedS.toFixed(0)} s; 1-minute load average before it: ${meta.loadAverage1m.toFixed(2)}`,
      "",
      `## Measured in this run: one epoch of MNIST ${SIZES.join("-")}, batch ${BATCH}`,
      "",
      markdownTable(measuredColumns, measuredRows),
      "",
      "## Ratios (their figure / ours; above 1x ours is faster or smaller)",
      "",
      markdownTable(ratioColumns, ratioRows),
      "",
      "## Reference figures measured earlier on this machine (fixed numbers, not measured in this run)",
      "",
      markdownTable(refColumns, refRows),
      "",
      "## Augmentation's cost (fit's augment option, measured in this run)",
      "",
      ...augLines,
      "",
      "## Notes",
      "",
      ...notes.map((l) => `- ${l}`),
      "",
    ].join("\n");
    fs.writeFileSync(path.join(HERE, "TRAIN-RESULTS.md"), md);
    console.log(`Wrote ${path.relative(process.cwd(), path.join(HERE, "TRAIN-RESULTS.md")) || "bench/TRAIN-RESULTS.md"}.`);
  }
  if (jsonFile) {
    fs.writeFileSync(jsonFile, JSON.stringify({ meta: { ...meta, elapsedS }, reference: REF, goals: GOALS, results: rows, augmentation: augs },
      null, 2) + "\n");
    console.log(`Wrote ${jsonFile}.`);
  }
}

// ---------------------------------------------------------------- run (last: every declaration above is initialised)
if (mode === "ours") await oursChild();
else if (mode === "augment") await augmentChild();
else if (mode === "tfjs") await tfjsChild();
else await parent();
