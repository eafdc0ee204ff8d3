// The threads suite's extra work (test/threads.test.ts, in Node and in Chromium): shapes large enough to take the
// parallel path of every kernel the pool splits (on Float32Arrays and on WasmArrays), and seeded Network fits whose
// layers take the parallel GEMMs (forward, dX, dense and zero-skipping dW). Plain ESM, `lib` is the softmax-wasm namespace after `await lib.ready()`.
import { digest, floats } from "./workload.js";

export async function parallelDigests(lib) {
  const out = {};
  for (const [rows, cols] of [[523, 33], [64, 1000], [9, 4097], [3, 6000], [1, 50000], [2, 20000], [40, 10]]) {
    const x = floats(rows * cols, 8, rows + cols);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    if (rows > 1) labels[Math.min(3, rows - 1)] = -100; // an ignored row (in 2x20000, beside a long row in segments)
    const parts = [lib.softmax(x, cols), lib.logSoftmax(x, cols, { temperature: 0.7 })];
    for (const opts of [{}, { reduction: "none", labelSmoothing: 0.1, weight: floats(cols, 1, 5).map(Math.abs) }, { reduction: "sum" }]) {
      const r = lib.crossEntropy(x, cols, labels, opts);
      parts.push(r.loss, r.grad);
    }
    out[`${rows}x${cols}`] = await digest(parts);
    // the other kernels the pool splits: backward passes, soft targets, BCE and the quadratic cost by blocks, sigmoid
    const y = lib.softmax(x, cols), dy = floats(rows * cols, 1, rows * 3 + cols), q = lib.softmax(floats(rows * cols, 2, cols + 9), cols);
    const more = [lib.softmax(x, cols, { temperature: 1e31 }), lib.logSoftmax(x, cols, { temperature: 1e31 }),
      lib.softmaxBackward(y, dy, cols), lib.logSoftmaxBackward(lib.logSoftmax(x, cols), dy, cols),
      lib.sigmoid(x), lib.logitsFromProbs(q, cols)];
    for (const opts of [{}, { reduction: "none", labelSmoothing: 0.1, weight: floats(cols, 1, 7).map(Math.abs) }]) {
      const r = lib.crossEntropy(x, cols, q, opts);
      more.push(r.loss, r.grad);
    }
    for (const opts of [{}, { reduction: "none", posWeight: floats(cols, 1, 8).map(Math.abs) }, { reduction: "sum" }]) {
      const r = lib.binaryCrossEntropyWithLogits(x, q, opts);
      more.push(r.loss, r.grad);
    }
    const quad = lib.quadraticCost(y, q, cols);
    more.push(quad.loss, quad.grad);
    out[`${rows}x${cols} more`] = await digest(more);
    // the same calls on WasmArrays (no copies: the pool works in place), which must give the same bits
    const xa = lib.wasmArray(x), ya = lib.wasmArray(x.length), ga = lib.wasmArray(x.length);
    const resident = [lib.softmax(xa, cols, { out: ya }).data.slice(), lib.logSoftmax(xa, cols, { temperature: 0.7 })];
    for (const opts of [{}, { reduction: "none", labelSmoothing: 0.1, weight: floats(cols, 1, 5).map(Math.abs) }, { reduction: "sum" }]) {
      const r = lib.crossEntropy(xa, cols, labels, { ...opts, grad: ga });
      resident.push(r.loss, ga.data.slice());
    }
    out[`${rows}x${cols} wasmArray`] = await digest(resident);
    for (const a of [xa, ya, ga]) a.dispose();
  }
  // one rule for every shape and thread count: each row's loss in f64 ([3e38, -3e38, 0] with class 1 is 6e38 a row,
  // not Infinity), summed in row order (6000 narrow rows take the pool's split in groups of 8)
  const huge = new Float32Array(6000 * 3);
  for (let r = 0; r < 6000; r++) huge.set([3e38, -3e38, 0], r * 3);
  const ones = new Int32Array(6000).fill(1);
  out["huge logits"] = [lib.crossEntropy(huge, 3, ones).loss, lib.crossEntropy(huge, 3, ones, { reduction: "sum" }).loss];
  // sampling over 32 rows of a 32,000-word vocabulary: the pool's row split, each share's generator skipped ahead
  const logits = floats(32 * 32000, 6, 77);
  const s = lib.sampler({ topK: 40, temperature: 0.9, seed: 11 });
  out["sample 32x32000"] = await digest([
    lib.sample(logits, 32000, { topK: 50, seed: 5 }), lib.sample(logits, 32000, { topP: 0.9, temperature: 0.8, seed: 6 }),
    lib.sample(logits, 32000, { minP: 0.05, seed: 7 }), lib.sample(logits, 32000, { temperature: 0 }),
    s.next(logits, 32000), s.next(logits, 32000), lib.sampleProbs(logits, 32000, { topP: 0.5 }),
  ]);
  return out;
}

/** images / labels: MNIST rows (Uint8Array pixels and labels), at least 1,280 of them. */
export async function networkDigests(lib, images, labels) {
  const deep = new lib.Network({ sizes: [784, 128, 64, 10], seed: 3 });
  await deep.fit(images.subarray(0, 1280 * 784), labels.subarray(0, 1280), { epochs: 1, batchSize: 64, optimizer: { name: "adam", lr: 1e-3 } });
  // dense (float input) layers; 600 x 520 takes the pool's packed-W forward pass (a partial last panel included)
  const float = new lib.Network({ sizes: [100, 600, 520, 10], hidden: "tanh", seed: 5 });
  await float.fit(floats(640 * 100, 1, 11), labels.subarray(0, 640), { epochs: 1, batchSize: 32, optimizer: { name: "sgd", lr: 0.05 } });
  // dropout masks (drawn on the calling thread) and max-norm with the layers' GEMMs on the pool
  const reg = new lib.Network({ sizes: [784, 256, 128, 10], seed: 9, dropout: [0.5, 0.3], inputDropout: 0.2, maxNorm: 3 });
  await reg.fit(images.subarray(0, 640 * 784), labels.subarray(0, 640), { epochs: 1, batchSize: 64, optimizer: { name: "adam", lr: 1e-3 } });
  // augmentation with dropout: the transforms split by images over the pool, as the layers' GEMMs
  const aug = new lib.Network({ sizes: [784, 256, 10], seed: 12, dropout: 0.3 });
  await aug.fit(images.subarray(0, 640 * 784), labels.subarray(0, 640), { epochs: 1, batchSize: 64, optimizer: { name: "adam", lr: 1e-3 },
    augment: { width: 28, height: 28, shift: 2, rotate: 15, scale: 0.15, elastic: { alpha: 10, sigma: 4 } } });
  const out = {
    deep: await digest([deep.save(), deep.predict(images.subarray(0, 256 * 784))]),
    float: await digest([float.save()]),
    // names of their own: the threads tests spread these over trainingDigest's, whose `regularized` and `augmented`
    // runs (workload.js) must be compared across thread counts too, not overwritten
    regularizedWide: await digest([reg.save(), reg.predict(images.subarray(0, 256 * 784))]),
    augmentedWide: await digest([aug.save(), aug.predict(images.subarray(0, 256 * 784))]),
  };
  aug.dispose();
  deep.dispose();
  float.dispose();
  reg.dispose();
  return out;
}
