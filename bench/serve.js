// Serving speed: one exported model, the same inputs, each library's whole per-call cost (inputs in, probabilities
// out as a Float32Array): predict against onnxruntime-node (native), onnxruntime-web (Wasm SIMD, 1 thread, its .wasm
// from node_modules; skipped if not installed) and TensorFlow.js's wasm backend, for 1 and 64 rows of 784-100-10 and
// 784-800-10. Ours runs as a serving loop would: predict(x, { out }) into one reused array, which the bench checks
// allocates nothing in Wasm memory (no growth) and returns that array.
//   node bench/serve.js [--time-ms 1000]
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { ready, Network, wasmMemory } from "../dist/index.js";
import { mulberry32, useTfWasm } from "./common.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const TIME_MS = arg("--time-ms", 1000);

/**
 * Median microseconds per call of each function, over rounds of ~10 ms taken in turn (one round of each, then again),
 * so a busy neighbour slows every library alike. Async calls (onnxruntime's run) are awaited one by one; synchronous
 * ones (predict, tfjs's dataSync) run in a plain loop, as a server would call them (an await per call would add a
 * microtask turn that is no part of their cost).
 */
async function micros(fns) {
  const timers = fns.map((fn) => {
    const sync = !(fn() instanceof Promise);
    return async (n) => {
      const s = performance.now();
      if (sync) for (let i = 0; i < n; i++) fn();
      else for (let i = 0; i < n; i++) await fn();
      return performance.now() - s;
    };
  });
  const per = [];
  for (const rounds of timers) {
    for (let t0 = performance.now(); performance.now() - t0 < TIME_MS / 8;) await rounds(1); // warm up
    let n = 1;
    while (await rounds(n) < 10) n *= 2;
    per.push(n);
  }
  const samples = fns.map(() => []);
  for (let t0 = performance.now(); performance.now() - t0 < TIME_MS * fns.length;) {
    for (let i = 0; i < timers.length; i++) samples[i].push((await timers[i](per[i]) / per[i]) * 1000);
  }
  return samples.map((s) => s.sort((a, b) => a - b)[s.length >> 1]);
}

const loadBefore = os.loadavg();
await ready();
const tfInfo = await useTfWasm(tf);
const ortNode = await import("onnxruntime-node");
let ortWeb;
try {
  ortWeb = await import("onnxruntime-web");
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
  ortWeb.env.wasm.wasmPaths = path.join(path.dirname(createRequire(import.meta.url).resolve("onnxruntime-web")), path.sep);
} catch {
  console.log("onnxruntime-web is not installed: its column is skipped");
}

