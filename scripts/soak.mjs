// npm run soak -- --minutes N [--threads 1,2] [--sequential] [--interval S]
// Trains and calls every kernel in a loop, in one child process per thread count (ready() is once per process; the
// children run concurrently unless --sequential), and prints each child's RSS, V8 heap and Wasm memory every
// interval (60 s). At the end, a verdict on flatness: after warm-up (the first sample) the Wasm memory must not grow
// at all, and RSS may move by at most max(10%, 32 MiB) between the second sample and the last.
// Needs a build (npm run build). Exits 1 when a child fails, a round's results disagree, or memory is not flat.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
function flag(name, fallback) {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = args[i + 1];
  if (v === undefined || v.startsWith("--")) throw new Error(`soak: --${name} needs a value`);
  return v;
}
function positiveNumber(name, fallback) {
  const v = Number(flag(name, String(fallback)));
  if (!(v > 0) || !Number.isFinite(v)) throw new Error(`soak: --${name} must be a positive number`);
  return v;
}

const minutes = positiveNumber("minutes", 10);
const interval = positiveNumber("interval", 60);
const MiB = 1024 * 1024;

if (args.includes("--child")) await child(Number(flag("threads", "1")));
else await parent();

async function parent() {
  const threads = flag("threads", "1,2").split(",").map(Number);
  if (threads.some((t) => !Number.isInteger(t) || t < 1)) throw new Error("soak: --threads takes a list like 1,2");
  const sequential = args.includes("--sequential");
  console.log(`soak: ${minutes} min per child, threads ${threads.join(" and ")} ` +
    `${sequential ? "one after the other" : "concurrently (one child process each)"}, a sample every ${interval} s`);
  const script = fileURLToPath(import.meta.url);
  const run = (t) => new Promise((resolve) => {
    const samples = [];
    let error;
    const c = spawn(process.execPath, ["--expose-gc", script, "--child", "--threads", String(t), "--minutes",
      String(minutes), "--interval", String(interval)], { stdio: ["ignore", "pipe", "inherit"] });
    let buf = "";
    c.stdout.on("data", (d) => {
      buf += d;
      for (let nl; (nl = buf.indexOf("\n")) >= 0; buf = buf.slice(nl + 1)) {
        const line = buf.slice(0, nl);
        let m;
        try { m = JSON.parse(line); } catch { console.log(`[threads ${t}] ${line}`); continue; }
        if (m.error) { error = m.error; console.log(`[threads ${t}] FAILED: ${m.error}`); continue; }
        samples.push(m);
        console.log(`[threads ${t}] min ${m.minute.toFixed(1).padStart(5)}  rounds ${String(m.rounds).padStart(6)}  ` +
          `rss ${(m.rss / MiB).toFixed(1).padStart(7)} MiB  heap ${(m.heap / MiB).toFixed(1).padStart(6)} MiB  ` +
          `wasm ${(m.wasm / MiB).toFixed(2).padStart(7)} MiB`);
      }
    });
    c.on("exit", (code) => resolve({ threads: t, samples, error: error ?? (code === 0 ? undefined : `exit code ${code}`) }));
  });
  const results = [];
  if (sequential) for (const t of threads) results.push(await run(t));
  else results.push(...await Promise.all(threads.map(run)));
  let ok = true;
  console.log("\nverdict");
  for (const { threads: t, samples, error } of results) {
    if (error || samples.length < 2) {
      console.log(`  threads ${t}: FAILED (${error ?? "fewer than two samples"})`);
      ok = false;
      continue;
    }
    const base = samples.length > 2 ? samples[1] : samples[0]; // the first sample is warm-up
    const last = samples.at(-1);
    const wasmFlat = samples.slice(samples.indexOf(base)).every((m) => m.wasm === base.wasm);
    const rssDrift = last.rss - base.rss;
    const rssFlat = Math.abs(rssDrift) <= Math.max(0.1 * base.rss, 32 * MiB);
    ok &&= wasmFlat && rssFlat;
    console.log(`  threads ${t}: ${last.rounds} rounds; Wasm memory ${(base.wasm / MiB).toFixed(2)} -> ` +
      `${(last.wasm / MiB).toFixed(2)} MiB (${wasmFlat ? "flat" : "GROWS"}); RSS ${(base.rss / MiB).toFixed(1)} -> ` +
      `${(last.rss / MiB).toFixed(1)} MiB (${rssDrift >= 0 ? "+" : ""}${(rssDrift / MiB).toFixed(1)}, ` +
      `${rssFlat ? "flat" : "GROWS"}) from minute ${base.minute.toFixed(1)} to ${last.minute.toFixed(1)}`);
  }
  console.log(ok ? "soak: flat" : "soak: NOT flat or failed");
  process.exitCode = ok ? 0 : 1;
}

