// The dense network: whole-network finite-difference gradients for every activation x output/cost pairing,
// optimizers against hand-computed steps, determinism, save/load, a short real-MNIST run, and bad arguments.
import { beforeAll, describe, expect, it } from "vitest";
import { ready, Network, loadMnist, wasmArray } from "../dist/index.js";
import { expectClose, rng } from "./helpers.js";
import { crc32 } from "../dist/crc32.js";

beforeAll(() => ready());

/** Small odd data: rows x inputs in [0, 1) and labels in [0, classes). */
function data(rows: number, inputs: number, classes: number, seed: number) {
  const r = rng(seed);
  const x = Float32Array.from({ length: rows * inputs }, () => r());
  const labels = Int32Array.from({ length: rows }, () => Math.floor(r() * classes));
  return { x, labels };
}

/** float64 forward pass and mean cost of a network with parameters p (layout W0 b0 W1 b1 ...). */
function refCost(p: Float64Array, sizes: number[], hidden: string, output: string, cost: string,
  x: Float32Array, labels: Int32Array): number {
  const rows = labels.length;
  const act = (v: number) => hidden === "relu" ? Math.max(v, 0) : hidden === "tanh" ? Math.tanh(v) : 1 / (1 + Math.exp(-v));
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let a = Array.from(x.subarray(r * sizes[0], (r + 1) * sizes[0]), Number);
    let off = 0;
    for (let l = 0; l + 1 < sizes.length; l++) {
      const [I, O] = [sizes[l], sizes[l + 1]];
      const z = new Array(O).fill(0);
      for (let o = 0; o < O; o++) {
        let s = p[off + I * O + o];
        for (let i = 0; i < I; i++) s += a[i] * p[off + i * O + o];
        z[o] = s;
      }
      off += I * O + O;
      a = l + 2 < sizes.length ? z.map(act) : z;
    }
    const C = a.length;
    const y = a.map((_, j) => (j === labels[r] ? 1 : 0));
    let out: number[];
    if (output === "softmax") {
      const m = Math.max(...a);
      const e = a.map((v) => Math.exp(v - m));
      const s = e.reduce((u, v) => u + v, 0);
      out = e.map((v) => v / s);
    } else out = a.map((v) => 1 / (1 + Math.exp(-v)));
    if (cost === "quadratic") total += 0.5 * out.reduce((s, v, j) => s + (v - y[j]) ** 2, 0);
    else if (output === "softmax") total += -Math.log(out[labels[r]]);
    else for (let j = 0; j < C; j++) total += -(y[j] * Math.log(out[j]) + (1 - y[j]) * Math.log(1 - out[j]));
  }
  return total / rows;
}

describe("whole-network gradient (finite differences in float64)", () => {
  const runs: [string, string, string][] = [];
  for (const hidden of ["relu", "sigmoid", "tanh"]) {
    for (const [output, cost] of [["softmax", "crossEntropy"], ["sigmoid", "crossEntropy"], ["sigmoid", "quadratic"],
      ["softmax", "quadratic"]]) runs.push([hidden, output, cost]);
  }
  it.each(runs)("hidden %s, output %s, cost %s", (hidden, output, cost) => {
    const sizes = [5, 7, 3, 4];
    const net = new Network({ sizes, hidden: hidden as never, output: output as never, cost: cost as never, seed: 3 });
    const { x, labels } = data(9, 5, 4, 17);
    const { loss, grad } = net.gradient(x, labels);
    const p = Float64Array.from(net.parameters());
    expect(loss).toBeCloseTo(refCost(p, sizes, hidden, output, cost, x, labels), 5);
    const h = 1e-6;
    const fd = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const q = p.slice();
      q[i] += h;
      const up = refCost(q, sizes, hidden, output, cost, x, labels);
      q[i] -= 2 * h;
      fd[i] = (up - refCost(q, sizes, hidden, output, cost, x, labels)) / (2 * h);
    }
    expectClose(grad, fd, 1e-3, 2e-5, "grad");
    net.dispose();
  });
});

