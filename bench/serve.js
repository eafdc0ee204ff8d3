// Serving speed: one exported model, the same inputs, each library's whole per-call cost (inputs in, probabilities
// out as a Float32Array): predict against onnxruntime-node (native), onnxruntime-web (Wasm SIMD, 1 thread; skipped
// if not installed) and TensorFlow.js's wasm backend, for 1 and 64 rows of 784-100-10 and 784-800-10.
//   node bench/serve.js [--time-ms 1000]
import * as tf from "@tensorflow/tfjs";
import { ready, Network } from "../dist/index.js";
import { mulberry32, useTfWasm } from "./common.js";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const TIME_MS = arg("--time-ms", 1000);

/** Median microseconds per call over rounds of ~10 ms each (async calls awaited one by one). */
async function micros(fn) {
  for (let t0 = performance.now(); performance.now() - t0 < TIME_MS / 4;) await fn(); // warm up
  let per = 1;
  for (let t0 = performance.now(); performance.now() - t0 < 10; per++) await fn();
  const samples = [];
  for (let t0 = performance.now(); performance.now() - t0 < TIME_MS;) {
    const s = performance.now();
    for (let i = 0; i < per; i++) await fn();
    samples.push(((performance.now() - s) / per) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

await ready();
const tfInfo = await useTfWasm(tf);
const ortNode = await import("onnxruntime-node");
let ortWeb;
try {
  ortWeb = await import("onnxruntime-web");
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.simd = true;
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
    const row = { model: sizes.join("-"), rows: B, ours: await micros(() => net.predict(x)), ortNode: await micros(runOrt(ortNode, sessNode)) };
    if (sessWeb) row.ortWeb = await micros(runOrt(ortWeb, sessWeb));
    row.tfjs = await micros(runTf);
    rows.push(row);
  }
  await sessNode.release();
  if (sessWeb) await sessWeb.release();
  tf.dispose([w0, b0, w1, b1]);
  net.dispose();
}

const f = (v) => (v === undefined ? "-" : v < 100 ? v.toFixed(1) : v.toFixed(0));
const ratio = (a, b) => (a === undefined ? "-" : `${(a / b).toFixed(2)}x`);
console.log(`\npredict, microseconds per call (median); tfjs-wasm ${tfInfo.version} simd=${tfInfo.simd} threads=${tfInfo.threads}; ` +
  `onnxruntime-node ${ortNode.env.versions?.node ?? ""} 1 thread\n`);
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
