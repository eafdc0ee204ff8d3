// The same work in every runtime (Node, Chromium, Deno, Bun, workerd): every kernel on fixed inputs and a short
// seeded MNIST training run, reduced to SHA-256 digests that must be equal everywhere. Plain ESM with no imports,
// so each runtime loads it as it is (the other runners import their generator from here); `lib` is the softmax-wasm namespace after `await lib.ready()`.

/** mulberry32: integer arithmetic only, so every engine draws the same floats. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n floats in [-scale, scale) from seed. */
export function floats(n, scale, seed) {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

export async function digest(parts) {
  const all = [];
  for (const p of parts) {
    if (typeof p === "number") all.push(new Uint8Array(new Float64Array([p]).buffer));
    else all.push(new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  }
  const bytes = new Uint8Array(all.reduce((n, a) => n + a.length, 0));
  let o = 0;
  for (const a of all) { bytes.set(a, o); o += a.length; }
  const h = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(h, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Digests of every kernel on fixed inputs, at shapes that take every path (narrow groups, rows, long blocks). */
export async function kernelDigests(lib) {
  const out = {};
  const shapes = [[13, 10], [5, 33], [3, 4097], [1, 1]];
  const parts = {
    softmax: [], logSoftmax: [], backward: [], crossEntropy: [], bce: [], sigmoid: [], quadratic: [], inverse: [], sampling: [],
  };
  for (const [rows, cols] of shapes) {
    const n = rows * cols;
    const x = floats(n, 8, rows * 131 + cols);
    const dy = floats(n, 1, cols * 7 + 3);
    const labels = Int32Array.from({ length: rows }, (_, i) => (i * 7) % cols);
    const p = lib.softmax(x, cols);
    parts.softmax.push(p, lib.softmax(x, cols, { temperature: 0.7 }));
    parts.logSoftmax.push(lib.logSoftmax(x, cols), lib.logSoftmax(x, cols, { temperature: 3 }));
    parts.backward.push(lib.softmaxBackward(p, dy, cols), lib.logSoftmaxBackward(lib.logSoftmax(x, cols), dy, cols));
    for (const opts of [{}, { reduction: "none", labelSmoothing: 0.1, weight: floats(cols, 1, 5).map(Math.abs) }]) {
      const a = lib.crossEntropy(x, cols, labels, opts);
      const b = lib.crossEntropy(x, cols, lib.softmax(dy, cols), opts);
      parts.crossEntropy.push(a.loss instanceof Float32Array ? a.loss : a.loss, a.grad, b.loss, b.grad);
    }
    const t = lib.sigmoid(dy);
    const bce = lib.binaryCrossEntropyWithLogits(x, t, { posWeight: floats(cols, 2, 9).map(Math.abs) });
    parts.bce.push(bce.loss, bce.grad);
    parts.sigmoid.push(lib.sigmoid(x));
    const q = lib.quadraticCost(p, lib.softmax(dy, cols), cols);
    parts.quadratic.push(q.loss, q.grad);
    parts.inverse.push(lib.logitsFromProbs(p, cols));
    parts.sampling.push(...samplingParts(lib, x, cols, rows));
  }
  const wide = floats(32000, 6, 99); // a vocabulary-sized row: top-k compaction, the top-p radix select, the block draw
  parts.sampling.push(...samplingParts(lib, wide, 32000, 1));
  for (const [k, v] of Object.entries(parts)) out[k] = await digest(v);
  return out;
}

/** Tokens drawn (seeded, and a sampler resumed from its state), their distributions, topK and argmax of one input. */
function samplingParts(lib, x, cols, rows) {
  const out = [];
  const seen = Int32Array.from({ length: Math.min(cols, 7) }, (_, i) => (i * 5) % cols);
  for (const opts of [{}, { temperature: 0 }, { topK: 5 }, { topP: 0.9 }, { minP: 0.05 },
    { temperature: 0.7, topK: 40, topP: 0.95, minP: 0.01, repetitionPenalty: { penalty: 1.3, tokens: seen } }]) {
    out.push(lib.sample(x, cols, { ...opts, seed: rows + cols }), lib.sampleProbs(x, cols, opts));
  }
  const s = lib.sampler({ topP: 0.8, seed: 3 });
  out.push(s.next(x, cols));
  out.push(lib.sampler({ topP: 0.8, state: s.state() }).next(x, cols), s.state());
  const t = lib.topK(x, cols, Math.min(cols, 5));
  out.push(t.values, t.indices, lib.argmax(x, cols));
  return out;
}

/**
 * A seeded training run: 784-32-10 on the given MNIST rows (Uint8Array pixels, Uint8Array labels), one epoch of
 * batch 32 with Adam, then the digest of save() and of the predictions on the first 100 rows.
 */
export async function trainingDigest(lib, images, labels) {
  const net = new lib.Network({ sizes: [784, 32, 10], seed: 7 });
  await net.fit(images, labels, { epochs: 1, batchSize: 32, optimizer: { name: "adam", lr: 2e-3 } });
  // dropout on the input and the hidden layer, and max-norm: masks from the network's generator, the same everywhere
  const reg = new lib.Network({ sizes: [784, 32, 10], seed: 8, dropout: 0.3, inputDropout: 0.2, maxNorm: 2 });
  await reg.fit(images.subarray(0, 1600 * 784), labels.subarray(0, 1600), { epochs: 1, batchSize: 32, optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 } });
  // augmentation (shift, rotation, scale, elastic) with dropout: transforms from the network's generator, the same
  // everywhere; under a one-cycle schedule (the module's cosine, a cycled beta1 and its power for Adam's correction)
  const aug = new lib.Network({ sizes: [784, 32, 10], seed: 10, dropout: 0.2 });
  await aug.fit(images.subarray(0, 640 * 784), labels.subarray(0, 640), { epochs: 1, batchSize: 32,
    optimizer: { name: "adam", lr: 2e-3 }, schedule: { name: "onecycle" },
    augment: { width: 28, height: 28, shift: 2, rotate: 10, scale: 0.1, elastic: { alpha: 8, sigma: 3 } } });
  const result = {
    model: await digest([net.save()]),
    predictions: await digest([net.predict(images.subarray(0, 100 * 784))]),
    accuracy: net.evaluate(images, labels).accuracy,
    regularized: await digest([reg.save(), reg.predict(images.subarray(0, 100 * 784))]),
    augmented: await digest([aug.save(), aug.predict(images.subarray(0, 100 * 784))]),
  };
  net.dispose();
  reg.dispose();
  aug.dispose();
  return result;
}

/** The rows the training digest uses: the first 6,400 training images (200 batches of 32). */
export const TRAIN_ROWS = 6400;