describe("training", () => {
  it("SGD and Adam take the steps torch.optim would, on the gradient network.gradient reports", async () => {
    const { x, labels } = data(6, 4, 3, 5);
    for (const opt of [{ name: "sgd", lr: 0.5 }, { name: "adam", lr: 0.01 }] as const) {
      const net = new Network({ sizes: [4, 3], seed: 2 });
      const p0 = net.parameters();
      const { grad } = net.gradient(x, labels);
      await net.fit(x, labels, { epochs: 1, batchSize: 6, shuffle: false, optimizer: opt });
      const p1 = net.parameters();
      // first Adam step: m / (1 - b1) = g, sqrt(v / (1 - b2)) = |g|, so the step is lr * g / (|g| + eps)
      const want = Array.from(p0, (v, i) => opt.name === "sgd" ? v - 0.5 * grad[i] : v - 0.01 * grad[i] / (Math.abs(grad[i]) + 1e-8));
      expectClose(p1, want, 1e-5, 1e-6, opt.name);
      net.dispose();
    }
  });

  it("is deterministic: the same seed gives the same bytes, another seed others", async () => {
    const { x, labels } = data(50, 6, 3, 9);
    const run = async (seed: number) => {
      const net = new Network({ sizes: [6, 8, 3], seed });
      await net.fit(x, labels, { epochs: 2, batchSize: 7, optimizer: { name: "adam", lr: 0.01 } });
      const bytes = net.save();
      net.dispose();
      return bytes;
    };
    const [a, b, c] = [await run(1), await run(1), await run(2)];
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(c))).not.toBe(0);
  });

  it("save/load round-trips, resumes training identically, and rejects truncated, corrupted and foreign bytes", async () => {
    const { x, labels } = data(40, 6, 3, 4);
    const opt = { name: "adam", lr: 0.01 } as const;
    const a = new Network({ sizes: [6, 5, 3], hidden: "tanh", seed: 8 });
    await a.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: opt });
    const saved = a.save();
    const b = Network.load(saved);
    expect(Array.from(b.predict(x))).toEqual(Array.from(a.predict(x)));
    await a.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: opt, seed: 5 });
    await b.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: opt, seed: 5 });
    expect(Buffer.compare(Buffer.from(a.save()), Buffer.from(b.save()))).toBe(0);
    expect(Network.load(a.save({ optimizerState: false })).parameters()).toEqual(a.parameters());
    expect(() => Network.load(saved.subarray(0, saved.length - 9))).toThrow(/CRC-32|do not match/);
    const bad = saved.slice();
    bad[100] ^= 1;
    expect(() => Network.load(bad)).toThrow(/CRC-32 mismatch/);
    expect(() => Network.load(new TextEncoder().encode("GIF89a not a network at all"))).toThrow(/SWNN/);
    expect(() => Network.load(new Uint8Array(3))).toThrow(RangeError);
    expect(() => Network.load([1, 2] as never)).toThrow(TypeError);
    for (const n of [a, b]) n.dispose();
  });

  it("keeps the last fit's optimizer: public, saved (since format 2), and the default of the next fit; formats 1 and 2 still load", async () => {
    const { x, labels } = data(40, 6, 3, 5);
    const sgd = { name: "sgd", lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 } as const;
    const a = new Network({ sizes: [6, 5, 3], seed: 2 });
    expect(a.optimizer).toBeUndefined();
    await a.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: sgd });
    expect(a.optimizer).toEqual(sgd);
    const adamw = { name: "adamw", lr: 2e-3 } as const;
    const c = new Network({ sizes: [6, 5, 3], seed: 2 });
    await c.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: adamw });
    expect(c.optimizer).toEqual({ name: "adamw", lr: 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
    const saved = a.save();
    const b = Network.load(saved);
    expect(b.optimizer).toEqual(sgd);
    expect(Network.load(c.save()).optimizer).toEqual(c.optimizer);
    expect(Network.load(a.save({ optimizerState: false })).optimizer).toEqual(sgd); // settings are a few bytes: always kept
    // fit without opts.optimizer goes on with the same settings (and the saved momentum): the same bits as passing them
    await a.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: sgd, seed: 3 });
    await b.fit(x, labels, { epochs: 1, batchSize: 8, seed: 3 });
    expect(Buffer.compare(Buffer.from(a.save()), Buffer.from(b.save()))).toBe(0);
    // formats 1 and 2: the same bytes without format 3's 108 bytes (56 of regularizers: the dropout and augmentation
    // generators, input dropout, max-norm and one hidden layer's dropout; 52 of an interrupted fit's position), and for
    // format 1 without the 44 bytes of settings too; own CRC-32s
    const L = 2;
    const at = 16 + 4 * (L + 1) + 4 + 8 + 16 + 16;
    const older = (version: number, cut: [number, number][]): Uint8Array => {
      const keep = Array.from(saved.subarray(0, saved.length - 4)).filter((_, i) => !cut.some(([from, n]) => i >= from && i < from + n));
      const bytes = Uint8Array.from([...keep, 0, 0, 0, 0]);
      const dv = new DataView(bytes.buffer);
      dv.setUint32(4, version, true);
      dv.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
      return bytes;
    };
    const v2 = Network.load(older(2, [[at + 44, 108]]));
    expect(v2.optimizer).toEqual(sgd);
    expect(v2.parameters()).toEqual(Network.load(saved).parameters());
    const old = Network.load(older(1, [[at, 152]]));
    expect(old.optimizer).toBeUndefined();
    expect(old.parameters()).toEqual(Network.load(saved).parameters());
    const v4 = saved.slice();
    new DataView(v4.buffer).setUint32(4, 4, true);
    expect(() => Network.load(v4)).toThrow(/format version 4 is not supported \(this library reads 1, 2 and 3\)/);
    for (const n of [a, b, c, old, v2]) n.dispose();
  });

  it("abort stops fit between batches and leaves the network usable", async () => {
    const { x, labels } = data(200, 6, 3, 4);
    const net = new Network({ sizes: [6, 5, 3], seed: 8 });
    const ctl = new AbortController();
    let seen = 0;
    await expect(net.fit(x, labels, { epochs: 5, batchSize: 10, signal: ctl.signal,
      onBatch: () => { if (++seen === 3) ctl.abort(); } })).rejects.toThrow(/abort/i);
    expect(seen).toBe(3);
    expect(net.evaluate(x, labels).accuracy).toBeGreaterThanOrEqual(0);
    net.dispose();
    expect(() => net.predict(x)).toThrow(/disposed/);
  });

  it("learns real MNIST: a few hundred batches beat 90% test accuracy", async () => {
    const m = await loadMnist();
    const net = new Network({ sizes: [784, 64, 10], seed: 1 });
    const n = 300 * 32;
    await net.fit(m.train.images.subarray(0, n * 784), m.train.labels.subarray(0, n), {
      epochs: 1, batchSize: 32, optimizer: { name: "adam", lr: 2e-3 },
    });
    const { accuracy } = net.evaluate(m.test.images, m.test.labels);
    expect(accuracy).toBeGreaterThan(0.9);
    const p = net.predict(m.test.images.subarray(0, 784 * 5));
    for (let r = 0; r < 5; r++) expect(p.subarray(r * 10, r * 10 + 10).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    net.dispose();
  });
});