async function child(threads) {
  const lib = await import("../dist/index.js");
  const { gzipSync } = await import("node:zlib");
  const {
    ready, Network, loadMnist, parseIdx, wasmArray, wasmMemory, softmax, logSoftmax, softmaxBackward,
    logSoftmaxBackward, crossEntropy, binaryCrossEntropyWithLogits, sigmoid, quadraticCost, logitsFromProbs,
  } = lib;
  await ready({ threads });
  const fail = (what) => { throw new Error(what); };
  const { train, test } = await loadMnist();
  const TRAIN = 1024, TEST = 512;
  const xTrain = train.images.slice(0, TRAIN * 784), yTrain = train.labels.slice(0, TRAIN);
  const xTest = test.images.slice(0, TEST * 784), yTest = test.labels.slice(0, TEST);
  // a small IDX file, plain and gzipped, for parseIdx each round
  const idx = new Uint8Array(4 + 12 + 64 * 784);
  idx.set([0, 0, 8, 3]);
  new DataView(idx.buffer).setUint32(4, 64);
  new DataView(idx.buffer).setUint32(8, 28);
  new DataView(idx.buffer).setUint32(12, 28);
  idx.set(train.images.subarray(0, 64 * 784), 16);
  const idxGz = new Uint8Array(gzipSync(idx));

  // kernel operands: 64 x 1024 (65536 floats, past the threads build's share threshold), a seeded generator
  const ROWS = 64, COLS = 1024, N = ROWS * COLS;
  let s = 12345;
  const rand = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s); t ^= t + Math.imul(t ^ (t >>> 7), 61 | t); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const x = Float32Array.from({ length: N }, () => 8 * rand() - 4);
  const dy = Float32Array.from({ length: N }, () => rand() - 0.5);
  const labels = Int32Array.from({ length: ROWS }, () => Math.floor(rand() * COLS));
  const probs = softmax(Float32Array.from({ length: N }, () => rand()), COLS);
  const binary = Float32Array.from({ length: N }, () => (rand() < 0.5 ? 0 : 1));

  /** Every public kernel on Float32Arrays; returns the outputs (to compare with the WasmArray run). */
  function kernelsF32() {
    const y = softmax(x, COLS, { temperature: 1.5 });
    const lp = logSoftmax(x, COLS);
    return [y, lp, softmaxBackward(y, dy, COLS), logSoftmaxBackward(lp, dy, COLS),
      crossEntropy(x, COLS, labels, { labelSmoothing: 0.1 }).grad, crossEntropy(x, COLS, probs, { reduction: "none" }).grad,
      binaryCrossEntropyWithLogits(x, binary).grad, sigmoid(x), quadraticCost(y, probs, COLS).grad, logitsFromProbs(y, COLS)];
  }
  /** The same on WasmArrays made and disposed this round, outputs into WasmArrays. */
  function kernelsWasm() {
    const made = [];
    const w = (v) => { const a = wasmArray(v); made.push(a); return a; };
    const out = () => w(N);
    try {
      const wx = w(x), wdy = w(dy), wprobs = w(probs), wbin = w(binary);
      const y = softmax(wx, COLS, { temperature: 1.5, out: out() });
      const lp = logSoftmax(wx, COLS, { out: out() });
      const res = [y, lp, softmaxBackward(y, wdy, COLS, { out: out() }), logSoftmaxBackward(lp, wdy, COLS, { out: out() }),
        crossEntropy(wx, COLS, labels, { labelSmoothing: 0.1, grad: out() }).grad,
        crossEntropy(wx, COLS, wprobs, { reduction: "none", grad: out() }).grad,
        binaryCrossEntropyWithLogits(wx, wbin, { grad: out() }).grad, sigmoid(wx, { out: out() }),
        quadraticCost(y, wprobs, COLS, { grad: out() }).grad, logitsFromProbs(y, COLS, { out: out() })];
      return res.map((a) => a.data.slice());
    } finally {
      for (const a of made) a.dispose();
    }
  }

  const t0 = performance.now();
  const end = t0 + minutes * 60_000;
  let next = t0 + interval * 1000;
  let rounds = 0;
  const sample = () => {
    globalThis.gc?.();
    const m = process.memoryUsage();
    console.log(JSON.stringify({ minute: (performance.now() - t0) / 60_000, rounds, rss: m.rss, heap: m.heapUsed,
      wasm: wasmMemory().buffer.byteLength }));
  };
  try {
    while (performance.now() < end) {
      const adam = rounds % 2 === 1;
      const net = new Network({ sizes: [784, 64, 10], seed: rounds });
      await net.fit(xTrain, yTrain, { epochs: 1, batchSize: 32,
        optimizer: adam ? { name: "adam", lr: 1e-3 } : { name: "sgd", lr: 0.05, momentum: 0.9 } });
      const ev = net.evaluate(xTest, yTest);
      if (!(ev.accuracy > 0.5)) fail(`round ${rounds}: accuracy ${ev.accuracy} after one epoch`);
      const p = net.predict(xTest);
      const copy = Network.load(net.save());
      const q = copy.predict(xTest);
      if (p.some((v, i) => v !== q[i])) fail(`round ${rounds}: the loaded network predicts differently`);
      await copy.fit(xTrain.subarray(0, 64 * 784), yTrain.subarray(0, 64), { epochs: 1, batchSize: 32 });
      net.dispose();
      copy.dispose();
      const a = kernelsF32(), b = kernelsWasm();
      a.forEach((v, k) => { if (v.some((e, i) => !Object.is(e, b[k][i]))) fail(`round ${rounds}: kernel ${k} differs on WasmArrays`); });
      const parsed = parseIdx(idxGz);
      if (parsed.data.length !== 64 * 784 || parseIdx(idx).data[100] !== parsed.data[100]) fail(`round ${rounds}: parseIdx`);
      rounds++;
      if (performance.now() >= next) {
        sample();
        next += interval * 1000;
      }
    }
    if (performance.now() - (next - interval * 1000) > 1000) sample(); // the tail after the last full interval
  } catch (err) {
    console.log(JSON.stringify({ error: String(err?.stack ?? err) }));
    process.exitCode = 1;
  }
  process.exit(); // the worker threads are unref'd, but leave at once
}