const rows = [];
for (const sizes of [[784, 100, 10], [784, 800, 10]]) {
  const net = new Network({ sizes, seed: 1 });
  const onnx = net.toOnnx();
  const sessNode = await ortNode.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const sessWeb = ortWeb && await ortWeb.InferenceSession.create(onnx);
  // tfjs: the same weights, the same graph (its matMul + add + relu, softmax)
  const p = net.parameters();
  const [D, H, C] = sizes;
  const w0 = tf.tensor2d(p.subarray(0, D * H), [D, H]), b0 = tf.tensor1d(p.subarray(D * H, D * H + H));
  const o1 = D * H + H;
  const w1 = tf.tensor2d(p.subarray(o1, o1 + H * C), [H, C]), b1 = tf.tensor1d(p.subarray(o1 + H * C, o1 + H * C + C));
  for (const B of [1, 64]) {
    const r = mulberry32(B);
    const x = Float32Array.from({ length: B * D }, () => (r() < 0.8 ? 0 : r())); // MNIST-like: mostly zeros
    const want = net.predict(x);
    const runOrt = (ort, sess) => async () => (await sess.run({ input: new ort.Tensor("float32", x, [B, D]) })).probabilities.data;
    const runTf = () => {
      const y = tf.tidy(() => tf.softmax(tf.relu(tf.tensor2d(x, [B, D]).matMul(w0).add(b0)).matMul(w1).add(b1)));
      const out = y.dataSync();
      y.dispose();
      return out;
    };
    for (const [who, fn] of [["ortNode", runOrt(ortNode, sessNode)], ["ortWeb", sessWeb && runOrt(ortWeb, sessWeb)], ["tfjs", runTf]]) {
      if (!fn) continue;
      const got = await fn();
      const err = Math.max(...Array.from(want, (v, i) => Math.abs(v - got[i])));
      if (!(err <= 1e-5)) throw new Error(`${who} on ${sizes.join("-")} x ${B}: outputs differ from predict by ${err}`);
    }
    const opts = { out: new Float32Array(B * C) };
    const serve = () => net.predict(x, opts);
    const bytes = wasmMemory().buffer.byteLength;
    for (let i = 0; i < 100; i++) {
      if (serve() !== opts.out) throw new Error("predict(x, { out }) did not return out");
    }
    if (wasmMemory().buffer.byteLength !== bytes) throw new Error(`predict(x, { out }) grew Wasm memory on ${sizes.join("-")} x ${B}`);
    const [ours, ortNodeUs, ortWebUs, tfjsUs] = await micros([serve, runOrt(ortNode, sessNode),
      sessWeb ? runOrt(ortWeb, sessWeb) : () => 0, runTf]);
    const row = { model: sizes.join("-"), rows: B, ours, ortNode: ortNodeUs, ortWeb: sessWeb ? ortWebUs : undefined, tfjs: tfjsUs };
    rows.push(row);
  }
  await sessNode.release();
  if (sessWeb) await sessWeb.release();
  tf.dispose([w0, b0, w1, b1]);
  net.dispose();
}

const loadAfter = os.loadavg();
const f = (v) => (v === undefined ? "-" : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (a, b) => (a === undefined ? "-" : `${(a / b).toFixed(2)}x`);
console.log(`\npredict, microseconds per call (median); tfjs-wasm ${tfInfo.version} simd=${tfInfo.simd} threads=${tfInfo.threads}; ` +
  `onnxruntime-node ${ortNode.env.versions?.node ?? ""} 1 thread` +
  (ortWeb ? `; onnxruntime-web ${ortWeb.env.versions?.web ?? ""} wasm SIMD, ${ortWeb.env.wasm.numThreads} thread` : "") +
  `\nload average (1, 5, 15 min) before ${loadBefore.map((v) => v.toFixed(2)).join(" ")}, after ` +
  `${loadAfter.map((v) => v.toFixed(2)).join(" ")}\n`);
console.log("| model | rows | ours | onnxruntime-node | onnxruntime-web | tfjs-wasm | ort-node / ours | ort-web / ours | tfjs / ours |");
console.log("|---|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(`| ${r.model} | ${r.rows} | ${f(r.ours)} | ${f(r.ortNode)} | ${f(r.ortWeb)} | ${f(r.tfjs)} | ${ratio(r.ortNode, r.ours)} | ` +
    `${ratio(r.ortWeb, r.ours)} | ${ratio(r.tfjs, r.ours)} |`);
}
const small1 = rows.find((r) => r.model === "784-100-10" && r.rows === 1);
const small64 = rows.find((r) => r.model === "784-100-10" && r.rows === 64);
console.log(`\ngoals: 1 row of 784-100-10 no slower than onnxruntime-node: ${small1.ours <= small1.ortNode ? "met" : "MISSED"}` +
  (small1.ortWeb ? `; >= 3x onnxruntime-web: ${small1.ortWeb / small1.ours >= 3 ? "met" : "MISSED"}` : "") +
  (small64.ortWeb ? `; 64 rows >= 1.5x onnxruntime-web: ${small64.ortWeb / small64.ours >= 1.5 ? "met" : "MISSED"}` : ""));