describe("inputs in Wasm memory", () => {
  it("fit, evaluate, predict and gradient take a WasmArray as x (validation.x too), with the Float32Array's results", async () => {
    const { x, labels } = data(40, 6, 3, 12);
    const val = data(10, 6, 3, 13);
    const [xw, vw] = [wasmArray(x), wasmArray(val.x)];
    const run = async (input: Float32Array | typeof xw, v: Float32Array | typeof vw) => {
      const net = new Network({ sizes: [6, 5, 3], seed: 4 });
      const r = await net.fit(input, labels, { epochs: 2, batchSize: 8, validation: { x: v, labels: val.labels } });
      const out = { save: Buffer.from(net.save()), val: r.epochs.map((e) => e.valLoss), eval: net.evaluate(input, labels),
        predict: Array.from(net.predict(input)), grad: Array.from(net.gradient(input, labels).grad) };
      net.dispose();
      return out;
    };
    const want = await run(x, val.x);
    const got = await run(xw, vw);
    expect(Buffer.compare(got.save, want.save)).toBe(0);
    expect(got).toEqual(want);
    xw.dispose();
    const net = new Network({ sizes: [6, 5, 3], seed: 4 });
    expect(() => net.predict(xw)).toThrow(new TypeError("Network.predict: x is a WasmArray that was disposed"));
    await expect(net.fit(x, labels, { epochs: 1, validation: { x: xw, labels: val.labels } }))
      .rejects.toThrow(new TypeError("Network.fit: opts.validation.x is a WasmArray that was disposed"));
    net.dispose();
    vw.dispose();
  });
});

describe("bad arguments", () => {
  const { x, labels } = data(10, 4, 3, 1);
  it.each([
    [{ optimizer: { name: "adam", lr: 1e39 } }, "opts.optimizer.lr (1e+39) is past float32's largest number (3.4e38), which the kernels use"],
    [{ optimizer: { name: "sgd", lr: 1e-40 } }, "opts.optimizer.lr (1e-40) is below float32's smallest normal number (1.2e-38), which the kernels use: it would be flushed to 0 or lose its precision"],
    [{ optimizer: { name: "adam", lr: 1e-3, eps: 1e-45 } }, "opts.optimizer.eps (1e-45) is below float32's smallest normal"],
    [{ optimizer: { name: "adamw", lr: 1e-3, weightDecay: 1e39 } }, "opts.optimizer.weightDecay (1e+39) is past float32's largest number"],
    [{ optimizer: { name: "sgd", lr: 0.1 }, schedule: { name: "onecycle", maxLr: 4e38 } }, "opts.schedule.maxLr (4e+38) is past float32's largest number"],
    [{ optimizer: { name: "sgd", lr: 0.1 }, schedule: { name: "cosine", minLr: 1e-39 } }, "opts.schedule.minLr (1e-39) is below float32's smallest normal"],
  ])("fit refuses %j: the kernels' float32 would make it Infinity or flush it (the CLI's bounds)", async (opts, message) => {
    const net = new Network({ sizes: [4, 3], seed: 1 });
    const before = Buffer.from(net.save());
    await expect(net.fit(x, labels, { epochs: 1, ...opts } as never)).rejects.toThrow(RangeError);
    await expect(net.fit(x, labels, { epochs: 1, ...opts } as never)).rejects.toThrow(`Network.fit: ${message}`);
    expect(Buffer.compare(Buffer.from(net.save()), before)).toBe(0);
    await net.fit(x, labels, { epochs: 1, optimizer: { name: "sgd", lr: 2 ** -126 } }); // the smallest normal: taken
    net.dispose();
  });

  it("NaN outputs count as no class: fit's and evaluate's accuracy are 0, not the share of label 0", async () => {
    const net = new Network({ sizes: [4, 3], seed: 1 });
    const nan = new Float32Array(40).fill(NaN), zeros = new Int32Array(10); // every label the class a NaN argmax reads as
    const { epochs } = await net.fit(nan, zeros, { epochs: 1, batchSize: 5 });
    expect(epochs[0].loss).toBeNaN();
    expect(epochs[0].accuracy).toBe(0);
    expect(net.evaluate(x, new Int32Array(10)).accuracy).toBe(0); // its weights are NaN now
    net.dispose();
  });

  it("fit names the first argument missing, in order: labels before opts", async () => {
    const net = new Network({ sizes: [4, 3], seed: 1 });
    await expect((net.fit as (x: Float32Array) => Promise<unknown>)(x))
      .rejects.toThrow(new TypeError("Network.fit: labels must be a Uint8Array or an Int32Array of class indices, got undefined"));
    await expect((net.fit as (x: Float32Array, l: Int32Array) => Promise<unknown>)(x, labels))
      .rejects.toThrow(new TypeError("Network.fit: opts ({ epochs, ... }) is required"));
    net.dispose();
  });
  it.each([
    ["sizes missing", () => new Network({} as never), TypeError, /sizes/],
    ["one size", () => new Network({ sizes: [4] }), RangeError, /sizes/],
    ["a zero size", () => new Network({ sizes: [4, 0, 3] }), RangeError, /sizes\[1\]/],
    ["a fractional size", () => new Network({ sizes: [4, 2.5, 3] }), RangeError, /sizes\[1\]/],
    ["an unknown activation", () => new Network({ sizes: [4, 3], hidden: "gelu" as never }), RangeError, /hidden/],
    ["an unknown option", () => new Network({ sizes: [4, 3], seeds: 1 } as never), TypeError, /seeds/],
  ] as const)("constructor: %s", (_, f, cls, msg) => {
    expect(f).toThrow(cls);
    expect(f).toThrow(msg);
  });

  const net = () => new Network({ sizes: [4, 3], seed: 1 });
  it.each([
    ["epochs 0", { epochs: 0 }, RangeError, /epochs/],
    ["epochs missing", {}, TypeError, /epochs/],
    ["batchSize 0", { epochs: 1, batchSize: 0 }, RangeError, /batchSize/],
    ["lr NaN", { epochs: 1, optimizer: { name: "sgd", lr: NaN } }, RangeError, /lr/],
    ["lr <= 0", { epochs: 1, optimizer: { name: "adam", lr: 0 } }, RangeError, /lr/],
    ["momentum 1", { epochs: 1, optimizer: { name: "sgd", lr: 0.1, momentum: 1 } }, RangeError, /momentum/],
    ["unknown optimizer", { epochs: 1, optimizer: { name: "rmsprop", lr: 0.1 } }, RangeError, /optimizer.name/],
    // a nested option is named by its path, as the top-level ones are
    ["unknown optimizer option", { epochs: 1, optimizer: { name: "sgd", lr: 0.1, lrr: 1 } }, TypeError,
      "Network.fit: unknown option opts.optimizer.lrr (expected one of name, lr, momentum, nesterov, weightDecay)"],
    ["optimizer null", { epochs: 1, optimizer: null }, TypeError, "Network.fit: opts.optimizer must be an object, got null"],
    ["onBatch not a function", { epochs: 1, onBatch: 3 }, TypeError, /onBatch/],
  ] as const)("fit: %s", async (_, opts, cls, msg) => {
    const n = net();
    await expect(n.fit(x, labels, opts as never)).rejects.toThrow(cls);
    await expect(n.fit(x, labels, opts as never)).rejects.toThrow(msg);
    n.dispose();
  });

  it("fit, evaluate, predict: wrong data", async () => {
    const n = net();
    await expect(n.fit(new Float32Array(7), labels, { epochs: 1 })).rejects.toThrow(/multiple of the input size/);
    await expect(n.fit(x, new Int32Array(9), { epochs: 1 })).rejects.toThrow(/row count/);
    await expect(n.fit(x, Int32Array.from(labels, (v, i) => (i === 4 ? 3 : v)), { epochs: 1 })).rejects.toThrow(/labels\[4\] = 3/);
    await expect(n.fit([1, 2] as never, labels, { epochs: 1 })).rejects.toThrow(TypeError);
    expect(() => n.evaluate(x, new Float32Array(10) as never)).toThrow(TypeError);
    expect(() => n.predict(new Float32Array(5))).toThrow(RangeError);
    // after the errors, a good call works
    expect(n.predict(x).length).toBe(30);
    n.dispose();
  });
});


describe("fit across calls", () => {
  it("two fit calls of one epoch train exactly as one call of two (the shuffle stream and optimizer state run on)", async () => {
    const { x, labels } = data(60, 6, 3, 21);
    const opt = { name: "adam", lr: 0.01 } as const;
    const a = new Network({ sizes: [6, 5, 3], seed: 4 });
    const b = new Network({ sizes: [6, 5, 3], seed: 4 });
    await a.fit(x, labels, { epochs: 2, batchSize: 8, optimizer: opt });
    await b.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: opt });
    await b.fit(x, labels, { epochs: 1, batchSize: 8, optimizer: opt });
    expect(Buffer.compare(Buffer.from(a.save()), Buffer.from(b.save()))).toBe(0);
    a.dispose();
    b.dispose();
  });

  it("evaluate and predict run between batches; a second fit at the same time is refused", async () => {
    const { x, labels } = data(40, 6, 3, 22);
    const net = new Network({ sizes: [6, 5, 3], seed: 4 });
    const seen: number[] = [];
    const first = net.fit(x, labels, { epochs: 2, batchSize: 8, onEpoch: () => seen.push(net.evaluate(x, labels).accuracy) });
    await expect(net.fit(x, labels, { epochs: 1 })).rejects.toThrow(/already training/);
    expect(() => net.dispose()).toThrow(/training/);
    await first;
    expect(seen.length).toBe(2);
    expect(net.predict(x).length).toBe(120);
    net.dispose();
  });
});

describe("validation and batched evaluation", () => {
  it("onEpoch's validation figures equal evaluate() on the same rows, across several 256-row batches", async () => {
    const { x, labels } = data(600, 6, 3, 31);
    const vx = x.subarray(0, 300 * 6);
    const vl = labels.subarray(0, 300);
    const net = new Network({ sizes: [6, 5, 3], seed: 9 });
    const r = await net.fit(x, labels, { epochs: 1, batchSize: 32, validation: { x: vx, labels: vl } });
    const e = net.evaluate(vx, vl);
    expect(r.epochs[0].valAccuracy).toBe(e.accuracy);
    expect(r.epochs[0].valLoss).toBe(e.loss);
    // predict over 600 rows (three batches) row by row equals predicting each row alone
    const all = net.predict(x);
    expect(Array.from(all.subarray(599 * 3))).toEqual(Array.from(net.predict(x.subarray(599 * 6))));
    await expect(net.fit(x, labels, { epochs: 1, validation: { x: new Float32Array(0), labels: new Int32Array(0) } }))
      .rejects.toThrow(/opts.validation.x has no rows/);
    net.dispose();
  });

  it("onBatch reports each batch's mean loss and accuracy (before its update); they add up to the epoch's figures", async () => {
    const { x, labels } = data(100, 6, 3, 41);
    const net = new Network({ sizes: [6, 5, 3], seed: 4 });
    const seen: { batch: number; loss: number; accuracy: number }[] = [];
    const r = await net.fit(x, labels, { epochs: 1, batchSize: 32, onBatch: ({ batch, loss, accuracy }) => seen.push({ batch, loss, accuracy }) });
    expect(seen.map((s) => s.batch)).toEqual([0, 1, 2, 3]);
    const sizes = [32, 32, 32, 4]; // the last batch holds the remaining 4 rows
    for (const [i, s] of seen.entries()) expect(Number.isInteger(s.accuracy * sizes[i])).toBe(true);
    expect(seen.reduce((t, s, i) => t + s.accuracy * sizes[i], 0) / 100).toBeCloseTo(r.epochs[0].accuracy!, 12);
    expect(seen.reduce((t, s, i) => t + s.loss * sizes[i], 0) / 100).toBeCloseTo(r.epochs[0].loss, 6);
    net.dispose();
  });
});
